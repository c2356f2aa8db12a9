//! `POST /integrations/slack/{channel}` and `POST /integrations/discord/{channel}`: what Slack
//! and Discord send when someone clicks an escalation's button or submits the guidance modal
//! (see `notifications::answers` for what they check), and `POST
//! /integrations/slack/{channel}/events`: messages people write to a Slack channel's bot.

use super::api::ApiErrorBody;
use crate::server::notifications::answers::{self, Refused};
use crate::server::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// Slack's interaction payloads are a few kilobytes; an event carries a message of up to 40,000
/// characters twice (as text and as rich-text blocks).
const MAX_BODY_BYTES: usize = 256 * 1024;

pub async fn slack(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read(body).await {
        Ok(b) => b,
        Err(r) => return refusal(r),
    };
    let now = crate::server::db::now_ms() / 1000;
    answered(answers::slack_request(&state, &channel_id, &headers, &bytes, now).await)
}

/// Messages people write to a Slack channel's bot (Slack's Events API): each starts a run of
/// the channel's agent (see `triggers::chat`).
pub async fn slack_events(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read(body).await {
        Ok(b) => b,
        Err(r) => return refusal(r),
    };
    let now = crate::server::db::now_ms() / 1000;
    let handled =
        crate::server::triggers::chat::slack_event(&state, &channel_id, &headers, &bytes, now)
            .await;
    answered(handled)
}

/// Slack's answer: some JSON, or an empty 200, or the refusal.
fn answered(handled: Result<Option<serde_json::Value>, Refused>) -> Response {
    match handled {
        Ok(Some(json)) => super::json_response(StatusCode::OK, &json),
        Ok(None) => StatusCode::OK.into_response(),
        Err(r) => refusal(r),
    }
}

pub async fn discord(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read(body).await {
        Ok(b) => b,
        Err(r) => return refusal(r),
    };
    let now = crate::server::db::now_ms() / 1000;
    match answers::discord_request(&state, &channel_id, &headers, &bytes, now).await {
        Ok(json) => super::json_response(StatusCode::OK, &json),
        Err(r) => refusal(r),
    }
}

/// The body, at most [`MAX_BODY_BYTES`] whatever Content-Length claims.
async fn read(body: Body) -> Result<axum::body::Bytes, Refused> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            Refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request is over 256 KB.".into(),
            )
        })
}

fn refusal(Refused(status, error): Refused) -> Response {
    super::json_response(status, &ApiErrorBody { error })
}
