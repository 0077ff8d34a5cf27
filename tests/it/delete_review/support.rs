//! What both directions' tests share: the world with the deleting
//! policies, the admin API and status page in process on its store, the
//! `deletes` command, and the job runner that carries decisions out.

use std::{process::Output, sync::Arc};

use notion_airtable_sync::{
    queue::{Runner, RunnerConfig},
    store::{DeleteReview, LogEntry, LogQuery, ReviewState},
    worker::service::SyncService,
};
use serde_json::Value;

use crate::{
    common::{
        TempDir, TestDb,
        serve::BIN,
        world::{World, world_edited},
    },
    http_ingest::support::{self as http, ADMIN_TOKEN, Server},
};

/// The example mapping with both deleting policies (review is on by
/// default with them).
const POLICIES: &[(&str, &str)] = &[
    (
        "on_notion_trash = { set = { Status = \"Archived\" } }",
        "on_notion_trash = \"delete\"",
    ),
    (
        "on_airtable_delete = \"ignore\"",
        "on_airtable_delete = \"trash\"",
    ),
];

pub struct Review {
    pub w: World,
    pub server: Server,
    dir: TempDir,
}

/// The pair synced once (47 linked records), its HTTP surfaces running.
pub async fn synced(db: TestDb) -> Review {
    let w = world_edited(db, POLICIES).await;
    assert!(w.pair.config.options.review_deletes, "on by default");
    let summary = w.sweep(true).await;
    assert_eq!(summary.created_in_airtable, 47, "{summary:?}");
    let server = http::start_with(http::state(&w.engine.store)).await;
    Review {
        w,
        server,
        dir: TempDir::new(),
    }
}

impl Review {
    /// Every entry of the queue, newest first.
    pub async fn entries(&self) -> Vec<DeleteReview> {
        self.w
            .engine
            .store
            .list_delete_reviews(None, None, 1000)
            .await
            .unwrap()
    }

    /// The one entry of `page`.
    pub async fn entry_of(&self, page: &str) -> DeleteReview {
        let mine: Vec<DeleteReview> = self
            .entries()
            .await
            .into_iter()
            .filter(|e| e.notion_page_id == page)
            .collect();
        assert_eq!(mine.len(), 1, "one entry for {page}: {mine:#?}");
        mine.into_iter().next().unwrap()
    }

    /// The sync log of one record, newest first.
    pub async fn log_of(&self, page: &str) -> Vec<LogEntry> {
        let query = LogQuery {
            record: Some(page.to_owned()),
            limit: 1000,
            ..LogQuery::default()
        };
        self.w.engine.store.query_log(&query).await.unwrap()
    }

    /// Log lines of `page` whose detail contains `words`.
    pub async fn logged(&self, page: &str, words: &str) -> usize {
        self.log_of(page)
            .await
            .iter()
            .filter(|e| e.detail.as_deref().unwrap_or("").contains(words))
            .count()
    }

    /// The binary's `deletes …` against the test database.
    pub fn cli(&self, args: &[&str]) -> Output {
        std::process::Command::new(BIN)
            .arg("deletes")
            .args(args)
            .current_dir(&self.dir.0)
            .env("DATABASE_URL", self.w.db_url())
            .env("RUST_LOG", "warn")
            .output()
            .expect("run the binary")
    }

    /// `deletes list --json`: the entries it prints.
    pub fn cli_list(&self, args: &[&str]) -> Vec<Value> {
        let out = self.cli(&[&["list", "--json"], args].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `GET /api/deletes?…` with the admin token.
    pub async fn api_list(&self, query: &str) -> Vec<Value> {
        let response = self
            .server
            .http
            .get(format!("{}/api/deletes{query}", self.server.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `POST /api/deletes/{id}/{decision}` with the admin token.
    pub async fn api_decide(&self, id: i64, decision: &str) -> reqwest::Response {
        self.server
            .http
            .post(format!("{}/api/deletes/{id}/{decision}", self.server.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// The status page's HTML.
    pub async fn page(&self) -> String {
        let response = self
            .server
            .http
            .get(format!("{}/", self.server.url))
            .basic_auth("ops", Some(ADMIN_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// The CSRF token of entry `id`'s Approve or Reject form on the page.
    async fn csrf_of(&self, id: i64, decision: &str) -> String {
        let html = self.page().await;
        let action = format!("action=\"/deletes/{id}/{decision}\"");
        let form = &html[html.find(&action).expect("the button's form")..];
        let value = &form[form.find("name=\"csrf\" value=\"").unwrap() + 19..];
        value[..value.find('"').unwrap()].to_owned()
    }

    /// Post the form of entry `id` from `origin`, with `csrf` (default: the
    /// page's token): the answer's status.
    pub async fn post_form(
        &self,
        id: i64,
        decision: &str,
        origin: &str,
        csrf: Option<&str>,
    ) -> u16 {
        let token = match csrf {
            Some(t) => t.to_owned(),
            None => self.csrf_of(id, decision).await,
        };
        self.server
            .http
            .post(format!("{}/deletes/{id}/{decision}", self.server.url))
            .basic_auth("ops", Some(ADMIN_TOKEN))
            .header("origin", origin)
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Press the page's Approve or Reject button of entry `id` (its form,
    /// its CSRF token, from the page itself): the redirect's location.
    pub async fn press(&self, id: i64, decision: &str) -> String {
        let csrf = self.csrf_of(id, decision).await;
        let csrf = csrf.as_str();
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/deletes/{id}/{decision}", self.server.url))
            .basic_auth("ops", Some(ADMIN_TOKEN))
            .header("origin", &self.server.url)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Run every due job through the service's worker (the queue claims
    /// each under a lease and the sync service runs it), until none is left.
    pub async fn run_jobs(&self) {
        let service = SyncService::new(
            self.w.engine.clone(),
            vec![self.w.pair.clone()],
            String::new(),
        );
        let runner = Runner::new(
            self.w.engine.store.clone(),
            Arc::new(service),
            RunnerConfig::default(),
        );
        let stats = runner.run_until_idle().await.unwrap();
        assert_eq!(stats.dead, 0, "{stats:?}");
    }

    /// The pending entries' ids as the command, the API and the page list them.
    pub async fn assert_listed_pending(&self, id: i64) {
        let cli: Vec<i64> = self
            .cli_list(&[])
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        assert!(cli.contains(&id), "deletes list: {cli:?}");
        let api = self.api_list("?state=pending").await;
        let entry = api
            .iter()
            .find(|e| e["id"] == id)
            .expect("in GET /api/deletes");
        assert_eq!(entry["state"], "pending");
        let html = self.page().await;
        assert!(
            html.contains(&format!("data-review=\"{id}\"")),
            "the page lists it"
        );
        assert!(
            html.contains(&format!("id=\"approve-{id}\""))
                && html.contains(&format!("id=\"reject-{id}\""))
        );
        assert!(
            html.contains("held delete(s)"),
            "the attention line counts it"
        );
    }

    /// No entry is pending, and the page says so.
    pub async fn assert_none_pending(&self) {
        assert!(self.cli_list(&[]).is_empty());
        assert!(self.api_list("?state=pending").await.is_empty());
        assert!(self.page().await.contains("data-count=\"0\""));
        assert_eq!(self.pending_gauge().await, "0");
    }

    /// `notion_airtable_sync_pending_deletes{pair="specs"}` in `/metrics`.
    pub async fn pending_gauge(&self) -> String {
        let text = self
            .server
            .http
            .get(format!("{}/metrics", self.server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let series = "notion_airtable_sync_pending_deletes{pair=\"specs\"} ";
        let line = text.lines().find(|l| l.starts_with(series)).expect(series);
        line[series.len()..].to_owned()
    }

    /// `deletes approve|reject ID` that must fail: its error message.
    pub fn cli_refused(&self, decision: &str, id: i64) -> String {
        let out = self.cli(&[decision, &id.to_string()]);
        assert!(!out.status.success(), "{decision} {id} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn state_of(entries: &[DeleteReview], id: i64) -> ReviewState {
        entries.iter().find(|e| e.id == id).unwrap().state
    }
}
