//! An Airtable payload cursor gap, end to end: while Airtable's pings are
//! lost, people edit rows and the 7-day retention removes those payloads.
//! The next ping makes the service read from its cursor, find the
//! transactions it missed gone, and run a full sweep of the pair, which
//! brings every lost edit to Notion.

use std::time::Duration;

use notion_airtable_sandbox::common::DeliveryKnobs;
use notion_airtable_sync::store::JobState;
use serde_json::json;

use notion_airtable_sandbox::team::NotionStatus;

use super::support::{Deployment, Options, eventually};
use crate::common::{
    TestDb,
    world::{assert_in_sync, text_of},
};

const LOST: std::ops::Range<usize> = 0..6;
const AFTER: usize = 10;

pub async fn a_cursor_gap_runs_a_full_sweep_and_converges(db: TestDb, status: NotionStatus) {
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
    let full_sweeps = full_sweeps_done(&d).await;

    let (base, pages) = (&d.w.team_a.base_id, d.w.team_n.page_ids.clone());
    d.w.airtable.set_delivery(DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    for i in LOST {
        d.edit_row(&pages[i], json!({ "Sprint": sprint(i) }));
    }
    d.w.airtable.purge_payloads_before(base, u64::MAX);
    d.w.airtable.set_delivery(DeliveryKnobs::default());
    // This edit's ping arrives; its payload follows the purged ones.
    d.edit_row(&pages[AFTER], json!({ "Sprint": sprint(AFTER) }));

    eventually(30, "every edit in Notion", async || {
        let all = LOST
            .chain([AFTER])
            .all(|i| text_of(&d.w.page(&pages[i])["properties"]["Sprint"]) == sprint(i));
        all.then_some(())
    })
    .await;
    d.idle(Duration::from_secs(2), 30).await;
    assert!(
        full_sweeps_done(&d).await > full_sweeps,
        "the gap ran a full sweep"
    );
    d.assert_no_dead_jobs().await;
    d.assert_one_row_per_page();
    assert_in_sync(&d.w);
}

async fn full_sweeps_done(d: &Deployment) -> usize {
    d.jobs(JobState::Done)
        .await
        .iter()
        .filter(|j| j.key == "sweep:specs:full")
        .count()
}

fn sprint(i: usize) -> String {
    format!("Gap sprint {i}")
}
