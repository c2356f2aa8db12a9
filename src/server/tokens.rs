//! Embed and API tokens: created and revoked by a team's owners and admins, checked by hash.

use super::auth::viewer;
use super::db::Db;
use super::db::audit;
use super::db::tokens::{self, TokenRow};
use super::state::app_state;
use crate::error::AppError;
use crate::live::{Change, LiveEvent};
use crate::tokens::{NewToken, SeverityCounts, TokenInfo, TokenKind};
use crate::validate;
use sha2::{Digest, Sha256};

pub fn hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Embed => "flr_embed_",
        TokenKind::Api => "flr_api_",
        TokenKind::ApiWrite => "flr_api_rw_",
    }
}

/// The token's row if `value` is a live token of `kind`; `None` for anything else (mistyped,
/// forged, revoked, another kind), without telling which.
pub async fn authenticate(
    db: &Db,
    kind: TokenKind,
    value: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    let well_formed = value
        .strip_prefix(prefix(kind))
        .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return Ok(None);
    }
    tokens::active(db, kind.as_str(), &hash(value)).await
}

/// The row of a live API token of either kind (its `kind` says whether it may write).
pub async fn authenticate_api(db: &Db, value: &str) -> Result<Option<TokenRow>, sqlx::Error> {
    let kind = match value.starts_with(prefix(TokenKind::ApiWrite)) {
        true => TokenKind::ApiWrite,
        false => TokenKind::Api,
    };
    authenticate(db, kind, value).await
}

fn info(r: TokenRow) -> TokenInfo {
    TokenInfo {
        kind: r.kind,
        id: r.id,
        name: r.name,
        team_name: r.team_name,
        created_at_ms: r.created_at,
        revoked_at_ms: r.revoked_at,
    }
}

pub async fn list() -> Result<Vec<TokenInfo>, AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    let state = app_state()?;
    Ok(tokens::for_teams(&state.db, &v.team_ids)
        .await?
        .into_iter()
        .map(info)
        .collect())
}

pub async fn create(kind: String, team_id: String, name: String) -> Result<NewToken, AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    v.require_team(&team_id)?;
    let kind = kind.parse::<TokenKind>().map_err(|_| {
        AppError::invalid(
            "A token is for the embed widget, the API (read) or the API (read and write).",
        )
    })?;
    let name = validate::name(&name, "token name", 80)?;
    let state = app_state()?;
    let value = format!("{}{}", prefix(kind), super::secret_box::random_hex());
    let id = tokens::insert(
        &state.db,
        &team_id,
        kind.as_str(),
        &name,
        &hash(&value),
        &v.user.id,
    )
    .await?;
    audit::record_for(
        &state.db,
        v.actor(),
        Some(&team_id),
        "token.created",
        &id,
        &format!("{}: {name}", kind.as_str()),
    )
    .await?;
    Ok(NewToken { id, kind, value })
}

pub async fn revoke(token_id: String) -> Result<(), AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    let state = app_state()?;
    let not_found = || AppError::NotFound("No such token.".into());
    let row = tokens::by_id(&state.db, &token_id)
        .await?
        .ok_or_else(not_found)?;
    v.require_team(&row.team_id).map_err(|_| not_found())?;
    if !tokens::revoke(&state.db, &row.id).await? {
        return Err(AppError::Conflict("This token was revoked already.".into()));
    }
    audit::record_for(
        &state.db,
        v.actor(),
        Some(&row.team_id),
        "token.revoked",
        &row.id,
        &row.name,
    )
    .await?;
    // Open embedded widgets using it close their live stream at once, on every instance.
    let ev = LiveEvent::in_team(&row.team_id, Change::TokenRevoked { token_id: row.id });
    state.events.publish(&state.db, ev).await;
    Ok(())
}

pub async fn counts(db: &Db, team_ids: &[String]) -> Result<SeverityCounts, sqlx::Error> {
    let mut c = SeverityCounts::default();
    for (severity, n) in tokens::open_by_severity(db, team_ids).await? {
        match severity.as_str() {
            "info" => c.info = n,
            "critical" => c.critical = n,
            _ => c.warning += n,
        }
        c.total += n;
    }
    c.overdue = super::db::escalations::count_overdue(db, team_ids, super::db::now_ms()).await?;
    Ok(c)
}

pub async fn counts_for_viewer() -> Result<SeverityCounts, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    Ok(counts(&state.db, &v.team_ids).await?)
}

pub fn invalid_embed() -> AppError {
    AppError::Forbidden("This widget's token is not valid: it was revoked or mistyped.".into())
}

pub async fn counts_for_embed(token: String) -> Result<SeverityCounts, AppError> {
    let state = app_state()?;
    let row = authenticate(&state.db, TokenKind::Embed, &token)
        .await?
        .ok_or_else(invalid_embed)?;
    Ok(counts(&state.db, &[row.team_id]).await?)
}
