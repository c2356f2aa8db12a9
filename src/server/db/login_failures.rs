//! Counting failed sign-ins, in the database so that every Flare instance sees the same counts.

use super::Db;

/// Failures counted within this window; the window restarts after it passes.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
pub const MAX_PER_ACCOUNT: i64 = 5;
pub const MAX_PER_ADDRESS: i64 = 20;

/// Reserves one attempt for `key`, atomically, before the password is checked: the attempt
/// counts as a failure until it proves right (then `release` or `clear`). So concurrent
/// guesses can never get more than `limit` checks per window, however many arrive at once.
/// Returns the milliseconds until `key` may try again when this attempt is over the limit.
pub async fn reserve(db: &Db, key: &str, limit: i64, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let (failures, start): (i64, i64) = sqlx::query_as(
        "INSERT INTO login_failures (key, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_failures.window_start <= $3 THEN 1 \
                           ELSE login_failures.failures + 1 END, \
           window_start = CASE WHEN login_failures.window_start <= $3 THEN $2 \
                               ELSE login_failures.window_start END \
         RETURNING failures, window_start",
    )
    .bind(key)
    .bind(now)
    .bind(now - WINDOW_MS)
    .fetch_one(db)
    .await?;
    Ok((failures > limit).then(|| (start + WINDOW_MS - now).max(1)))
}

/// Gives back one reserved attempt (the attempt was right).
pub async fn release(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE login_failures SET failures = failures - 1 WHERE key = $1 AND failures > 0",
    )
    .bind(key)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes counts whose window has passed (they no longer lock anyone); run periodically.
pub async fn sweep(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM login_failures WHERE window_start <= $1")
            .bind(now - WINDOW_MS)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

pub async fn clear(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}
