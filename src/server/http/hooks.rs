//! `POST /hooks/{id}`: an inbound webhook (see `triggers::webhook` for what it checks).

use super::api::ApiErrorBody;
use crate::server::state::AppState;
use crate::server::triggers::webhook;
use crate::triggers::MAX_HOOK_BODY_BYTES;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct HookAccepted {
    pub run_id: String,
    pub thread_id: String,
}

/// Starts the webhook's agent in a new thread (trigger `webhook`). The message is the body's
/// `message` field if it has one, otherwise the whole body as pretty JSON. The request is signed
/// with the webhook's secret (shown once when it was added): `X-Flare-Signature: sha256=` and the
/// hex HMAC-SHA256 of `"{X-Flare-Timestamp}.{raw body}"`.
#[utoipa::path(
    post, path = "/hooks/{id}", tag = "webhooks", operation_id = "receive_webhook",
    params(
        ("id" = String, Path, description = "The webhook's id, from its URL."),
        ("X-Flare-Timestamp" = i64, Header, description = "Unix seconds; at most 5 minutes from the server's clock."),
        ("X-Flare-Signature" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of `\"{timestamp}.{raw body}\"`."),
        ("X-Flare-Delivery" = Option<String>, Header, description = "The sender's delivery id: a retry with the same id starts nothing new and answers with the first run."),
    ),
    request_body(content = serde_json::Value, description = "Any JSON, at most 256 KB; a string `message` field is the message."),
    responses(
        (status = 202, description = "The run started (or, for a delivery seen before, the run it started).", body = HookAccepted),
        (status = 400, description = "The body is not JSON.", body = super::api::ApiErrorBody),
        (status = 401, description = "Unsigned, a wrong signature, or a timestamp over 5 minutes off.", body = super::api::ApiErrorBody),
        (status = 403, description = "The webhook is paused.", body = super::api::ApiErrorBody),
        (status = 404, description = "No such webhook.", body = super::api::ApiErrorBody),
        (status = 409, description = "The same signed request again (without a delivery id).", body = super::api::ApiErrorBody),
        (status = 410, description = "The webhook's agent was deleted.", body = super::api::ApiErrorBody),
        (status = 413, description = "The body is over 256 KB.", body = super::api::ApiErrorBody),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Read no more than the limit, whatever Content-Length claims.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_HOOK_BODY_BYTES).await else {
        let webhook::Refused(status, error) = webhook::refuse_oversized(&state, &id).await;
        return super::json_response(status, &ApiErrorBody { error });
    };
    let now = crate::server::db::now_ms() / 1000;
    match webhook::receive(&state, &id, &headers, &bytes, now).await {
        Ok(started) => super::json_response(
            StatusCode::ACCEPTED,
            &HookAccepted {
                run_id: started.run_id,
                thread_id: started.thread_id,
            },
        ),
        Err(webhook::Refused(status, error)) => {
            super::json_response(status, &ApiErrorBody { error })
        }
    }
}
