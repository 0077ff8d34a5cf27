use serde_json::json;

use super::*;
use crate::config::parse_shorthand;

fn ds() -> DataSource {
    serde_json::from_value(json!({
        "id": "ds1",
        "properties": {
            "Name": { "id": "title", "name": "Name", "type": "title", "title": {} },
            "Status": { "id": "st", "name": "Status", "type": "status", "status": { "options": [] } },
            "Team": { "id": "tm", "name": "Team", "type": "select", "select": { "options": [] } },
            "Tags": { "id": "tg", "name": "Tags", "type": "multi_select", "multi_select": { "options": [] } },
            "Sync": { "id": "sy", "name": "Sync", "type": "checkbox", "checkbox": {} },
            "Points": { "id": "pt", "name": "Points", "type": "number", "number": {} },
            "Due": { "id": "du", "name": "Due", "type": "date", "date": {} },
        }
    }))
    .unwrap()
}

fn page(status: Option<&str>, tags: &[&str], sync: bool, points: Option<f64>, name: &str) -> Page {
    let status = status.map(|s| json!({ "name": s }));
    let tags: Vec<_> = tags.iter().map(|t| json!({ "name": t })).collect();
    serde_json::from_value(json!({
        "object": "page", "id": "p1", "in_trash": false,
        "created_time": "2026-11-01T10:00:00.000Z", "last_edited_time": "2026-11-20T10:00:00.000Z",
        "parent": { "type": "data_source_id", "data_source_id": "ds1" },
        "properties": {
            "Name": { "id": "title", "type": "title", "title": [{ "type": "text", "plain_text": name, "text": { "content": name } }] },
            "Status": { "id": "st", "type": "status", "status": status },
            "Team": { "id": "tm", "type": "select", "select": null },
            "Tags": { "id": "tg", "type": "multi_select", "multi_select": tags },
            "Sync": { "id": "sy", "type": "checkbox", "checkbox": sync },
            "Points": { "id": "pt", "type": "number", "number": points },
        }
    }))
    .unwrap()
}

fn shorthands(list: &[&str]) -> Vec<Shorthand> {
    list.iter().map(|s| parse_shorthand(s).unwrap()).collect()
}

#[test]
fn shorthands_become_filters_of_the_property_type_by_id() {
    let f = compile(
        None,
        &shorthands(&["Status = Ready", "Tags != Old", "Sync = yes", "Points = 3"]),
        None,
        &ds(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        f,
        json!({ "and": [
            { "property": "st", "status": { "equals": "Ready" } },
            { "property": "tg", "multi_select": { "does_not_contain": "Old" } },
            { "property": "sy", "checkbox": { "equals": true } },
            { "property": "pt", "number": { "equals": 3.0 } },
        ]})
    );
    let one = compile(None, &shorthands(&["Team ="]), None, &ds())
        .unwrap()
        .unwrap();
    assert_eq!(
        one,
        json!({ "property": "tm", "select": { "is_empty": true } })
    );
}

#[test]
fn a_filter_and_a_gate_are_joined_without_adding_a_level() {
    let filter = json!({ "and": [
        { "property": "Status", "status": { "equals": "Ready" } },
        { "or": [ { "property": "Name", "title": { "contains": "spec" } },
                  { "property": "Points", "number": { "greater_than": 2 } } ] },
    ]});
    let f = compile(Some(&filter), &[], Some("Sync"), &ds())
        .unwrap()
        .unwrap();
    let items = f["and"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[2],
        json!({ "property": "sy", "checkbox": { "equals": true } })
    );
    assert_eq!(items[1]["or"][0]["property"], "title");
}

#[test]
fn unsupported_filters_are_refused_naming_what_is_wrong() {
    let bad = |filter: serde_json::Value| {
        compile(Some(&filter), &[], None, &ds())
            .unwrap_err()
            .join("; ")
    };
    let e = bad(json!({ "property": "Nope", "status": { "equals": "x" } }));
    assert!(e.contains("\"Nope\" is not a property"), "{e}");
    let e = bad(json!({ "property": "Due", "date": { "equals": "2026-01-01" } }));
    assert!(e.contains("date property"), "{e}");
    let e = bad(json!({ "property": "Status", "status": { "starts_with": "R" } }));
    assert!(e.contains("operator \"starts_with\""), "{e}");
    let e =
        bad(json!({ "timestamp": "last_edited_time", "last_edited_time": { "past_week": {} } }));
    assert!(e.contains("timestamp"), "{e}");
    let e = bad(json!({ "property": "Points", "number": { "equals": "3" } }));
    assert!(e.contains("a number"), "{e}");
    let e = bad(json!({ "or": [ { "and": [ { "or": [] } ] } ] }));
    assert!(e.contains("two levels"), "{e}");
    let gate = compile(None, &[], Some("Status"), &ds())
        .unwrap_err()
        .join("; ");
    assert!(gate.contains("must be a checkbox"), "{gate}");
    let sh = compile(
        None,
        &shorthands(&["Points = many", "Due = today"]),
        None,
        &ds(),
    )
    .unwrap_err();
    assert_eq!(sh.len(), 2, "{sh:?}");
}

#[test]
fn pages_are_judged_as_notion_judges_them() {
    let ready = page(
        Some("Ready"),
        &["Payments"],
        true,
        Some(3.0),
        "Checkout spec",
    );
    let draft = page(None, &[], false, None, "checkout");
    let judge = |filter: serde_json::Value, p: &Page| {
        let f = compile(Some(&filter), &[], None, &ds()).unwrap().unwrap();
        matches(&f, p)
    };
    let status = json!({ "property": "Status", "status": { "equals": "Ready" } });
    assert!(judge(status.clone(), &ready) && !judge(status, &draft));
    let not_ready = json!({ "property": "Status", "status": { "does_not_equal": "Ready" } });
    assert!(!judge(not_ready.clone(), &ready) && judge(not_ready, &draft));
    let contains = json!({ "property": "Name", "title": { "contains": "CHECKOUT" } });
    assert!(judge(contains.clone(), &ready) && judge(contains, &draft));
    let equals = json!({ "property": "Name", "title": { "equals": "checkout" } });
    assert!(!judge(equals.clone(), &ready) && judge(equals, &draft));
    let tags = json!({ "property": "Tags", "multi_select": { "contains": "Payments" } });
    assert!(judge(tags.clone(), &ready) && !judge(tags, &draft));
    let empty = json!({ "property": "Tags", "multi_select": { "is_empty": true } });
    assert!(!judge(empty.clone(), &ready) && judge(empty, &draft));
    let gt = json!({ "property": "Points", "number": { "greater_than_or_equal_to": 3 } });
    assert!(judge(gt.clone(), &ready) && !judge(gt, &draft));
    let gate = json!({ "property": "Sync", "checkbox": { "equals": true } });
    assert!(judge(gate.clone(), &ready) && !judge(gate, &draft));
    let either = json!({ "or": [
        { "property": "Sync", "checkbox": { "equals": true } },
        { "property": "Name", "title": { "starts_with": "check" } },
    ]});
    assert!(judge(either.clone(), &ready) && judge(either, &draft));
    let both = json!({ "and": [
        { "property": "Sync", "checkbox": { "equals": true } },
        { "property": "Name", "title": { "ends_with": "xyz" } },
    ]});
    assert!(!judge(both, &ready));
}
