//! The Airtable client against the Airtable sandbox, over HTTP.
//!
//! Each test starts its own sandbox on a free port. Most turn the sandbox's
//! rate limit off and give the base an unlimited budget so that they run
//! fast; the write-batching and rate-limit tests keep it on.

use std::{sync::Arc, time::Duration};

use notion_airtable_sandbox::airtable::{
    AirtableSandbox, AirtableSandboxConfig, FieldSchema, FieldType,
};
use notion_airtable_sandbox::common::Faults;
use notion_airtable_sync::airtable::{
    AirtableClient, Fields, ListParams, RetryPolicy, Sort, chunks_of_10,
};
use notion_airtable_sync::clients::api_error::ApiError;
use notion_airtable_sync::clients::ratelimit::Budget;
use notion_airtable_sync::secret::Secret;
use serde_json::{Value, json};

const RECORDS_ROUTE: &str = "/v0/{base}/{table}";
const PAYLOADS_ROUTE: &str = "/v0/bases/{base}/webhooks/{id}/payloads";
const PENALTY: Duration = Duration::from_secs(1);

struct Setup {
    sandbox: AirtableSandbox,
    client: AirtableClient,
    base: String,
    table: String,
}

async fn setup_with(config: AirtableSandboxConfig, unlimited: bool) -> Setup {
    let sandbox = AirtableSandbox::start_local(config)
        .await
        .expect("sandbox starts");
    let base = sandbox.create_base("Delivery");
    let table = sandbox.create_table(
        &base,
        "Specs / 2025",
        vec![
            FieldSchema::new("Name", FieldType::SingleLineText),
            FieldSchema::single_select("Status", &["Draft", "Ready"]),
            FieldSchema::new("Points", FieldType::Number),
        ],
    );
    let mut client = AirtableClient::new(&sandbox.base_url(), Secret::new(sandbox.token()))
        .expect("client builds")
        .with_penalty(PENALTY)
        .with_retry_policy(RetryPolicy {
            transient_backoff: Duration::from_millis(10),
            ..RetryPolicy::default()
        });
    if unlimited {
        client = client.with_budget(&base, Arc::new(Budget::unlimited("test")));
    }
    Setup {
        sandbox,
        client,
        base,
        table,
    }
}

async fn setup() -> Setup {
    let config = AirtableSandboxConfig {
        rate_limit: false,
        ..AirtableSandboxConfig::default()
    };
    setup_with(config, true).await
}

fn fields(v: Value) -> Fields {
    v.as_object().cloned().expect("an object")
}

fn named(prefix: &str, n: usize) -> Vec<Fields> {
    (0..n)
        .map(|i| fields(json!({ "Name": format!("{prefix} {i}") })))
        .collect()
}

#[tokio::test]
async fn list_all_follows_offsets_across_pages() {
    let s = setup().await;
    const N: usize = 257;
    for i in 0..N {
        s.sandbox
            .insert_record_as_person(&s.base, &s.table, json!({ "Name": format!("R{i}") }))
            .unwrap();
    }
    s.sandbox.calls().reset();
    let params = ListParams {
        page_size: Some(100),
        ..ListParams::default()
    };

    let records = s.client.list_all(&s.base, &s.table, &params).await.unwrap();

    assert_eq!(records.len(), N);
    let mut ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "no record twice");
    assert_eq!(s.sandbox.calls().count(Some("GET"), RECORDS_ROUTE), 3);
}

#[tokio::test]
async fn formula_fields_and_sort_narrow_the_listing() {
    let s = setup().await;
    for (name, status) in [("b", "Ready"), ("a", "Ready"), ("c", "Draft")] {
        s.sandbox
            .insert_record_as_person(
                &s.base,
                &s.table,
                json!({"Name": name, "Status": status, "Points": 2}),
            )
            .unwrap();
    }
    let params = ListParams {
        filter_by_formula: Some("{Status} = 'Ready'".into()),
        fields: vec!["Name".into()],
        sort: vec![Sort {
            field: "Name".into(),
            direction: "asc".into(),
        }],
        ..ListParams::default()
    };
    let records = s.client.list_all(&s.base, &s.table, &params).await.unwrap();
    let names: Vec<&Value> = records.iter().map(|r| &r.fields["Name"]).collect();
    assert_eq!(names, [&json!("a"), &json!("b")]);
    assert!(
        records.iter().all(|r| r.fields.len() == 1),
        "only the requested field"
    );
}

#[tokio::test]
async fn a_listing_too_long_for_a_url_goes_through_list_records() {
    let s = setup().await;
    s.sandbox
        .insert_record_as_person(&s.base, &s.table, json!({"Name": "needle"}))
        .unwrap();
    let mut terms: Vec<String> = (0..1200).map(|i| format!("{{Name}} = 'hay {i}'")).collect();
    terms.push("{Name} = 'needle'".into());
    let params = ListParams {
        filter_by_formula: Some(format!("OR({})", terms.join(", "))),
        ..ListParams::default()
    };
    let page = s
        .client
        .list_records(&s.base, &s.table, &params)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(
        s.sandbox
            .calls()
            .count(Some("POST"), "/v0/{base}/{table}/listRecords"),
        1
    );
    assert_eq!(s.sandbox.calls().count(Some("GET"), RECORDS_ROUTE), 0);
}

#[tokio::test]
async fn writes_of_23_records_take_3_requests_each_and_stay_under_the_rate_limit() {
    let config = AirtableSandboxConfig {
        penalty: PENALTY,
        ..AirtableSandboxConfig::default()
    };
    let s = setup_with(config, false).await; // the client's own 4.8/s budget
    let calls = s.sandbox.calls();

    let created = s
        .client
        .create_records(&s.base, &s.table, named("Spec", 23), false)
        .await
        .unwrap();
    assert_eq!(created.len(), 23);
    let names: Vec<String> = created
        .iter()
        .map(|r| r.fields["Name"].to_string())
        .collect();
    assert_eq!(names[0], "\"Spec 0\"");
    assert_eq!(names[22], "\"Spec 22\"", "records come back in input order");
    assert_eq!(calls.count(Some("POST"), RECORDS_ROUTE), 3);

    let changes: Vec<(String, Fields)> = created
        .iter()
        .map(|r| (r.id.clone(), fields(json!({"Status": "Ready"}))))
        .collect();
    let updated = s
        .client
        .update_records(&s.base, &s.table, changes, false)
        .await
        .unwrap();
    assert!(
        updated
            .iter()
            .all(|r| r.fields["Status"] == "Ready" && r.fields.contains_key("Name"))
    );
    assert_eq!(calls.count(Some("PATCH"), RECORDS_ROUTE), 3);

    let ids: Vec<String> = created.iter().map(|r| r.id.clone()).collect();
    let deleted = s
        .client
        .delete_records(&s.base, &s.table, &ids)
        .await
        .unwrap();
    assert_eq!(deleted.len(), 23);
    assert!(deleted.iter().all(|d| d.deleted));
    assert_eq!(calls.count(Some("DELETE"), RECORDS_ROUTE), 3);

    assert!(s.sandbox.records(&s.base, &s.table).is_empty());
    assert_eq!(
        calls.count_status(429),
        0,
        "the budget paces below 5 requests/s"
    );
    assert_eq!(chunks_of_10(&ids).count(), 3);
}

/// Under API latency one request at a time cannot use the base's budget
/// (at 300 ms, 3.3 calls a second of the five allowed): the chunks of one
/// write go out several at once, within the budget, and still come back in
/// input order.
#[tokio::test]
async fn a_write_keeps_several_chunks_in_flight_within_the_budget() {
    let config = AirtableSandboxConfig {
        penalty: PENALTY,
        ..AirtableSandboxConfig::default()
    };
    let s = setup_with(config, false).await; // the client's own budget
    s.sandbox.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let calls = s.sandbox.calls();

    let created = s
        .client
        .create_records(&s.base, &s.table, named("Spec", 40), false)
        .await
        .unwrap();
    let names: Vec<String> = created
        .iter()
        .map(|r| r.fields["Name"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<String> = (0..40).map(|i| format!("Spec {i}")).collect();
    assert_eq!(names, expected, "records come back in input order");
    assert_eq!(calls.count(Some("POST"), RECORDS_ROUTE), 4);
    assert!(
        calls.peak_in_flight() >= 2,
        "the chunks went out one at a time (peak {})",
        calls.peak_in_flight()
    );
    assert!(
        calls.peak_in_flight() <= 4,
        "never more than REQUESTS_IN_FLIGHT at once"
    );
    assert_eq!(
        calls.count_status(429),
        0,
        "in flight, still within the budget"
    );
}

#[tokio::test]
async fn the_same_upsert_twice_creates_once_then_updates() {
    let s = setup().await;
    let record = || vec![fields(json!({"Name": "Login", "Status": "Draft"}))];

    let first = s
        .client
        .upsert_records(&s.base, &s.table, &["Name"], record(), false)
        .await
        .unwrap();
    assert_eq!(first.created_records.len(), 1);
    assert!(first.updated_records.is_empty());

    let second = s
        .client
        .upsert_records(&s.base, &s.table, &["Name"], record(), false)
        .await
        .unwrap();
    assert!(second.created_records.is_empty());
    assert_eq!(second.updated_records, first.created_records);

    assert_eq!(s.sandbox.records(&s.base, &s.table).len(), 1);
}

#[tokio::test]
async fn typecast_creates_unknown_options() {
    let s = setup().await;
    let new_option = || vec![fields(json!({"Name": "x", "Status": "Blocked"}))];
    let err = s
        .client
        .create_records(&s.base, &s.table, new_option(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Fatal { status: 422, .. }),
        "{err:?}"
    );
    let created = s
        .client
        .create_records(&s.base, &s.table, new_option(), true)
        .await
        .unwrap();
    assert_eq!(created[0].fields["Status"], "Blocked");
}

#[tokio::test]
async fn missing_records_tables_and_routes_are_not_found() {
    let s = setup().await;
    let err = s
        .client
        .get_record(&s.base, &s.table, "recAAAAAAAAAAAAAA")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Fatal { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.code(),
        "NOT_FOUND",
        "the bare {{\"error\":\"NOT_FOUND\"}} form"
    );
    assert!(err.is_not_found());

    let err = s
        .client
        .list_records(&s.base, "No such table", &ListParams::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found() && !err.is_retryable(), "{err:?}");

    let err = s
        .client
        .list_webhooks("appAAAAAAAAAAAAAA")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(s.sandbox.calls().count_status(200), 0);
    assert_eq!(s.sandbox.calls().total(), 3, "not-found is never retried");
}

#[tokio::test]
async fn a_wrong_token_is_fatal() {
    let s = setup().await;
    let client = AirtableClient::new(&s.sandbox.base_url(), Secret::new("patWrong")).unwrap();
    let err = client.whoami().await.unwrap_err();
    assert!(
        matches!(err, ApiError::Fatal { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_429_pauses_the_base_for_the_penalty_then_succeeds() {
    let config = AirtableSandboxConfig {
        requests_per_second: 1.0,
        penalty: PENALTY,
        ..AirtableSandboxConfig::default()
    };
    let s = setup_with(config, true).await;
    let params = ListParams::default();

    s.client
        .list_records(&s.base, &s.table, &params)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    s.client
        .list_records(&s.base, &s.table, &params)
        .await
        .unwrap();

    let calls = s.sandbox.calls();
    assert_eq!(calls.count_status(429), 1);
    assert_eq!(calls.count_status(200), 2);
    assert!(started.elapsed() >= PENALTY, "waited out the penalty");
}

#[tokio::test]
async fn a_429_with_no_retries_left_goes_to_the_caller() {
    let config = AirtableSandboxConfig {
        requests_per_second: 1.0,
        penalty: PENALTY,
        ..AirtableSandboxConfig::default()
    };
    let s = setup_with(config, true).await;
    let client = s.client.clone().with_retry_policy(RetryPolicy::none());
    client
        .list_records(&s.base, &s.table, &ListParams::default())
        .await
        .unwrap();
    let err = client
        .list_records(&s.base, &s.table, &ListParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::RateLimited { retry_after, .. } if retry_after == PENALTY),
        "{err:?}"
    );
    assert!(client.budget_for(&s.base).blocked_for().await.is_some());
}

#[tokio::test]
async fn schema_and_whoami_describe_the_base_and_the_token() {
    let s = setup().await;
    let tables = s.client.base_schema(&s.base).await.unwrap();
    let table = tables.iter().find(|t| t.id == s.table).expect("the table");
    assert_eq!(table.name, "Specs / 2025");
    let name = table.field("Name").expect("Name");
    assert_eq!(table.primary_field_id, name.id);
    let status = table.field("Status").unwrap();
    assert_eq!(status.kind, "singleSelect");
    assert_eq!(status.choice_names(), ["Draft", "Ready"]);

    let me = s.client.whoami().await.unwrap();
    assert_eq!(me.id, s.sandbox.user_id());
}

fn table_data_spec(table: &str) -> Value {
    json!({"options": {"filters": {"dataTypes": ["tableData"], "recordChangeScope": table}}})
}

#[tokio::test]
async fn webhooks_are_created_listed_refreshed_toggled_and_deleted() {
    let s = setup().await;
    let c = &s.client;
    let hook = c
        .create_webhook(
            &s.base,
            Some("http://127.0.0.1:9/hook"),
            table_data_spec(&s.table),
        )
        .await
        .unwrap();
    assert!(hook.id.starts_with("ach"));
    assert!(!hook.mac_secret_base64.expose().is_empty());
    let expires = hook.expiration_time.expect("PAT webhooks expire");

    let listed = c.list_webhooks(&s.base).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, hook.id);
    assert_eq!(
        listed[0].notification_url.as_deref(),
        Some("http://127.0.0.1:9/hook")
    );
    assert!(listed[0].are_notifications_enabled);

    let refreshed = c.refresh_webhook(&s.base, &hook.id).await.unwrap().unwrap();
    assert!(refreshed >= expires);

    c.enable_notifications(&s.base, &hook.id, false)
        .await
        .unwrap();
    assert!(!c.list_webhooks(&s.base).await.unwrap()[0].are_notifications_enabled);
    c.enable_notifications(&s.base, &hook.id, true)
        .await
        .unwrap();
    assert!(c.list_webhooks(&s.base).await.unwrap()[0].are_notifications_enabled);

    c.delete_webhook(&s.base, &hook.id).await.unwrap();
    assert!(c.list_webhooks(&s.base).await.unwrap().is_empty());
    let err = c.refresh_webhook(&s.base, &hook.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn draining_payloads_walks_the_cursor_to_the_end() {
    let s = setup().await;
    let hook = s
        .client
        .create_webhook(&s.base, None, table_data_spec(&s.table))
        .await
        .unwrap();
    const CHANGES: usize = 63;
    for i in 0..CHANGES {
        s.sandbox
            .insert_record_as_person(&s.base, &s.table, json!({ "Name": format!("R{i}") }))
            .unwrap();
    }
    s.sandbox.calls().reset();

    let drain = s.client.drain_payloads(&s.base, &hook.id, 1).await.unwrap();

    assert_eq!(drain.payloads.len(), CHANGES);
    assert_eq!(drain.gap, None);
    assert_eq!(
        s.sandbox.calls().count(Some("GET"), PAYLOADS_ROUTE),
        2,
        "50 + 13"
    );
    let next = s.client.list_webhooks(&s.base).await.unwrap()[0].cursor_for_next_payload;
    assert_eq!(drain.cursor, next);
    let created: usize = drain
        .payloads
        .iter()
        .flat_map(|p| p.changed_tables_by_id.values())
        .map(|t| t.created_records_by_id.len())
        .sum();
    assert_eq!(created, CHANGES);
    assert!(
        drain
            .payloads
            .iter()
            .all(|p| p.user_id().is_some() && p.error_code().is_none())
    );
    let numbers: Vec<u64> = drain
        .payloads
        .iter()
        .map(|p| p.base_transaction_number)
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "in transaction order"
    );

    // Nothing new: the same cursor comes back and nothing is missed.
    let again = s
        .client
        .drain_payloads(&s.base, &hook.id, drain.cursor)
        .await
        .unwrap();
    assert!(again.payloads.is_empty() && again.gap.is_none());
    assert_eq!(again.cursor, drain.cursor);
}

#[tokio::test]
async fn a_purge_past_the_cursor_is_reported_as_a_gap() {
    let s = setup().await;
    let hook = s
        .client
        .create_webhook(&s.base, None, table_data_spec(&s.table))
        .await
        .unwrap();
    for i in 0..3 {
        s.sandbox
            .insert_record_as_person(&s.base, &s.table, json!({ "Name": format!("A{i}") }))
            .unwrap();
    }
    let first = s.client.drain_payloads(&s.base, &hook.id, 1).await.unwrap();
    assert_eq!(first.payloads.len(), 3);
    for i in 0..5 {
        s.sandbox
            .insert_record_as_person(&s.base, &s.table, json!({ "Name": format!("B{i}") }))
            .unwrap();
    }
    let pending = s
        .client
        .list_payloads(&s.base, &hook.id, first.cursor, 50)
        .await
        .unwrap();
    let third = pending.payloads[2].base_transaction_number;
    s.sandbox.purge_payloads_before(&s.base, third);

    let drain = s
        .client
        .drain_payloads(&s.base, &hook.id, first.cursor)
        .await
        .unwrap();

    assert_eq!(drain.payloads.len(), 3, "the two purged payloads are gone");
    let gap = drain.gap.expect("the purge is reported");
    assert_eq!(gap.requested_cursor, first.cursor);
    assert_eq!(gap.missed, 2);
    assert_eq!(drain.cursor, first.cursor + 5);
}

#[tokio::test]
async fn server_errors_are_retryable_and_only_reads_are_repeated() {
    use notion_airtable_sandbox::common::Faults;
    let s = setup().await;
    s.sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });

    let err = s
        .client
        .list_records(&s.base, &s.table, &ListParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Retryable {
                status: Some(500..=599),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(s.sandbox.calls().total(), 3, "a read is tried three times");

    s.sandbox.calls().reset();
    let err = s
        .client
        .create_records(&s.base, &s.table, named("x", 1), false)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(
        s.sandbox.calls().total(),
        1,
        "a write is left to the job layer"
    );
}
