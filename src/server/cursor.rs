//! Keyset page cursors as they appear in URLs (`<time>_<id>`), read strictly: a forged or
//! damaged one gets one clear error, never a guess.

use crate::error::AppError;

pub fn damaged() -> AppError {
    AppError::invalid("This page link is damaged or out of date. Start again from the first page.")
}

/// Whether `id` looks like the UUIDs Flare makes.
pub fn is_id(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

pub fn number(s: &str) -> Result<i64, AppError> {
    s.parse().map_err(|_| damaged())
}

/// `<time>_<id>`: the last row shown, by time then id.
pub fn time_and_id(raw: &str) -> Result<(i64, String), AppError> {
    match raw.split('_').collect::<Vec<_>>().as_slice() {
        [t, id] if is_id(id) => Ok((number(t)?, id.to_string())),
        _ => Err(damaged()),
    }
}
