//! The JSON API under `/api/v1`, with a team-scoped bearer token: read tokens read, read and
//! write tokens also start runs and answer escalations.

use crate::chat::{MAX_MESSAGE_BYTES, MessageKind, Trigger};
use crate::error::AppError;
use crate::escalations::{EscalationStatus, MAX_GUIDANCE_BYTES};
use crate::server::db::audit::Actor;
use crate::server::db::escalations::{self, EscalationRow};
use crate::server::db::tokens::TokenRow;
use crate::server::db::{runs, threads};
use crate::server::runtime::provider::Answer;
use crate::server::state::AppState;
use crate::server::triggers;
use crate::tokens::TokenKind;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(serde::Deserialize)]
pub struct ApiListQuery {
    status: Option<String>,
    limit: Option<String>,
}

/// The one error shape of `/api/v1`: `{"error": "…"}` with its status (and, for a missing or
/// bad token, `WWW-Authenticate: Bearer`).
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

fn err(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError(status, msg.into())
}

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
        AppError::from(e).into()
    }
}

/// An application error in the API's shape, with its status and its message for people.
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError(status, e.to_string())
    }
}

/// A live API token from `Authorization: Bearer flr_api_…` (read) or `flr_api_rw_…` (read and
/// write): the handler only runs with one.
pub struct ApiToken(pub TokenRow);

impl ApiToken {
    /// Refuses a read token on a route that changes something.
    fn writer(&self) -> Result<(), ApiError> {
        match self.0.kind {
            TokenKind::ApiWrite => Ok(()),
            _ => Err(err(
                StatusCode::FORBIDDEN,
                "This token may only read. Create an \"API (read and write)\" token in Settings → Tokens to start runs or answer escalations.",
            )),
        }
    }

    fn actor(&self) -> Actor<'_> {
        Actor::Token { name: &self.0.name }
    }
}

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
        crate::server::tokens::authenticate_api(&state.db, token)
            .await?
            .map(ApiToken)
            .ok_or(err(
                StatusCode::UNAUTHORIZED,
                "A valid API token is required (Authorization: Bearer flr_api_…); it may have been revoked.",
            ))
    }
}

/// A JSON request body as `T`, or a clear 400.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            format!("The body is not the JSON this route takes ({e}); nothing was done."),
        )
    })
}

fn escalation_json(e: &EscalationRow) -> serde_json::Value {
    serde_json::json!({
        "id": e.id, "agent": e.agent_name, "agent_id": e.agent_id, "reason": e.reason,
        "severity": e.severity, "trigger": e.trigger, "thread_id": e.thread_id,
        "run_id": e.run_id, "status": e.status, "blocking": e.blocking != 0,
        "created_at_ms": e.created_at, "answered_at_ms": e.answered_at,
        "responder": e.responder, "guidance": e.guidance,
    })
}

/// `GET /api/v1/agents`: the token's team's agents.
pub async fn api_agents(
    State(state): State<AppState>,
    ApiToken(token): ApiToken,
) -> Result<Response, ApiError> {
    let rows =
        crate::server::db::agents::for_teams(&state.db, std::slice::from_ref(&token.team_id))
            .await?;
    let agents: Vec<_> = rows
        .iter()
        .filter(|a| a.deleted_at.is_none())
        .map(|a| serde_json::json!({ "id": a.id, "name": a.name, "team": a.team_name }))
        .collect();
    Ok(super::json_response(
        StatusCode::OK,
        serde_json::json!({ "agents": agents }),
    ))
}

#[derive(serde::Deserialize)]
struct StartRun {
    message: String,
}

/// `POST /api/v1/agents/{agent_id}/runs` with `{"message": "…"}` (write token): starts a run
/// in a new thread, `202 {"run_id", "thread_id", "status"}`. With an `Idempotency-Key`, the
/// same key within 24 hours answers with the same run and starts nothing.
pub async fn api_start_run(
    State(state): State<AppState>,
    token: ApiToken,
    Path(agent_id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    token.writer()?;
    let agent = crate::server::db::agents::by_id(&state.db, &agent_id)
        .await?
        .filter(|a| a.team_id == token.0.team_id && a.deleted_at.is_none())
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "No such agent."))?;
    let req: StartRun = body(&bytes)?;
    let message = crate::validate::long_text(&req.message, "message", MAX_MESSAGE_BYTES)?;
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k))
            if !k.trim().is_empty()
                && k.len() <= 255
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Some(k.to_string())
        }
        Some(_) => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key is 1 to 255 visible ASCII characters.",
            ));
        }
    };
    let author = format!("token: {}", token.0.name);
    let started = triggers::start_run(
        &state,
        triggers::Start {
            agent: &agent,
            trigger: Trigger::Api,
            title: format!("API: {}", token.0.name),
            author: &author,
            message: &message,
            once: key.as_deref().map(|k| triggers::Once {
                scope: format!("api:{}", token.0.team_id),
                key: k,
                fingerprint: triggers::Once::fingerprint(&[agent.id.as_bytes(), message.as_bytes()]),
            }),
            actor: token.actor(),
            action: "run.started",
            subject: &agent.id,
            claim: None,
            chain_depth: 0,
        },
    )
    .await
    .map_err(|e| match e {
        triggers::StartError::KeyReused => err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This Idempotency-Key was used for another request (another agent or message) in the last 24 hours; nothing was started.",
        ),
        triggers::StartError::Database(e) => e.into(),
        // Only schedules claim a firing.
        triggers::StartError::NotClaimed => AppError::internal("an API run claimed a firing").into(),
    })?;
    Ok(super::json_response(
        StatusCode::ACCEPTED,
        serde_json::json!({
            "run_id": started.run_id, "thread_id": started.thread_id, "status": started.status,
        }),
    ))
}

/// `GET /api/v1/runs/{run_id}`: the run's status, trigger and thread, its open escalation if
/// any, and the agent's last reply.
pub async fn api_run(
    State(state): State<AppState>,
    ApiToken(token): ApiToken,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let no_run = || err(StatusCode::NOT_FOUND, "No such run.");
    let run = runs::by_id(&state.db, &run_id)
        .await?
        .filter(|r| r.team_id == token.team_id)
        .ok_or_else(no_run)?;
    let thread = threads::by_id(&state.db, &run.thread_id)
        .await?
        .ok_or_else(no_run)?;
    let (messages, escalations) = tokio::try_join!(
        threads::messages(&state.db, &run.thread_id),
        escalations::for_thread(&state.db, &run.thread_id)
    )?;
    let reply = messages
        .iter()
        .rev()
        .find(|m| m.kind == MessageKind::Agent && m.run_id.as_deref() == Some(run.id.as_str()))
        .map(|m| m.body.clone());
    let open = escalations
        .iter()
        .find(|e| e.run_id == run.id && e.status == EscalationStatus::Open)
        .map(escalation_json);
    Ok(super::json_response(
        StatusCode::OK,
        serde_json::json!({
            "run_id": run.id, "status": run.status, "trigger": thread.trigger,
            "thread_id": run.thread_id, "agent_id": run.agent_id, "error": run.error,
            "escalation": open, "reply": reply,
        }),
    ))
}

async fn team_escalation(
    state: &AppState,
    token: &TokenRow,
    id: &str,
) -> Result<EscalationRow, ApiError> {
    escalations::by_id(&state.db, id)
        .await?
        .filter(|e| e.team_id == token.team_id)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "No such escalation."))
}

/// `GET /api/v1/escalations/{id}`.
pub async fn api_escalation(
    State(state): State<AppState>,
    ApiToken(token): ApiToken,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = team_escalation(&state, &token, &id).await?;
    Ok(super::json_response(StatusCode::OK, escalation_json(&row)))
}

#[derive(serde::Deserialize)]
struct Respond {
    guidance: String,
}

/// `POST /api/v1/escalations/{id}/respond` with `{"guidance": "…"}` (write token): Respond &
/// Resume. The first answer wins, across the web and the API; a later one gets 409.
pub async fn api_respond(
    State(state): State<AppState>,
    token: ApiToken,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    token.writer()?;
    let row = team_escalation(&state, &token.0, &id).await?;
    let req: Respond = body(&bytes)?;
    let guidance = crate::validate::long_text(&req.guidance, "guidance", MAX_GUIDANCE_BYTES)?;
    answer(&state, &token, row, Answer::Resolved { guidance }).await
}

/// `POST /api/v1/escalations/{id}/dismiss` (write token).
pub async fn api_dismiss(
    State(state): State<AppState>,
    token: ApiToken,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    token.writer()?;
    let row = team_escalation(&state, &token.0, &id).await?;
    answer(&state, &token, row, Answer::Dismissed).await
}

async fn answer(
    state: &AppState,
    token: &ApiToken,
    row: EscalationRow,
    answer: Answer,
) -> Result<Response, ApiError> {
    let name = format!("token: {}", token.0.name);
    let by = crate::server::escalations::Responder {
        actor: token.actor(),
        id: None,
        name: &name,
    };
    crate::server::escalations::answer_as(state, &row, answer, by).await?;
    let row = team_escalation(state, &token.0, &row.id).await?;
    Ok(super::json_response(StatusCode::OK, escalation_json(&row)))
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
            return Err(err(
                StatusCode::BAD_REQUEST,
                "status must be open or answered.",
            ));
        }
    };
    let limit = match q.limit.as_deref().map(str::parse::<i64>) {
        None => 50,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "limit must be a number from 1 to 100.",
            ));
        }
    };
    let teams = [row.team_id.clone()];
    let filter = escalations::Filter {
        team_ids: &teams,
        open,
        severity: None,
        agent_id: None,
        trigger: None,
        order: if open {
            escalations::Order::Newest
        } else {
            escalations::Order::Answered
        },
        after: None,
        limit,
    };
    let (rows, total) = tokio::try_join!(
        escalations::list(&state.db, &filter),
        escalations::count_open(&state.db, &teams)
    )?;
    let items: Vec<serde_json::Value> = rows.iter().map(escalation_json).collect();
    let body = serde_json::json!({
        "team": row.team_name, "open_count": total, "escalations": items,
    });
    Ok(super::json_response(StatusCode::OK, body))
}
