//! Tokens for outside the app: an *embed* token shows one team's open-escalation widget in
//! another site's `<iframe>`; an *API* token reads the JSON API, and an *API (read and write)*
//! token may also start runs and answer escalations. Owners and admins create and revoke them
//! for their teams; Flare keeps only a hash.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

crate::names::stored_enum! {
    pub enum TokenKind as "token kind" {
        Embed,
        /// The API, reading only.
        Api,
        /// The API, reading and writing: start runs, answer escalations.
        #[serde(rename = "api_write")]
        #[strum(serialize = "api_write")]
        ApiWrite,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub kind: TokenKind,
    pub name: String,
    pub team_name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// A new token: the only time its value is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub id: String,
    pub kind: TokenKind,
    pub value: String,
}

/// Open escalations by severity: what the widget shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub total: i64,
    pub info: i64,
    pub warning: i64,
    pub critical: i64,
    /// Open past their SLA.
    #[serde(default)]
    pub overdue: i64,
}

#[server(endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    crate::server::tokens::list().await
}

#[server(endpoint = "create_token")]
pub async fn create_token(
    kind: String,
    team_id: String,
    name: String,
) -> Result<NewToken, AppError> {
    crate::server::tokens::create(kind, team_id, name).await
}

#[server(endpoint = "revoke_token")]
pub async fn revoke_token(token_id: String) -> Result<(), AppError> {
    crate::server::tokens::revoke(token_id).await
}

/// The signed-in user's teams' open escalations by severity (the dashboard widget).
#[server(endpoint = "open_counts")]
pub async fn open_counts() -> Result<SeverityCounts, AppError> {
    crate::server::tokens::counts_for_viewer().await
}

/// The same for an embed token's team (the embedded widget; no session).
#[server(endpoint = "embed_counts")]
pub async fn embed_counts(token: String) -> Result<SeverityCounts, AppError> {
    crate::server::tokens::counts_for_embed(token).await
}
