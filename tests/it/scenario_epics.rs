//! The second scripted scenario, beside the team's week (`sync_e2e`):
//! specs linked to epics (a second pair), the spec itself written in the
//! page body ↔ an Airtable long text, engineers assigned as Airtable
//! collaborators, mock-ups attached. People edit on both sides, through the
//! sandboxes' person APIs; each edit reaches the service as its webhook
//! would deliver it (a Notion event's reconcile job, an Airtable ping's
//! payloads job) and the queue runs through `SyncService` as the worker
//! runs it. At the end both sides agree on every mapped field, every
//! person's last edit is there, and one more full sweep of each pair
//! writes nothing. The API calls of each step are printed (`--no-capture`).
//! On SQLite and Postgres.

mod agree;
mod read_page;
mod script;

use notion_airtable_sync::store::IssueScope;
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::relations::setup::new_epic_page;
use agree::{
    airtable_emails, airtable_files, assert_agree, body, file, notion_emails, notion_files,
    records_of, row_for, spec_cell,
};
use script::{EPICS, Scenario};

fn user(s: &Scenario, name: &str) -> String {
    let people = &s.w.team_n.people;
    let found = people.iter().find(|(n, _)| n == name);
    found.unwrap_or_else(|| panic!("{name}")).1.clone()
}

fn spec_row(s: &Scenario, page: &str) -> Value {
    let rows =
        s.w.airtable
            .records(&s.w.team_a.base_id, &s.w.team_a.table_id);
    row_for(&rows, page)
}

fn spec_row_id(s: &Scenario, page: &str) -> String {
    spec_row(s, page)["id"].as_str().unwrap().to_owned()
}

/// The epic page titled `title`.
fn epic(s: &Scenario, title: &str) -> String {
    let rows = s.w.airtable.records(&s.w.team_a.base_id, &s.w.epics_table);
    let row = rows.iter().find(|r| r["fields"]["Name"] == title);
    let row = row.unwrap_or_else(|| panic!("no epic row {title}: {rows:?}"));
    row["fields"]["Notion Page ID"].as_str().unwrap().to_owned()
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn people(s: &Scenario, names: &[&str]) -> Value {
    let refs: Vec<Value> = names
        .iter()
        .map(|n| json!({ "object": "user", "id": user(s, n) }))
        .collect();
    json!({ "people": refs })
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

const BODY_JONAS: &str =
    "# Checkout revamp\n\nOne page checkout.\n\n- card form inline\n- address autocomplete";
const BODY_MAYA: &str = "# Checkout revamp\n\nOne page checkout, **guest** checkout first.\n\n- card form inline\n- address autocomplete\n- saved carts";
const BODY_JONAS_2: &str = "# Checkout revamp\n\nOne page checkout, **guest** checkout first.\n\n- card form inline\n- address autocomplete\n- saved carts\n\n## API\n\nSee the [payments spec](https://example.com/payments).";

async fn specs_with_epics_body_people_and_files_converge(db: TestDb) {
    let mut s = Scenario::start(db).await;
    let specs = s.w.team_n.page_ids.clone();
    let (a, b, c) = (specs[0].clone(), specs[1].clone(), specs[2].clone());
    let (base, table) = (s.w.team_a.base_id.clone(), s.w.team_a.table_id.clone());
    let (maya, jonas) = (user(&s, "Maya Chen"), user(&s, "Jonas Berg"));

    // The PM creates an epic in Notion.
    let onboarding = new_epic_page(&s.w.notion, &s.w.epics_ds, &maya, "Onboarding");
    s.notion_event("epics", &onboarding).await;
    s.settle("PM creates an epic in Notion").await;
    assert_eq!(epic(&s, "Onboarding"), onboarding);

    // ... and links a spec to two epics: one relation edit.
    let checkout = epic(&s, EPICS[0]);
    s.w.relate_in_notion(&a, &[checkout.clone(), onboarding.clone()]);
    s.notion_event("specs", &a).await;
    let f = s.settle("PM links spec A to two epics in Notion").await;
    // The page and its content, the row, one write; the write's payload is
    // the service's echo (no second reconcile). README quotes these.
    assert_eq!(f.calls(), (2, 0, 2, 1, 1), "{f:?}");
    let want = records_of(&s, "epics", vec![checkout.clone(), onboarding.clone()]).await;
    assert_eq!(s.w.airtable_links(&spec_row_id(&s, &a)), want);

    // An engineer writes the spec in Airtable's long text.
    let cell = json!({ "Spec": BODY_JONAS });
    s.w.airtable
        .update_record_as_person(&base, &table, &spec_row_id(&s, &a), cell)
        .unwrap();
    s.airtable_ping("specs").await;
    let f = s.settle("engineer writes spec A's body in Airtable").await;
    // The content, and the page's first write stamps its record id property.
    assert_eq!(f.calls(), (4, 2, 1, 0, 1), "{f:?}");
    assert_eq!(body(&s, &a), BODY_JONAS);

    // The PM edits it in Notion.
    s.w.notion
        .set_content_as_person(&a, &maya, BODY_MAYA)
        .unwrap();
    s.notion_event("specs", &a).await;
    let f = s.settle("PM edits spec A's body in Notion").await;
    assert_eq!(f.calls(), (2, 0, 2, 1, 1), "{f:?}");
    assert_eq!(spec_cell(&spec_row(&s, &a)), BODY_MAYA);

    // The engineering lead assigns engineers in Airtable, two rows at once.
    let assign = |emails: &[&str]| {
        let cells: Vec<Value> = emails.iter().map(|e| json!({ "email": e })).collect();
        json!({ "Engineers": cells })
    };
    let rows = vec![
        (
            spec_row_id(&s, &a),
            assign(&["jonas@example.com", "tom@example.com"]),
        ),
        (spec_row_id(&s, &b), assign(&["tom@example.com"])),
    ];
    s.w.airtable
        .update_records_as_person(&base, &table, &rows)
        .unwrap();
    s.airtable_ping("specs").await;
    s.settle("lead assigns engineers to specs A and B in Airtable")
        .await;
    let page_a = s.w.notion.page(&a).unwrap();
    assert_eq!(
        notion_emails(&page_a),
        ["jonas@example.com", "tom@example.com"]
    );

    // A designer attaches a mock-up in Airtable ...
    let mock = bytes(4000, 1);
    let att =
        s.w.airtable
            .upload_attachment_as_person("checkout.png", "image/png", mock.clone());
    let cell = json!({ "Mockup": [{ "id": att }] });
    s.w.airtable
        .update_record_as_person(&base, &table, &spec_row_id(&s, &a), cell)
        .unwrap();
    s.airtable_ping("specs").await;
    let f = s
        .settle("designer attaches a mock-up to spec A in Airtable")
        .await;
    // The upload, its bytes, the page.
    assert_eq!(f.calls(), (6, 3, 1, 0, 1), "{f:?}");
    let files = notion_files(&s.w.notion.page(&a).unwrap()).await;
    assert_eq!(files, [file("checkout.png", &mock)]);

    // ... and another in Notion.
    let lea = user(&s, "Lea Martin");
    let search_mock = bytes(2500, 9);
    let upload =
        s.w.notion
            .upload_file_as_person("search.pdf", "application/pdf", search_mock.clone());
    let attached =
        json!({ "name": "search.pdf", "type": "file_upload", "file_upload": { "id": upload } });
    s.w.notion
        .update_page_as_person(&b, &lea, json!({ "Mockup": { "files": [attached] } }))
        .unwrap();
    s.notion_event("specs", &b).await;
    let f = s
        .settle("designer attaches a mock-up to spec B in Notion")
        .await;
    assert_eq!(f.calls(), (2, 0, 2, 1, 1), "{f:?}");
    let files = airtable_files(&spec_row(&s, &b)).await;
    assert_eq!(files, [file("search.pdf", &search_mock)]);

    // An engineer creates an epic in Airtable and links spec B's row to it
    // and to an existing epic: the spec's reconcile runs first and finds
    // a target not linked yet; once the epics pair links it, the spec is
    // queued again and completes.
    let tom = user(&s, "Tom Okafor");
    let payments_row =
        s.w.airtable
            .insert_record_as_person(&base, &s.w.epics_table, json!({ "Name": "Payments" }))
            .unwrap();
    let search = epic(&s, EPICS[1]);
    let search_row = s.w.record_of("epics", &search).await;
    let link = json!({ "Epic": [search_row, payments_row] });
    s.w.airtable
        .update_record_as_person(&base, &table, &spec_row_id(&s, &b), link)
        .unwrap();
    s.airtable_ping("specs").await;
    s.airtable_ping("epics").await;
    let f = s
        .settle("engineer creates an epic in Airtable and links spec B to it")
        .await;
    // Spec B (waits, whole), the epic row (its page made), spec B again.
    assert_eq!(f.reconciles, 3, "{f:?}");
    let payments = epic(&s, "Payments");
    assert_eq!(
        s.w.notion_links(&b).await,
        sorted(vec![search.clone(), payments.clone()])
    );

    // At the same time on one spec: the PM renames it in Notion, the
    // engineer extends the body in Airtable. Both edits stay.
    let name = json!({ "Name": { "title": [{ "text": { "content": "Checkout revamp v2" } }] } });
    s.w.notion.update_page_as_person(&a, &maya, name).unwrap();
    let cell = json!({ "Spec": BODY_JONAS_2 });
    s.w.airtable
        .update_record_as_person(&base, &table, &spec_row_id(&s, &a), cell)
        .unwrap();
    s.notion_event("specs", &a).await;
    s.airtable_ping("specs").await;
    s.settle("PM renames spec A in Notion while engineer extends its body")
        .await;

    // The PM creates an epic in Notion and links a third spec to it and to
    // the epic made in Airtable, and makes it depend on spec A. The spec's
    // event comes first: its new epic is linked later.
    let mobile = new_epic_page(&s.w.notion, &s.w.epics_ds, &maya, "Mobile app");
    s.w.relate_in_notion(&c, &[payments.clone(), mobile.clone()]);
    let depends = json!({ "Depends on": { "relation": [{ "id": a }] } });
    s.w.notion
        .update_page_as_person(&c, &maya, depends)
        .unwrap();
    s.notion_event("specs", &c).await;
    s.notion_event("epics", &mobile).await;
    let f = s
        .settle("PM links spec C to a new epic, the Airtable-made one and spec A")
        .await;
    assert_eq!(f.reconciles, 3, "{f:?}");

    // The engineering lead takes Tom off spec A and puts Jonas on spec C, in Notion.
    let edit = json!({ "Engineers": people(&s, &["Jonas Berg"]) });
    s.w.notion.update_page_as_person(&a, &jonas, edit).unwrap();
    let edit = json!({ "Engineers": people(&s, &["Jonas Berg", "Priya Raman"]) });
    s.w.notion.update_page_as_person(&c, &tom, edit).unwrap();
    s.notion_event("specs", &a).await;
    s.notion_event("specs", &c).await;
    s.settle("lead re-assigns engineers on specs A and C in Notion")
        .await;

    // Converged: every mapped field agrees on both sides ...
    let compared = assert_agree(&s).await;
    println!("fields compared: {compared}");
    // ... and every person's last edit is there (on both sides, by agreement).
    let (row_a, row_b, row_c) = (spec_row(&s, &a), spec_row(&s, &b), spec_row(&s, &c));
    assert_eq!(row_a["fields"]["Spec Name"], "Checkout revamp v2");
    assert_eq!(body(&s, &a), BODY_JONAS_2);
    assert_eq!(
        airtable_emails(&row_a["fields"]["Engineers"]),
        ["jonas@example.com"]
    );
    assert_eq!(
        airtable_emails(&row_b["fields"]["Engineers"]),
        ["tom@example.com"]
    );
    assert_eq!(
        airtable_emails(&row_c["fields"]["Engineers"]),
        ["jonas@example.com", "priya@example.com"]
    );
    assert_eq!(airtable_files(&row_a).await, [file("checkout.png", &mock)]);
    assert_eq!(
        airtable_files(&row_b).await,
        [file("search.pdf", &search_mock)]
    );
    assert_eq!(
        s.w.airtable_links(row_a["id"].as_str().unwrap()),
        records_of(&s, "epics", vec![checkout, onboarding]).await
    );
    assert_eq!(
        s.w.notion_links(&b).await,
        sorted(vec![search, payments.clone()])
    );
    let want = records_of(&s, "epics", vec![payments, mobile]).await;
    assert_eq!(s.w.airtable_links(row_c["id"].as_str().unwrap()), want);
    assert_eq!(
        crate::relations::setup::sorted(&row_c["fields"]["Depends on"]),
        [row_a["id"].as_str().unwrap()]
    );
    let issues = s.w.db.store.open_issues(None).await.unwrap();
    let records: Vec<_> = issues
        .iter()
        .filter(|i| i.scope == IssueScope::Record)
        .collect();
    assert!(records.is_empty(), "{records:#?}");

    // One more full sweep of each pair writes nothing.
    s.sweep("specs").await;
    s.sweep("epics").await;
    let f = s.settle("one more full sweep of each pair").await.clone();
    // Each pair's schemas, its pages (and the specs' 47 contents), its rows.
    assert_eq!(f.calls(), (53, 0, 4, 0, 0), "{f:?}");
    assert_eq!(s.summaries.len(), 2);
    for summary in &s.summaries {
        let written = (
            summary.created_in_airtable,
            summary.created_in_notion,
            summary.updated_airtable,
            summary.updated_notion,
        );
        assert_eq!(written, (0, 0, 0, 0), "{summary:?}");
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    }
    assert_eq!(assert_agree(&s).await, compared);
}

both_backends! {
    specs_with_epics_body_people_and_files_converge,
}
