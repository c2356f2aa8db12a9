//! Answering escalations. First response wins: one conditional UPDATE decides, and the answer,
//! the run's resumption and the audit entry commit together or not at all.

use super::auth::viewer;
use super::db::audit;
use super::db::escalations as esc_db;
use super::db::now_ms;
use super::db::runs;
use super::runtime::{
    self,
    provider::{Answer, ChatMessage},
};
use super::state::app_state;
use crate::error::AppError;
use crate::escalations::{ALREADY_RESOLVED, EscalationStatus, MAX_GUIDANCE_BYTES};
use crate::live::{Change, LiveEvent};
use crate::validate;

pub async fn respond(escalation_id: String, guidance: String) -> Result<(), AppError> {
    let guidance = validate::long_text(&guidance, "guidance", MAX_GUIDANCE_BYTES)?;
    answer(escalation_id, Answer::Resolved { guidance }).await
}

pub async fn dismiss(escalation_id: String) -> Result<(), AppError> {
    answer(escalation_id, Answer::Dismissed).await
}

async fn answer(escalation_id: String, answer: Answer) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let not_found = || AppError::NotFound("No such escalation.".into());
    let row = esc_db::by_id(&state.db, &escalation_id)
        .await?
        .ok_or_else(not_found)?;
    v.require_team(&row.team_id).map_err(|_| not_found())?;
    let (status, guidance, action) = match &answer {
        Answer::Resolved { guidance } => (
            EscalationStatus::Resolved,
            Some(guidance.as_str()),
            "escalation.resolved",
        ),
        Answer::Dismissed => (EscalationStatus::Dismissed, None, "escalation.dismissed"),
    };
    let responder = if v.user.name.is_empty() {
        &v.user.email
    } else {
        &v.user.name
    };
    let mut tx = state.db.begin().await?;
    let Some((run_id, blocking, tool_call_id)) = esc_db::answer(
        &mut *tx,
        &row.id,
        status.as_str(),
        guidance,
        &v.user.id,
        responder,
    )
    .await?
    else {
        return Err(AppError::Conflict(ALREADY_RESOLVED.into()));
    };
    let mut resumed = false;
    if blocking != 0 {
        let run = runs::by_id(&mut *tx, &run_id)
            .await?
            .ok_or(AppError::Internal)?;
        let mut steps: Vec<ChatMessage> =
            serde_json::from_str(&run.steps).map_err(AppError::internal)?;
        steps.push(ChatMessage::Tool {
            call_id: tool_call_id.unwrap_or_default(),
            name: runtime::provider::ESCALATE_TOOL.into(),
            content: answer.tool_result(),
            answer: Some(answer.clone()),
        });
        let steps = serde_json::to_string(&steps).map_err(AppError::internal)?;
        let lease = now_ms() + state.runtime.lease.as_millis() as i64;
        resumed =
            runs::transition(&mut *tx, &run_id, "waiting", "running", &steps, None, lease).await?;
    }
    audit::record(
        &mut *tx,
        v.actor(),
        action,
        &row.id,
        guidance.unwrap_or_default(),
    )
    .await?;
    tx.commit().await?;
    let ev = |change| LiveEvent {
        team_id: row.team_id.clone(),
        thread_id: row.thread_id.clone(),
        change,
    };
    state
        .events
        .publish(
            &state.db,
            ev(Change::Escalation {
                escalation_id: row.id.clone(),
                status: status.as_str().into(),
            }),
        )
        .await;
    if resumed {
        state
            .events
            .publish(
                &state.db,
                ev(Change::Run {
                    run_id: run_id.clone(),
                    status: "running".into(),
                }),
            )
            .await;
        runtime::spawn(state.clone(), run_id);
    }
    Ok(())
}
