//! From a `DATABASE_URL` to a connection pool.
//!
//! The URL usually carries a password, so no message built here ever contains
//! the URL: errors name the scheme or the backend and what is wrong.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{Backend, StoreError, error::Context};

/// Pool settings. The defaults suit the service; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections the pool keeps open.
    pub max_connections: u32,
    /// How long an operation waits for a connection before failing as
    /// unavailable: short, so that a webhook gets a quick 503 (and its sender
    /// retries) when the database is down, rather than hanging.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the database's write lock
    /// before giving up with SQLITE_BUSY (a transient error).
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The backend a URL names, from its scheme.
pub(super) fn backend_of(database_url: &str) -> Result<Backend, StoreError> {
    let scheme = scheme_of(database_url);
    if scheme.is_empty() {
        return Err(StoreError::MissingScheme);
    }
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(StoreError::UnsupportedScheme {
            scheme: scheme.to_owned(),
        }),
    }
}

/// The text before the first `:` if it looks like a URL scheme (RFC 3986),
/// else "" (so that a URL without a scheme shows nothing of itself).
fn scheme_of(url: &str) -> &str {
    let Some((scheme, _)) = url.split_once(':') else {
        return "";
    };
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if valid { scheme } else { "" }
}

pub(super) async fn sqlite_pool(
    database_url: &str,
    options: &StoreOptions,
) -> Result<SqlitePool, StoreError> {
    let connect = SqliteConnectOptions::from_str(database_url)
        .map_err(|e| invalid_url(Backend::Sqlite, &e))?
        .create_if_missing(true)
        // WAL: readers never block the writer nor each other.
        .journal_mode(SqliteJournalMode::Wal)
        // FULL, not NORMAL: a commit must survive a power cut, because the
        // service acknowledges webhooks right after committing.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(options.sqlite_busy_timeout)
        .foreign_keys(true);
    create_parent_folder(connect.get_filename())?;
    SqlitePoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await
        .context("open the SQLite database")
}

/// `sqlite://data/sync.db` is relative to the working directory; its folder
/// may not exist yet on a fresh machine.
fn create_parent_folder(file: &Path) -> Result<(), StoreError> {
    let Some(folder) = file.parent() else {
        return Ok(());
    };
    if folder.as_os_str().is_empty() || folder.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(folder).map_err(|source| StoreError::CreateDir {
        path: folder.to_owned(),
        source,
    })
}

pub(super) async fn pg_pool(
    database_url: &str,
    options: &StoreOptions,
) -> Result<PgPool, StoreError> {
    let connect = PgConnectOptions::from_str(database_url)
        .map_err(|e| invalid_url(Backend::Postgres, &e))?
        .application_name("notion-airtable-sync");
    PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await
        .context("connect to Postgres")
}

/// sqlx's URL parse errors describe the problem without quoting the URL.
fn invalid_url(backend: Backend, e: &sqlx::Error) -> StoreError {
    StoreError::InvalidUrl {
        backend,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_comes_from_the_scheme() {
        assert_eq!(
            backend_of("sqlite://data/sync.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(backend_of("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert_eq!(
            backend_of("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            backend_of("PostgreSQL://u@h/db").ok(),
            Some(Backend::Postgres)
        );
    }

    #[test]
    fn sqlite_urls_name_relative_and_absolute_paths() {
        let relative = SqliteConnectOptions::from_str("sqlite://data/sync.db").expect("parse");
        assert_eq!(relative.get_filename(), Path::new("data/sync.db"));
        let absolute = SqliteConnectOptions::from_str("sqlite:///var/lib/sync.db").expect("parse");
        assert_eq!(absolute.get_filename(), Path::new("/var/lib/sync.db"));
    }

    #[test]
    fn unknown_scheme_is_named_without_the_rest_of_the_url() {
        let err = backend_of("mysql://root:hunter2@db/app").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`mysql`"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        let msg = backend_of("hunter2@db/app").unwrap_err().to_string();
        assert!(msg.contains("no scheme"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
