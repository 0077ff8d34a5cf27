//! The Notion sandbox's markdown endpoints over HTTP, as Notion documents
//! them: `GET /v1/pages/{id}/markdown` (a `page_markdown` object; 403
//! without the read content capability), `PATCH` with `replace_content` or
//! `insert_content` (answered with the new content; headings 5 and 6 stored
//! as heading 4), `POST /v1/pages` with `markdown`, and `page.content_updated`
//! events for content edits, authored by the bot for API writes and by the
//! person for edits through the control API (both go through the same
//! aggregating emitter as every other event).

use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, routing::post};
use notion_airtable_sandbox::notion::{NotionSandbox, NotionSandboxConfig};
use serde_json::{Value, json};

use crate::common::wait::eventually;

const VERSION: &str = "2025-09-03";

async fn sandbox() -> NotionSandbox {
    NotionSandbox::start_local(NotionSandboxConfig {
        rate_limit: false,
        ..NotionSandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn call(
    sb: &NotionSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.base_url()))
        .header("Notion-Version", VERSION);
    if !path.starts_with("/_sandbox") {
        req = req.bearer_auth(sb.token());
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn replace(text: &str) -> Value {
    json!({ "type": "replace_content", "replace_content": { "new_str": text } })
}

#[tokio::test]
async fn markdown_is_read_and_replaced_as_documented() {
    let sb = sandbox().await;
    let team = sb.seed_team();
    let page = &team.page_ids[0];
    let path = format!("/v1/pages/{page}/markdown");

    let (status, body) = call(&sb, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "object": "page_markdown", "id": page, "markdown": "",
                "truncated": false, "unknown_block_ids": [] })
    );

    let text = "# Spec\r\n\r\n##### Deep\n```\n###### literal\n```";
    let (status, body) = call(&sb, reqwest::Method::PATCH, &path, Some(replace(text))).await;
    assert_eq!(status, 200, "{body}");
    let stored = "# Spec\n\n#### Deep\n```\n###### literal\n```";
    assert_eq!(body["markdown"], stored, "{body}");
    assert_eq!(sb.content(page).unwrap(), stored);

    let append = json!({ "type": "insert_content", "insert_content": { "content": "End" } });
    let (status, body) = call(&sb, reqwest::Method::PATCH, &path, Some(append)).await;
    assert_eq!(
        (status, body["markdown"].clone()),
        (200, json!(format!("{stored}\nEnd")))
    );
    let prepend = json!({ "type": "insert_content",
                          "insert_content": { "content": "Top", "position": { "type": "start" } } });
    let (status, body) = call(&sb, reqwest::Method::PATCH, &path, Some(prepend)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["markdown"]
            .as_str()
            .unwrap()
            .starts_with("Top\n# Spec"),
        "{body}"
    );

    // Search and replace.
    let update = json!({ "type": "update_content", "update_content": {
        "content_updates": [{ "old_str": "Top", "new_str": "Summary" }] } });
    let (status, body) = call(&sb, reqwest::Method::PATCH, &path, Some(update)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["markdown"]
            .as_str()
            .unwrap()
            .starts_with("Summary\n# Spec"),
        "{body}"
    );

    // Bad commands change nothing.
    let before = sb.content(page).unwrap();
    for bad in [
        json!({ "type": "replace_content", "replace_content": {} }),
        json!({ "type": "rewrite", "rewrite": {} }),
        json!({ "type": "update_content", "update_content": { "content_updates": [] } }),
        json!({ "type": "update_content", "update_content": {
            "content_updates": [{ "old_str": "absent", "new_str": "x" }] } }),
        json!({ "type": "replace_content_range", "replace_content_range": {
            "content": "x", "content_range": "a...b" } }),
    ] {
        let (status, body) = call(&sb, reqwest::Method::PATCH, &path, Some(bad.clone())).await;
        assert_eq!(
            (status, body["code"].clone()),
            (400, json!("validation_error")),
            "{bad}: {body}"
        );
    }
    assert_eq!(sb.content(page).unwrap(), before);

    let missing = "/v1/pages/00000000-0000-0000-0000-000000000000/markdown";
    let (status, body) = call(&sb, reqwest::Method::GET, missing, None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("object_not_found"))
    );
}

#[tokio::test]
async fn without_read_content_the_endpoints_answer_403_and_a_person_still_edits() {
    let sb = sandbox().await;
    let team = sb.seed_team();
    let page = &team.page_ids[0];
    let path = format!("/v1/pages/{page}/markdown");
    let (status, body) = call(
        &sb,
        reqwest::Method::POST,
        "/_sandbox/capabilities",
        Some(json!({ "user_information": "with_email", "read_content": false })),
    )
    .await;
    assert_eq!((status, body["read_content"].clone()), (200, json!(false)));
    let (status, body) = call(&sb, reqwest::Method::GET, &path, None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (403, json!("restricted_resource"))
    );
    let (status, _) = call(&sb, reqwest::Method::PATCH, &path, Some(replace("x"))).await;
    assert_eq!(status, 403);
    assert_eq!(sb.content(page).unwrap(), "");

    let edit = json!({ "markdown": "Typed by a person" });
    let control = format!("/_sandbox/pages/{page}/markdown");
    let (status, body) = call(&sb, reqwest::Method::PATCH, &control, Some(edit)).await;
    assert_eq!(
        (status, body["markdown"].clone()),
        (200, json!("Typed by a person"))
    );
    let (_, body) = call(&sb, reqwest::Method::GET, &control, None).await;
    assert_eq!(body["markdown"], "Typed by a person");
}

#[tokio::test]
async fn a_page_is_created_with_markdown() {
    let sb = sandbox().await;
    let team = sb.seed_team();
    let properties = json!({ "Name": { "title": [{ "text": { "content": "New spec" } }] } });
    let parent = json!({ "data_source_id": team.data_source_id });
    let body = json!({ "parent": parent, "properties": properties, "markdown": "## Body" });
    let (status, page) = call(&sb, reqwest::Method::POST, "/v1/pages", Some(body)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(sb.content(page["id"].as_str().unwrap()).unwrap(), "## Body");
    let both = json!({ "parent": parent, "properties": properties,
                       "markdown": "x", "children": [] });
    let (status, body) = call(&sb, reqwest::Method::POST, "/v1/pages", Some(both)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("validation_error"))
    );
}

type Got = Arc<Mutex<Vec<Value>>>;

async fn receiver() -> (Got, String) {
    async fn receive(State(got): State<Got>, body: Bytes) {
        got.lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap());
    }
    let got = Got::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (got, url)
}

fn content_events(got: &Got) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "page.content_updated")
        .cloned()
        .collect()
}

#[tokio::test]
async fn content_edits_send_page_content_updated_events_by_their_author() {
    let sb = sandbox().await;
    let team = sb.seed_team();
    let (got, url) = receiver().await;
    let sub = sb.subscribe(&url);
    eventually(10, "the verification request", async || {
        (!got.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    sb.verify_subscription(&sub.id, &sub.verification_token)
        .unwrap();
    let (page, person) = (&team.page_ids[0], team.people[0].1.clone());

    // The integration's write: authored by the bot.
    let path = format!("/v1/pages/{page}/markdown");
    let (status, _) = call(
        &sb,
        reqwest::Method::PATCH,
        &path,
        Some(replace("By the bot")),
    )
    .await;
    assert_eq!(status, 200);
    let events = eventually(10, "the bot's event", async || {
        let e = content_events(&got);
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert_eq!(events[0]["entity"], json!({ "id": page, "type": "page" }));
    assert_eq!(events[0]["authors"][0]["type"], "bot", "{}", events[0]);

    // A person's edit through the control API: authored by the person.
    let control = format!("/_sandbox/pages/{page}/markdown");
    let edit = json!({ "user_id": person, "markdown": "Typed" });
    let (status, _) = call(&sb, reqwest::Method::PATCH, &control, Some(edit)).await;
    assert_eq!(status, 200);
    let authors = json!([{ "id": person, "type": "person" }]);
    eventually(10, "the person's event", async || {
        content_events(&got)
            .iter()
            .any(|e| e["authors"] == authors && e["entity"]["id"] == json!(page))
            .then_some(())
    })
    .await;
    assert_eq!(sb.content(page).unwrap(), "Typed");
}
