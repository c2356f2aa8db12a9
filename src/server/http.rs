//! The axum router: Leptos pages and server functions, `/healthz`, the session layer, and the
//! gate that sends signed-out visitors to the sign-in page.

use super::auth;
use super::sessions::SqlSessionStore;
use super::state::AppState;
use crate::app::{App, shell};
use crate::error::AppError;
use crate::live::{Change, LiveEvent};
use crate::tokens::TokenKind;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

pub const SESSION_COOKIE: &str = "flare_session";

/// The largest request body Flare reads (a 100 KB Description, percent-encoded, fits easily).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Sets the HTTP status of the server-function response being written (see `AppError::ser`).
/// A plain HTML form post (no JavaScript) keeps its redirect back to the form instead, where
/// the error is shown.
pub fn set_error_status(status: u16) {
    let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let plain_form = use_context::<axum::http::request::Parts>().is_some_and(|p| {
        p.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if !plain_form && let Ok(code) = StatusCode::from_u16(status) {
        res.set_status(code);
    }
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let session_layer = SessionManagerLayer::new(SqlSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(14)));
    let leptos_options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route(crate::live::LIVE_PATH, get(live))
        .route("/embed/live", get(embed_live))
        .route("/api/v1/escalations", get(api_escalations))
        .leptos_routes_with_context(
            &state,
            routes,
            || provide_context(super::escalations::OpenCountOnce::default()),
            move || shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(middleware::from_fn(reject_invalid_utf8))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(session_layer)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    match super::db::ping(&state.db).await {
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ok","database":"ok"}"#,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"status":"error","database":"unreachable"}"#,
            )
                .into_response()
        }
    }
}

/// What a live stream does with one event.
enum Keep {
    Send(String),
    Skip,
    End,
    /// Send this, then end the stream.
    Last(String),
}

/// A Server-Sent Events stream of the bus, through `keep`; ends when the server shuts down.
fn event_stream(
    state: &AppState,
    keep: impl Fn(&super::events::Published) -> Keep + Send + 'static,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let rx = state.events.subscribe();
    let closing = state.closing.subscribe();
    let stream = futures::stream::unfold(
        (rx, closing, keep, false),
        |(mut rx, mut closing, keep, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let next = tokio::select! {
                    r = rx.recv() => r,
                    _ = closing.wait_for(|c| *c) => return None,
                };
                let mut last = false;
                let event = match next {
                    Ok(ev) => match keep(&ev) {
                        Keep::Send(data) => Event::default().data(data),
                        Keep::Skip => continue,
                        Keep::End => return None,
                        Keep::Last(data) => {
                            last = true;
                            Event::default().data(data)
                        }
                    },
                    // Fell behind: the page refetches everything it shows.
                    Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
                    Err(RecvError::Closed) => return None,
                };
                return Some((
                    Ok::<_, std::convert::Infallible>(event),
                    (rx, closing, keep, last),
                ));
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /api/live`: Server-Sent Events for the signed-in user's teams, and nothing else.
/// Team membership is read when the stream opens; a page reconnects (and refetches) after a
/// drop, which also picks up membership changes.
async fn live(State(state): State<AppState>, session: Session) -> Response {
    let viewer = match auth::resolve(&state.db, &session).await {
        Ok(Some(v)) => v,
        Ok(None) => return error_response(StatusCode::UNAUTHORIZED, AppError::Unauthorized),
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let teams = viewer.team_ids;
    event_stream(&state, move |p| {
        if !teams.contains(&p.event.team_id)
            || matches!(p.event.change, Change::TokenRevoked { .. })
        {
            return Keep::Skip;
        }
        Keep::Send(p.json.clone())
    })
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// `GET /embed/live?token=…`: the embedded widget's stream: "escalations changed" for the
/// token's team, nothing else; it ends when the token is revoked.
async fn embed_live(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let row = match super::tokens::authenticate(&state.db, TokenKind::Embed, &q.token).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_response(StatusCode::FORBIDDEN, super::tokens::invalid_embed()),
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, AppError::from(e)),
    };
    event_stream(&state, move |p| {
        let ev = &p.event;
        if ev.team_id != row.team_id {
            return Keep::Skip;
        }
        match &ev.change {
            // Said before the stream ends, so the widget shows why instead of a stale count
            // and stops reconnecting.
            Change::TokenRevoked { token_id } if *token_id == row.id => {
                widget_event(Change::TokenRevoked {
                    token_id: String::new(),
                })
                .map_or(Keep::End, Keep::Last)
            }
            // "Escalations changed", with no ids or text: the widget only recounts.
            Change::Escalation { status, .. } => widget_event(Change::Escalation {
                escalation_id: String::new(),
                status: status.clone(),
            })
            .map_or(Keep::Skip, Keep::Send),
            _ => Keep::Skip,
        }
    })
}

/// An event for an embedded widget: the change alone, without the team or thread it concerns.
fn widget_event(change: Change) -> Option<String> {
    serde_json::to_string(&LiveEvent {
        team_id: String::new(),
        thread_id: String::new(),
        change,
    })
    .ok()
}

#[derive(serde::Deserialize)]
struct ApiListQuery {
    status: Option<String>,
    limit: Option<String>,
}

fn api_error(status: StatusCode, message: &str) -> Response {
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
    }
    res
}

/// `GET /api/v1/escalations?status=open|answered&limit=1..100` with `Authorization: Bearer
/// flr_api_…`: the token's team's escalations, newest first, as JSON.
async fn api_escalations(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<ApiListQuery>,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim();
    let row = match super::tokens::authenticate(&state.db, TokenKind::Api, token).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return api_error(
                StatusCode::UNAUTHORIZED,
                "A valid API token is required (Authorization: Bearer flr_api_…); it may have been revoked.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "api: database error");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            );
        }
    };
    let open = match q.status.as_deref() {
        None | Some("open") => true,
        Some("answered") => false,
        Some(_) => return api_error(StatusCode::BAD_REQUEST, "status must be open or answered."),
    };
    let limit = match q.limit.as_deref().map(str::parse::<i64>) {
        None => 50,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "limit must be a number from 1 to 100.",
            );
        }
    };
    let teams = [row.team_id.clone()];
    let filter = super::db::escalations::Filter {
        team_ids: &teams,
        open,
        severity: None,
        agent_id: None,
        trigger: None,
        order: if open {
            super::db::escalations::Order::Newest
        } else {
            super::db::escalations::Order::Answered
        },
        after: None,
        limit,
    };
    let (rows, total) = match tokio::try_join!(
        super::db::escalations::list(&state.db, &filter),
        super::db::escalations::count_open(&state.db, &teams)
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "api: database error");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            );
        }
    };
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
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(status: StatusCode, error: AppError) -> Response {
    let body = serde_json::to_string(&error).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Form posts (how server functions receive their arguments) must decode to valid UTF-8: the
/// form decoder would otherwise replace bad bytes silently and store corrupted text.
async fn reject_invalid_utf8(req: Request, next: Next) -> Response {
    let is_form = req.method() == axum::http::Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            AppError::invalid(format!(
                "The request is too large (at most {} MB).",
                MAX_BODY_BYTES / 1024 / 1024
            )),
        );
    };
    if percent_encoding::percent_decode(&bytes)
        .decode_utf8()
        .is_err()
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            AppError::invalid(
                "The request contained text that is not valid UTF-8; nothing was saved.",
            ),
        );
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Page visits only (server functions check the session themselves): signed-out visits to
/// `/app/...` go to `/login?next=...`; with no user at all, to the first-admin page.
async fn gate(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let is_page = path == "/" || path == "/login" || path == "/setup" || path.starts_with("/app");
    if !is_page || req.method() != axum::http::Method::GET {
        return next.run(req).await;
    }
    let has_users = match state.has_users().await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "gate: database error");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    if !has_users {
        return if path == "/setup" {
            next.run(req).await
        } else {
            Redirect::to("/setup").into_response()
        };
    }
    if path == "/setup" {
        return Redirect::to("/login").into_response();
    }
    let mut req = req;
    let signed_in = match auth::resolve(&state.db, &session).await {
        Ok(Some(v)) => {
            // The page's server functions take the viewer from here (one lookup per view).
            req.extensions_mut().insert(v);
            true
        }
        Ok(None) => false,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    match (path.as_str(), signed_in) {
        ("/", true) | ("/login", true) => Redirect::to("/app/escalations").into_response(),
        ("/", false) => Redirect::to("/login").into_response(),
        (p, false) if p.starts_with("/app") => {
            let target = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or(path.clone());
            let location = format!("/login?next={}", urlencode(&target));
            Redirect::to(&location).into_response()
        }
        _ => next.run(req).await,
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
