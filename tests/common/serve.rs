//! The `serve` binary run against both sandboxes, as the end-to-end tests
//! and the bench harness start it: the environment pointing it at the
//! sandboxes, a Notion subscription verified with the token it sent, the
//! Airtable webhook registered through `PUBLIC_URL`, and a ready check.
//! The process is killed on drop.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use notion_airtable_sandbox::{airtable::AirtableSandbox, notion::NotionSandbox};

use super::wait::{eventually, free_port};

/// The debug binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_notion-airtable-sync");
/// The admin token a test's `serve` gets unless it sets its own.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// How a `serve` process is started (fields public: a test sets what it
/// needs, then [`ServeConfig::spawn`]s one process or several).
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub bin: PathBuf,
    /// Its working directory, where `sync.toml` is.
    pub dir: PathBuf,
    pub db_url: String,
    /// `LISTEN_ADDR` is `127.0.0.1:<port>`.
    pub port: u16,
    /// `--role` (the binary's default, `all`, when None).
    pub role: Option<String>,
    pub notion_url: String,
    pub notion_token: String,
    pub airtable_url: String,
    pub airtable_token: String,
    /// `NOTION_WEBHOOK_SECRET`: a random one, or the subscription's token
    /// after [`ServeConfig::subscribe_notion`].
    pub notion_secret: String,
    /// `PUBLIC_URL`: where the service registers its Airtable webhook
    /// (None: empty, which counts as unset, so no webhook).
    pub public_url: Option<String>,
    pub admin_token: String,
    pub rust_log: String,
    /// More environment (e.g. `SWEEP_AT_START`, `JOB_LEASE_SECS`).
    pub env: Vec<(String, String)>,
    /// Its stderr goes to this file (None: the test's stderr).
    pub stderr: Option<PathBuf>,
}

impl ServeConfig {
    /// `serve` in `dir` on `db_url` against both sandboxes, on a free port,
    /// registering the Airtable webhook at its own address.
    pub fn new(
        notion: &NotionSandbox,
        airtable: &AirtableSandbox,
        dir: &Path,
        db_url: &str,
    ) -> ServeConfig {
        let port = free_port();
        ServeConfig {
            bin: PathBuf::from(BIN),
            dir: dir.to_owned(),
            db_url: db_url.to_owned(),
            port,
            role: None,
            notion_url: notion.base_url(),
            notion_token: notion.token().to_owned(),
            airtable_url: airtable.base_url(),
            airtable_token: airtable.token().to_owned(),
            notion_secret: format!("secret_{}", uuid::Uuid::new_v4().simple()),
            public_url: Some(format!("http://127.0.0.1:{port}")),
            admin_token: ADMIN_TOKEN.to_owned(),
            rust_log: "warn".to_owned(),
            env: Vec::new(),
            stderr: None,
        }
    }

    /// Where its HTTP server listens.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Subscribe its webhook endpoint to every Notion event and verify the
    /// subscription with the token Notion sent, which becomes the secret.
    pub fn subscribe_notion(&mut self, notion: &NotionSandbox) {
        let endpoint = format!("{}/webhooks/notion", self.url());
        let subscription = notion.subscribe(&endpoint);
        self.verify(notion, subscription.id, subscription.verification_token);
    }

    /// [`ServeConfig::subscribe_notion`] for some event types only.
    pub fn subscribe_notion_to(&mut self, notion: &NotionSandbox, types: &[&str]) {
        let endpoint = format!("{}/webhooks/notion", self.url());
        let subscription = notion.subscribe_to(&endpoint, types);
        self.verify(notion, subscription.id, subscription.verification_token);
    }

    fn verify(&mut self, notion: &NotionSandbox, id: String, token: String) {
        notion
            .verify_subscription(&id, &token)
            .expect("verify the Notion subscription");
        self.notion_secret = token;
    }

    pub fn env(&mut self, key: &str, value: impl Into<String>) -> &mut ServeConfig {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// The `serve` command with its whole environment.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command.arg("serve");
        if let Some(role) = &self.role {
            command.args(["--role", role]);
        }
        command
            .current_dir(&self.dir)
            .env("DATABASE_URL", &self.db_url)
            .env("LISTEN_ADDR", format!("127.0.0.1:{}", self.port))
            .env("NOTION_TOKEN", &self.notion_token)
            .env("AIRTABLE_TOKEN", &self.airtable_token)
            .env("NOTION_API_URL", &self.notion_url)
            .env("AIRTABLE_API_URL", &self.airtable_url)
            .env("NOTION_WEBHOOK_SECRET", &self.notion_secret)
            .env("PUBLIC_URL", self.public_url.as_deref().unwrap_or(""))
            .env("ADMIN_TOKEN", &self.admin_token)
            .env("RUST_LOG", &self.rust_log)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match &self.stderr {
            Some(path) => command.stderr(std::fs::File::create(path).expect("the stderr file")),
            None => command.stderr(Stdio::inherit()),
        };
        command
    }

    pub fn spawn(&self) -> Serve {
        let child = self.command().spawn().expect("start the serve binary");
        Serve {
            child: Some(child),
            url: self.url(),
        }
    }
}

/// A running `serve`, SIGKILLed on drop.
#[derive(Debug)]
pub struct Serve {
    child: Option<Child>,
    /// Where its HTTP server listens.
    pub url: String,
}

impl Serve {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Wait until `/readyz` answers 200.
    pub async fn ready(&self, secs: u64) {
        let http = reqwest::Client::new();
        let url = format!("{}/readyz", self.url);
        eventually(secs, "serve to be ready", async || {
            let r = http.get(&url).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await;
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for the exit (failing after `secs`).
    pub fn terminate(&mut self, secs: u64) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = child.try_wait().expect("poll the child") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not exit within {secs} s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Still running (it did not exit on an error).
    pub fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("started");
        let status = child.try_wait().expect("poll the child");
        assert!(status.is_none(), "serve exited: {status:?}");
    }

    /// The process, for a caller that waits on it itself.
    pub fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("running")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}
