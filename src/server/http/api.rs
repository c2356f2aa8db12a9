//! The JSON API under `/api/v1`, with a team-scoped bearer token: read tokens read, read and
//! write tokens also start runs and answer escalations. Each handler's `#[utoipa::path]` and
//! the types below are what `GET /api/v1/openapi.json` is generated from (see `openapi`).

use super::json_response;
use crate::chat::{MAX_MESSAGE_BYTES, MessageKind, RunStatus, Trigger};
use crate::error::AppError;
use crate::escalations::{EscalationStatus, MAX_GUIDANCE_BYTES};
use crate::rules::Severity;
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
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Every refusal and failure: what went wrong, in words for people.
#[derive(Serialize, ToSchema)]
pub struct ApiErrorBody {
    #[schema(example = "This escalation is already resolved.")]
    pub error: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiAgent {
    pub id: String,
    pub name: String,
    /// The team's name.
    pub team: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiAgentList {
    pub agents: Vec<ApiAgent>,
}

#[derive(Deserialize, ToSchema)]
pub struct ApiStartRun {
    /// What the agent is asked, as a person would type it in the chat (at most 32 KB).
    #[schema(example = "Customer 4411 asks for their money back for order 88.")]
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiRunStarted {
    pub run_id: String,
    pub thread_id: String,
    pub status: RunStatus,
}

#[derive(Serialize, ToSchema)]
pub struct ApiRun {
    pub run_id: String,
    pub status: RunStatus,
    pub trigger: Trigger,
    pub thread_id: String,
    pub agent_id: String,
    /// Why the run failed, when it did.
    pub error: Option<String>,
    /// The escalation the run waits on, if any.
    pub escalation: Option<ApiEscalation>,
    /// The agent's last reply in this run, if it has replied.
    pub reply: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiEscalation {
    pub id: String,
    /// The agent's name.
    pub agent: String,
    pub agent_id: String,
    pub reason: String,
    pub severity: Severity,
    pub trigger: Trigger,
    pub thread_id: String,
    pub run_id: String,
    pub status: EscalationStatus,
    /// Whether the run waits for the answer.
    pub blocking: bool,
    /// Unix time in milliseconds.
    pub created_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    /// Who answered: a person's name, or `token: <name>`.
    pub responder: Option<String>,
    pub guidance: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiEscalationList {
    /// The token's team.
    pub team: String,
    /// How many of the team's escalations are open.
    pub open_count: i64,
    pub escalations: Vec<ApiEscalation>,
}

#[derive(Deserialize, ToSchema)]
pub struct ApiRespond {
    /// What the agent should do, as "Respond & Resume" takes it on the page (at most 8 KB).
    #[schema(example = "Refund approved up to $50; offer store credit for the rest.")]
    pub guidance: String,
}

/// The query of `GET /api/v1/escalations`. Read as text, so a bad value gets this API's error
/// rather than the framework's.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiListQuery {
    /// `open` (the default, newest first) or `answered` (latest answered first).
    #[param(value_type = Option<String>, pattern = "^(open|answered)$")]
    status: Option<String>,
    /// 1 to 100; 50 by default.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
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
        let mut res = json_response(self.0, &ApiErrorBody { error: self.1 });
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

impl From<&EscalationRow> for ApiEscalation {
    fn from(e: &EscalationRow) -> Self {
        ApiEscalation {
            id: e.id.clone(),
            agent: e.agent_name.clone(),
            agent_id: e.agent_id.clone(),
            reason: e.reason.clone(),
            severity: e.severity,
            trigger: e.trigger,
            thread_id: e.thread_id.clone(),
            run_id: e.run_id.clone(),
            status: e.status,
            blocking: e.blocking != 0,
            created_at_ms: e.created_at,
            answered_at_ms: e.answered_at,
            responder: e.responder.clone(),
            guidance: e.guidance.clone(),
        }
    }
}

/// The token's team's agents.
#[utoipa::path(
    get, path = "/api/v1/agents", tag = "agents", operation_id = "list_agents",
    security(("token" = [])),
    responses(
        (status = 200, description = "The agents of the token's team.", body = ApiAgentList),
        (status = 401, description = "No valid token.", body = ApiErrorBody),
    )
)]
pub async fn api_agents(
    State(state): State<AppState>,
    ApiToken(token): ApiToken,
) -> Result<Response, ApiError> {
    let rows =
        crate::server::db::agents::for_teams(&state.db, std::slice::from_ref(&token.team_id))
            .await?;
    let agents = rows
        .into_iter()
        .filter(|a| a.deleted_at.is_none())
        .map(|a| ApiAgent {
            id: a.id,
            name: a.name,
            team: a.team_name,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &ApiAgentList { agents }))
}

/// Starts a run in a new thread (trigger `api`), as if the message were typed in the chat: the
/// same guardrail, model and escalations. With an `Idempotency-Key`, the same key within 24
/// hours answers with the same run and starts nothing.
#[utoipa::path(
    post, path = "/api/v1/agents/{agent_id}/runs", tag = "runs", operation_id = "start_run",
    security(("token" = [])),
    params(
        ("agent_id" = String, Path, description = "The agent's id (see `GET /api/v1/agents`)."),
        ("Idempotency-Key" = Option<String>, Header,
            description = "1 to 255 visible ASCII characters, unique per request, per team, for 24 hours."),
    ),
    request_body = ApiStartRun,
    responses(
        (status = 202, description = "The run started (or, for a key seen before, the run it started).", body = ApiRunStarted),
        (status = 400, description = "The body or the key is not what this route takes.", body = ApiErrorBody),
        (status = 401, description = "No valid token.", body = ApiErrorBody),
        (status = 403, description = "A read token.", body = ApiErrorBody),
        (status = 404, description = "No such agent in the token's team.", body = ApiErrorBody),
        (status = 422, description = "The key was used for another request in the last 24 hours.", body = ApiErrorBody),
    )
)]
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
    let req: ApiStartRun = body(&bytes)?;
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
    let started = triggers::start_run(
        &state,
        triggers::Start {
            agent: &agent,
            trigger: Trigger::Api,
            title: format!("API: {}", token.0.name),
            author: format!("token: {}", token.0.name),
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
            reply_to: None,
        },
    )
    .await
    .map_err(|e| match e {
        triggers::StartError::KeyReused => err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This Idempotency-Key was used for another request (another agent or message) in the last 24 hours; nothing was started.",
        ),
        triggers::StartError::Database(e) => e.into(),
        triggers::StartError::Unwritten(why) => AppError::internal(why).into(),
        // Only schedules claim a firing.
        triggers::StartError::NotClaimed => AppError::internal("an API run claimed a firing").into(),
    })?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &ApiRunStarted {
            run_id: started.run_id,
            thread_id: started.thread_id,
            status: started.status,
        },
    ))
}

/// A run: its status, trigger and thread, the escalation it waits on if any, and the agent's
/// last reply.
#[utoipa::path(
    get, path = "/api/v1/runs/{run_id}", tag = "runs", operation_id = "get_run",
    security(("token" = [])),
    params(("run_id" = String, Path, description = "From the 202 that started it.")),
    responses(
        (status = 200, description = "The run.", body = ApiRun),
        (status = 401, description = "No valid token.", body = ApiErrorBody),
        (status = 404, description = "No such run in the token's team.", body = ApiErrorBody),
    )
)]
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
    let escalation = escalations
        .iter()
        .find(|e| e.run_id == run.id && e.status == EscalationStatus::Open)
        .map(ApiEscalation::from);
    Ok(json_response(
        StatusCode::OK,
        &ApiRun {
            run_id: run.id,
            status: run.status,
            trigger: thread.trigger,
            thread_id: run.thread_id,
            agent_id: run.agent_id,
            error: run.error,
            escalation,
            reply,
        },
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

/// One escalation of the token's team.
#[utoipa::path(
    get, path = "/api/v1/escalations/{id}", tag = "escalations", operation_id = "get_escalation",
    security(("token" = [])),
    params(("id" = String, Path, description = "The escalation's id.")),
    responses(
        (status = 200, description = "The escalation.", body = ApiEscalation),
        (status = 401, description = "No valid token.", body = ApiErrorBody),
        (status = 404, description = "No such escalation in the token's team.", body = ApiErrorBody),
    )
)]
pub async fn api_escalation(
    State(state): State<AppState>,
    ApiToken(token): ApiToken,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = team_escalation(&state, &token, &id).await?;
    Ok(json_response(StatusCode::OK, &ApiEscalation::from(&row)))
}

/// Respond & Resume: the agent resumes with this guidance. The first answer wins, across the
/// web, the API and every channel.
#[utoipa::path(
    post, path = "/api/v1/escalations/{id}/respond", tag = "escalations",
    operation_id = "respond_to_escalation",
    security(("token" = [])),
    params(("id" = String, Path, description = "The escalation's id.")),
    request_body = ApiRespond,
    responses(
        (status = 200, description = "Answered; the escalation as it is now.", body = ApiEscalation),
        (status = 400, description = "The body is not what this route takes.", body = ApiErrorBody),
        (status = 401, description = "No valid token.", body = ApiErrorBody),
        (status = 403, description = "A read token.", body = ApiErrorBody),
        (status = 404, description = "No such escalation in the token's team.", body = ApiErrorBody),
        (status = 409, description = "Someone answered first: `This escalation is already resolved.`", body = ApiErrorBody),
    )
)]
pub async fn api_respond(
    State(state): State<AppState>,
    token: ApiToken,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    token.writer()?;
    let row = team_escalation(&state, &token.0, &id).await?;
    let req: ApiRespond = body(&bytes)?;
    let guidance = crate::validate::long_text(&req.guidance, "guidance", MAX_GUIDANCE_BYTES)?;
    answer(&state, &token, row, Answer::Resolved { guidance }).await
}

/// Dismiss: the agent proceeds on its own. The first answer wins.
#[utoipa::path(
    post, path = "/api/v1/escalations/{id}/dismiss", tag = "escalations",
    operation_id = "dismiss_escalation",
    security(("token" = [])),
    params(("id" = String, Path, description = "The escalation's id.")),
    responses(
        (status = 200, description = "Dismissed; the escalation as it is now.", body = ApiEscalation),
        (status = 401, description = "No valid token.", body = ApiErrorBody),
        (status = 403, description = "A read token.", body = ApiErrorBody),
        (status = 404, description = "No such escalation in the token's team.", body = ApiErrorBody),
        (status = 409, description = "Someone answered first: `This escalation is already resolved.`", body = ApiErrorBody),
    )
)]
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
    Ok(json_response(StatusCode::OK, &ApiEscalation::from(&row)))
}

/// The token's team's escalations: open ones newest first, or answered ones latest answered
/// first.
#[utoipa::path(
    get, path = "/api/v1/escalations", tag = "escalations", operation_id = "list_escalations",
    security(("token" = [])),
    params(ApiListQuery),
    responses(
        (status = 200, description = "The escalations, and how many are open.", body = ApiEscalationList),
        (status = 400, description = "A bad `status` or `limit`.", body = ApiErrorBody),
        (status = 401, description = "No valid token.", body = ApiErrorBody),
    )
)]
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
    Ok(json_response(
        StatusCode::OK,
        &ApiEscalationList {
            team: row.team_name,
            open_count: total,
            escalations: rows.iter().map(ApiEscalation::from).collect(),
        },
    ))
}
