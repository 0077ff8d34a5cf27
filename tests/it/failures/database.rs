//! Postgres stopped during traffic. The test runs its own throwaway cluster
//! (initdb into a temporary folder, a free port) so that it can stop and
//! start it; the shared `TEST_POSTGRES_URL` cluster is never touched.
//! While the database is down every webhook is answered 503 (never 2xx
//! without a commit), quickly; after it is back, every acknowledged event
//! is in the inbox and every change reaches Airtable.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{
    harness::{
        Options, Sandboxes, Service, TempDir, assert_no_dead_jobs, eventually, free_port,
        inbox_ids, until_idle,
    },
    traffic::{Traffic, converged},
};

/// A PostgreSQL cluster of this test's own, stopped (immediately) on drop.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    /// As root, the server runs as `postgres` (it refuses to run as root).
    user: Option<&'static str>,
    _dir: TempDir,
}

/// The newest `/usr/lib/postgresql/*/bin` with initdb and pg_ctl.
fn bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect("initdb and pg_ctl")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl Cluster {
    pub fn init() -> Self {
        let dir = TempDir::new();
        let user = is_root().then_some("postgres");
        let data = dir.0.join("data");
        let cluster = Cluster {
            bin: bindir(),
            data,
            port: free_port(),
            user,
            _dir: dir,
        };
        if user.is_some() {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&cluster._dir.0)
                .status()
                .unwrap();
            assert!(ok.success(), "chown the cluster folder to postgres");
        }
        let initdb = cluster.bin.join("initdb");
        cluster.run(
            &initdb,
            &[
                "-D",
                path(&cluster.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ],
        );
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Run a server command, as the server user when root.
    fn run(&self, program: &Path, args: &[&str]) {
        let output = match self.user {
            Some(user) => Command::new("runuser")
                .args(["-u", user, "--"])
                .arg(program)
                .args(args)
                .current_dir(&self._dir.0)
                .output(),
            None => Command::new(program).args(args).output(),
        }
        .unwrap();
        assert!(
            output.status.success(),
            "{} {args:?}: {}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self._dir.0.display()
        );
        let log = self._dir.0.join("server.log");
        self.run(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                path(&self.data),
                "-l",
                path(&log),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// Stop at once (connections are cut, as in a crash or failover).
    pub fn stop(&self) {
        self.run(
            &self.bin.join("pg_ctl"),
            &["-D", path(&self.data), "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let pg_ctl = self.bin.join("pg_ctl");
            let args = ["-D", path(&self.data), "-m", "immediate", "-w", "stop"];
            let _ = match self.user {
                Some(user) => Command::new("runuser")
                    .args(["-u", user, "--"])
                    .arg(&pg_ctl)
                    .args(args)
                    .output(),
                None => Command::new(&pg_ctl).args(args).output(),
            };
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

pub async fn postgres_stopped_during_traffic_is_503_and_loses_nothing() {
    let cluster = Cluster::init();
    cluster.start();
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let options = Options {
        notion_webhooks: false,
        airtable_webhooks: false,
        ..Options::default()
    };
    let mut svc = Service::new(&sb, &dir.0, &cluster.url(), options);
    svc.start_synced(&sb).await;

    let mut traffic = Traffic::start(
        &sb,
        &svc.url,
        &svc.notion_secret,
        4,
        3,
        Duration::from_millis(50),
    );
    let acked = async |n: usize| {
        eventually(60, "acknowledged events", async || {
            (traffic.ledger.lock().unwrap().acked_ids().len() >= n).then_some(())
        })
        .await
    };
    acked(30).await;
    cluster.stop();
    let down_since = Instant::now();
    // Traffic while the database is down: 30 answers.
    let attempts_before = traffic.ledger.lock().unwrap().attempts.len();
    eventually(60, "deliveries while the database is down", async || {
        (traffic.ledger.lock().unwrap().attempts.len() >= attempts_before + 30).then_some(())
    })
    .await;
    let up_again = Instant::now();
    cluster.start();
    // Any delivery entirely inside the outage was refused with 503, quickly.
    let during: Vec<_> = {
        let l = traffic.ledger.lock().unwrap();
        l.attempts
            .iter()
            .filter(|a| a.started > down_since && a.ended < up_again)
            .copied()
            .collect()
    };
    assert!(
        during.len() >= 20,
        "{} deliveries in the outage",
        during.len()
    );
    for a in &during {
        assert_eq!(a.status, Some(503), "answer while the database was down");
        let took = a.ended - a.started;
        assert!(took <= Duration::from_secs(3), "a 503 took {took:?}");
    }

    // Never 2xx without a commit: every event acknowledged up to here,
    // including those answered just before the stop, is in the inbox.
    let acked_so_far = traffic.ledger.lock().unwrap().acked_ids();
    let inbox = inbox_ids(&cluster.url()).await;
    let missing: Vec<_> = acked_so_far.difference(&inbox).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not recorded: {missing:?}"
    );
    acked(acked_so_far.len() + 20).await;
    traffic.stop().await;
    traffic
        .redeliver_unacked(&svc.url, &svc.notion_secret, 30)
        .await;
    assert!(traffic.unexpected_statuses().is_empty());
    let (all, pages) = {
        let l = traffic.ledger.lock().unwrap();
        (l.all_ids(), l.pages())
    };
    assert!(
        all.is_subset(&inbox_ids(&cluster.url()).await),
        "every event recorded"
    );
    converged(&sb, &pages, 60).await;
    let store = svc.store().await;
    until_idle(&store, 30).await;
    assert_no_dead_jobs(&store).await;
    svc.kill();
}
