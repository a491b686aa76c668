//! Platform state: an embedded SQLite database by default (WAL, busy timeout, foreign
//! keys, migrations embedded in the binary, from `storage/migrations`). Every query
//! goes through [`Store`] and [`Tx`], from the `src/db/` module of the crate it belongs
//! to, behind that crate's storage traits; a second backend (PostgreSQL for several
//! nodes) implements those traits for its own store.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("opening the database {path}: {source}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        source: sqlx::Error,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// Something the store depends on failed (what, in words for the log).
    #[error("{0}")]
    Failed(String),
    /// Applying migrations failed.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// The one connection that writes.
    writer: SqlitePool,
}

/// A write transaction on the store's one writing connection, begun with
/// `BEGIN IMMEDIATE` so that it never has to upgrade from a read. Dropped without
/// [`Tx::commit`], it rolls back.
///
/// SQLite lets one writer in at a time. Writers of this process wait for the writing
/// connection in the pool's queue, in order, and wake as soon as it is free; were they
/// to race on several connections, the losers would sleep in SQLite's busy handler (up
/// to 100 ms a try) while the database sat idle.
///
/// The type belongs to this crate, not to the driver: the domain crates' storage
/// modules reach the connection through it (`&mut **tx`), and nothing else of theirs
/// names the driver, so a second backend changes what is inside.
pub struct Tx(Transaction<'static, Sqlite>);

impl Tx {
    /// Makes the transaction's writes durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }
}

impl std::ops::Deref for Tx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.0
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite file at `path` and applies the schema's
    /// migrations. Data migrations that need a domain rule run above this crate (the
    /// application layer's `platform::store::open`).
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                source: sqlx::Error::Io(e),
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let failed = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await
            .map_err(failed)?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(failed)?;
        Ok(Store { pool, writer })
    }

    /// The connection pool, for reads.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a write transaction.
    pub async fn write(&self) -> Result<Tx, StoreError> {
        Ok(Tx(self.writer.begin_with("BEGIN IMMEDIATE").await?))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A new opaque id: 16 random bytes, hex.
pub fn new_id() -> String {
    hex(&random_bytes::<16>())
}

/// Cryptographically random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator works");
    bytes
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// The size and lower-case hex SHA-256 of a file, read in pieces (results can be large).
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((size, hex(context.finish().as_ref())));
        }
        context.update(&buffer[..n]);
        size += n as u64;
    }
}

/// Now, as stored: RFC 3339 in UTC with millisecond precision.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// China's time, UTC+8. The platform's days are China's days: deadlines, daily quotas,
/// report periods and disclosure windows count from them.
pub fn beijing() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Today in China.
pub fn china_today() -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&beijing()).date_naive()
}

/// The day in China of a stored RFC 3339 time.
pub fn china_day(stored: &str) -> Option<chrono::NaiveDate> {
    chrono::DateTime::parse_from_rfc3339(stored)
        .ok()
        .map(|t| t.with_timezone(&beijing()).date_naive())
}

/// The instant China's `day` begins, written as [`now`] writes times (UTC), so that
/// stored times compare with it as text.
pub fn china_day_starts(day: chrono::NaiveDate) -> String {
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_local_timezone(beijing())
        .single()
        .expect("a fixed offset has one midnight");
    midnight
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The midnight that ends today in China, for display (RFC 3339, `+08:00`).
pub fn china_midnight_tonight() -> String {
    format!(
        "{}T00:00:00+08:00",
        china_today() + chrono::Duration::days(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn files_hash_in_pieces_as_a_whole() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("result.parquet");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(
            sha256_file(&path).expect("reads"),
            (bytes.len() as u64, sha256_hex(&bytes))
        );
        assert!(sha256_file(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn days_are_chinas_days() {
        let day = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // China's 23 November begins at 16:00 UTC on the 22nd.
        assert_eq!(
            china_day_starts(day("2026-11-23")),
            "2026-11-22T16:00:00.000Z"
        );
        assert_eq!(
            china_day("2026-11-22T15:59:59.999Z"),
            Some(day("2026-11-22"))
        );
        assert_eq!(
            china_day("2026-11-22T16:00:00.000Z"),
            Some(day("2026-11-23"))
        );
        assert_eq!(
            china_day("2026-11-23T00:30:00+08:00"),
            Some(day("2026-11-23"))
        );
        assert_eq!(china_day("yesterday"), None);
        // Stored times compare with a day's start as text.
        let start = china_day_starts(day("2026-11-23"));
        assert!("2026-11-22T16:00:00.001Z" >= start.as_str());
        assert!("2026-11-22T15:59:59.999Z" < start.as_str());
        let tonight = china_midnight_tonight();
        assert!(tonight.ends_with("T00:00:00+08:00"), "{tonight}");
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(&tonight)
                .unwrap()
                .date_naive(),
            china_today() + chrono::Duration::days(1)
        );
    }
}
