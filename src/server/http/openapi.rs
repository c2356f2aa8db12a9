//! The machine-facing routes (the JSON API and the inbound webhooks), each registered together
//! with its documentation, and `GET /api/v1/openapi.json`, the OpenAPI 3.1 document generated
//! from them. A route can't be served without being documented: both come from one `routes!`.

use super::{api, hooks};
use crate::server::state::AppState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flare API",
        version = "1",
        description = "Start agents' runs, follow them, and answer their escalations from other \
            systems. Every `/api/v1` route but this document takes a team's API token \
            (Settings → Tokens): `Authorization: Bearer flr_api_…` reads, \
            `flr_api_rw_…` also starts runs and answers. Errors are `{\"error\": \"…\"}`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&BearerToken),
    tags(
        (name = "agents", description = "The token's team's agents."),
        (name = "runs", description = "Runs started without a chat window."),
        (name = "escalations", description = "Escalations, answered as on the Escalations page: the first answer wins."),
        (name = "webhooks", description = "Inbound webhooks, signed with the webhook's secret instead of a token."),
        (name = "meta", description = "This document."),
    )
)]
struct ApiDoc;

/// The bearer scheme the operations name as `token`.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A team's API token from Settings → Tokens: `flr_api_…` (read) or \
                 `flr_api_rw_…` (read and write).",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("token", SecurityScheme::Http(scheme));
    }
}

/// The API's and the webhooks' routes, with the document that describes them.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::api_agents))
        .routes(routes!(api::api_start_run))
        .routes(routes!(api::api_run))
        .routes(routes!(api::api_escalations))
        .routes(routes!(api::api_escalation))
        .routes(routes!(api::api_respond))
        .routes(routes!(api::api_dismiss))
        .routes(routes!(hooks::receive))
        .routes(routes!(openapi_json))
}

/// Written once: the document depends only on the code.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    routes()
        .into_openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
});

/// This document. It needs no token: it describes the API, never a team's data.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "meta", operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.",
        content_type = "application/json", body = Object)),
)]
async fn openapi_json() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DOCUMENT.as_str(),
    )
        .into_response()
}
