//! The axum router: Leptos pages and server functions, `/healthz`, the session layer, and the
//! gate that sends signed-out visitors to the sign-in page.

use super::auth;
use super::sessions::SqlSessionStore;
use super::state::AppState;
use super::streams::Keep;
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
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use std::sync::Arc;
use std::sync::LazyLock;
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
        .layer(middleware::from_fn(bundle_cache_headers))
        .service(
            tower_http::services::ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        );
    Router::new()
        .nest_service(&format!("/{}", leptos_options.site_pkg_dir), bundle)
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
        .layer(middleware::from_fn(reject_malformed_text))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(middleware::from_fn(same_origin_writes))
        .layer(session_layer)
        .layer(middleware::from_fn(security_headers))
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

/// `GET /api/live`: Server-Sent Events for the signed-in user's teams, and nothing else. The
/// stream follows access while it is open: when the user's access changes (sign-out, a team
/// left or joined, deactivation, a new password elsewhere) it checks again, and ends when this
/// session may no longer see anything.
async fn live(State(state): State<AppState>, session: Session) -> Response {
    let viewer = match auth::resolve(&state.db, &session).await {
        Ok(Some(v)) => v,
        Ok(None) => return error_response(StatusCode::UNAUTHORIZED, AppError::Unauthorized),
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let Some(session_id) = session.id() else {
        return error_response(StatusCode::UNAUTHORIZED, AppError::Unauthorized);
    };
    let user_id = viewer.user.id.clone();
    let teams = Arc::new(std::sync::RwLock::new(viewer.team_ids));
    let slot = state.streams.open(
        format!("user:{user_id}"),
        state.config.live_streams_per_user,
    );
    let recheck: super::streams::Recheck = Box::new({
        let db = state.db.clone();
        let user_id = user_id.clone();
        let teams = teams.clone();
        move || {
            let db = db.clone();
            let user_id = user_id.clone();
            let teams = teams.clone();
            Box::pin(async move {
                let store = super::sessions::SqlSessionStore::new(db.clone());
                let signed_in = store.is_signed_in(&session_id, &user_id).await;
                // A database hiccup keeps the stream: only a known loss of access ends it.
                if matches!(signed_in, Ok(false)) {
                    return false;
                }
                match super::db::teams::user_with_teams(&db, &user_id).await {
                    Ok(Some(u)) => {
                        *teams.write().unwrap_or_else(|e| e.into_inner()) = u.team_ids;
                        true
                    }
                    Ok(None) => false,
                    Err(_) => true,
                }
            })
        }
    });
    super::streams::event_stream(
        &state,
        slot,
        move |p| match &p.event.change {
            Change::AccessChanged { user_id: who } if *who == user_id => Keep::Recheck,
            Change::AccessChanged { .. } | Change::TokenRevoked { .. } => Keep::Skip,
            _ if teams
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&p.event.team_id) =>
            {
                Keep::Send(p.json.clone())
            }
            _ => Keep::Skip,
        },
        recheck,
    )
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
    let slot = state.streams.open(
        format!("embed:{}", row.id),
        super::streams::MAX_PER_EMBED_TOKEN,
    );
    // A revoked token says so on the bus (TokenRevoked, below); the periodic check catches
    // a revocation whose event was lost.
    let recheck: super::streams::Recheck = Box::new({
        let db = state.db.clone();
        let token = q.token.clone();
        move || {
            let db = db.clone();
            let token = token.clone();
            Box::pin(async move {
                !matches!(
                    super::tokens::authenticate(&db, TokenKind::Embed, &token).await,
                    Ok(None)
                )
            })
        }
    });
    super::streams::event_stream(
        &state,
        slot,
        move |p| {
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
        },
        recheck,
    )
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

/// The Content-Security-Policy of a page: only Flare's own scripts (the inline hydration
/// scripts carry the per-response `nonce`), styles, wasm and images; no plugins, no `<base>`
/// tricks, forms post only here. Only the embeddable widget may be framed, by any site.
pub fn page_policy(nonce: &str, embeddable: bool) -> String {
    let ancestors = if embeddable { "*" } else { "'none'" };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

/// Whether a bundle file's name carries its content hash (cargo-leptos' `hash-files`:
/// `flare.<22 base64url characters>.wasm`), so its content never changes under that name.
pub fn is_content_hashed(file_name: &str) -> bool {
    let parts: Vec<&str> = file_name.split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1].iter().any(|p| {
            p.len() >= 16
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

async fn bundle_cache_headers(req: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let hashed = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .is_some_and(is_content_hashed);
    let mut res = next.run(req).await;
    if res.status() == StatusCode::OK {
        let h = res.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if hashed {
                "public, max-age=31536000, immutable"
            } else {
                // A name that is reused for new builds: the browser asks again each time.
                "no-cache"
            }),
        );
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// Every response: no MIME sniffing, no referrer to other sites, and (unless the page set its
/// own policy, with its nonce) a policy that lets the response run and load nothing.
async fn security_headers(req: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Pages hold one person's data: no shared or stored copy, ever.
    let html = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    let framable = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("frame-ancestors *"));
    if !framable {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

/// A state change (any method but GET, HEAD, OPTIONS) sent by a page of another site is
/// refused before anything reads it: browsers say where a request comes from in
/// `Sec-Fetch-Site` (scripts cannot forge it) and `Origin`. Requests with neither (curl, the
/// API with its bearer token, server-to-server) carry no browser's cookies by accident.
async fn same_origin_writes(req: Request, next: Next) -> Response {
    use axum::http::Method;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let allowed = match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
        Some(site) => site == b"same-origin" || site == b"none",
        None => match headers.get(header::ORIGIN) {
            None => true,
            Some(origin) => {
                let host = headers.get(header::HOST).map(|h| h.as_bytes());
                let authority = origin
                    .to_str()
                    .ok()
                    .and_then(|o| o.strip_prefix("https://").or(o.strip_prefix("http://")));
                matches!((authority, host), (Some(a), Some(h)) if a.as_bytes() == h)
            }
        },
    };
    if allowed {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "refused a cross-site request");
    error_response(
        StatusCode::FORBIDDEN,
        AppError::Forbidden(
            "Requests from other sites are refused. Open Flare itself and try again.".into(),
        ),
    )
}

/// Form posts (how server functions receive their arguments) must decode to valid UTF-8: the
/// form decoder would otherwise replace bad bytes silently and store corrupted text. And no
/// text anywhere (form or query string) may hold a NUL character: PostgreSQL cannot store one,
/// and it is never typed by a person.
async fn reject_malformed_text(req: Request, next: Next) -> Response {
    let nul_in_query = req.uri().query().is_some_and(|q| {
        q.as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
    });
    if nul_in_query {
        return error_response(StatusCode::BAD_REQUEST, nul_refused());
    }
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
    let decoded: Vec<u8> = percent_encoding::percent_decode(&bytes).collect();
    if decoded.contains(&0) {
        return error_response(StatusCode::BAD_REQUEST, nul_refused());
    }
    if std::str::from_utf8(&decoded).is_err() {
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

fn nul_refused() -> AppError {
    AppError::invalid(
        "The request contained a NUL character, which text cannot hold; nothing was saved.",
    )
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
    let has_admin = match state.has_admin().await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "gate: database error");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    if has_admin && path == "/setup" {
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
        ("/setup", _) => next.run(req).await,
        ("/", true) | ("/login", true) => Redirect::to("/app/escalations").into_response(),
        // With no admin yet, a signed-out visit is offered the setup page (demo members can
        // still sign in at /login).
        (p, false) if !has_admin && p != "/login" => Redirect::to("/setup").into_response(),
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
