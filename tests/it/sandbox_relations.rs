//! The sandboxes' relations as the vendors document them, over HTTP: a
//! Notion relation property in the data source schema, page reads capped at
//! 25 references with `has_more`, the property-item endpoint paginating the
//! whole list, writes of pages outside the related data source refused with
//! 400 `validation_error` and more than 100 relations refused; an Airtable
//! link field's options, cells of record ids, ids outside the linked table
//! refused (422) and a deleted record leaving the cells that linked to it.

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, FieldSchema, FieldType},
    notion::{NotionSandbox, NotionSandboxConfig, PropertySchema},
};
use serde_json::{Value, json};

const VERSION: &str = "2025-09-03";

async fn notion() -> NotionSandbox {
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
        .bearer_auth(sb.token())
        .header("Notion-Version", VERSION);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn title(s: &str) -> Value {
    json!({ "Name": { "title": [{ "type": "text", "text": { "content": s } }] } })
}

/// Two data sources, the first with a relation to the second, and `n` pages in the second.
async fn related(sb: &NotionSandbox, n: usize) -> (String, String, Vec<String>) {
    let (_, specs) = sb.create_database("Specs", vec![PropertySchema::title("Name")]);
    let (_, epics) = sb.create_database("Epics", vec![PropertySchema::title("Name")]);
    let body = json!({ "properties": { "Epic": { "relation": { "data_source_id": epics, "single_property": {} } } } });
    let (status, schema) = call(
        sb,
        reqwest::Method::PATCH,
        &format!("/v1/data_sources/{specs}"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{schema}");
    let relation = &schema["properties"]["Epic"]["relation"];
    assert_eq!(relation["data_source_id"], json!(epics));
    assert_eq!(relation["type"], "single_property");
    let person = sb.seed_team().people[0].1.clone();
    let pages = (0..n)
        .map(|i| {
            sb.insert_page_as_person(&epics, &person, title(&format!("E{i}")))
                .unwrap()
        })
        .collect();
    (specs, epics, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_relations_read_25_references_and_page_the_rest() {
    let sb = notion().await;
    let (specs, _, epics) = related(&sb, 30).await;
    let refs: Vec<Value> = epics.iter().map(|id| json!({ "id": id })).collect();
    let mut props = title("S");
    props["Epic"] = json!({ "relation": refs });
    let body = json!({ "parent": { "data_source_id": specs }, "properties": props });
    let (status, page) = call(&sb, reqwest::Method::POST, "/v1/pages", Some(body)).await;
    assert_eq!(status, 200, "{page}");
    let prop = &page["properties"]["Epic"];
    assert_eq!(prop["relation"].as_array().unwrap().len(), 25);
    assert_eq!(prop["has_more"], true);
    // The property-item list: every reference, 10 a page, in order.
    let (page_id, prop_id) = (page["id"].as_str().unwrap(), prop["id"].as_str().unwrap());
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/v1/pages/{page_id}/properties/{prop_id}?page_size=10{cursor}");
        let (status, list) = call(&sb, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["object"], "list");
        assert_eq!(list["type"], "property_item");
        for item in list["results"].as_array().unwrap() {
            assert_eq!(item["type"], "relation");
            seen.push(item["relation"]["id"].as_str().unwrap().to_owned());
        }
        match list["next_cursor"].as_str() {
            Some(c) => cursor = format!("&start_cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, epics);
    // 25 or fewer: no more to read.
    let short: Vec<Value> = epics[..3].iter().map(|id| json!({ "id": id })).collect();
    let body = json!({ "properties": { "Epic": { "relation": short } } });
    let (_, page) = call(
        &sb,
        reqwest::Method::PATCH,
        &format!("/v1/pages/{page_id}"),
        Some(body),
    )
    .await;
    assert_eq!(page["properties"]["Epic"]["has_more"], false);
    assert_eq!(
        page["properties"]["Epic"]["relation"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_relation_writes_are_validated() {
    let sb = notion().await;
    let (specs, _, epics) = related(&sb, 1).await;
    let person = sb.seed_team().people[0].1.clone();
    let spec = sb
        .insert_page_as_person(&specs, &person, title("S"))
        .unwrap();
    let write = |ids: Vec<String>| {
        let refs: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
        json!({ "properties": { "Epic": { "relation": refs } } })
    };
    let path = format!("/v1/pages/{spec}");
    // A page of another data source (the spec itself), and one that does not exist.
    for bad in [spec.clone(), uuid::Uuid::new_v4().to_string()] {
        let (status, err) = call(&sb, reqwest::Method::PATCH, &path, Some(write(vec![bad]))).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("validation_error")),
            "{err}"
        );
    }
    let (status, err) = call(
        &sb,
        reqwest::Method::PATCH,
        &path,
        Some(write(vec![epics[0].clone(); 101])),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().contains("100"), "{err}");
    // Nothing was stored by the refused writes.
    let (_, page) = call(&sb, reqwest::Method::GET, &path, None).await;
    assert_eq!(page["properties"]["Epic"]["relation"], json!([]));
    let (status, _) = call(
        &sb,
        reqwest::Method::PATCH,
        &path,
        Some(write(vec![epics[0].clone()])),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_link_fields_hold_record_ids_of_their_linked_table() {
    let sb = AirtableSandbox::start_local(AirtableSandboxConfig {
        rate_limit: false,
        ..AirtableSandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sb.create_base("B");
    let text = |n: &str| FieldSchema::new(n, FieldType::SingleLineText);
    let epics = sb.create_table(&base, "Epics", vec![text("Name")]);
    let specs = sb.create_table(&base, "Specs", vec![text("Name")]);
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", sb.base_url());
    let field: Value = http
        .post(url(&format!("/v0/meta/bases/{base}/tables/{specs}/fields")))
        .bearer_auth(sb.token())
        .json(&json!({ "name": "Epic", "type": "multipleRecordLinks", "options": { "linkedTableId": epics } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(field["options"]["linkedTableId"], json!(epics), "{field}");
    assert_eq!(field["options"]["prefersSingleRecordLink"], false);
    // The reciprocal field, in the linked table, named after this one's table.
    let inverse_id = field["options"]["inverseLinkFieldId"]
        .as_str()
        .unwrap()
        .to_owned();
    let tables: Value = http
        .get(url(&format!("/v0/meta/bases/{base}/tables")))
        .bearer_auth(sb.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let epic_fields = tables["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == json!(epics))
        .unwrap()["fields"]
        .clone();
    let inverse = epic_fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == json!(inverse_id))
        .unwrap_or_else(|| panic!("no inverse field: {epic_fields}"))
        .clone();
    assert_eq!(inverse["name"], "Specs");
    assert_eq!(inverse["options"]["linkedTableId"], json!(specs));
    assert_eq!(inverse["options"]["inverseLinkFieldId"], field["id"]);
    let e1 = sb
        .insert_record_as_person(&base, &epics, json!({ "Name": "E1" }))
        .unwrap();
    let e2 = sb
        .insert_record_as_person(&base, &epics, json!({ "Name": "E2" }))
        .unwrap();
    let other = sb
        .insert_record_as_person(&base, &specs, json!({ "Name": "not an epic" }))
        .unwrap();
    let create = |cell: Value| {
        http.post(url(&format!("/v0/{base}/{specs}")))
            .bearer_auth(sb.token())
            .json(&json!({ "records": [{ "fields": { "Name": "S", "Epic": cell } }] }))
            .send()
    };
    // A record of another table: refused, nothing created.
    let resp = create(json!([e1, other])).await.unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "ROW_DOES_NOT_EXIST", "{err}");
    assert_eq!(sb.records(&base, &specs).len(), 1);
    let resp = create(json!([e2, e1])).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    let spec = body["records"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["records"][0]["fields"]["Epic"], json!([e2, e1]));
    // The inverse field follows: both epics link back to the spec.
    for e in [&e1, &e2] {
        let epic = sb.record(&base, &epics, e).unwrap();
        assert_eq!(epic["fields"]["Specs"], json!([spec]), "{epic}");
    }
    // ...and an unlink from the spec's side unlinks on the epic's.
    let patch = json!({ "records": [{ "id": spec, "fields": { "Epic": [e2] } }] });
    let resp = http
        .patch(url(&format!("/v0/{base}/{specs}")))
        .bearer_auth(sb.token())
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        sb.record(&base, &epics, &e1).unwrap()["fields"]
            .get("Specs")
            .is_none()
    );
    let resp = http
        .patch(url(&format!("/v0/{base}/{specs}")))
        .bearer_auth(sb.token())
        .json(&json!({ "records": [{ "id": spec, "fields": { "Epic": [e2, e1] } }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // Deleting a linked record removes it from the cells that linked to it.
    sb.delete_record_as_person(&base, &epics, &e2).unwrap();
    let row = sb.record(&base, &specs, &spec).unwrap();
    assert_eq!(row["fields"]["Epic"], json!([e1]));
}
