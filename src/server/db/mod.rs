//! The data layer: one `migrations/` folder and portable SQL over sqlx's `Any` driver, so the
//! same queries run on SQLite (the embedded default) and PostgreSQL.

pub mod admin_agent;
pub mod agents;
pub mod audit;
pub mod channels;
pub mod chat_links;
pub mod chat_replies;
pub mod connections;
pub mod escalations;
pub mod login_failures;
pub mod mailboxes;
pub mod outbox;
pub mod runs;
pub mod slas;
pub mod teams;
pub mod threads;
pub mod tokens;
pub mod triggers;
pub mod users;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool};
use std::time::{SystemTime, UNIX_EPOCH};

pub type Db = AnyPool;
pub type Tx = sqlx::Transaction<'static, Any>;

/// SQLite has one writer. The run lifecycle's hot transactions (a run started, paused,
/// completed or failed) take turns here, first come first served, instead of in SQLite's busy
/// handler, which sleeps 1 to 100 ms between tries: under a burst of webhooks that moved
/// intake from about 600 to 750 runs/s (README, Benchmarks). PostgreSQL locks rows and needs
/// no turn.
#[derive(Clone, Default)]
pub struct WriteTurn(Option<std::sync::Arc<tokio::sync::Mutex<()>>>);

/// How long a write waits for its turn: as long as the pool waits for a connection.
pub const TURN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

impl WriteTurn {
    pub fn for_backend(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self(Some(Default::default())),
            Backend::Postgres => Self(None),
        }
    }

    /// Whether writers take turns here (SQLite): one writer at a time, so writes that arrive
    /// together can share a transaction.
    pub fn is_shared(&self) -> bool {
        self.0.is_some()
    }

    /// Waits for the turn (held until the guard drops: after the commit), at most
    /// [`TURN_DEADLINE`]. Never take it while holding it: it is not reentrant.
    pub async fn take(&self) -> Result<Option<tokio::sync::OwnedMutexGuard<()>>, sqlx::Error> {
        let Some(turn) = &self.0 else {
            return Ok(None);
        };
        tokio::time::timeout(TURN_DEADLINE, turn.clone().lock_owned())
            .await
            .map(Some)
            .map_err(|_| sqlx::Error::PoolTimedOut)
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(anyhow::anyhow!(
                "DATABASE_URL must start with sqlite: or postgres:, got {:?}",
                url.split(':').next().unwrap_or_default()
            ))
        }
    }
}

/// Opens the pool (creating a SQLite file and its folder when missing) and applies migrations.
pub async fn connect(url: &str) -> anyhow::Result<Db> {
    use anyhow::Context;
    install_default_drivers();
    let backend = Backend::of(url)?;
    let url = match backend {
        Backend::Sqlite => sqlite_url_with_create(url)?,
        Backend::Postgres => url.to_string(),
    };
    // SQLite runs each connection on its own thread and writes one at a time: two per core
    // serve reads in parallel; more only add thread hand-offs (on 2 cores, 4 instead of 8 gave
    // the Escalations page ~10% more throughput and steadier figures).
    let sqlite_connections = std::thread::available_parallelism()
        .map(|n| n.get() as u32 * 2)
        .unwrap_or(4)
        .max(4);
    let pool = AnyPoolOptions::new()
        .max_connections(if backend == Backend::Sqlite {
            sqlite_connections
        } else {
            16
        })
        .connect(&url)
        .await
        .context("cannot open the database")?;
    if backend == Backend::Sqlite {
        // WAL lets readers proceed while one writer commits; it is stored in the file.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await
            .context("cannot switch SQLite to WAL")?;
    }
    MIGRATOR
        .run(&pool)
        .await
        .context("cannot apply migrations")?;
    Ok(pool)
}

fn sqlite_url_with_create(url: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if !path.is_empty()
        && path != ":memory:"
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}

/// A value for a query built at run time (filters that may or may not apply).
pub enum Arg {
    Text(String),
    Int(i64),
}

/// The arguments of a query built at run time, numbered as they are added.
#[derive(Default)]
pub struct Params(Vec<Arg>);

impl Params {
    /// Adds a value; returns its placeholder (`$n`).
    pub fn add(&mut self, a: Arg) -> String {
        self.0.push(a);
        format!("${}", self.0.len())
    }

    pub fn text(&mut self, s: &str) -> String {
        self.add(Arg::Text(s.to_string()))
    }

    pub fn int(&mut self, i: i64) -> String {
        self.add(Arg::Int(i))
    }

    /// `$a, $b, …` for an `IN (…)` list (portable: one placeholder per value).
    pub fn list(&mut self, items: &[String]) -> String {
        items
            .iter()
            .map(|t| self.text(t))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Runs `sql` (a statement that returns no rows) with these arguments.
    pub async fn execute<'e, E: sqlx::Executor<'e, Database = Any>>(
        self,
        sql: &str,
        ex: E,
    ) -> Result<sqlx::any::AnyQueryResult, sqlx::Error> {
        let mut q = sqlx::query(sql);
        for a in self.0 {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        q.execute(ex).await
    }

    pub fn bind<'q, O>(
        self,
        mut q: sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>> {
        for a in self.0 {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sqlite_writers_take_turns_and_postgres_needs_none() {
        let turn = WriteTurn::for_backend(Backend::Sqlite);
        let first = turn.take().await.unwrap();
        assert!(first.is_some());
        let second = tokio::time::timeout(Duration::from_millis(50), turn.take()).await;
        assert!(second.is_err(), "a second writer waits for the first");
        drop(first);
        assert!(turn.clone().take().await.unwrap().is_some());
        let pg = WriteTurn::for_backend(Backend::Postgres);
        let (a, b) = (pg.take().await.unwrap(), pg.take().await.unwrap());
        assert!(a.is_none() && b.is_none());
    }
}
