//! `POST /hooks/{id}`: an inbound webhook (see `triggers::webhook` for what it checks).

use crate::server::state::AppState;
use crate::server::triggers::webhook;
use crate::triggers::MAX_HOOK_BODY_BYTES;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Read no more than the limit, whatever Content-Length claims.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_HOOK_BODY_BYTES).await else {
        return super::json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            serde_json::json!({ "error": format!(
                "The body is over {} KB; nothing was started.",
                MAX_HOOK_BODY_BYTES / 1024
            ) }),
        );
    };
    let now = crate::server::db::now_ms() / 1000;
    match webhook::receive(&state, &id, &headers, &bytes, now).await {
        Ok(started) => super::json_response(
            StatusCode::ACCEPTED,
            serde_json::json!({ "run_id": started.run_id, "thread_id": started.thread_id }),
        ),
        Err(webhook::Refused(status, msg)) => {
            super::json_response(status, serde_json::json!({ "error": msg }))
        }
    }
}
