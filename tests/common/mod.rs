//! The test harness, in one place: a migrated store on a database of its
//! own, SQLite or Postgres (and `both_backends!`); both sandboxes seeded
//! (`sandboxes`, `world`); the example mapping pointed at them (`mapping`);
//! the `serve` binary against them (`serve`); waits with deadlines
//! (`wait`). The bench harness includes `wait`, `mapping` and `serve`.
#![allow(dead_code)]

/// Generates `sqlite::<test>` and `postgres::<test>` for each
/// `async fn <test>(db: TestDb)` of the calling test file.
#[allow(unused_macros)]
macro_rules! both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::TestDb::sqlite().await).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::TestDb::postgres().await).await; })*
        }
    };
}

use std::path::PathBuf;

use notion_airtable_sync::store::Store;
use sqlx::Connection;

/// A migrated store on a fresh database; the SQLite folder is removed on drop
/// (Postgres databases go with the throwaway cluster).
pub struct TestDb {
    pub store: Store,
    /// The database URL (a second connection can be opened to it).
    pub url: String,
    folder: Option<PathBuf>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let folder = unique_temp_folder();
        // A folder that does not exist yet: the store must create it.
        let url = format!("sqlite://{}", folder.join("nested/sync.db").display());
        let store = Store::connect(&url).await.expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        TestDb {
            store,
            url,
            folder: Some(folder),
        }
    }

    pub async fn postgres() -> TestDb {
        let url = fresh_postgres_database().await;
        let store = Store::connect(&url)
            .await
            .expect("connect to the test database");
        store.migrate().await.expect("migrate Postgres");
        TestDb {
            store,
            url,
            folder: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(folder) = &self.folder {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// Create `t_<uuid>` on the cluster named by `TEST_POSTGRES_URL`; fail loudly
/// when it is unset (a Postgres test must never pass without Postgres).
pub async fn fresh_postgres_database() -> String {
    let admin_url = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("TEST_POSTGRES_URL is not set; run the tests through scripts/test.sh (or scripts/with-postgres.sh)")
    });
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let _ = admin.close().await;
    let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// A folder under the temp dir that does not exist yet.
pub fn unique_temp_folder() -> PathBuf {
    std::env::temp_dir().join(format!("nas-test-{}", uuid::Uuid::new_v4().simple()))
}
/// Which database a test runs on (for tests whose `serve` process
/// creates and migrates it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database of `backend` for a test whose files live in `dir`.
pub async fn database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("sync.db").display()),
        Backend::Postgres => fresh_postgres_database().await,
    }
}

/// A temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = unique_temp_folder();
        std::fs::create_dir_all(&dir).expect("create a temp folder");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub mod mapping;
pub mod sandboxes;
pub mod serve;
pub mod wait;
pub mod world;
