//! The status page in a real browser: the `serve` binary runs against both
//! sandboxes (real data: the initial sync of the team's 47 specs, a real
//! conflict, a Notion verification token, a job that died while Notion
//! failed), and headless Chromium, driven through chromedriver's WebDriver
//! API, logs in, sees the pair, clicks Retry on the dead job and sees it
//! leave the dead list. Screenshots at laptop and phone widths are saved
//! under the target's temp dir.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use notion_airtable_sandbox::{airtable::AirtableSandbox, common::Faults, notion::NotionSandbox};
use notion_airtable_sync::{
    jobs::spec::{JobSpec, Trigger},
    store::{JobId, JobState, Store, now_ms},
};
use serde_json::{Value, json};

use crate::common::{
    mapping::Mapping,
    sandboxes::Sandboxes,
    serve::{Serve, ServeConfig},
    wait::{eventually, free_port},
};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ADMIN_TOKEN: &str = "status-page-admin-token";
const LAPTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_sees_the_pair_and_retries_a_dead_job() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        // CI installs both (.ci/run): there a missing browser is a failure,
        // never a silent pass.
        assert!(
            std::env::var_os("CI").is_none(),
            "{} not installed, and CI is set (apt-get install chromium chromium-driver)",
            missing.join(" and ")
        );
        println!(
            "SKIPPED a_browser_logs_in_sees_the_pair_and_retries_a_dead_job: {} not installed \
             (apt-get install chromium chromium-driver)",
            missing.join(" and ")
        );
        return;
    }
    let folder = Removed::new();
    let dir = folder.0.clone();
    let db_url = format!("sqlite://{}", dir.join("sync.db").display());
    let world = World::start(&dir, &db_url).await;
    let (dead, error) = world.make_a_real_dead_job().await;
    let shots = screenshot_dir();

    let driver = Driver::start(&dir).await;
    let session = driver.session(LAPTOP).await;
    // Credentials in the URL: the browser answers the 401's Basic challenge
    // with them, as it would with what a person types into the prompt.
    let login = format!("http://admin:{ADMIN_TOKEN}@127.0.0.1:{}/", world.port);
    session.goto(&login).await;
    let html = session.source().await;
    assert!(
        html.contains("data-pair=\"specs\""),
        "the pair card: {html}"
    );
    assert!(
        html.contains("<dt>Linked records</dt><dd>47</dd>"),
        "47 linked records"
    );
    assert!(
        html.contains(&format!("id=\"retry-{dead}\"")),
        "the dead job's Retry button"
    );
    assert!(
        error.contains("Notion temporary failure"),
        "the job died of Notion's outage: {error}"
    );
    assert!(
        section_text(&html, "dead-jobs").contains(&dom_text(&error)),
        "its error, {error:?}, on the page"
    );
    assert!(
        html.contains(&world.pending_token),
        "the token to paste into Notion"
    );
    assert!(
        section_text(&html, "conflicts").contains("Priority"),
        "the conflict"
    );
    // Pairs by their names, records by their titles, the day as charts: the
    // changes both ways and the lag of the webhook-driven ones.
    let pairs = section_text(&html, "pairs");
    assert!(
        pairs.contains("Airtable <b>Delivery Tracker</b>"),
        "{pairs}"
    );
    let changes = section_text(&html, "changes");
    assert!(
        changes.contains(&format!(
            "<b class=\"record-title\">{}</b>",
            dom_text(&world.edited_title)
        )),
        "the edited spec by its title, {:?}: {changes}",
        world.edited_title
    );
    let activity = section_text(&html, "activity");
    for chart in ["chart-changes", "chart-lag-airtable", "chart-lag-notion"] {
        let at = activity.find(&format!("id=\"{chart}\"")).expect(chart);
        let figure = &activity[at..at + activity[at..].find("</figure>").unwrap()];
        assert!(figure.contains("<rect"), "a bar in {chart}: {figure}");
    }
    session
        .screenshot_full_page(&shots.join("status-laptop.png"))
        .await;

    let phone = driver.session(PHONE).await;
    phone.goto(&login).await;
    assert!(
        phone
            .source()
            .await
            .contains(&format!("id=\"retry-{dead}\""))
    );
    phone
        .screenshot_full_page(&shots.join("status-phone.png"))
        .await;
    phone.quit().await;

    session.click(&format!("#retry-{dead}")).await;
    session
        .redirected_to(&format!("retried={dead}"), "Retry")
        .await;
    let html = session.source().await;
    assert!(
        !html.contains(&format!("id=\"retry-{dead}\"")),
        "the retried job left the dead list"
    );
    assert!(html.contains(&format!("Job {dead} ")), "the notice");
    session
        .screenshot_full_page(&shots.join("status-after-retry.png"))
        .await;

    // The newest change's Undo button: the undo runs and its report shows
    // (what was put back or left alone, and why).
    let at = html.find("id=\"undo-").expect("an Undo button per change") + 9;
    let entry: String = html[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    session.click(&format!("#undo-{entry}")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !session.source().await.contains("id=\"undo-report\"") {
        if Instant::now() > deadline {
            let (url, html) = (session.url().await, session.source().await);
            panic!("no undo report after Undo: at {url}: {html}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(session.source().await.contains(&format!("#{entry}")));
    session
        .screenshot_full_page(&shots.join("status-undo-report.png"))
        .await;

    // The held delete: Approve on the page, then the engine trashes the
    // page through the record's normal sync.
    let (review, page) = world.held.clone();
    session.goto(&login).await;
    let html = session.source().await;
    let deletes = section_text(&html, "deletes");
    assert!(
        deletes.contains(&format!("id=\"approve-{review}\"")),
        "the held delete's Approve button: {deletes}"
    );
    let usage = section_text(&html, "api-usage");
    assert!(
        usage.contains(&world.base_id),
        "the base's API calls this month: {usage}"
    );
    session
        .screenshot_full_page(&shots.join("status-held-delete.png"))
        .await;
    session.click(&format!("#approve-{review}")).await;
    session
        .redirected_to(&format!("review={review}"), "Approve")
        .await;
    assert!(
        session
            .source()
            .await
            .contains(&format!("Delete review {review} is approved")),
        "the notice"
    );
    eventually(30, "the approved trash made by the engine", async || {
        (world.notion.page(&page)?["in_trash"] == json!(true)).then_some(())
    })
    .await;
    session.quit().await;

    // In the store the job is no longer dead; Notion works again, so the
    // runner completes it.
    let store = Store::connect(&db_url).await.unwrap();
    let job = store.get_job(dead).await.unwrap().unwrap();
    assert_ne!(job.state, JobState::Dead);
    eventually(20, "the retried job to complete", async || {
        let job = store.get_job(dead).await.ok()??;
        (job.state == JobState::Done).then_some(())
    })
    .await;
    println!("screenshots: {}", shots.display());
}

/// A fresh temp folder (database, mapping file, browser profiles), removed
/// on drop: declared first, it outlives the service and the browsers.
struct Removed(PathBuf);

impl Removed {
    fn new() -> Removed {
        let dir =
            std::env::temp_dir().join(format!("nas-status-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Removed(dir)
    }
}

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Text as a browser serializes it back into HTML (a text node escapes
/// only `&`, `<` and `>`; the page's own escaping of quotes is parsed away).
fn dom_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

fn section_text<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

/// The sandboxes and the service, with webhooks flowing both ways.
struct World {
    notion: NotionSandbox,
    airtable: AirtableSandbox,
    store: Store,
    port: u16,
    page_ids: Vec<String>,
    pending_token: String,
    /// The title of the spec whose Sprint was edited in Airtable.
    edited_title: String,
    /// A row deleted in Airtable: its page's trash waits for review.
    held: (i64, String),
    base_id: String,
    _serve: Serve,
}

impl World {
    async fn start(dir: &Path, db_url: &str) -> World {
        let Sandboxes {
            notion,
            airtable,
            team_n,
            team_a,
        } = Sandboxes::start().await;
        let mut config = ServeConfig::new(&notion, &airtable, dir, db_url);
        config.subscribe_notion(&notion);
        config.admin_token = ADMIN_TOKEN.to_owned();
        // A deleted row trashes its page, once someone approves it (the
        // delete review queue is on by default with this policy).
        Mapping::example(&team_n.database_id, &team_a.base_id)
            .debounce_ms(1500)
            .edit(
                r#"on_airtable_delete = "ignore""#,
                r#"on_airtable_delete = "trash""#,
            )
            .write_to(dir);
        let (port, base_url) = (config.port, config.url());
        let serve = config.spawn();
        let (base, table) = (team_a.base_id.clone(), team_a.table_id.clone());
        eventually(60, "the initial sync", async || {
            (airtable.records(&base, &table).len() == 47).then_some(())
        })
        .await;
        let store = Store::connect(db_url).await.unwrap();
        eventually(20, "the initial sync's links", async || {
            (store.count_links("specs").await.ok()? == 47).then_some(())
        })
        .await;
        let mut world = World {
            notion,
            airtable,
            store,
            port,
            page_ids: team_n.page_ids.clone(),
            pending_token: String::new(),
            edited_title: String::new(),
            held: (0, String::new()),
            base_id: base.clone(),
            _serve: serve,
        };
        world
            .edit_both_sides(&base, &table, &team_n.people[0].1)
            .await;
        world.edited_title = world
            .airtable
            .records(&base, &table)
            .into_iter()
            .find(|r| r["fields"]["Notion Page ID"] == json!(world.page_ids[4]))
            .and_then(|r| r["fields"]["Spec Name"].as_str().map(str::to_owned))
            .expect("the edited spec's name");
        world.pending_token = world.second_subscription(&base_url).await;
        world.held = world.hold_a_delete(&base, &table).await;
        world
    }

    /// A person deletes a row in Airtable: the trash of its page is held
    /// for review. The review's id and the page.
    async fn hold_a_delete(&self, base: &str, table: &str) -> (i64, String) {
        let page = self.page_ids[6].clone();
        let record = self
            .airtable
            .records(base, table)
            .into_iter()
            .find(|r| r["fields"]["Notion Page ID"] == json!(page))
            .unwrap();
        self.airtable
            .delete_record_as_person(base, table, record["id"].as_str().unwrap())
            .unwrap();
        let id = eventually(30, "the page's trash held for review", async || {
            let held = self
                .store
                .list_delete_reviews(Some("specs"), None, 10)
                .await
                .ok()?;
            held.into_iter()
                .find(|r| r.notion_page_id == page)
                .map(|r| r.id)
        })
        .await;
        (id, page)
    }

    /// A person edits Notion, another the same field in Airtable, within the
    /// debounce: one sync sees both and the rule decides (a conflict). Then
    /// a one-sided edit, which syncs plainly.
    async fn edit_both_sides(&self, base: &str, table: &str, person: &str) {
        let page = &self.page_ids[3];
        let record = self
            .airtable
            .records(base, table)
            .into_iter()
            .find(|r| r["fields"]["Notion Page ID"] == json!(page))
            .unwrap();
        let current = record["fields"]["Priority"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let mut others = ["P0", "P1", "P2", "P3"]
            .into_iter()
            .filter(|p| *p != current);
        let (in_notion, in_airtable) = (others.next().unwrap(), others.next().unwrap());
        self.notion
            .update_page_as_person(
                page,
                person,
                json!({"Priority": {"select": {"name": in_notion}}}),
            )
            .unwrap();
        let record_id = record["id"].as_str().unwrap();
        self.airtable
            .update_record_as_person(base, table, record_id, json!({"Priority": in_airtable}))
            .unwrap();
        let sprint_record = self
            .airtable
            .records(base, table)
            .into_iter()
            .find(|r| r["fields"]["Notion Page ID"] == json!(self.page_ids[4]))
            .unwrap();
        self.airtable
            .update_record_as_person(
                base,
                table,
                sprint_record["id"].as_str().unwrap(),
                json!({"Sprint": "Sprint 32"}),
            )
            .unwrap();
        eventually(
            30,
            "the conflict and the edit in the sync log",
            async || {
                let conflicts = self.store.list_conflicts(Some("specs"), 10).await.ok()?;
                let log = self
                    .store
                    .query_log(&notion_airtable_sync::store::LogQuery::default())
                    .await
                    .ok()?;
                let sprint = log.iter().any(|e| e.field.as_deref() == Some("Sprint"));
                (!conflicts.is_empty() && sprint).then_some(())
            },
        )
        .await;
    }

    /// Someone adds a second webhook subscription in Notion: Notion sends
    /// its verification token, which waits on the status page.
    async fn second_subscription(&self, base_url: &str) -> String {
        let subscription = self
            .notion
            .subscribe(&format!("{base_url}/webhooks/notion"));
        let token = subscription.verification_token.clone();
        eventually(20, "the verification token recorded", async || {
            let pending = self.store.pending_verification_tokens().await.ok()?;
            pending
                .iter()
                .any(|t| t.token.expose() == token)
                .then_some(())
        })
        .await;
        token
    }

    /// Notion fails every call while a reconcile with a single attempt
    /// runs: the job dies with Notion's error. Notion then recovers.
    /// The dead job and the error it died of, as recorded.
    async fn make_a_real_dead_job(&self) -> (JobId, String) {
        // Only this job should meet the outage: let the echoes of the edits
        // above drain first.
        eventually(60, "an idle queue", async || {
            let counts = self.store.job_counts().await.ok()?;
            (counts.pending + counts.running == 0).then_some(())
        })
        .await;
        self.notion.set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        let now = now_ms();
        let job = JobSpec::ReconcilePage {
            pair: "specs".into(),
            page_id: self.page_ids[6].clone(),
            trigger: Trigger::Manual,
        }
        .to_new_job(now)
        .with_max_attempts(1);
        let id = self.store.enqueue(&job, now).await.unwrap().id();
        let died = eventually(30, "the job to die", async || {
            let job = self.store.get_job(id).await.ok()??;
            (job.state == JobState::Dead).then_some(job)
        })
        .await;
        self.notion.set_faults(Faults::default());
        let error = died.last_error.expect("a dead job keeps its error");
        (id, error)
    }
}

/// chromedriver on a free port, killed on drop (it ends its browsers).
struct Driver {
    url: String,
    http: reqwest::Client,
    profile_root: PathBuf,
    _process: Killed,
}

impl Driver {
    async fn start(dir: &Path) -> Driver {
        let port = free_port();
        let process = Killed(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let driver = Driver {
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            profile_root: dir.join("chromium"),
            _process: process,
        };
        eventually(20, "chromedriver to answer", async || {
            let status = driver
                .http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok()?;
            let body: Value = status.json().await.ok()?;
            (body["value"]["ready"] == json!(true)).then_some(())
        })
        .await;
        driver
    }

    /// A browser with a fresh profile and a window of `size` CSS pixels.
    async fn session(&self, (width, height): (u32, u32)) -> Session {
        let profile = self
            .profile_root
            .join(uuid::Uuid::new_v4().simple().to_string());
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let created = self
            .http
            .post(format!("{}/session", self.url))
            .json(&capabilities)
            .send()
            .await
            .expect("create a WebDriver session");
        let body: Value = created.json().await.unwrap();
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {body}"))
            .to_owned();
        Session {
            url: format!("{}/session/{id}", self.url),
            http: self.http.clone(),
            width,
            quit: false,
        }
    }
}

/// One browser window, closed on drop.
struct Session {
    url: String,
    http: reqwest::Client,
    width: u32,
    quit: bool,
}

impl Session {
    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("a WebDriver command");
        let status = response.status();
        let body: Value = response.json().await.expect("WebDriver answers JSON");
        assert!(status.is_success(), "WebDriver {path}: {status} {body}");
        body["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// Wait (10 s at most) until a form's 303 has brought the browser back
    /// to the page with `fragment` in its URL.
    async fn redirected_to(&self, fragment: &str, button: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.url().await.contains(fragment) {
            if Instant::now() > deadline {
                let (url, html) = (self.url().await, self.source().await);
                panic!("no redirect back to the page after {button}: at {url}: {html}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn url(&self) -> String {
        let value = self
            .command(reqwest::Method::GET, "/url", Value::Null)
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    async fn source(&self) -> String {
        let value = self
            .command(reqwest::Method::GET, "/source", Value::Null)
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    async fn click(&self, css: &str) {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let element = found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned();
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await;
    }

    /// Grow the window to the page's height, then capture it.
    async fn screenshot_full_page(&self, path: &Path) {
        let height = self
            .command(
                reqwest::Method::POST,
                "/execute/sync",
                json!({"script": "return document.documentElement.scrollHeight", "args": []}),
            )
            .await
            .as_u64()
            .unwrap_or(900);
        let height = height.clamp(600, 8000);
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": self.width, "height": height}),
        )
        .await;
        let png = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("valid base64");
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, bytes).unwrap();
        println!("screenshot: {}", path.display());
    }

    async fn quit(mut self) {
        self.command(reqwest::Method::DELETE, "", Value::Null).await;
        self.quit = true;
    }
}

impl Drop for Session {
    /// A failed test still closes its browser: chromedriver would leave it.
    fn drop(&mut self) {
        if self.quit {
            return;
        }
        let Some(rest) = self.url.strip_prefix("http://") else {
            return;
        };
        let Some((host, path)) = rest.split_once('/') else {
            return;
        };
        if let Ok(mut stream) = TcpStream::connect(host) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request =
                format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}
