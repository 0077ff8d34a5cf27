//! The Notion client against the Notion sandbox, over HTTP.
//!
//! Each test starts its own sandbox on a free port. Most turn the sandbox's
//! rate limit off and give the client an unlimited budget so that they run
//! fast; the rate-limit tests turn it on.

use std::{sync::Arc, time::Duration};

use notion_airtable_sandbox::common::Faults;
use notion_airtable_sandbox::notion::{
    NotionSandbox, NotionSandboxConfig, PropertyKind, PropertySchema,
};
use notion_airtable_sync::clients::api_error::ApiError;
use notion_airtable_sync::clients::ratelimit::Budget;
use notion_airtable_sync::notion::{
    NotionClient, PropertyData, PropertyWrites, Query, ResolveError, RetryPolicy, write,
};
use notion_airtable_sync::secret::Secret;
use serde_json::{Value, json};
use time::OffsetDateTime;

const QUERY_ROUTE: &str = "/v1/data_sources/{data_source_id}/query";

async fn sandbox_with(config: NotionSandboxConfig) -> (NotionSandbox, NotionClient) {
    let sandbox = NotionSandbox::start_local(config)
        .await
        .expect("sandbox starts");
    let client = client_for(&sandbox, sandbox.token());
    (sandbox, client)
}

async fn sandbox() -> (NotionSandbox, NotionClient) {
    sandbox_with(NotionSandboxConfig {
        rate_limit: false,
        ..NotionSandboxConfig::default()
    })
    .await
}

fn client_for(sandbox: &NotionSandbox, token: &str) -> NotionClient {
    let budget = Arc::new(Budget::unlimited("test"));
    NotionClient::new(&sandbox.base_url(), Secret::new(token), budget)
        .expect("client builds")
        .with_retry_policy(RetryPolicy {
            transient_backoff: Duration::from_millis(10),
            ..RetryPolicy::default()
        })
}

/// A "Specs" database: Name (title), Notes (rich text), Status (select).
fn specs_database(sandbox: &NotionSandbox) -> (String, String) {
    sandbox.create_database(
        "Specs",
        vec![
            PropertySchema::title("Name"),
            PropertySchema::rich_text("Notes"),
            PropertySchema::select("Status", &["Draft", "Ready"]),
            PropertySchema::new("Points", PropertyKind::Number),
        ],
    )
}

async fn a_person(client: &NotionClient) -> String {
    let users = client.list_users().await.expect("users");
    users
        .into_iter()
        .find(|u| !u.is_bot())
        .expect("a person")
        .id
}

fn props(pairs: &[(&str, Value)]) -> PropertyWrites {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn page_named(name: &str) -> Value {
    json!({ "Name": write::title(name) })
}

#[tokio::test]
async fn me_and_users_identify_the_bot_and_the_people() {
    let (sandbox, client) = sandbox().await;
    let me = client.me().await.unwrap();
    assert_eq!(me.id, sandbox.bot_user_id());
    assert!(me.is_bot());
    let users = client.list_users().await.unwrap();
    assert!(users.iter().any(|u| u.id == me.id));
    assert!(users.iter().filter(|u| !u.is_bot()).count() >= 2);
}

#[tokio::test]
async fn a_database_id_resolves_to_its_data_source_and_schema() {
    let (sandbox, client) = sandbox().await;
    let (database_id, data_source_id) = specs_database(&sandbox);

    let database = client.retrieve_database(&database_id).await.unwrap();
    assert_eq!(database.data_sources.len(), 1);
    assert_eq!(database.data_sources[0].id, data_source_id);

    for id in [&database_id, &data_source_id] {
        let ds = client.resolve_data_source(id).await.unwrap();
        assert_eq!(ds.id, data_source_id);
        assert_eq!(ds.database_id(), Some(database_id.as_str()));
    }

    let schema = client.retrieve_data_source(&data_source_id).await.unwrap();
    assert_eq!(schema.properties["Name"].kind, "title");
    assert_eq!(schema.properties["Notes"].kind, "rich_text");
    assert_eq!(
        schema.properties["Status"].option_names(),
        ["Draft", "Ready"]
    );
    assert!(!schema.properties["Status"].id.is_empty());
}

#[tokio::test]
async fn resolving_an_unknown_id_is_not_found() {
    let (_sandbox, client) = sandbox().await;
    let err = client
        .resolve_data_source("0b6f2d4c-1111-4222-8333-944455556666")
        .await
        .unwrap_err();
    let ResolveError::Api(err) = err else {
        panic!("expected an API error, got {err:?}");
    };
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn query_all_walks_every_page_of_results_in_ceil_n_over_100_calls() {
    let (sandbox, client) = sandbox().await;
    let (_, ds) = specs_database(&sandbox);
    let person = a_person(&client).await;
    const N: usize = 253;
    for i in 0..N {
        sandbox
            .insert_page_as_person(&ds, &person, page_named(&format!("Spec {i}")))
            .unwrap();
    }
    sandbox.calls().reset();

    let pages = client.query_all(&ds, None).await.unwrap();

    assert_eq!(pages.len(), N);
    let mut titles: Vec<String> = pages.iter().map(|p| p.title()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), N, "no page twice");
    assert_eq!(
        sandbox.calls().count(Some("POST"), QUERY_ROUTE),
        N.div_ceil(100) as u64
    );
}

#[tokio::test]
async fn one_query_page_honours_page_size_and_cursor() {
    let (sandbox, client) = sandbox().await;
    let (_, ds) = specs_database(&sandbox);
    let person = a_person(&client).await;
    for i in 0..5 {
        sandbox
            .insert_page_as_person(&ds, &person, page_named(&format!("S{i}")))
            .unwrap();
    }
    let mut query = Query {
        page_size: 3,
        ..Query::default()
    };
    let first = client.query_data_source(&ds, &query).await.unwrap();
    assert_eq!(first.pages.len(), 3);
    assert!(first.has_more);
    query.start_cursor = first.next_cursor;
    let second = client.query_data_source(&ds, &query).await.unwrap();
    assert_eq!(second.pages.len(), 2);
    assert!(!second.has_more && second.next_cursor.is_none());
}

#[tokio::test]
async fn the_timestamp_filter_returns_only_pages_edited_since() {
    let (sandbox, client) = sandbox().await;
    let (_, ds) = specs_database(&sandbox);
    let person = a_person(&client).await;
    let old = sandbox
        .insert_page_as_person(&ds, &person, page_named("old"))
        .unwrap();
    let edited = sandbox
        .insert_page_as_person(&ds, &person, page_named("edited"))
        .unwrap();
    let before = client.retrieve_page(&old).await.unwrap().last_edited_time;

    // An hour later (sandbox clock) someone edits one page.
    sandbox.set_clock_offset_seconds(3600);
    sandbox
        .update_page_as_person(
            &edited,
            &person,
            json!({ "Name": write::title("edited again") }),
        )
        .unwrap();

    let since = before + time::Duration::minutes(30);
    let query = Query::edited_since(since);
    let found = client.query_data_source(&ds, &query).await.unwrap();
    let ids: Vec<&str> = found.pages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [edited.as_str()]);
    assert!(found.pages[0].last_edited_time >= since);

    let everything = Query::edited_since(OffsetDateTime::UNIX_EPOCH);
    assert_eq!(
        client
            .query_data_source(&ds, &everything)
            .await
            .unwrap()
            .pages
            .len(),
        2
    );
}

#[tokio::test]
async fn pages_are_created_updated_trashed_and_restored() {
    let (sandbox, client) = sandbox().await;
    let (_, ds) = specs_database(&sandbox);

    let created = client
        .create_page(
            &ds,
            &props(&[
                ("Name", write::title("Login page")),
                ("Status", write::select(Some("Draft"))),
                ("Points", write::number(Some(3.0))),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(created.parent.data_source_id.as_deref(), Some(ds.as_str()));
    assert_eq!(created.title(), "Login page");
    assert_eq!(
        created.created_by.as_ref().map(|u| u.id.clone()),
        Some(sandbox.bot_user_id())
    );

    let updated = client
        .update_page(
            &created.id,
            &props(&[("Status", write::select(Some("Ready")))]),
        )
        .await
        .unwrap();
    assert_eq!(updated.property("Status").unwrap().plain_text(), "Ready");
    assert_eq!(
        updated.title(),
        "Login page",
        "properties not sent are kept"
    );
    assert_eq!(
        updated.property("Points").unwrap().value,
        PropertyData::Number(Some(3.0))
    );

    let trashed = client.trash_page(&created.id).await.unwrap();
    assert!(trashed.in_trash);
    assert_eq!(sandbox.page(&created.id).unwrap()["in_trash"], true);

    let restored = client.restore_page(&created.id).await.unwrap();
    assert!(!restored.in_trash);
    assert!(!client.retrieve_page(&created.id).await.unwrap().in_trash);
}

#[tokio::test]
async fn text_over_2000_characters_is_split_and_round_trips() {
    let (sandbox, client) = sandbox().await;
    let (_, ds) = specs_database(&sandbox);
    let long: String = "0123456789".repeat(450); // 4,500 characters

    let page = client
        .create_page(
            &ds,
            &props(&[
                ("Name", write::title("long")),
                ("Notes", write::rich_text(&long)),
            ]),
        )
        .await
        .unwrap();

    let read = client.retrieve_page(&page.id).await.unwrap();
    assert_eq!(read.property("Notes").unwrap().plain_text(), long);
    let stored = sandbox.page(&page.id).unwrap();
    let pieces = stored["properties"]["Notes"]["rich_text"]
        .as_array()
        .unwrap();
    assert_eq!(pieces.len(), 3, "the request carried three text objects");
}

#[tokio::test]
async fn an_unknown_page_is_fatal_and_not_found() {
    let (sandbox, client) = sandbox().await;
    let err = client
        .retrieve_page("0b6f2d4c-1111-4222-8333-944455556666")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Fatal { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "object_not_found");
    assert!(err.is_not_found());
    assert_eq!(sandbox.calls().total(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn a_wrong_token_is_fatal_unauthorized() {
    let (sandbox, _) = sandbox().await;
    let client = client_for(&sandbox, "secret_wrong");
    let err = client.me().await.unwrap_err();
    assert!(
        matches!(err, ApiError::Fatal { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "unauthorized");
    assert!(
        !format!("{client:?}").contains("secret_wrong"),
        "the token never shows"
    );
}

/// One request every 3 s: the second call, made at once, is refused with
/// `Retry-After: 3` (the wait for the bucket's next token, rounded up).
const SLOW_RATE: f64 = 1.0 / 3.0;
const SLOW_RETRY_AFTER: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_429_is_waited_out_and_the_call_succeeds() {
    let (sandbox, client) = sandbox_with(NotionSandboxConfig {
        rate_limit: true,
        requests_per_second: SLOW_RATE,
        burst: 1,
        ..NotionSandboxConfig::default()
    })
    .await;

    let started = std::time::Instant::now();
    client.me().await.unwrap();
    client.me().await.unwrap(); // refused once, then retried after Retry-After

    // One refusal only: a retry before the next token (the client's own
    // one-second default, say) would have been refused again. The bucket
    // refills SLOW_RETRY_AFTER after the first call, which began after
    // `started`; the pause is Retry-After, not a much longer one.
    let calls = sandbox.calls();
    assert_eq!(calls.count_status(429), 1);
    assert_eq!(calls.count_status(200), 2);
    assert_eq!(calls.total(), 3);
    let took = started.elapsed();
    assert!(
        took >= SLOW_RETRY_AFTER && took < SLOW_RETRY_AFTER + Duration::from_secs(2),
        "the retry waited for Retry-After ({SLOW_RETRY_AFTER:?}): both calls took {took:?}"
    );
}

#[tokio::test]
async fn with_no_rate_limit_retries_the_429_goes_to_the_caller_and_pauses_the_budget() {
    let (sandbox, client) = sandbox_with(NotionSandboxConfig {
        rate_limit: true,
        requests_per_second: 0.5,
        burst: 1,
        ..NotionSandboxConfig::default()
    })
    .await;
    let client = client.with_retry_policy(RetryPolicy::none());
    client.me().await.unwrap();
    let err = client.me().await.unwrap_err();
    let ApiError::RateLimited { retry_after, .. } = &err else {
        panic!("expected a rate limit, got {err:?}");
    };
    assert!(*retry_after >= Duration::from_secs(1));
    // Every call on this integration's budget now waits out the vendor's
    // Retry-After: the pause is that long (less the moments since), no less.
    let paused = client
        .budget()
        .blocked_for()
        .await
        .expect("the budget paused");
    assert!(
        paused <= *retry_after && paused > *retry_after - Duration::from_millis(500),
        "paused {paused:?} for Retry-After {retry_after:?}"
    );
    assert_eq!(sandbox.calls().total(), 2);
}

#[tokio::test]
async fn server_errors_are_retryable_and_only_gets_are_repeated() {
    let (sandbox, client) = sandbox().await;
    let (_, ds) = specs_database(&sandbox);
    sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });

    let err = client.me().await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Retryable {
                status: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(sandbox.calls().total(), 3, "a GET is tried three times");

    sandbox.calls().reset();
    let err = client
        .create_page(&ds, &props(&[("Name", write::title("x"))]))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(
        sandbox.calls().total(),
        1,
        "a write is left to the job layer"
    );
}
