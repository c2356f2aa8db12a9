//! The HTTP edge: the axum router (Leptos pages and server functions, `/healthz`, the live
//! streams in `live`, the JSON API in `api`) and, in `middleware`, what every request passes.

pub(crate) mod api;
mod hooks;
mod integrations;
mod live;
mod middleware;
mod openapi;

pub use middleware::{is_content_hashed, page_policy};

use super::sessions::SqlSessionStore;
use super::state::AppState;
use crate::app::{App, shell};
use crate::error::AppError;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use std::sync::LazyLock;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

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

/// The app's routes, listed once per process. Listing renders the app with resource loading
/// switched off through a process-wide flag (leptos-rs/leptos#4773): listing again while
/// another router in the same process serves pages (the in-process tests build one per test)
/// made a page's resources never load, and its response hang. Listed once, the flag is set
/// only before any router exists.
static ROUTES: LazyLock<Vec<AxumRouteListing>> = LazyLock::new(|| generate_route_list(App));

pub fn router(state: AppState) -> Router {
    let routes = ROUTES.clone();
    let session_layer = SessionManagerLayer::new(SqlSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(14)));
    let leptos_options = state.leptos_options.clone();
    // The browser bundle: served precompressed (the release build writes .br and .gz next to
    // each file) as the browser accepts, cached for good under content-hashed names.
    let pkg_dir = std::path::Path::new(leptos_options.site_root.as_ref())
        .join(leptos_options.site_pkg_dir.as_ref());
    let bundle = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(middleware::bundle_cache_headers))
        .service(
            tower_http::services::ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        );
    Router::new()
        .nest_service(&format!("/{}", leptos_options.site_pkg_dir), bundle)
        .route("/healthz", get(healthz))
        .route(crate::live::LIVE_PATH, get(live::live))
        .route("/embed/live", get(live::embed_live))
        .route("/embed-widget.js", get(embed_widget_js))
        // Answers from Slack and Discord: signed by them, not by a browser session.
        .route(
            "/integrations/slack/{id}",
            axum::routing::post(integrations::slack),
        )
        .route(
            "/integrations/slack/{id}/events",
            axum::routing::post(integrations::slack_events),
        )
        .route(
            "/integrations/discord/{id}",
            axum::routing::post(integrations::discord),
        )
        // The API and the webhooks, each route registered with its documentation.
        .merge(openapi::routes().split_for_parts().0)
        .leptos_routes_with_context(
            &state,
            routes,
            || provide_context(super::escalations::OpenCountOnce::default()),
            move || shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Innermost, so it sees the route each request matched.
        .layer(axum::middleware::from_fn(
            crate::server::metrics::track_http,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::gate,
        ))
        .layer(axum::middleware::from_fn(middleware::reject_malformed_text))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn(middleware::same_origin_writes))
        .layer(session_layer)
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /embed-widget.js`: what keeps the server-rendered embed widget live (no wasm on
/// another site's page). Built into the binary, so it never depends on the site folder.
async fn embed_widget_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("embed-widget.js"),
    )
        .into_response()
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

/// A JSON answer with its status (the API, the webhooks).
pub(super) fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(super) fn error_response(status: StatusCode, error: AppError) -> Response {
    let body = serde_json::to_string(&error).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
