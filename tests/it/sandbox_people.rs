//! The Notion sandbox's people properties as Notion documents them, over
//! HTTP: a page read shows at most 25 people (and, unlike a relation, no
//! `has_more`); the property-item endpoint pages through the whole list
//! (`next_cursor`, and `property_item.next_url` naming the next page); a
//! write takes at most 100 people.

use notion_airtable_sandbox::notion::{NotionSandbox, NotionSandboxConfig, PropertySchema};
use serde_json::{Value, json};

async fn call(
    sb: &NotionSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.base_url()))
        .bearer_auth(sb.token())
        .header("Notion-Version", "2025-09-03");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// A data source with a people property, and `n` members of the workspace.
async fn crowd(sb: &NotionSandbox, n: usize) -> (String, Vec<String>) {
    let schema = vec![
        PropertySchema::title("Name"),
        PropertySchema::people("Team"),
    ];
    let (_, ds) = sb.create_database("Specs", schema);
    let ids = (0..n)
        .map(|i| sb.add_member(&format!("P{i}"), &format!("p{i}@example.com")))
        .collect();
    (ds, ids)
}

fn team(ids: &[String]) -> Value {
    let refs: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "object": "user", "id": id }))
        .collect();
    json!({ "Team": { "people": refs } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_people_read_25_and_page_the_rest() {
    let sb = NotionSandbox::start_local(NotionSandboxConfig::default())
        .await
        .unwrap();
    let (ds, ids) = crowd(&sb, 30).await;
    let body = json!({ "parent": { "data_source_id": ds }, "properties": team(&ids) });
    let (status, page) = call(&sb, reqwest::Method::POST, "/v1/pages", Some(body)).await;
    assert_eq!(status, 200, "{page}");
    let prop = &page["properties"]["Team"];
    assert_eq!(prop["people"].as_array().unwrap().len(), 25, "{prop}");
    assert!(prop.get("has_more").is_none(), "{prop}");
    let (page_id, prop_id) = (page["id"].as_str().unwrap(), prop["id"].as_str().unwrap());
    let mut seen = Vec::new();
    let mut path = format!("/v1/pages/{page_id}/properties/{prop_id}?page_size=10");
    loop {
        let (status, list) = call(&sb, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(
            (list["object"].as_str(), list["type"].as_str()),
            (Some("list"), Some("property_item"))
        );
        assert_eq!(list["property_item"]["type"], "people");
        for item in list["results"].as_array().unwrap() {
            assert_eq!(item["object"], "property_item");
            assert_eq!(item["people"]["object"], "user");
            seen.push(item["people"]["id"].as_str().unwrap().to_owned());
        }
        match list["next_cursor"].as_str() {
            Some(c) => {
                let next_url = list["property_item"]["next_url"].as_str().unwrap();
                assert!(next_url.starts_with(&sb.base_url()), "{next_url}");
                assert!(
                    next_url.contains(&format!("start_cursor={c}")),
                    "{next_url}"
                );
                path = next_url.trim_start_matches(&sb.base_url()).to_owned();
            }
            None => {
                assert_eq!(list["property_item"]["next_url"], Value::Null);
                break;
            }
        }
    }
    assert_eq!(seen, ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_people_writes_take_at_most_100() {
    let sb = NotionSandbox::start_local(NotionSandboxConfig::default())
        .await
        .unwrap();
    let (ds, ids) = crowd(&sb, 101).await;
    let body = json!({ "parent": { "data_source_id": ds }, "properties": team(&ids[..100]) });
    let (status, page) = call(&sb, reqwest::Method::POST, "/v1/pages", Some(body)).await;
    assert_eq!(status, 200, "{page}");
    let path = format!("/v1/pages/{}", page["id"].as_str().unwrap());
    let (status, error) = call(
        &sb,
        reqwest::Method::PATCH,
        &path,
        Some(json!({ "properties": team(&ids) })),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "validation_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("should be ≤ 100"),
        "{error}"
    );
}
