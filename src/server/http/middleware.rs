//! What every request passes through: security headers, the cross-site check, text that
//! cannot be stored, the bundle's cache headers, and the page gate.

use super::{MAX_BODY_BYTES, error_response};
use crate::error::AppError;
use crate::server::auth;
use crate::server::state::AppState;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

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

pub async fn bundle_cache_headers(req: Request, next: Next) -> Response {
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
pub async fn security_headers(req: Request, next: Next) -> Response {
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
pub async fn same_origin_writes(req: Request, next: Next) -> Response {
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
    AppError::Forbidden(
        "Requests from other sites are refused. Open Flare itself and try again.".into(),
    )
    .into_response()
}

/// Form posts (how server functions receive their arguments) must decode to valid UTF-8: the
/// form decoder would otherwise replace bad bytes silently and store corrupted text. And no
/// text anywhere (form or query string) may hold a NUL character: PostgreSQL cannot store one,
/// and it is never typed by a person.
pub async fn reject_malformed_text(req: Request, next: Next) -> Response {
    let nul_in_query = req.uri().query().is_some_and(|q| {
        q.as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
    });
    if nul_in_query {
        return nul_refused().into_response();
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
        return nul_refused().into_response();
    }
    if std::str::from_utf8(&decoded).is_err() {
        return AppError::invalid(
            "The request contained text that is not valid UTF-8; nothing was saved.",
        )
        .into_response();
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
pub async fn gate(
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
            let location = format!(
                "/login?next={}",
                crate::components::url::encode_path_in_query(&target)
            );
            Redirect::to(&location).into_response()
        }
        _ => next.run(req).await,
    }
}
