//! Nothing lost on data the service did not write (issue "Nothing lost on
//! real data"): values that people put in either tool before the first sync,
//! or while a source side was still empty, survive every sweep. End to end
//! against both sandboxes over HTTP, on SQLite and Postgres.

use crate::common;

use common::{
    TestDb,
    world::{World, select_of, text_of, world, world_with_status},
};
use notion_airtable_sync::store::LogQuery;
use serde_json::{Value, json};

fn rich(text: &str) -> Value {
    json!({ "rich_text": [{ "text": { "content": text } }] })
}

async fn notion_writes(w: &World) -> u64 {
    w.notion.calls().count(Some("PATCH"), "/v1/pages/{id}")
}

/// The issue's first loss path: a person types Sprint and Blockers into
/// pages (one-way fields owned by Airtable) before the first sync. The rows
/// the service creates carry them, and Notion keeps them.
async fn new_rows_copy_one_way_values_and_notion_keeps_them(db: TestDb) {
    let w = world(db).await;
    let person = w.person();
    let ids = w.team_n.page_ids.clone();
    for (i, id) in ids.iter().enumerate().take(30) {
        let props = json!({
            "Sprint": rich(&format!("Sprint {}", 30 + i)),
            "Blockers": rich("legal review"),
        });
        w.notion.update_page_as_person(id, &person, props).unwrap();
    }
    w.notion.calls().reset();
    let summary = w.sweep(true).await;
    assert_eq!(summary.created_in_airtable, 47, "{summary:?}");
    assert_eq!(
        notion_writes(&w).await,
        0,
        "the first sync wrote into Notion: {:?}",
        w.notion.calls().snapshot()
    );
    for (i, id) in ids.iter().enumerate().take(30) {
        let page = w.page(id);
        assert_eq!(
            text_of(&page["properties"]["Sprint"]),
            format!("Sprint {}", 30 + i)
        );
        assert_eq!(text_of(&page["properties"]["Blockers"]), "legal review");
        let row = w.row_for(id);
        assert_eq!(row["fields"]["Sprint"], json!(format!("Sprint {}", 30 + i)));
        assert_eq!(row["fields"]["Blockers"], json!("legal review"));
    }
    // Converged: a second sweep writes nothing anywhere.
    let again = w.sweep(true).await;
    assert_eq!(again.unchanged, 47, "{again:?}");
    assert_eq!(notion_writes(&w).await, 0);
}

/// First contact by `match_key` with rows that already exist: an empty side
/// is filled from the other whatever the conflict rule, and a one-way field
/// whose source (Airtable) is empty keeps the value a person typed in
/// Notion, logged once, until Airtable's first edit.
async fn first_contact_by_key_fills_empty_sides_and_keeps_mirror_values(db: TestDb) {
    let w = world(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let person = w.person();
    let page = w.team_n.page_ids[2].clone();
    let name = text_of(&w.page(&page)["properties"]["Name"]);
    w.notion
        .update_page_as_person(
            &page,
            &person,
            json!({ "Sprint": rich("Sprint 31"), "Target Quarter": { "select": null } }),
        )
        .unwrap();
    let row = w
        .airtable
        .insert_record_as_person(
            base,
            table,
            json!({ "Spec Name": name, "Target Quarter": "2027-Q1", "Ship Date": "2027-01-15" }),
        )
        .unwrap();

    w.sweep(true).await;
    let linked = w.row_for(&page);
    assert_eq!(linked["id"], json!(row));
    let p = &w.page(&page)["properties"];
    // Notion's empty Target Quarter took Airtable's value (rule "notion"
    // would have emptied Airtable before).
    assert_eq!(select_of(&p["Target Quarter"]), json!("2027-Q1"));
    assert_eq!(linked["fields"]["Target Quarter"], json!("2027-Q1"));
    // Airtable's Ship Date (its own field) reached Notion.
    assert_eq!(p["Ship Date"]["date"]["start"], json!("2027-01-15"));
    // Sprint: Airtable (the source) is empty, Notion's value stays.
    assert_eq!(text_of(&p["Sprint"]), "Sprint 31");
    assert!(linked["fields"].get("Sprint").is_none());
    let log = w
        .engine
        .store
        .query_log(&LogQuery {
            record: Some(page.clone()),
            ..LogQuery::default()
        })
        .await
        .unwrap();
    let kept: Vec<_> = log
        .iter()
        .filter(|e| e.field.as_deref() == Some("Sprint"))
        .collect();
    assert_eq!(kept.len(), 1, "{log:#?}");
    assert!(
        kept[0].detail.as_deref().unwrap_or("").contains("kept"),
        "{kept:#?}"
    );

    // Further sweeps keep it and log nothing more.
    w.sweep(true).await;
    assert_eq!(text_of(&w.page(&page)["properties"]["Sprint"]), "Sprint 31");
    let log_again = w
        .engine
        .store
        .query_log(&LogQuery {
            record: Some(page.clone()),
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(log_again.len(), log.len(), "{log_again:#?}");

    // Airtable's first real edit flows over it.
    w.airtable
        .update_record_as_person(base, table, &row, json!({ "Sprint": "Sprint 32" }))
        .unwrap();
    w.sweep(true).await;
    assert_eq!(text_of(&w.page(&page)["properties"]["Sprint"]), "Sprint 32");
}

/// A link cell holding something that is not a Notion id (a pasted URL)
/// made Notion answer 400 and killed every sweep. Now the row is left as it
/// is, reported as an issue while the cell is bad, and the sweep goes on.
async fn a_bad_link_cell_is_reported_and_the_sweep_goes_on(db: TestDb) {
    use notion_airtable_sync::store::IssueScope;
    let w = world(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let pasted = "https://www.notion.so/acme/Some-spec-0f3c9a";
    let junk = w
        .airtable
        .insert_record_as_person(
            base,
            table,
            json!({ "Spec Name": "Pasted by hand", "Notion Page ID": pasted, "Sprint": "Sprint 9" }),
        )
        .unwrap();
    // Both kinds of sweep complete (`sweep` fails the test on an error).
    w.sweep(true).await;
    w.sweep(false).await;
    // Every page synced; the row is exactly as the person left it.
    assert_eq!(w.rows().len(), 48);
    for id in &w.team_n.page_ids {
        w.row_for(id);
    }
    let row = w.airtable.record(base, table, &junk).unwrap();
    assert_eq!(row["fields"]["Notion Page ID"], json!(pasted));
    assert_eq!(row["fields"]["Sprint"], json!("Sprint 9"));
    assert_eq!(row["fields"]["Spec Name"], json!("Pasted by hand"));
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0].scope, IssueScope::Record);
    assert_eq!(issues[0].subject, junk);
    assert!(
        issues[0].message.contains("not a Notion page id"),
        "{issues:#?}"
    );

    // A record job for the row (an Airtable webhook) does nothing either.
    w.engine
        .reconcile_record(&w.pair, &junk, notion_airtable_sync::store::Cause::Webhook)
        .await
        .unwrap();
    let row = w.airtable.record(base, table, &junk).unwrap();
    assert_eq!(row["fields"]["Notion Page ID"], json!(pasted));

    // The person clears the cell: the issue goes away.
    w.airtable
        .update_record_as_person(base, table, &junk, json!({ "Notion Page ID": null }))
        .unwrap();
    w.sweep(true).await;
    assert!(w.engine.store.open_issues(None).await.unwrap().is_empty());
}

/// A value Notion refuses (a status option that does not exist: the API
/// cannot create one) no longer freezes the record: every other field
/// syncs, the refused edit stays in Airtable where the person made it,
/// Notion keeps its value, and the record carries an issue until the value
/// can be written.
async fn a_refused_value_leaves_the_rest_of_the_record_syncing(db: TestDb) {
    use notion_airtable_sync::store::IssueScope;
    let w = world_with_status(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.sweep(true).await;
    let page = w.team_n.page_ids[4].clone();
    let row = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    let status_before = select_of(&w.page(&page)["properties"]["Status"]);
    w.airtable
        .update_record_as_person(
            base,
            table,
            &row,
            json!({ "Status": "Blocked", "Priority": "P0", "Sprint": "Sprint 40" }),
        )
        .unwrap();
    for _ in 0..2 {
        w.sweep(true).await;
        let p = &w.page(&page)["properties"];
        assert_eq!(select_of(&p["Priority"]), json!("P0"));
        assert_eq!(text_of(&p["Sprint"]), "Sprint 40");
        assert_eq!(select_of(&p["Status"]), status_before);
        let fields = &w.airtable.record(base, table, &row).unwrap()["fields"];
        assert_eq!(
            fields["Status"],
            json!("Blocked"),
            "the person's edit stays"
        );
        let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
        assert_eq!(issues.len(), 1, "{issues:#?}");
        assert_eq!(
            (
                issues[0].scope,
                issues[0].subject.as_str(),
                issues[0].field.as_str()
            ),
            (IssueScope::Record, page.as_str(), "Status")
        );
    }
    // A value Notion accepts clears the issue and flows.
    w.airtable
        .update_record_as_person(base, table, &row, json!({ "Status": "Shipped" }))
        .unwrap();
    w.sweep(true).await;
    assert_eq!(
        select_of(&w.page(&page)["properties"]["Status"]),
        json!("Shipped")
    );
    assert!(w.engine.store.open_issues(None).await.unwrap().is_empty());
}

/// Airtable long text with rich text on is Markdown and always comes back
/// with a trailing newline. Formatting crosses both ways as Notion's
/// annotations, a format-only edit is seen, the newline never reaches
/// Notion, and the service's own writes come back as echoes (no rewrite).
async fn rich_text_formatting_round_trips_and_echoes_are_quiet(db: TestDb) {
    use notion_airtable_sandbox::airtable::{FieldEdit, FieldType};
    use notion_airtable_sync::{engine::SweepOptions, store::Cause};
    let w = world(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let edit = FieldEdit {
        field_type: Some(FieldType::RichText),
        ..FieldEdit::default()
    };
    w.airtable
        .edit_field_as_person(base, table, "Blockers", edit)
        .unwrap();
    let pair = notion_airtable_sync::engine::load_pair(
        &w.pair.config,
        &w.engine.notion,
        &w.engine.airtable,
    )
    .await
    .unwrap();
    let sweep = async || {
        let opts = SweepOptions {
            full: true,
            dry_run: false,
            cause: Cause::Sweep,
        };
        w.engine.sweep(&pair, opts).await.unwrap()
    };
    let page = w.team_n.page_ids[0].clone();
    let blockers = json!({ "Blockers": { "rich_text": [
        { "text": { "content": "waiting on " } },
        { "text": { "content": "legal" }, "annotations": { "bold": true } },
    ] } });
    w.notion
        .update_page_as_person(&page, &w.person(), blockers)
        .unwrap();
    sweep().await;
    let row = w.row_for(&page);
    assert_eq!(row["fields"]["Blockers"], json!("waiting on **legal**\n"));
    let rec = row["id"].as_str().unwrap().to_owned();

    // Converged: the newline and the Markdown are not differences.
    let before = w.calls();
    let quiet = sweep().await;
    assert_eq!(quiet.unchanged, 47, "{quiet:?}");
    assert_eq!(w.calls(), (before.0 + 1, before.1 + 1), "reads only");

    // Airtable's formatting reaches Notion as annotations, no newline.
    w.airtable
        .update_record_as_person(
            base,
            table,
            &rec,
            json!({ "Blockers": "waiting on **legal** and _design_" }),
        )
        .unwrap();
    sweep().await;
    let runs = w.page(&page)["properties"]["Blockers"]["rich_text"].clone();
    let text: String = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["plain_text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "waiting on legal and design");
    let styled = |word: &str, style: &str| {
        runs.as_array().unwrap().iter().any(|r| {
            r["plain_text"].as_str().unwrap().contains(word) && r["annotations"][style] == true
        })
    };
    assert!(
        styled("legal", "bold") && styled("design", "italic"),
        "{runs:#}"
    );

    // A format-only edit (un-bold) is a change too.
    w.airtable
        .update_record_as_person(
            base,
            table,
            &rec,
            json!({ "Blockers": "waiting on legal and _design_" }),
        )
        .unwrap();
    sweep().await;
    let runs = w.page(&page)["properties"]["Blockers"]["rich_text"].clone();
    assert!(
        !runs
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["annotations"]["bold"] == true),
        "{runs:#}"
    );
    let quiet = sweep().await;
    assert_eq!(quiet.unchanged, 47, "{quiet:?}");
}

/// A Notion date range keeps its end when Airtable (which has no end)
/// writes the start.
async fn a_date_range_keeps_its_end_when_airtable_moves_the_start(db: TestDb) {
    let w = world(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.sweep(true).await;
    let page = w.team_n.page_ids[1].clone();
    let rec = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(base, table, &rec, json!({ "Ship Date": "2027-02-01" }))
        .unwrap();
    w.sweep(true).await;
    // A person makes it a range in Notion (Ship Date is Airtable's field,
    // but the end is Notion's alone: comparing by start, it is no change).
    let range = json!({ "Ship Date": { "date": { "start": "2027-02-01", "end": "2027-02-12" } } });
    w.notion
        .update_page_as_person(&page, &w.person(), range)
        .unwrap();
    w.sweep(true).await;
    let date = &w.page(&page)["properties"]["Ship Date"]["date"];
    assert_eq!(date["end"], json!("2027-02-12"), "{date}");
    // Airtable moves the start: the end stays.
    w.airtable
        .update_record_as_person(base, table, &rec, json!({ "Ship Date": "2027-02-03" }))
        .unwrap();
    w.sweep(true).await;
    let date = &w.page(&page)["properties"]["Ship Date"]["date"];
    assert_eq!(
        (&date["start"], &date["end"]),
        (&json!("2027-02-03"), &json!("2027-02-12")),
        "{date}"
    );
}

/// A person retypes an Airtable field in its UI (select → number): its
/// values are dropped and its id stays, so every row reads as emptied.
/// Before the service has read the schema again, nothing of that reaches
/// Notion: an emptied value about to go to Notion makes the engine check
/// the field (it fails with nothing written, and the service resolves the
/// pair again, stopping the field), and a Notion edit Airtable refuses to
/// take leaves the record as it is with a record issue, cleared once the
/// record syncs again.
async fn a_field_retyped_in_airtable_never_empties_notion(db: TestDb) {
    use notion_airtable_sandbox::airtable::{FieldEdit, FieldType};
    use notion_airtable_sync::{
        jobs::spec::{JobSpec, Trigger},
        store::{Cause, IssueScope},
        worker::service::SyncService,
    };
    let w = world(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.sweep(true).await;
    let ids = w.team_n.page_ids.clone();
    let priorities: Vec<Value> = ids
        .iter()
        .map(|id| select_of(&w.page(id)["properties"]["Priority"]))
        .collect();
    let edit = FieldEdit {
        field_type: Some(FieldType::Number),
        ..FieldEdit::default()
    };
    w.airtable
        .edit_field_as_person(base, table, "Priority", edit)
        .unwrap();

    // A record untouched in Notion: its emptied Airtable cell is not sent.
    let err = w
        .engine
        .reconcile_page(&w.pair, &ids[5], Cause::Webhook)
        .await
        .expect_err("the retyped field is noticed");
    assert!(format!("{err:#}").contains("Priority"), "{err:#}");
    assert_eq!(
        select_of(&w.page(&ids[5])["properties"]["Priority"]),
        priorities[5]
    );

    // A Notion edit Airtable cannot take: the record carries an issue.
    let new = if priorities[3] == json!("P0") {
        "P1"
    } else {
        "P0"
    };
    w.notion
        .update_page_as_person(
            &ids[3],
            &w.person(),
            json!({ "Priority": { "select": { "name": new } } }),
        )
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &ids[3], Cause::Webhook)
        .await
        .unwrap();
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    assert!(
        issues.iter().any(|i| i.scope == IssueScope::Record
            && i.subject == ids[3]
            && i.message.contains("refused")),
        "{issues:#?}"
    );

    // As `serve` runs it: the job resolves the pair again and comes back.
    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], String::new());
    let job = JobSpec::ReconcilePage {
        pair: w.pair.name().to_owned(),
        page_id: ids[5].clone(),
        trigger: Trigger::Webhook,
    };
    assert!(
        service.run(&job).await.is_err(),
        "put back once, resolved again"
    );
    service.run(&job).await.unwrap();
    let sweep = JobSpec::Sweep {
        pair: w.pair.name().to_owned(),
        full: true,
    };
    service.run(&sweep).await.unwrap();
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    assert!(
        !issues.iter().any(|i| i.scope == IssueScope::Record),
        "{issues:#?}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i.scope == IssueScope::Field && i.subject == "Priority"),
        "{issues:#?}"
    );
    for (i, id) in ids.iter().enumerate() {
        let want = if i == 3 {
            json!(new)
        } else {
            priorities[i].clone()
        };
        assert_eq!(
            select_of(&w.page(id)["properties"]["Priority"]),
            want,
            "{id}"
        );
    }
}

both_backends! {
    a_field_retyped_in_airtable_never_empties_notion,
    rich_text_formatting_round_trips_and_echoes_are_quiet,
    a_date_range_keeps_its_end_when_airtable_moves_the_start,
    a_refused_value_leaves_the_rest_of_the_record_syncing,
    a_bad_link_cell_is_reported_and_the_sweep_goes_on,
    new_rows_copy_one_way_values_and_notion_keeps_them,
    first_contact_by_key_fills_empty_sides_and_keeps_mirror_values,
}
