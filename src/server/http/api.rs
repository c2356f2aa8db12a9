//! The JSON API under `/api/v1`, read with a team-scoped bearer token.

use crate::server::db::tokens::TokenRow;
use crate::server::state::AppState;
use crate::tokens::TokenKind;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(serde::Deserialize)]
pub struct ApiListQuery {
    status: Option<String>,
    limit: Option<String>,
}

/// The one error shape of `/api/v1`: `{"error": "…"}` with its status (and, for a missing or
/// bad token, `WWW-Authenticate: Bearer`).
pub struct ApiError(StatusCode, &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.0,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "error": self.1 }).to_string(),
        )
            .into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "api: database error");
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side.",
        )
    }
}

/// A live API token from `Authorization: Bearer flr_api_…`: the handler only runs with one.
pub struct ApiToken(pub TokenRow);

impl FromRequestParts<AppState> for ApiToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .trim();
        crate::server::tokens::authenticate(&state.db, TokenKind::Api, token)
            .await?
            .map(ApiToken)
            .ok_or(ApiError(
                StatusCode::UNAUTHORIZED,
                "A valid API token is required (Authorization: Bearer flr_api_…); it may have been revoked.",
            ))
    }
}

/// `GET /api/v1/escalations?status=open|answered&limit=1..100` with `Authorization: Bearer
/// flr_api_…`: the token's team's escalations, newest first, as JSON.
pub async fn api_escalations(
    State(state): State<AppState>,
    ApiToken(row): ApiToken,
    Query(q): Query<ApiListQuery>,
) -> Result<Response, ApiError> {
    let open = match q.status.as_deref() {
        None | Some("open") => true,
        Some("answered") => false,
        Some(_) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "status must be open or answered.",
            ));
        }
    };
    let limit = match q.limit.as_deref().map(str::parse::<i64>) {
        None => 50,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "limit must be a number from 1 to 100.",
            ));
        }
    };
    let teams = [row.team_id.clone()];
    let filter = crate::server::db::escalations::Filter {
        team_ids: &teams,
        open,
        severity: None,
        agent_id: None,
        trigger: None,
        order: if open {
            crate::server::db::escalations::Order::Newest
        } else {
            crate::server::db::escalations::Order::Answered
        },
        after: None,
        limit,
    };
    let (rows, total) = tokio::try_join!(
        crate::server::db::escalations::list(&state.db, &filter),
        crate::server::db::escalations::count_open(&state.db, &teams)
    )?;
    let items: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id, "agent": e.agent_name, "reason": e.reason, "severity": e.severity,
                "trigger": e.trigger, "thread_id": e.thread_id, "status": e.status,
                "blocking": e.blocking != 0, "created_at_ms": e.created_at,
                "answered_at_ms": e.answered_at, "responder": e.responder, "guidance": e.guidance,
            })
        })
        .collect();
    let body = serde_json::json!({
        "team": row.team_name, "open_count": total, "escalations": items,
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}
