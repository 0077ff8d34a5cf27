//! The Airtable sandbox's count, lookup and rollup fields over a link field: added by a
//! person only, read-only, following the linked records, and carried by webhook payloads
//! when they change.

use serde_json::{Value, json};

use super::post;

/// `GET` with the sandbox's token.
async fn get(url: String, token: &str) -> Value {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_counts_lookups_and_rollups_follow_linked_records_and_reach_webhooks() {
    use notion_airtable_sandbox::airtable::{
        AirtableSandbox, AirtableSandboxConfig, FieldSchema, FieldType,
    };
    let sb = AirtableSandbox::start_local(AirtableSandboxConfig {
        rate_limit: false,
        ..AirtableSandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sb.create_base("Plans");
    let table = sb.create_table(
        &base,
        "Specs",
        vec![
            FieldSchema::new("Name", FieldType::SingleLineText),
            FieldSchema::new("Points", FieldType::Number),
        ],
    );
    let meta = format!(
        "{}/v0/meta/bases/{base}/tables/{table}/fields",
        sb.base_url()
    );
    let link = json!({ "name": "Blocks", "type": "multipleRecordLinks",
                       "options": { "linkedTableId": table } });
    let (status, link) = post(meta.clone(), sb.token(), link).await;
    assert_eq!(status, 200, "{link}");
    // Only a person adds computed fields; the Meta API refuses them.
    let count = json!({ "name": "Blocked", "type": "count",
                        "options": { "recordLinkFieldId": "Blocks" } });
    let (status, refused) = post(meta, sb.token(), count.clone()).await;
    assert_eq!(status, 422, "{refused}");
    let person = format!(
        "{}/_sandbox/bases/{base}/tables/{table}/fields",
        sb.base_url()
    );
    let lookup = json!({ "name": "Blocked Names", "type": "multipleLookupValues",
        "options": { "recordLinkFieldId": "Blocks", "fieldIdInLinkedTable": "Name" } });
    let rollup = json!({ "name": "Blocked Points", "type": "rollup",
        "options": { "recordLinkFieldId": "Blocks", "fieldIdInLinkedTable": "Points",
                     "formula": "SUM(values)" } });
    let mut added = Vec::new();
    for body in [count, lookup, rollup] {
        let (status, field) = post(person.clone(), sb.token(), body.clone()).await;
        assert_eq!(status, 200, "{body}: {field}");
        assert_eq!(field["options"]["recordLinkFieldId"], link["id"], "{field}");
        added.push(field);
    }
    let bad = json!({ "name": "Odd", "type": "rollup", "options": {
        "recordLinkFieldId": "Blocks", "fieldIdInLinkedTable": "Points", "formula": "NOPE(values)" } });
    let (status, _) = post(person.clone(), sb.token(), bad).await;
    assert_ne!(
        status, 200,
        "a rollup formula the sandbox cannot evaluate is not added"
    );
    let not_a_link = json!({ "name": "Odd", "type": "count",
                             "options": { "recordLinkFieldId": "Points" } });
    let (status, _) = post(person, sb.token(), not_a_link).await;
    assert_ne!(status, 200, "a count needs a link field");
    let ids: Vec<String> = added
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();

    let a = sb
        .insert_record_as_person(&base, &table, json!({ "Name": "A" }))
        .unwrap();
    let b = sb
        .insert_record_as_person(&base, &table, json!({ "Name": "B", "Points": 3 }))
        .unwrap();
    let c = sb
        .insert_record_as_person(&base, &table, json!({ "Name": "C", "Points": 5 }))
        .unwrap();
    let fields = |id: &str| sb.record(&base, &table, id).unwrap()["fields"].clone();
    assert_eq!(fields(&a)["Blocked"], json!(0), "a count of nothing is 0");
    assert!(
        fields(&a).get("Blocked Names").is_none(),
        "an empty lookup is absent"
    );

    // A webhook that includes the computed cells' values.
    let hooks = format!("{}/v0/bases/{base}/webhooks", sb.base_url());
    let spec = json!({ "specification": { "options": {
        "filters": { "dataTypes": ["tableData"], "recordChangeScope": table },
        "includes": { "includeCellValuesInFieldIds": "all" } } } });
    let (status, hook) = post(hooks.clone(), sb.token(), spec).await;
    assert_eq!(status, 200, "{hook}");
    let hook = hook["id"].as_str().unwrap().to_owned();

    // A person links A to B and C: A's computed cells follow.
    sb.update_record_as_person(&base, &table, &a, json!({ "Blocks": [b, c] }))
        .unwrap();
    let f = fields(&a);
    assert_eq!(
        (&f["Blocked"], &f["Blocked Names"], &f["Blocked Points"]),
        (&json!(2), &json!(["B", "C"]), &json!(8))
    );
    // An input in a linked record changes: A's lookup and rollup follow, though A was
    // not written.
    sb.update_record_as_person(&base, &table, &b, json!({ "Name": "B2", "Points": 4 }))
        .unwrap();
    let f = fields(&a);
    assert_eq!(
        (&f["Blocked Names"], &f["Blocked Points"]),
        (&json!(["B2", "C"]), &json!(9))
    );

    // Both changes reached the webhook as changes of A's computed cells.
    let url = format!("{hooks}/{hook}/payloads?cursor=1");
    let listed = get(url, sb.token()).await;
    let changed: Vec<&Value> = listed["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["changedTablesById"][&table]["changedRecordsById"].get(&a))
        .collect();
    assert_eq!(changed.len(), 2, "{listed}");
    let cells = |i: usize| &changed[i]["current"]["cellValuesByFieldId"];
    assert_eq!(cells(0)[&ids[0]], json!(2), "{listed}");
    assert_eq!(cells(1)[&ids[1]], json!(["B2", "C"]), "{listed}");
    assert_eq!(cells(1)[&ids[2]], json!(9), "{listed}");
    assert!(
        cells(1).get(&ids[0]).is_none(),
        "the count did not change: {listed}"
    );

    // Computed: a write is refused and changes nothing.
    let record = format!("{}/v0/{base}/{table}/{a}", sb.base_url());
    for cell in [
        json!({ "Blocked": 1 }),
        json!({ "Blocked Names": ["x"] }),
        json!({ "Blocked Points": 1 }),
    ] {
        let response = reqwest::Client::new()
            .patch(&record)
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
    }
    assert_eq!(fields(&a)["Blocked Points"], json!(9));
    // Deleting a linked record takes it out of the link and of the values.
    sb.delete_record_as_person(&base, &table, &c).unwrap();
    let f = fields(&a);
    assert_eq!(
        (&f["Blocked"], &f["Blocked Points"]),
        (&json!(1), &json!(4))
    );
}
