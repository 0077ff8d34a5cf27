//! The Notion sandbox's computed properties over HTTP, as Notion documents
//! them: a `unique_id` property (`{"prefix": "SPEC", "number": 12}`) numbers
//! the data source's pages in creation order, existing pages included when
//! the property is added; `created_by` is the creator's user object; writes
//! to either are refused with 400 `validation_error`.

use notion_airtable_sandbox::notion::{NotionSandbox, NotionSandboxConfig, PropertySchema};
use serde_json::{Value, json};

const VERSION: &str = "2025-09-03";

async fn call(
    sb: &NotionSandbox,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.base_url()))
        .bearer_auth(sb.token())
        .header("Notion-Version", VERSION)
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_page(sb: &NotionSandbox, ds: &str, name: &str) -> Value {
    let body = json!({
        "parent": { "type": "data_source_id", "data_source_id": ds },
        "properties": { "Name": { "title": [{ "type": "text", "text": { "content": name } }] } },
    });
    let (status, page) = call(sb, reqwest::Method::POST, "/v1/pages", body).await;
    assert_eq!(status, 200, "{page}");
    page
}

#[tokio::test]
async fn unique_ids_number_pages_in_creation_order_and_cannot_be_written() {
    let sb = NotionSandbox::start_local(NotionSandboxConfig {
        rate_limit: false,
        ..NotionSandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let (_, ds) = sb.create_database("Specs", vec![PropertySchema::title("Name")]);
    let first = create_page(&sb, &ds, "First").await;
    create_page(&sb, &ds, "Second").await;
    let schema = json!({ "properties": {
        "Key": { "unique_id": { "prefix": "SPEC" } },
        "Author": { "created_by": {} },
    }});
    let path = format!("/v1/data_sources/{ds}");
    let (status, updated) = call(&sb, reqwest::Method::PATCH, &path, schema).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["properties"]["Key"]["type"], "unique_id");
    assert_eq!(updated["properties"]["Key"]["unique_id"]["prefix"], "SPEC");

    // Existing pages got numbers when the property was added; a new page the next.
    let third = create_page(&sb, &ds, "Third").await;
    assert_eq!(
        third["properties"]["Key"],
        json!({ "id": third["properties"]["Key"]["id"], "type": "unique_id",
                "unique_id": { "prefix": "SPEC", "number": 3 } })
    );
    let id = first["id"].as_str().unwrap();
    let (status, page) = call(
        &sb,
        reqwest::Method::GET,
        &format!("/v1/pages/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["properties"]["Key"]["unique_id"]["number"], 1);
    assert_eq!(
        page["properties"]["Author"]["created_by"]["id"],
        sb.bot_user_id()
    );
    assert_eq!(page["properties"]["Author"]["created_by"]["object"], "user");

    // Computed by Notion: a write is a validation error and changes nothing.
    for property in [
        json!({ "Key": { "unique_id": { "prefix": "X", "number": 9 } } }),
        json!({ "Author": { "created_by": { "id": sb.bot_user_id() } } }),
    ] {
        let body = json!({ "properties": property });
        let (status, error) = call(
            &sb,
            reqwest::Method::PATCH,
            &format!("/v1/pages/{id}"),
            body,
        )
        .await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["code"], "validation_error", "{error}");
    }
    let (_, again) = call(
        &sb,
        reqwest::Method::GET,
        &format!("/v1/pages/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(again["properties"]["Key"], page["properties"]["Key"]);
}
