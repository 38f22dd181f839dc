//! `SQLite` implementation of the durable traits (sqlx, WAL, embedded migrations).
//!
//! The reference for the other implementations: [`super::PostgresStore`] runs
//! the same queries in `PostgreSQL`'s dialect, [`super::MemoryDurable`] mirrors
//! their results; the tests in `memory/tests.rs` hold all three to the same
//! answers.

mod admins;
mod api_keys;
mod audit;
mod direct;
mod labels;
mod locks;
mod outbox;
pub(super) mod policies;
mod read_model;
mod reads;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{
    AttemptQuery, AttemptReads, Durable, DurableError, FactorRecord, FactorStore, UserRecord,
    UserStore,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A `SQLite` database file (or `sqlite::memory:`: a private file in a
/// temporary directory, removed with the last clone of the store).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The reset path's reads and the audit appends (`direct.rs`).
    direct: Arc<direct::Direct>,
    /// What starts read of each account, kept between starts
    /// (`read_model.rs`).
    read_model: Arc<read_model::ReadModel>,
    _scratch: Option<Arc<tempfile::TempDir>>,
}

impl SqliteStore {
    /// Open (creating the file and its directory when missing) and migrate.
    pub async fn open(url: &str) -> Result<Self, DurableError> {
        let mut options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // The direct connections need a file to share with the pool, so an
        // in-memory database is a file nobody else sees.
        let scratch = if url.contains(":memory:") {
            let dir = tempfile::tempdir()
                .map_err(|e| DurableError(format!("a private database directory: {e}")))?;
            options = options
                .in_memory(false)
                .filename(dir.path().join("resetgate.sqlite"));
            Some(Arc::new(dir))
        } else {
            None
        };
        let path = options.get_filename().to_path_buf();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            crate::crypto::create_private_dir(dir)
                .map_err(|e| DurableError(format!("{}: {e}", dir.display())))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .idle_timeout(Some(Duration::from_mins(10)))
            .max_lifetime(Some(Duration::from_hours(1)))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| DurableError(format!("migration failed: {e}")))?;
        Ok(Self {
            pool,
            direct: direct::Direct::new(path),
            read_model: Arc::default(),
            _scratch: scratch,
        })
    }

    /// A turn at writing, taken by every write on the pool before it starts
    /// (`direct.rs`: writers queue here, not on `SQLite`'s lock).
    pub(super) async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, DurableError> {
        self.direct.turn().await
    }

    /// The pool, for tests that inspect or tamper with rows.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, DurableError> {
        let username = username.to_owned();
        self.direct.read(move |tx| reads::user(tx, &username)).await
    }

    async fn create_user(&self, user: &UserRecord) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query(
            "INSERT INTO users (username, password_hash, email, disabled, created_at, password_changed_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.email)
        .bind(user.disabled)
        .bind(user.created_at)
        .bind(user.password_changed_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn password_hashes(
        &self,
        username: &str,
        depth: usize,
    ) -> Result<Vec<String>, DurableError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT password_hash FROM (
                 SELECT password_hash, 1 AS rank, 0 AS id FROM users WHERE username = ?1
                 UNION ALL
                 SELECT * FROM (SELECT password_hash, 2 AS rank, id FROM password_history
                                WHERE username = ?1 ORDER BY id DESC LIMIT ?2))
             ORDER BY rank, id DESC",
        )
        .bind(username)
        .bind(i64::try_from(depth).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(h,)| h).collect())
    }

    async fn change_password(
        &self,
        username: &str,
        new_hash: &str,
        now: i64,
        depth: usize,
    ) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "INSERT INTO password_history (username, password_hash, created_at)
             SELECT username, password_hash, ?2 FROM users WHERE username = ?1",
        )
        .bind(username)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Err(DurableError(format!("no such user {username:?}")));
        }
        sqlx::query(
            "UPDATE users SET password_hash = ?2, password_changed_at = ?3 WHERE username = ?1",
        )
        .bind(username)
        .bind(new_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM password_history WHERE username = ?1 AND id NOT IN
                 (SELECT id FROM password_history WHERE username = ?1 ORDER BY id DESC LIMIT ?2)",
        )
        .bind(username)
        .bind(i64::try_from(depth).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl FactorStore for SqliteStore {
    async fn factors(&self, username: &str) -> Result<Vec<FactorRecord>, DurableError> {
        let username = username.to_owned();
        self.direct
            .read(move |tx| reads::factors(tx, &username))
            .await
    }

    async fn add_factor(&self, f: &FactorRecord) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        sqlx::query(
            "INSERT INTO factors (id, username, kind, label, secret, phone, provisioned, created_at, last_used_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.id)
        .bind(&f.username)
        .bind(&f.kind)
        .bind(&f.label)
        .bind(&f.secret)
        .bind(&f.phone)
        .bind(f.provisioned)
        .bind(f.created_at)
        .bind(f.last_used_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_factor(&self, username: &str, id: &str) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query("DELETE FROM factors WHERE username = ? AND id = ?")
            .bind(username)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_factor_secret(
        &self,
        id: &str,
        expected: &[u8],
        new: &[u8],
    ) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query("UPDATE factors SET secret = ? WHERE id = ? AND secret = ?")
            .bind(new)
            .bind(id)
            .bind(expected)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_factor(&self, id: &str, now: i64) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        sqlx::query("UPDATE factors SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Durable for SqliteStore {
    async fn ping(&self) -> Result<(), DurableError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        self.direct.read(|_| Ok(())).await
    }

    async fn attempt(&self, request: AttemptQuery) -> Result<AttemptReads, DurableError> {
        self.attempt_reads(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, hash: &str) -> UserRecord {
        UserRecord {
            username: name.into(),
            password_hash: hash.into(),
            email: None,
            disabled: false,
            created_at: 1,
            password_changed_at: 1,
        }
    }

    async fn password_history_is_trimmed_newest_first(store: &dyn UserStore) {
        assert!(store.create_user(&user("ann", "h0")).await.unwrap());
        assert!(!store.create_user(&user("ann", "other")).await.unwrap());
        for (at, h) in [(10, "h1"), (11, "h2"), (12, "h3")] {
            store.change_password("ann", h, at, 2).await.unwrap();
        }
        assert_eq!(
            store.password_hashes("ann", 5).await.unwrap(),
            ["h3", "h2", "h1"]
        );
        assert_eq!(store.password_hashes("ann", 1).await.unwrap(), ["h3", "h2"]);
        assert!(store.change_password("nobody", "x", 1, 2).await.is_err());
    }

    #[tokio::test]
    async fn password_history_is_trimmed_newest_first_sqlite() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        password_history_is_trimmed_newest_first(&store).await;
    }

    #[tokio::test]
    async fn password_history_is_trimmed_newest_first_postgres() {
        let store = crate::store::durable::postgres_test_store().await;
        password_history_is_trimmed_newest_first(&store).await;
    }
}
