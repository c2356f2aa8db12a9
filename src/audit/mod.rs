//! The audit trail: who did what, when. Owners and admins read it; entries about a team's data
//! (agents, escalations) only if they belong to that team.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub const AUDIT_PAGE_SIZE: usize = 50;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditEntry>,
    /// The cursor of the next (older) page.
    pub next: Option<String>,
    /// Who and what appear in the trail, for the filters.
    pub actors: Vec<String>,
    pub actions: Vec<String>,
}

/// A page of the audit trail, newest first. `from` and `to` are days (`YYYY-MM-DD`, UTC,
/// both included).
#[server(endpoint = "list_audit")]
pub async fn list_audit(
    actor: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<String>,
) -> Result<AuditPage, AppError> {
    crate::server::audit::list(actor, action, from, to, after).await
}

/// `YYYY-MM-DD` to the first millisecond of that day (UTC).
pub fn day_start_ms(day: &str) -> Result<i64, AppError> {
    let bad = || {
        AppError::invalid(format!(
            "\u{201c}{day}\u{201d} is not a date like 2026-11-26."
        ))
    };
    let parts: Vec<&str> = day.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in[m as usize - 1]
    {
        return Err(bad());
    }
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * 86_400_000)
}

#[cfg(test)]
mod tests {
    use super::day_start_ms;

    #[test]
    fn days_are_utc_midnights() {
        assert_eq!(day_start_ms("1970-01-01").unwrap(), 0);
        assert_eq!(day_start_ms("2026-11-26").unwrap(), 1_795_651_200_000);
        assert_eq!(day_start_ms("2024-02-29").unwrap(), 1_709_164_800_000);
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "26-11-2026",
            "yesterday",
            "2026-11-26; DROP",
        ] {
            assert!(day_start_ms(bad).is_err(), "{bad}");
        }
    }
}
