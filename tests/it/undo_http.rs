//! Undo over HTTP, against both sandboxes on SQLite and Postgres: the admin
//! API (`POST /api/undo`: dry run, undo, undo of the undo, bad input) and
//! the status page's Undo button (CSRF token, same origin, the report page
//! and its "undo this undo" button). Both reach the engine through the
//! port `serve` installs (`app::undo::ServiceUndo`).

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use notion_airtable_sync::{
    app::undo::ServiceUndo,
    http::{AppState, PairDirectory},
    secret::Secret,
    store::{Cause, LogAction, LogQuery},
    worker::service::SyncService,
};
use serde_json::{Value, json};

use crate::common::{
    TestDb,
    world::{World, select_of, world},
};
use crate::http_ingest::support::{ADMIN_TOKEN, Server, start_with};

async fn start(w: &World) -> Server {
    let pairs = vec![w.pair.clone()];
    let mut state = AppState::new(w.engine.store.clone(), PairDirectory::from_resolved(&pairs));
    state.admin_token = Some(Secret::new(ADMIN_TOKEN));
    let service = Arc::new(SyncService::new(w.engine.clone(), pairs, "usrTest".into()));
    state.undo = Some(Arc::new(ServiceUndo {
        engine: w.engine.clone(),
        service,
    }));
    start_with(state).await
}

fn status(w: &World, page: &str) -> (Value, Value) {
    let notion = select_of(&w.page(page)["properties"]["Status"]);
    (notion, w.row_for(page)["fields"]["Status"].clone())
}

/// A synced world where a person changed one page's Status: the page, its
/// Status before and after, and the logged change's id.
async fn changed(db: TestDb) -> (World, String, Value, String, i64) {
    let w = world(db).await;
    w.sweep(true).await;
    let page = w.team_n.page_ids[0].clone();
    let before = status(&w, &page).0;
    let new = if before == json!("Shipped") {
        "Draft"
    } else {
        "Shipped"
    };
    let props = json!({ "Status": { "select": { "name": new } } });
    w.notion
        .update_page_as_person(&page, &w.person(), props)
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    let entry = w
        .engine
        .store
        .query_log(&LogQuery {
            record: Some(page.clone()),
            ..LogQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.field.as_deref() == Some("Status") && e.action == LogAction::Update)
        .unwrap();
    (w, page, before, new.to_owned(), entry.id)
}

async fn post_api(server: &Server, body: Value) -> (u16, Value) {
    let response = server
        .http
        .post(format!("{}/api/undo", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn the_api_undoes_previews_and_refuses_bad_input(db: TestDb) {
    let (w, page, before, new, entry) = changed(db).await;
    let server = start(&w).await;

    let (code, dry) = post_api(&server, json!({ "entry": entry, "dry_run": true })).await;
    assert_eq!(code, 200, "{dry}");
    assert_eq!(dry["dry_run"], json!(true));
    assert_eq!(dry["reverted"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(dry["planned_writes"].as_array().unwrap().len(), 2, "{dry}");
    assert_eq!(
        status(&w, &page),
        (json!(new), json!(new)),
        "a dry run writes nothing"
    );

    for (body, expected) in [
        (json!({ "entry": 987_654 }), 404),
        (json!({ "run": "run-nope" }), 404),
        (json!({ "since": "soon" }), 400),
        (json!({}), 400),
        (json!({ "entry": entry, "run": "job-1" }), 400),
        (json!({ "since": "1h", "pair": "nope" }), 404),
        (json!({ "entry": "seven" }), 400),
    ] {
        let (code, answer) = post_api(&server, body.clone()).await;
        assert_eq!(code, expected, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{body}: {answer}");
    }
    let anonymous = server
        .http
        .post(format!("{}/api/undo", server.url))
        .json(&json!({ "entry": entry }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        status(&w, &page),
        (json!(new), json!(new)),
        "nothing changed"
    );

    let (code, report) = post_api(&server, json!({ "entry": entry })).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(status(&w, &page), (before.clone(), before));
    let run = report["run_id"].as_str().unwrap().to_owned();
    let (code, again) = post_api(&server, json!({ "run": run })).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(status(&w, &page), (json!(new), json!(new)));
}

fn basic() -> String {
    format!("Basic {}", STANDARD.encode(format!("admin:{ADMIN_TOKEN}")))
}

/// The `csrf` value of the form posting to `action`.
fn csrf_of(html: &str, action: &str) -> String {
    let at = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form for {action}"));
    let form = &html[at..];
    let value = &form[form.find("name=\"csrf\" value=\"").unwrap() + 19..];
    value[..value.find('"').unwrap()].to_owned()
}

async fn post_form(server: &Server, action: &str, csrf: &str, site: &str) -> (u16, String) {
    let response = server
        .http
        .post(format!("{}{action}", server.url))
        .header("authorization", basic())
        .header("sec-fetch-site", site)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    (code, response.text().await.unwrap())
}

async fn the_status_page_button_undoes_and_offers_to_undo_the_undo(db: TestDb) {
    let (w, page, before, new, entry) = changed(db).await;
    let server = start(&w).await;
    let html = server
        .http
        .get(format!("{}/", server.url))
        .header("authorization", basic())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = format!("/log/{entry}/undo");
    let token = csrf_of(&html, &action);

    // Another site's post, a wrong token, or another entry's token: refused.
    let (code, _) = post_form(&server, &action, &token, "cross-site").await;
    assert_eq!(code, 403);
    let (code, _) = post_form(&server, &action, "00", "same-origin").await;
    assert_eq!(code, 403);
    let other = format!("/log/{}/undo", entry + 1);
    let (code, _) = post_form(&server, &other, &token, "same-origin").await;
    assert_eq!(code, 403);
    assert_eq!(status(&w, &page), (json!(new), json!(new)));

    let (code, report) = post_form(&server, &action, &token, "same-origin").await;
    assert_eq!(code, 200, "{report}");
    assert!(report.contains("Put back on both sides"), "{report}");
    assert!(report.contains(&format!("#{entry}")), "{report}");
    assert_eq!(status(&w, &page), (before.clone(), before));

    // The report's own button undoes the undo.
    let start = report
        .find("action=\"/runs/")
        .expect("an undo-the-undo form");
    let run_action = &report[start + 8..];
    let run_action = run_action[..run_action.find('"').unwrap()].to_owned();
    let token = csrf_of(&report, &run_action);
    let (code, again) = post_form(&server, &run_action, &token, "same-origin").await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(status(&w, &page), (json!(new), json!(new)));
}

both_backends!(
    the_api_undoes_previews_and_refuses_bad_input,
    the_status_page_button_undoes_and_offers_to_undo_the_undo,
);
