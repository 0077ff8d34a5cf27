use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::airtable::schema::{FieldSchema, FieldType};
use crate::airtable::writes;

fn table() -> Table {
    let mut t = Table::new(
        "T",
        &[
            FieldSchema::new("Spec Name", FieldType::SingleLineText),
            FieldSchema::single_select("Status", &["Draft", "Shipped"]),
            FieldSchema::new("Points", FieldType::Number),
            FieldSchema::new("Done", FieldType::Checkbox),
            FieldSchema::new("Ship Date", FieldType::Date),
        ],
    );
    let rows = [
        json!({"Spec Name": " Alpha ", "Status": "Draft", "Points": 3}),
        json!({"Spec Name": "beta", "Status": "Shipped", "Done": true, "Ship Date": "2026-03-01"}),
    ];
    for (i, row) in rows.iter().enumerate() {
        let at = datetime!(2026-01-01 00:00 UTC) + time::Duration::hours(i as i64);
        let input = row.as_object().unwrap().clone();
        writes::create(&mut t, &[input], false, at).unwrap();
    }
    t
}

fn matching(src: &str) -> Vec<usize> {
    let t = table();
    let f = Formula::compile(src, &t).unwrap();
    (0..t.records.len())
        .filter(|i| f.matches(&t, &t.records[*i]))
        .collect()
}

fn error_message(src: &str) -> String {
    let err = Formula::compile(src, &table()).unwrap_err();
    assert_eq!(err.kind(), Some("INVALID_FILTER_BY_FORMULA"));
    match err.body {
        crate::airtable::errors::ErrorBody::Json(v) => {
            v["error"]["message"].as_str().unwrap().to_string()
        }
        _ => unreachable!(),
    }
}

#[test]
fn comparisons_and_logic() {
    assert_eq!(matching("{Status} = 'Draft'"), vec![0]);
    assert_eq!(matching("{Status} != \"Draft\""), vec![1]);
    assert_eq!(matching("AND({Points} >= 3, NOT({Done}))"), vec![0]);
    assert_eq!(matching("OR({Points} > 5, {Done})"), vec![1]);
    assert_eq!(matching("Points = BLANK()"), vec![1]);
    assert_eq!(matching("{Ship Date} = ''"), vec![0]);
    assert_eq!(matching("{Points} * 2 + 1 = 7"), vec![0]);
}

#[test]
fn text_functions() {
    assert_eq!(matching("TRIM({Spec Name}) = 'Alpha'"), vec![0]);
    assert_eq!(
        matching("LOWER(TRIM({Spec Name})) & '!' = 'alpha!'"),
        vec![0]
    );
    assert_eq!(matching("FIND('et', {Spec Name}) = 2"), vec![1]);
    assert_eq!(matching("LEN({Spec Name}) = 7"), vec![0]);
}

#[test]
fn record_id_and_time_functions() {
    let t = table();
    let id = t.records[1].id.clone();
    let f = Formula::compile(&format!("RECORD_ID() = '{id}'"), &t).unwrap();
    assert!(f.matches(&t, &t.records[1]) && !f.matches(&t, &t.records[0]));
    let after = "IS_AFTER(LAST_MODIFIED_TIME(), DATETIME_PARSE('2026-01-01T00:30:00.000Z'))";
    assert_eq!(matching(after), vec![1]);
    assert_eq!(
        matching("IS_BEFORE(CREATED_TIME(), '2026-01-01T00:30:00Z')"),
        vec![0]
    );
    // Field-level modified time is blank for a field never set.
    assert_eq!(
        matching("LAST_MODIFIED_TIME({Ship Date}) = BLANK()"),
        vec![0]
    );
    assert_eq!(matching("IS_AFTER({Ship Date}, '2026-02-01')"), vec![1]);
}

#[test]
fn unknown_fields_unsupported_functions_and_bad_syntax_are_422() {
    assert!(error_message("{Nope} = 1").contains("Unknown field names: Nope"));
    assert!(error_message("REGEX_MATCH({Status}, 'a')").contains("REGEX_MATCH()"));
    assert!(error_message("DATETIME_PARSE('1/2/2026', 'M/D/YYYY')").contains("format"));
    assert!(error_message("LAST_MODIFIED_TIME('x')").contains("not supported"));
    assert!(error_message("AND({Status} = 'x'").contains("Invalid formula"));
}

#[test]
fn field_ids_work_in_references() {
    let t = table();
    let id = t.field("Status").unwrap().id.clone();
    let f = Formula::compile(&format!("{{{id}}} = 'Shipped'"), &t).unwrap();
    assert!(f.matches(&t, &t.records[1]));
}
