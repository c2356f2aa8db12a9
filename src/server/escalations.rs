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
use super::state::{AppState, app_state};
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

#[tracing::instrument(name = "answer", skip(answer))]
async fn answer(escalation_id: String, answer: Answer) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let not_found = || AppError::NotFound("No such escalation.".into());
    let row = esc_db::by_id(&state.db, &escalation_id)
        .await?
        .ok_or_else(not_found)?;
    v.require_team(&row.team_id).map_err(|_| not_found())?;
    let name = if v.user.name.is_empty() {
        &v.user.email
    } else {
        &v.user.name
    };
    let by = Responder {
        actor: v.actor(),
        id: Some(&v.user.id),
        name,
    };
    answer_as(&state, &row, answer, by).await
}

/// Who answers: a person (the web) or an API token.
pub struct Responder<'a> {
    pub actor: audit::Actor<'a>,
    pub id: Option<&'a str>,
    /// As the card shows it ("Ada", "token: Zendesk bridge").
    pub name: &'a str,
}

/// Answers `row` (the caller checked that `by` may): the first answer wins, and the answer,
/// the run's resumption and the audit entry commit together.
pub async fn answer_as(
    state: &AppState,
    row: &esc_db::EscalationRow,
    answer: Answer,
    by: Responder<'_>,
) -> Result<(), AppError> {
    let (status, guidance, action) = match &answer {
        Answer::Resolved { guidance } => (
            EscalationStatus::Resolved,
            Some(guidance.as_str()),
            "escalation.resolved",
        ),
        Answer::Dismissed => (EscalationStatus::Dismissed, None, "escalation.dismissed"),
    };
    let mut tx = state.db.begin().await?;
    let Some((run_id, blocking, tool_call_id)) =
        esc_db::answer(&mut *tx, &row.id, status, guidance, by.id, by.name).await?
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
        resumed = runtime::lifecycle::resume(&mut *tx, &run_id, &steps, lease)
            .await
            .map_err(AppError::internal)?;
    }
    audit::record_for(
        &mut *tx,
        by.actor,
        Some(&row.team_id),
        action,
        &row.id,
        guidance.unwrap_or_default(),
    )
    .await?;
    let notify = super::notifications::answered(&mut tx, &row.team_id, &row.id).await?;
    let ev = |change| LiveEvent::in_thread(&row.team_id, &row.thread_id, change);
    let mut events = vec![ev(Change::Escalation {
        escalation_id: row.id.clone(),
        status,
    })];
    if resumed {
        events.push(ev(Change::Run {
            run_id: run_id.clone(),
            status: crate::chat::RunStatus::Running,
        }));
    }
    state
        .events
        .commit_then_publish(&state.db, tx, events)
        .await?;
    if notify {
        state.notifier.wake();
    }
    if resumed {
        runtime::spawn(state.clone(), run_id.clone());
    }
    if let Ok(Some(run)) = runs::by_id(&state.db, &run_id).await {
        use super::triggers::events;
        let outcome = match status {
            EscalationStatus::Resolved => "resolved",
            _ => "dismissed",
        };
        events::after(
            state,
            events::Happened {
                kind: crate::triggers::EventKind::EscalationAnswered,
                run,
                escalation_id: Some(row.id.clone()),
                fields: vec![
                    ("reason", row.reason.clone()),
                    ("severity", row.severity.as_str().to_string()),
                    ("outcome", outcome.to_string()),
                    ("guidance", guidance.unwrap_or_default().to_string()),
                    ("responder", by.name.to_string()),
                ],
            },
        );
    }
    Ok(())
}

/// A cursor names the last row shown: `<time>_<id>`, or `<rank>_<time>_<id>` by severity.
fn encode_after(order: &esc_db::Order, row: &esc_db::EscalationRow) -> String {
    let rank = row.severity.rank();
    match order {
        esc_db::Order::Severity => format!("{rank}_{}_{}", row.created_at, row.id),
        esc_db::Order::Answered => format!("{}_{}", row.answered_at.unwrap_or_default(), row.id),
        _ => format!("{}_{}", row.created_at, row.id),
    }
}

fn decode_after(order: &esc_db::Order, raw: &str) -> Result<esc_db::After, AppError> {
    use super::cursor::{damaged, is_id, number, time_and_id};
    if !matches!(order, esc_db::Order::Severity) {
        let (t, id) = time_and_id(raw)?;
        return Ok(esc_db::After::Time(t, id));
    }
    match raw.split('_').collect::<Vec<_>>().as_slice() {
        [rank, t, id] if is_id(id) => {
            let rank = number(rank)?;
            if !(0..=2).contains(&rank) {
                return Err(damaged());
            }
            Ok(esc_db::After::Severity(rank, number(t)?, id.to_string()))
        }
        _ => Err(damaged()),
    }
}

pub async fn list(
    q: crate::escalations::ListQuery,
) -> Result<crate::escalations::EscalationList, AppError> {
    use crate::escalations::{AgentOption, EscalationList, ListView, PAGE_SIZE, Sort};
    let v = viewer().await?;
    let state = app_state()?;
    let order = match (q.view, q.sort) {
        (ListView::Answered, _) => esc_db::Order::Answered,
        (ListView::Open, Sort::Newest) => esc_db::Order::Newest,
        (ListView::Open, Sort::Oldest) => esc_db::Order::Oldest,
        (ListView::Open, Sort::Severity) => esc_db::Order::Severity,
    };
    let after = q
        .after
        .as_deref()
        .map(|a| decode_after(&order, a))
        .transpose()?;
    let filter = esc_db::Filter {
        team_ids: &v.team_ids,
        open: q.view == ListView::Open,
        severity: q.severity,
        agent_id: q.agent.as_deref(),
        trigger: q.trigger,
        order,
        after,
        limit: PAGE_SIZE as i64 + 1,
    };
    let mut rows = esc_db::list(&state.db, &filter).await?;
    let next = (rows.len() > PAGE_SIZE).then(|| {
        rows.truncate(PAGE_SIZE);
        rows.last()
            .map(|r| encode_after(&filter.order, r))
            .unwrap_or_default()
    });
    let agents = super::db::agents::names_for_teams(&state.db, &v.team_ids)
        .await?
        .into_iter()
        .map(|(id, name)| AgentOption { id, name })
        .collect();
    let open_count = count_open_once(&state.db, &v.team_ids).await?;
    // Only an empty page needs to ask whether there was ever any.
    let any_ever =
        open_count > 0 || !rows.is_empty() || esc_db::any_ever(&state.db, &v.team_ids).await?;
    let critical_due = state.config.critical_overdue_minutes as i64 * 60_000;
    let mut rows: Vec<_> = rows
        .into_iter()
        .map(|r| super::chat::escalation_view(r, critical_due))
        .collect();
    super::notifications::with_deliveries(&state.db, &mut rows).await?;
    Ok(EscalationList {
        rows,
        next,
        open_count,
        any_ever,
        agents,
        now_ms: super::db::now_ms(),
    })
}

pub async fn open_count() -> Result<i64, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    count_open_once(&state.db, &v.team_ids).await
}

/// The open count of one page view, asked once: the menu and the Escalations page both show
/// it while the page renders on the server (provided per request by the router).
#[derive(Clone, Default)]
pub struct OpenCountOnce(std::sync::Arc<tokio::sync::OnceCell<i64>>);

async fn count_open_once(db: &super::db::Db, team_ids: &[String]) -> Result<i64, AppError> {
    let count = || async { esc_db::count_open(db, team_ids).await };
    Ok(match leptos::prelude::use_context::<OpenCountOnce>() {
        Some(once) => *once.0.get_or_try_init(count).await?,
        None => count().await?,
    })
}
