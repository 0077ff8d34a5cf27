//! The status page over HTTP: authentication, content from a seeded store,
//! escaping, and the Retry form with its CSRF defences.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use notion_airtable_sync::{
    secret::Secret,
    store::{
        Cause, FailOutcome, InboxEvent, IssueScope, JobId, JobState, LinkState, LinkUpsert,
        LogAction, NewAirtableWebhook, NewIssue, NewJob, NewLogEntry, Side, Snapshot, SweepKind,
        SyncDirection, SyncSource, WebhookStatus, now_ms,
    },
};
use serde_json::json;

use crate::http_ingest::support::{self, ADMIN_TOKEN, Server, TestDb};

const PAGE_ID: &str = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b";
const RECORD_ID: &str = "recA1b2C3d4E5f6G7";
const TABLE_ID: &str = "tblDelivery000001";
const VERIFICATION_TOKEN: &str = "secret_verificationTokenFromNotion0001";
const HOSTILE: &str = "<script>alert(\"pwned\")</script><img src=x onerror=alert(1)>";
const DEAD_ERROR: &str = "Notion answered 403 restricted_resource: the integration lost access";

/// The server of the ingest tests, with the pairs' Airtable tables known.
async fn start(db: &TestDb) -> Server {
    let mut state = support::state(&db.store);
    state.pairs = support::directory().with_airtable_table("specs", support::BASE_ID, TABLE_ID);
    support::start_with(state).await
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get_page(server: &Server, authorization: Option<&str>) -> reqwest::Response {
    let mut request = client().get(format!("{}/", server.url));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.expect("GET /")
}

/// The page as an operator sees it (Basic auth, user name `admin`).
pub(super) async fn page_html(server: &Server) -> String {
    let response = get_page(server, Some(&basic("admin", ADMIN_TOKEN))).await;
    assert_eq!(response.status(), 200);
    response.text().await.expect("read the page")
}

pub async fn without_credentials_a_browser_is_asked_to_log_in(db: TestDb) {
    let server = start(&db).await;
    let response = get_page(&server, None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"notion-airtable-sync\""
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("ADMIN_TOKEN"), "{body}");

    for wrong in [
        basic("admin", "not-the-token"),
        basic("admin", &format!("{ADMIN_TOKEN}x")),
        basic(ADMIN_TOKEN, ""),
        format!("Basic {ADMIN_TOKEN}"),
        "Bearer wrong".to_owned(),
    ] {
        let response = get_page(&server, Some(&wrong)).await;
        assert_eq!(response.status(), 401, "{wrong}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"notion-airtable-sync\""
        );
        let body = response.text().await.unwrap();
        assert!(!body.contains("Dead jobs"), "the page leaked: {body}");
    }

    // No ADMIN_TOKEN configured: no prompt that could never succeed.
    let mut state = support::state(&db.store);
    state.admin_token = None;
    let unconfigured = support::start_with(state).await;
    let response = get_page(&unconfigured, Some(&basic("admin", ADMIN_TOKEN))).await;
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("www-authenticate").is_none());
}

pub async fn basic_auth_with_the_admin_token_opens_the_page_and_the_admin_api(db: TestDb) {
    let server = start(&db).await;
    for authorization in [
        basic("admin", ADMIN_TOKEN),
        basic("anyone-at-all", ADMIN_TOKEN),
        format!("Bearer {ADMIN_TOKEN}"),
    ] {
        let response = get_page(&server, Some(&authorization)).await;
        assert_eq!(response.status(), 200, "{authorization}");
        let headers = response.headers();
        assert_eq!(headers["cache-control"], "no-store");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        let body = response.text().await.unwrap();
        assert!(body.contains("<meta name=\"viewport\""));
        assert!(body.contains("data-pair=\"specs\"") && body.contains("data-pair=\"tasks\""));
    }

    // The admin API takes Basic too (a browser can open /api/jobs).
    let http = client();
    let jobs = http
        .get(format!("{}/api/jobs", server.url))
        .header("authorization", basic("ops", ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.status(), 200);
    // A script's POST with Basic (no Origin) works; a browser's from another
    // site, carrying the remembered credentials, does not.
    let reconcile = |origin: Option<&'static str>| {
        let mut request = http
            .post(format!("{}/reconcile", server.url))
            .header("authorization", basic("ops", ADMIN_TOKEN));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let cross = reconcile(Some("https://evil.example")).await.unwrap();
    assert_eq!(cross.status(), 401);
    assert_eq!(db.count("jobs").await, 0, "a cross-site POST queued work");
    assert_eq!(reconcile(None).await.unwrap().status(), 202);
    assert_eq!(db.count("jobs").await, 2, "one sweep per pair");
}

/// Everything the page shows, seeded through the store's own API. Returns
/// the dead job.
async fn seed(db: &TestDb, hostile: &str) -> JobId {
    let store = &db.store;
    let now = now_ms();
    let mut snapshot = Snapshot::new();
    snapshot.insert("Priority".into(), json!("P1"));
    store
        .upsert_link(
            &LinkUpsert {
                pair: "specs".into(),
                notion_page_id: PAGE_ID.into(),
                airtable_record_id: Some(RECORD_ID.into()),
                snapshot,
                sync_source: SyncSource::Notion,
                state: LinkState::Active,
                notion_last_edited: None,
                airtable_modified: None,
            },
            now,
        )
        .await
        .unwrap();
    let dead = dead_job(db, &format!("{DEAD_ERROR} {hostile}"), now).await;
    store
        .append_log(&[
            log_entry(
                now,
                LogAction::Update,
                Some("Sprint"),
                json!("Sprint 30"),
                json!(hostile),
            ),
            NewLogEntry {
                conflict: true,
                winner: Some(Side::Notion),
                detail: Some("both sides changed: rule `notion`".into()),
                ..log_entry(
                    now,
                    LogAction::Update,
                    Some("Priority"),
                    json!("P2-from-airtable"),
                    json!("P0-from-notion"),
                )
            },
        ])
        .await
        .unwrap();
    store
        .record_verification_token(&Secret::new(VERIFICATION_TOKEN), now, Some("127.0.0.1"))
        .await
        .unwrap();
    store
        .insert_inbox(&InboxEvent {
            source: "notion".into(),
            event_id: uuid::Uuid::new_v4().to_string(),
            received_at: now - 90_000,
            summary: None,
        })
        .await
        .unwrap();
    register_webhook(db, now).await;
    store
        .start_sweep("specs", SweepKind::Incremental, now - 5000)
        .await
        .unwrap();
    let summary =
        json!({"records_seen": 47, "updated_airtable": 3, "conflicts": 1, "problems": []});
    store
        .finish_sweep(
            "specs",
            SweepKind::Incremental,
            now - 4000,
            &summary,
            Some(now - 5000),
        )
        .await
        .unwrap();
    dead
}

fn log_entry(
    at: i64,
    action: LogAction,
    field: Option<&str>,
    old: serde_json::Value,
    new: serde_json::Value,
) -> NewLogEntry {
    NewLogEntry {
        at,
        pair: "specs".into(),
        notion_page_id: Some(PAGE_ID.into()),
        airtable_record_id: Some(RECORD_ID.into()),
        action,
        field: field.map(str::to_owned),
        old_value: Some(old),
        new_value: Some(new),
        direction: SyncDirection::NotionToAirtable,
        cause: Cause::Webhook,
        conflict: false,
        winner: None,
        detail: None,
        job_id: None,
        run_id: None,
        undoes: None,
    }
}

/// A reconcile job that failed its only attempt.
async fn dead_job(db: &TestDb, error: &str, now: i64) -> JobId {
    let key = format!("record:specs:page:{}", uuid::Uuid::new_v4());
    let job = NewJob::new("reconcile_page", key, now)
        .with_pair("specs")
        .with_max_attempts(1);
    db.store.enqueue(&job, now).await.unwrap();
    let claimed = db
        .store
        .claim(Duration::from_secs(30), now)
        .await
        .unwrap()
        .expect("the job is due");
    let outcome = db
        .store
        .fail(claimed.id, &claimed.lease_token, error, now, now)
        .await
        .unwrap();
    assert_eq!(outcome, FailOutcome::Dead);
    claimed.id
}

async fn register_webhook(db: &TestDb, now: i64) {
    let webhook = NewAirtableWebhook {
        webhook_id: support::WEBHOOK_ID.into(),
        pair: "specs".into(),
        base_id: support::BASE_ID.into(),
        table_id: TABLE_ID.into(),
        mac_secret_base64: Secret::new(support::MAC_SECRET),
        expires_at: Some(now + 6 * 86_400_000),
        notification_url: Some("http://127.0.0.1/webhooks/airtable".into()),
    };
    db.store.upsert_webhook(&webhook, now).await.unwrap();
    let status = WebhookStatus {
        expires_at: Some(now + 6 * 86_400_000),
        notifications_enabled: false,
        hook_enabled: true,
        last_result: Some(json!({"success": false, "error": {"message": "connection refused"}})),
    };
    db.store
        .update_webhook_status(support::WEBHOOK_ID, &status, now)
        .await
        .unwrap();
    db.store
        .record_webhook_ping(support::WEBHOOK_ID, now - 60_000)
        .await
        .unwrap();
}

/// The part of the page from `<section id="{id}"` to its end.
pub(super) fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = html[start..].find("</section>").expect("section end") + start;
    &html[start..end]
}

pub async fn the_page_shows_pairs_webhooks_dead_jobs_conflicts_and_changes(db: TestDb) {
    let dead = seed(&db, "").await;
    let server = start(&db).await;
    let html = page_html(&server).await;

    let pairs = section(&html, "pairs");
    let specs = &pairs[pairs.find("data-pair=\"specs\"").unwrap()..];
    let specs = &specs[..specs.find("</div>").unwrap()];
    assert!(
        specs.contains("<dt>Linked records</dt><dd>1</dd>"),
        "{specs}"
    );
    assert!(
        specs.contains("0 pending · 0 running · <span class=\"badge bad\">1</span> dead"),
        "{specs}"
    );
    for count in ["47 records seen", "3 updated airtable", "1 conflicts"] {
        assert!(specs.contains(count), "{count} in {specs}");
    }
    assert!(specs.contains(TABLE_ID));

    let webhooks = section(&html, "webhooks");
    assert!(webhooks.contains(support::WEBHOOK_ID));
    assert!(
        webhooks.contains(">off<"),
        "notifications off is shown: {webhooks}"
    );
    assert!(webhooks.contains("connection refused"));
    assert!(
        webhooks.contains("in 5 d 23 h") || webhooks.contains("in 6 d 0 h"),
        "{webhooks}"
    );
    assert!(
        webhooks.contains("1 min 30 s ago"),
        "the last Notion event: {webhooks}"
    );
    assert!(
        webhooks.contains(VERIFICATION_TOKEN),
        "the pending token to paste"
    );

    let attention = section(&html, "attention");
    assert!(attention.contains("1 dead job(s)"));
    assert!(attention.contains("verification token"));
    assert!(attention.contains("notifications are off"));

    let dead_jobs = section(&html, "dead-jobs");
    assert!(dead_jobs.contains(&format!("data-job=\"{dead}\"")));
    assert!(dead_jobs.contains(DEAD_ERROR));
    assert!(dead_jobs.contains(&format!("action=\"/jobs/{dead}/retry\"")));
    assert!(dead_jobs.contains("name=\"csrf\""));

    let conflicts = section(&html, "conflicts");
    assert!(conflicts.contains("P0-from-notion") && conflicts.contains("P2-from-airtable"));
    let notion_at = conflicts
        .find("data-label=\"Notion had\"><div>P0-from-notion")
        .expect("Notion's value");
    let airtable_at = conflicts
        .find("data-label=\"Airtable had\"><div>P2-from-airtable")
        .expect("Airtable's value");
    assert!(notion_at < airtable_at);
    let notion_url = format!("https://www.notion.so/{}", PAGE_ID.replace('-', ""));
    let airtable_url = format!(
        "https://airtable.com/{}/{TABLE_ID}/{RECORD_ID}",
        support::BASE_ID
    );
    assert!(conflicts.contains(&notion_url) && conflicts.contains(&airtable_url));

    let changes = section(&html, "changes");
    assert!(changes.contains("<b>Sprint</b>: Sprint 30"));
    assert!(changes.contains(&notion_url) && changes.contains(&airtable_url));
    assert!(changes.contains("Notion → Airtable"));
}

pub async fn values_from_users_are_escaped(db: TestDb) {
    seed(&db, HOSTILE).await;
    // A pair name is configuration, but a renamed pair's links show by name.
    db.store
        .upsert_link(
            &LinkUpsert {
                pair: "<b>old</b>\"pair".into(),
                notion_page_id: "<i>".into(),
                airtable_record_id: Some("rec\"><script>".into()),
                snapshot: Snapshot::new(),
                sync_source: SyncSource::Notion,
                state: LinkState::Active,
                notion_last_edited: None,
                airtable_modified: None,
            },
            now_ms(),
        )
        .await
        .unwrap();
    let server = start(&db).await;
    let html = page_html(&server).await;
    assert!(!html.contains("<script>"), "raw markup from a value");
    assert!(!html.contains("<img src=x"), "raw markup from a value");
    assert!(!html.contains("<b>old</b>"));
    assert!(html.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;old&lt;/b&gt;&quot;pair"));
    // The CSP would stop a script that slipped through anyway.
    let response = get_page(&server, Some(&basic("admin", ADMIN_TOKEN))).await;
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
}

/// A Retry post that must be refused: what it is, its extra headers, and its
/// form's `csrf` field.
type Refusal<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>);

/// The hidden `csrf` value of the Retry form of `job`.
fn csrf_of(html: &str, job: JobId) -> String {
    let form = &html[html
        .find(&format!("action=\"/jobs/{job}/retry\""))
        .expect("a Retry form")..];
    let value = &form[form.find("name=\"csrf\" value=\"").unwrap() + 19..];
    value[..value.find('"').unwrap()].to_owned()
}

async fn post_retry(
    server: &Server,
    job: JobId,
    authorization: Option<&str>,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client()
        .post(format!("{}/jobs/{job}/retry", server.url))
        .form(form);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("POST the retry form")
}

pub async fn retry_form_retries_a_dead_job_and_refuses_cross_site_posts(db: TestDb) {
    let dead = seed(&db, "").await;
    let other = dead_job(&db, "another failure", now_ms()).await;
    let server = start(&db).await;
    let html = page_html(&server).await;
    let token = csrf_of(&html, dead);
    assert_ne!(token, csrf_of(&html, other), "tokens are per job");
    let auth = basic("admin", ADMIN_TOKEN);
    let same_origin = server.url.clone();

    let other_token = csrf_of(&html, other);
    // (what, extra headers, the form's csrf field): each is refused, with
    // the right password.
    let refusals: [Refusal; 7] = [
        ("no token", &[], None),
        ("empty token", &[], Some("")),
        ("another job's token", &[], Some(&other_token)),
        (
            "cross-site Origin",
            &[("origin", "https://evil.example")],
            Some(&token),
        ),
        ("Origin null", &[("origin", "null")], Some(&token)),
        (
            "Sec-Fetch-Site cross-site",
            &[("sec-fetch-site", "cross-site")],
            Some(&token),
        ),
        (
            "Sec-Fetch-Site same-site",
            &[("sec-fetch-site", "same-site")],
            Some(&token),
        ),
    ];
    for (what, headers, csrf) in refusals {
        let form: Vec<(&str, &str)> = csrf.map(|t| ("csrf", t)).into_iter().collect();
        let response = post_retry(&server, dead, Some(&auth), headers, &form).await;
        assert_eq!(response.status(), 403, "{what}");
        assert!(response.text().await.unwrap().contains("Refused"), "{what}");
    }
    let unauthenticated = post_retry(&server, dead, None, &[], &[("csrf", &token)]).await;
    assert_eq!(unauthenticated.status(), 401);
    let wrong = basic("admin", "guess");
    let wrong_password = post_retry(&server, dead, Some(&wrong), &[], &[("csrf", &token)]).await;
    assert_eq!(wrong_password.status(), 401);
    let job = db.store.get_job(dead).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Dead, "a refused form changed the job");

    // The page's own form, as a browser posts it.
    let response = post_retry(
        &server,
        dead,
        Some(&auth),
        &[("origin", &same_origin), ("sec-fetch-site", "same-origin")],
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("/?retried={dead}")),
        "{location}"
    );
    let job = db.store.get_job(dead).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.attempts, 0, "a fresh attempt budget");
    assert_eq!(
        db.store.get_job(other).await.unwrap().unwrap().state,
        JobState::Dead
    );

    // Back on the page: the notice, and the job is gone from the dead list.
    let after = client()
        .get(format!("{}{location}", server.url))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        after.contains(&format!("Job {dead} is pending again")),
        "{after}"
    );
    let dead_jobs = section(&after, "dead-jobs");
    assert!(!dead_jobs.contains(&format!("data-job=\"{dead}\"")));
    assert!(dead_jobs.contains(&format!("data-job=\"{other}\"")));

    // A second click (a stale page) does nothing and says so.
    let again = post_retry(&server, dead, Some(&auth), &[], &[("csrf", &token)]).await;
    assert_eq!(again.status(), 303);
    assert_eq!(
        again.headers()["location"],
        format!("/?not_dead={dead}").as_str()
    );
    assert_eq!(db.count("jobs").await, 2);
}

pub async fn verification_tokens_can_be_dismissed_and_the_applied_one_is_hidden(db: TestDb) {
    seed(&db, "").await;
    // The token NOTION_WEBHOOK_SECRET already holds needs no action.
    let applied = Secret::new(support::NOTION_SECRET);
    db.store
        .record_verification_token(&applied, now_ms(), None)
        .await
        .unwrap();
    let server = start(&db).await;
    let html = page_html(&server).await;
    assert!(html.contains(VERIFICATION_TOKEN));
    assert!(
        !html.contains(support::NOTION_SECRET),
        "the applied token is shown"
    );
    let form = &html[html
        .find("action=\"/notion/verification-tokens/dismiss\"")
        .expect("a Dismiss form")..];
    let csrf = &form[form.find("name=\"csrf\" value=\"").unwrap() + 19..];
    let csrf = csrf[..csrf.find('"').unwrap()].to_owned();
    let auth = basic("admin", ADMIN_TOKEN);
    let dismiss = async |headers: &[(&str, &str)], csrf: &str| {
        let mut request = client()
            .post(format!("{}/notion/verification-tokens/dismiss", server.url))
            .header("authorization", &auth)
            .form(&[("csrf", csrf), ("token", VERIFICATION_TOKEN)]);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    };
    let pending = async || {
        let tokens = db.store.pending_verification_tokens().await.unwrap();
        tokens
            .iter()
            .any(|t| t.token.expose() == VERIFICATION_TOKEN)
    };

    assert_eq!(dismiss(&[], "").await.status(), 403);
    let retry_token = csrf_of(
        &html,
        db.store.list_jobs(Some(JobState::Dead), 1).await.unwrap()[0].id,
    );
    assert_eq!(
        dismiss(&[], &retry_token).await.status(),
        403,
        "another form's token"
    );
    let cross = dismiss(&[("sec-fetch-site", "cross-site")], &csrf).await;
    assert_eq!(cross.status(), 403);
    assert!(pending().await, "a refused form dismissed the token");

    let response = dismiss(&[("sec-fetch-site", "same-origin")], &csrf).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/?dismissed=true");
    assert!(!pending().await);
    let after = client()
        .get(format!("{}/?dismissed=true", server.url))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(after.contains("The verification token was dismissed."));
    assert!(!after.contains(VERIFICATION_TOKEN));
    assert!(!section(&after, "attention").contains("verification token"));
}

/// Raise `issue` as the engine does.
async fn raise(db: &TestDb, scope: IssueScope, subject: &str, field: &str, message: &str) {
    let issue = NewIssue {
        pair: "specs",
        scope,
        subject,
        field,
        message,
    };
    db.store
        .raise_issue(&issue, now_ms() - 120_000)
        .await
        .unwrap();
}

pub async fn sync_issues_are_shown_per_pair_escaped_until_cleared(db: TestDb) {
    raise(
        &db,
        IssueScope::Field,
        "Sprint",
        "",
        "the Airtable field \"Sprint\" was deleted: writes to it are stopped",
    )
    .await;
    raise(&db, IssueScope::Record, PAGE_ID, "Status", HOSTILE).await;
    raise(
        &db,
        IssueScope::Pair,
        "notion_user_information",
        "",
        "the Notion token lacks the user-information capability",
    )
    .await;
    let server = start(&db).await;
    let html = page_html(&server).await;
    let issues = section(&html, "issues");
    let specs = &issues[issues
        .find("data-pair=\"specs\"")
        .expect("the pair's issues")..];
    assert!(specs.contains("1 field · 1 pair · 1 record"), "{specs}");
    for shown in [
        "Sprint",
        "writes to it are stopped",
        PAGE_ID,
        "Status",
        "user-information capability",
    ] {
        assert!(specs.contains(shown), "{shown} in {specs}");
    }
    assert!(!html.contains(HOSTILE), "a refused value is shown escaped");
    assert!(specs.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;"));
    let attention = section(&html, "attention");
    assert!(attention.contains("3 sync issue(s)"), "{attention}");
    let pairs = section(&html, "pairs");
    assert!(
        pairs.contains("<dt>Sync issues</dt><dd><a href=\"#issues\"><span class=\"badge bad\">3</span></a></dd>"),
        "{pairs}"
    );

    // Fixed: gone from the page.
    for (scope, subject) in [
        (IssueScope::Field, "Sprint"),
        (IssueScope::Record, PAGE_ID),
        (IssueScope::Pair, "notion_user_information"),
    ] {
        db.store
            .clear_issues("specs", scope, subject)
            .await
            .unwrap();
    }
    let html = page_html(&server).await;
    assert!(section(&html, "issues").contains("None."));
    assert!(!section(&html, "attention").contains("sync issue"));
}

pub async fn the_page_stays_fast_with_many_inbox_rows(db: TestDb) {
    // A year of deliveries at a steady rate, the newest 90 s ago.
    let newest = now_ms() - 90_000;
    let rows = 200_000;
    let sql = format!(
        "INSERT INTO webhook_inbox (source, event_id, received_at, summary) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
         SELECT CASE WHEN i % 3 = 0 THEN 'airtable' ELSE 'notion' END, 'evt-' || i, \
                {newest} - (i - 1) * CAST(150000 AS BIGINT), 'page.properties_updated page p' FROM n"
    );
    db.execute(&sql).await;
    let server = start(&db).await;
    let started = std::time::Instant::now();
    let html = page_html(&server).await;
    let took = started.elapsed();
    // The newest Notion event is found (filling took a few seconds).
    let webhooks = section(&html, "webhooks");
    let last = &webhooks[webhooks.find("Last event received").expect("the line")..];
    assert!(last.contains(">1 min "), "{webhooks}");
    // A whole-table read of 200,000 rows is what the index avoids (the
    // plans are checked in the store contract); this bound only catches a
    // page that went back to reading it, with room for a loaded machine.
    assert!(took < Duration::from_secs(2), "the page took {took:?}");
}
