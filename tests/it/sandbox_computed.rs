//! The Notion sandbox's computed properties over HTTP, as Notion documents
//! them: a `unique_id` property (`{"prefix": "SPEC", "number": 12}`) numbers
//! the data source's pages in creation order, existing pages included when
//! the property is added; `created_by` is the creator's user object; writes
//! to either are refused with 400 `validation_error`. The Airtable sandbox's
//! computed fields as its field model documents their cells: `autoNumber`,
//! `createdTime`, `lastModifiedTime` and `formula`, added by a person (the
//! API cannot create them) and refused on write with 422
//! `INVALID_VALUE_FOR_COLUMN`.

mod airtable_linked;
mod notion_rollup;

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

async fn post(url: String, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_computed_fields_are_read_only_values_airtable_computes() {
    use notion_airtable_sandbox::airtable::{AirtableSandbox, AirtableSandboxConfig};
    let sb = AirtableSandbox::start_local(AirtableSandboxConfig {
        rate_limit: false,
        ..AirtableSandboxConfig::default()
    })
    .await
    .unwrap();
    let t = sb.seed_team();
    let fields = |prefix: &str| {
        format!(
            "{}{prefix}/bases/{}/tables/{}/fields",
            sb.base_url(),
            t.base_id,
            t.table_id
        )
    };
    // The API cannot create a computed field; a person can.
    let formula = json!({ "name": "Shout", "type": "formula",
                          "options": { "formula": "UPPER({Spec Name})" } });
    let (status, refused) = post(fields("/v0/meta"), sb.token(), formula.clone()).await;
    assert_eq!(status, 422, "{refused}");
    for body in [
        formula,
        json!({ "name": "Row", "type": "autoNumber" }),
        json!({ "name": "Created", "type": "createdTime" }),
        json!({ "name": "Modified", "type": "lastModifiedTime" }),
    ] {
        let (status, field) = post(fields("/_sandbox"), sb.token(), body.clone()).await;
        assert_eq!(status, 200, "{body}: {field}");
    }
    let bad = json!({ "name": "Broken", "type": "formula", "options": { "formula": "UPPER(" } });
    let (status, _) = post(fields("/_sandbox"), sb.token(), bad).await;
    assert_ne!(status, 200, "a formula that does not parse is not added");

    let rows = sb.records(&t.base_id, &t.table_id);
    let mut numbers: Vec<u64> = rows
        .iter()
        .map(|r| r["fields"]["Row"].as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=rows.len() as u64).collect::<Vec<_>>());
    for r in &rows {
        let f = &r["fields"];
        assert_eq!(f["Created"], r["createdTime"]);
        let name = f["Spec Name"].as_str().unwrap();
        assert_eq!(f["Shout"], json!(name.to_uppercase()));
        assert!(
            f["Modified"]
                .as_str()
                .is_some_and(|m| m >= r["createdTime"].as_str().unwrap())
        );
    }

    // A new record takes the next number; its formula follows its cells.
    let id = sb
        .insert_record_as_person(&t.base_id, &t.table_id, json!({ "Spec Name": "late spec" }))
        .unwrap();
    let row = |id: &str| {
        let rows = sb.records(&t.base_id, &t.table_id);
        rows.into_iter().find(|r| r["id"] == id).unwrap()
    };
    assert_eq!(row(&id)["fields"]["Row"], json!(rows.len() + 1));
    assert_eq!(row(&id)["fields"]["Shout"], json!("LATE SPEC"));

    // A write to a computed field is refused and changes nothing.
    let url = format!("{}/v0/{}/{}/{id}", sb.base_url(), t.base_id, t.table_id);
    for cell in [
        json!({ "Row": 99 }),
        json!({ "Shout": "x" }),
        json!({ "Created": null }),
    ] {
        let response = reqwest::Client::new()
            .patch(&url)
            .bearer_auth(sb.token())
            .json(&json!({ "fields": cell }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 422, "{cell}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(
            error["error"]["type"], "INVALID_VALUE_FOR_COLUMN",
            "{error}"
        );
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("because the field is computed"),
            "{message}"
        );
    }
    assert_eq!(row(&id)["fields"]["Row"], json!(rows.len() + 1));
}
