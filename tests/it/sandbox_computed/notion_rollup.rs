//! The Notion sandbox's formula and rollup properties: configured through the data source
//! update, computed on every read from the page and its related pages, refused on write.

use notion_airtable_sandbox::notion::{NotionSandbox, NotionSandboxConfig, PropertySchema};
use serde_json::{Value, json};

use super::{call, create_page};

#[tokio::test]
async fn notion_formulas_and_rollups_follow_their_inputs_and_cannot_be_written() {
    let sb = NotionSandbox::start_local(NotionSandboxConfig {
        rate_limit: false,
        ..NotionSandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let (_, ds) = sb.create_database(
        "Specs",
        vec![
            PropertySchema::title("Name"),
            PropertySchema::new(
                "Points",
                notion_airtable_sandbox::notion::PropertyKind::Number,
            ),
        ],
    );
    let path = format!("/v1/data_sources/{ds}");
    // A relation to the same data source, then a formula and rollups over it.
    let relation = json!({ "properties": {
        "Depends on": { "relation": { "data_source_id": ds, "single_property": {} } } } });
    let (status, body) = call(&sb, reqwest::Method::PATCH, &path, relation).await;
    assert_eq!(status, 200, "{body}");
    let computed = json!({ "properties": {
        "Shout": { "formula": { "expression": "upper(prop(\"Name\")) + \"!\"" } },
        "Dep Count": { "rollup": { "relation_property_name": "Depends on",
                                   "rollup_property_name": "Points", "function": "count" } },
        "Dep Points": { "rollup": { "relation_property_name": "Depends on",
                                    "rollup_property_name": "Points", "function": "sum" } },
        "Dep Names": { "rollup": { "relation_property_name": "Depends on",
                                   "rollup_property_name": "Name", "function": "show_original" } },
    }});
    let (status, schema) = call(&sb, reqwest::Method::PATCH, &path, computed).await;
    assert_eq!(status, 200, "{schema}");
    let rollup = &schema["properties"]["Dep Points"]["rollup"];
    assert_eq!(rollup["function"], "sum", "{schema}");
    assert_eq!(
        rollup["relation_property_id"],
        schema["properties"]["Depends on"]["id"]
    );
    assert_eq!(
        rollup["rollup_property_id"],
        schema["properties"]["Points"]["id"]
    );
    assert_eq!(
        schema["properties"]["Shout"]["formula"]["expression"],
        "upper(prop(\"Name\")) + \"!\""
    );
    for bad in [
        json!({ "Bad": { "formula": { "expression": "prop(\"Nope\")" } } }),
        json!({ "Bad": { "rollup": { "relation_property_name": "Points",
                                     "rollup_property_name": "Name", "function": "count" } } }),
        json!({ "Bad": { "rollup": { "relation_property_name": "Depends on",
                                     "rollup_property_name": "Nope", "function": "count" } } }),
    ] {
        let body = json!({ "properties": bad });
        let (status, error) = call(&sb, reqwest::Method::PATCH, &path, body).await;
        assert_eq!(
            (status, &error["code"]),
            (400, &json!("validation_error")),
            "{error}"
        );
    }

    let a = create_page(&sb, &ds, "Auth").await;
    let b = create_page(&sb, &ds, "Billing").await;
    let c = create_page(&sb, &ds, "Cache").await;
    let id = |p: &Value| p["id"].as_str().unwrap().to_owned();
    let read = |page: String| {
        let sb = &sb;
        async move {
            let (status, p) = call(
                sb,
                reqwest::Method::GET,
                &format!("/v1/pages/{page}"),
                Value::Null,
            )
            .await;
            assert_eq!(status, 200, "{p}");
            p["properties"].clone()
        }
    };
    let set = |page: String, properties: Value| {
        let sb = &sb;
        async move {
            let body = json!({ "properties": properties });
            let (status, p) = call(
                sb,
                reqwest::Method::PATCH,
                &format!("/v1/pages/{page}"),
                body,
            )
            .await;
            assert_eq!(status, 200, "{p}");
        }
    };
    let p = read(id(&a)).await;
    assert_eq!(
        p["Shout"],
        json!({ "id": p["Shout"]["id"], "type": "formula",
                "formula": { "type": "string", "string": "AUTH!" } })
    );
    assert_eq!(
        p["Dep Count"]["rollup"],
        json!({ "type": "number", "number": 0, "function": "count" })
    );

    set(id(&b), json!({ "Points": { "number": 3 } })).await;
    set(id(&c), json!({ "Points": { "number": 5 } })).await;
    set(
        id(&a),
        json!({ "Depends on": { "relation": [{ "id": id(&b) }, { "id": id(&c) }] } }),
    )
    .await;
    let p = read(id(&a)).await;
    assert_eq!(p["Dep Count"]["rollup"]["number"], 2);
    assert_eq!(
        p["Dep Points"]["rollup"],
        json!({ "type": "number", "number": 8, "function": "sum" })
    );
    let names = p["Dep Names"]["rollup"].clone();
    assert_eq!(
        (&names["type"], &names["function"]),
        (&json!("array"), &json!("show_original"))
    );
    assert_eq!(names["array"][0]["type"], "title", "{names}");
    assert_eq!(
        names["array"][1]["title"][0]["plain_text"], "Cache",
        "{names}"
    );

    // A related page changes: the rollup follows though its page was not edited.
    set(
        id(&b),
        json!({ "Points": { "number": 4 },
        "Name": { "title": [{ "type": "text", "text": { "content": "Billing v2" } }] } }),
    )
    .await;
    let p = read(id(&a)).await;
    assert_eq!(p["Dep Points"]["rollup"]["number"], 9);
    assert_eq!(
        p["Dep Names"]["rollup"]["array"][0]["title"][0]["plain_text"],
        "Billing v2"
    );
    assert_eq!(
        read(id(&b)).await["Shout"]["formula"]["string"],
        "BILLING V2!"
    );

    // Computed by Notion: a write is a validation error and changes nothing.
    for property in [
        json!({ "Shout": { "formula": { "string": "x" } } }),
        json!({ "Dep Points": { "rollup": { "number": 1 } } }),
    ] {
        let body = json!({ "properties": property });
        let path = format!("/v1/pages/{}", id(&a));
        let (status, error) = call(&sb, reqwest::Method::PATCH, &path, body).await;
        assert_eq!(
            (status, &error["code"]),
            (400, &json!("validation_error")),
            "{error}"
        );
    }
    assert_eq!(read(id(&a)).await["Dep Points"]["rollup"]["number"], 9);

    // A schema edit changes the function, and the values follow.
    let edit = json!({ "properties": { "Dep Points": { "rollup": {
        "relation_property_name": "Depends on", "rollup_property_name": "Points",
        "function": "max" } } } });
    let (status, body) = call(&sb, reqwest::Method::PATCH, &path, edit).await;
    assert_eq!(status, 200, "{body}");
    let p = read(id(&a)).await;
    assert_eq!(
        p["Dep Points"]["rollup"],
        json!({ "type": "number", "number": 5, "function": "max" })
    );
}
