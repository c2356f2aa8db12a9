//! Counting failed sign-ins, in the database so that every Flare instance sees the same counts.

use super::Db;

/// Failures counted within this window; the window restarts after it passes.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
pub const MAX_PER_ACCOUNT: i64 = 5;
pub const MAX_PER_ADDRESS: i64 = 20;

/// Milliseconds until `key` may try again, if it is locked out at `now`.
pub async fn locked_for(
    db: &Db,
    key: &str,
    limit: i64,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT failures, window_start FROM login_failures WHERE key = $1")
            .bind(key)
            .fetch_optional(db)
            .await?;
    Ok(match row {
        Some((failures, start)) if failures >= limit && now - start < WINDOW_MS => {
            Some(start + WINDOW_MS - now)
        }
        _ => None,
    })
}

/// Counts one failure, atomically, starting a new window when the old one has passed.
pub async fn record_failure(db: &Db, key: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_failures (key, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_failures.window_start <= $3 THEN 1 \
                           ELSE login_failures.failures + 1 END, \
           window_start = CASE WHEN login_failures.window_start <= $3 THEN $2 \
                               ELSE login_failures.window_start END",
    )
    .bind(key)
    .bind(now)
    .bind(now - WINDOW_MS)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn clear(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}
