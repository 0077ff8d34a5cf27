//! Webhooks dropped, duplicated, delayed and reordered by both sandboxes
//! while people edit on both sides: whatever the deliveries missed, the
//! next sweep (`POST /reconcile`, as the cron calls it) brings both sides
//! together, field by field, with no duplicate row.
//!
//! Under random losses a later or late (reordered) delivery for the same
//! record usually heals an earlier loss, so the last round's deliveries
//! are all dropped: at least those edits can only arrive by the sweep.

use std::time::Duration;

use notion_airtable_sandbox::{common::DeliveryKnobs, team::PRIORITIES};
use notion_airtable_sync::store::JobState;
use serde_json::json;

use notion_airtable_sandbox::team::NotionStatus;

use super::support::{Deployment, Options, eventually};
use crate::common::{
    TestDb,
    world::{assert_in_sync, select_of, text_of},
};

const ROUNDS: usize = 3;
/// Pages 0..12 are edited in Notion, pages 6..18 in Airtable (different
/// fields, so the expected end state does not depend on conflict rules).
const NOTION_EDITED: std::ops::Range<usize> = 0..12;
const AIRTABLE_EDITED: std::ops::Range<usize> = 6..18;

fn lost() -> DeliveryKnobs {
    DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    }
}

fn lossy() -> DeliveryKnobs {
    DeliveryKnobs {
        drop_rate: 0.3,
        duplicate_rate: 0.3,
        delay_ms_min: 0,
        delay_ms_max: 1_500,
        reorder: true,
        ..DeliveryKnobs::default()
    }
}

pub async fn lossy_deliveries_converge_after_the_next_sweep(db: TestDb, status: NotionStatus) {
    let d = Deployment::new(
        db,
        Options {
            status,
            ..Options::default()
        },
    )
    .await;
    let _serve = d.spawn_all();
    d.ready(30).await;
    d.synced(30).await;
    d.idle(Duration::from_secs(1), 30).await;
    d.w.notion.set_delivery(lossy());
    d.w.airtable.set_delivery(lossy());

    let pages = d.w.team_n.page_ids.clone();
    for round in 0..ROUNDS {
        if round == ROUNDS - 1 {
            // The last round's webhooks are all lost, once the earlier
            // rounds' late deliveries have played out (the longest delay
            // is 1.5 s).
            d.idle(Duration::from_secs(2), 40).await;
            d.w.notion.set_delivery(lost());
            d.w.airtable.set_delivery(lost());
        }
        for i in NOTION_EDITED {
            d.edit_page(
                &pages[i],
                json!({
                    "Name": { "title": [{ "text": { "content": name(i, round) } }] },
                    "Priority": { "select": { "name": priority(i, round) } },
                }),
            );
        }
        for i in AIRTABLE_EDITED {
            d.edit_row(
                &pages[i],
                json!({ "Sprint": sprint(i, round), "Blockers": sprint(i, round) }),
            );
        }
        // People do not edit all at once: spread the rounds so that late,
        // reordered deliveries overtake later edits.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    d.idle(Duration::from_secs(2), 40).await;
    let behind = pages_behind(&d, &pages);
    eprintln!("pages not converged before the sweep: {behind}");
    assert!(behind > 0, "the lost deliveries left pages behind");
    let sweeps_before = sweeps_done(&d).await;
    d.reconcile(false).await;
    eventually(30, "the sweep", async || {
        (sweeps_done(&d).await > sweeps_before).then_some(())
    })
    .await;
    d.idle(Duration::from_secs(2), 30).await;

    let last = ROUNDS - 1;
    for i in NOTION_EDITED {
        let row = d.w.row_for(&pages[i]);
        assert_eq!(row["fields"]["Spec Name"], json!(name(i, last)), "page {i}");
        assert_eq!(
            row["fields"]["Priority"],
            json!(priority(i, last)),
            "page {i}"
        );
    }
    for i in AIRTABLE_EDITED {
        let page = d.w.page(&pages[i]);
        assert_eq!(
            text_of(&page["properties"]["Sprint"]),
            sprint(i, last),
            "page {i}"
        );
        assert_eq!(
            text_of(&page["properties"]["Blockers"]),
            sprint(i, last),
            "page {i}"
        );
    }
    assert_in_sync(&d.w);
    d.assert_one_row_per_page();
    d.assert_no_dead_jobs().await;
}

/// Pages whose row differs from them in an edited field.
fn pages_behind(d: &Deployment, pages: &[String]) -> usize {
    pages
        .iter()
        .filter(|p| {
            let page = d.w.page(p);
            let row = d.w.row_for(p);
            let (props, fields) = (&page["properties"], &row["fields"]);
            json!(text_of(&props["Name"])) != fields["Spec Name"]
                || select_of(&props["Priority"]) != fields["Priority"]
                || text_of(&props["Sprint"]) != fields["Sprint"].as_str().unwrap_or_default()
        })
        .count()
}

async fn sweeps_done(d: &Deployment) -> usize {
    d.jobs(JobState::Done)
        .await
        .iter()
        .filter(|j| j.kind == "sweep")
        .count()
}

fn name(i: usize, round: usize) -> String {
    format!("Lossy spec {i} r{round}")
}

fn priority(i: usize, round: usize) -> &'static str {
    PRIORITIES[(i + round) % PRIORITIES.len()]
}

fn sprint(i: usize, round: usize) -> String {
    format!("Sprint {round}-{i}")
}
