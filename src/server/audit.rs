//! Server side of the audit page: owners and admins only, team entries scoped to their teams.

use super::auth::viewer;
use super::db::audit::{self, AuditFilter};
use super::state::app_state;
use crate::audit::{AUDIT_PAGE_SIZE, AuditEntry, AuditPage, day_start_ms};
use crate::error::AppError;

const DAY_MS: i64 = 86_400_000;

fn some(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

pub async fn list(
    actor: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<String>,
) -> Result<AuditPage, AppError> {
    let v = viewer().await?;
    if !v.user.role.can_manage() {
        return Err(AppError::Forbidden(
            "Only owners and admins can read the audit trail.".into(),
        ));
    }
    let state = app_state()?;
    let from_ms = some(from).map(|d| day_start_ms(&d)).transpose()?;
    let until_ms = some(to)
        .map(|d| day_start_ms(&d).map(|t| t + DAY_MS))
        .transpose()?;
    if let (Some(a), Some(b)) = (from_ms, until_ms)
        && a >= b
    {
        return Err(AppError::invalid("The start date is after the end date."));
    }
    let (actor, action) = (some(actor), some(action));
    let filter = AuditFilter {
        team_ids: &v.team_ids,
        actor: actor.as_deref(),
        action: action.as_deref(),
        from_ms,
        until_ms,
        after: some(after)
            .map(|a| super::cursor::time_and_id(&a))
            .transpose()?,
        limit: AUDIT_PAGE_SIZE as i64 + 1,
    };
    let mut rows = audit::page(&state.db, &filter).await?;
    let next = (rows.len() > AUDIT_PAGE_SIZE).then(|| {
        rows.truncate(AUDIT_PAGE_SIZE);
        rows.last()
            .map(|r| format!("{}_{}", r.at, r.id))
            .unwrap_or_default()
    });
    Ok(AuditPage {
        rows: rows
            .into_iter()
            .map(|r| AuditEntry {
                at_ms: r.at,
                actor: r.actor,
                action: r.action,
                subject: r.subject,
                detail: r.detail,
            })
            .collect(),
        next,
        actors: audit::distinct(&state.db, "actor", &v.team_ids).await?,
        actions: audit::distinct(&state.db, "action", &v.team_ids).await?,
    })
}
