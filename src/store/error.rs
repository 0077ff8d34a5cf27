//! What can go wrong in the store, classified by what the caller will do:
//! [`StoreError::is_transient`] errors (database down or busy) are worth a
//! retry and turn into a 503 at the HTTP edge; the others are bugs, bad
//! configuration or a constraint the caller broke ([`StoreError::is_conflict`]).

use std::path::PathBuf;

use sqlx::migrate::MigrateError;

use super::Backend;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "DATABASE_URL scheme `{scheme}` is not supported: use sqlite://PATH or postgres://USER@HOST/DATABASE"
    )]
    UnsupportedScheme { scheme: String },
    #[error("DATABASE_URL has no scheme: use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    MissingScheme,
    #[error("DATABASE_URL is not a valid {backend} URL: {reason}")]
    InvalidUrl { backend: Backend, reason: String },
    #[error("cannot create the folder {} for the SQLite database: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database unavailable while trying to {op}: {source}")]
    Unavailable {
        op: &'static str,
        source: sqlx::Error,
    },
    #[error("cannot {op}: it would duplicate an existing row ({source})")]
    Conflict {
        op: &'static str,
        source: sqlx::Error,
    },
    #[error("database error while trying to {op}: {source}")]
    Query {
        op: &'static str,
        source: sqlx::Error,
    },
    #[error("migrating the {backend} database failed: {source}")]
    Migrate {
        backend: Backend,
        source: MigrateError,
    },
    #[error("{table}.{column} holds a value this build cannot read: {problem}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        problem: String,
    },
    #[error("cannot {op}: concurrent writers kept winning after {tries} tries")]
    Contended { op: &'static str, tries: u32 },
}

impl StoreError {
    /// The database is unreachable, overloaded or busy: retry later (and
    /// answer a webhook with 503 so that its sender retries).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable { .. } | StoreError::Contended { .. } => true,
            StoreError::Migrate {
                source: MigrateError::Execute(e),
                ..
            } => is_transient(e),
            _ => false,
        }
    }

    /// A unique constraint refused the write (e.g. an Airtable record id
    /// already linked to another page).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// Classify a sqlx error raised while trying to `op`.
    pub(crate) fn from_sqlx(op: &'static str, source: sqlx::Error) -> Self {
        if is_transient(&source) {
            StoreError::Unavailable { op, source }
        } else if is_unique_violation(&source) {
            StoreError::Conflict { op, source }
        } else {
            StoreError::Query { op, source }
        }
    }
}

/// Adds the operation's name to a sqlx result.
pub(crate) trait Context<T> {
    fn context(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::from_sqlx(op, e))
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Errors that say "not now" rather than "never": no connection, a lost
/// connection, a lock or a serialization failure.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let is_sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            db.code()
                .is_some_and(|code| is_transient_code(&code, is_sqlite))
        }
        _ => false,
    }
}

/// `is_sqlite`: the code is SQLite's extended result code, else a Postgres
/// SQLSTATE.
fn is_transient_code(code: &str, is_sqlite: bool) -> bool {
    if is_sqlite {
        // The primary result code is the low byte: SQLITE_BUSY (5), SQLITE_LOCKED (6).
        return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
    }
    matches!(
        code,
        "40001" // serialization_failure
            | "40P01" // deadlock_detected
            | "55P03" // lock_not_available
            | "57P01" // admin_shutdown
            | "57P02" // crash_shutdown
            | "57P03" // cannot_connect_now
    ) || code.starts_with("08") // connection exceptions
        || code.starts_with("53") // insufficient resources (too many connections, disk full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_busy_and_locked_are_transient_by_primary_code() {
        assert!(is_transient_code("5", true));
        assert!(is_transient_code("517", true)); // SQLITE_BUSY_SNAPSHOT
        assert!(is_transient_code("262", true)); // SQLITE_LOCKED_SHAREDCACHE
        assert!(!is_transient_code("2067", true)); // SQLITE_CONSTRAINT_UNIQUE
    }

    #[test]
    fn postgres_connection_and_serialization_failures_are_transient() {
        for code in ["40001", "40P01", "08006", "53300", "57P01"] {
            assert!(is_transient_code(code, false), "{code}");
        }
        for code in ["23505", "42P01", "22P02"] {
            assert!(!is_transient_code(code, false), "{code}");
        }
    }
}
