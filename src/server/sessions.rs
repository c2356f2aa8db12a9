//! A tower-sessions store on our own pool, so sessions live in the same database (SQLite or
//! PostgreSQL) and survive restarts and are shared by every instance. A session is stored
//! under the SHA-256 of its id (the cookie's value): reading the table gives no one a way in.
//! Each row names its user, so all of a user's sessions can be ended at once.

use super::db::Db;
use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

#[derive(Clone, Debug)]
pub struct SqlSessionStore {
    db: Db,
}

impl SqlSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

/// The stored key of a session id.
fn key(id: &Id) -> String {
    super::tokens::hash(&id.to_string())
}

/// The signed-in user a session belongs to, if any.
fn user_of(record: &Record) -> Option<String> {
    record
        .data
        .get(super::auth::USER_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

impl SqlSessionStore {
    /// Ends every session of `user_id` but `keep` (the caller's own, on a password change).
    pub async fn end_all_of(&self, user_id: &str, keep: Option<&Id>) -> Result<u64, sqlx::Error> {
        let kept = keep.map(key).unwrap_or_default();
        Ok(
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                .bind(user_id)
                .bind(kept)
                .execute(&self.db)
                .await?
                .rows_affected(),
        )
    }

    /// Whether the session `id` is still there and signed in as `user_id`.
    pub async fn is_signed_in(&self, id: &Id, user_id: &str) -> Result<bool, sqlx::Error> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT user_id FROM sessions WHERE id = $1 AND expiry_date > $2")
                .bind(key(id))
                .bind(OffsetDateTime::now_utc().unix_timestamp())
                .fetch_optional(&self.db)
                .await?;
        Ok(row.and_then(|r| r.0).as_deref() == Some(user_id))
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    /// A new session never takes over an existing one: on an id collision, draw another id.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode(record)?;
        loop {
            let done = sqlx::query(
                "INSERT INTO sessions (id, data, expiry_date, user_id) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(key(&record.id))
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .bind(user_of(record))
            .execute(&self.db)
            .await
            .map_err(backend)?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        sqlx::query(
            "INSERT INTO sessions (id, data, expiry_date, user_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
               expiry_date = excluded.expiry_date, user_id = excluded.user_id",
        )
        .bind(key(&record.id))
        .bind(data)
        .bind(record.expiry_date.unix_timestamp())
        .bind(user_of(record))
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT data, expiry_date FROM sessions WHERE id = $1 AND expiry_date > $2",
        )
        .bind(key(id))
        .bind(OffsetDateTime::now_utc().unix_timestamp())
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        let Some((data, expiry)) = row else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: OffsetDateTime::from_unix_timestamp(expiry)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(key(id))
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for SqlSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expiry_date <= $1")
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
