//! Server side of agents: team-scoped reads, manager-only changes, revision-checked saves.

use super::auth::{Viewer, viewer};
use super::db::agents::{self, AgentRow, Author};
use super::db::audit;
use super::state::app_state;
use crate::agents::{
    AgentDetail, AgentSummary, MatchedBy, RevisionInfo, SaveOutcome, Trial, TrialMatch,
    rule_summary, understood, validate_description,
};
use crate::error::AppError;
use crate::rules::understood::Understood;
use crate::validate;

const MAX_AGENT_NAME: usize = 100;

fn not_found() -> AppError {
    AppError::NotFound("No such agent.".into())
}

fn deleted() -> AppError {
    AppError::NotFound("This agent was deleted. Your text was not saved.".into())
}

/// The agent if the viewer may see it. Another team's agent does not exist, as far as they know;
/// a deleted one says so (to its own team) so an editor can keep the text it holds.
pub async fn visible(v: &Viewer, db: &super::db::Db, agent_id: &str) -> Result<AgentRow, AppError> {
    let row = agents::by_id(db, agent_id).await?.ok_or_else(not_found)?;
    v.require_team(&row.team_id).map_err(|_| not_found())?;
    if row.deleted_at.is_some() {
        return Err(deleted());
    }
    Ok(row)
}

fn summary(row: &AgentRow) -> AgentSummary {
    AgentSummary {
        id: row.id.clone(),
        name: row.name.clone(),
        team_id: row.team_id.clone(),
        team_name: row.team_name.clone(),
        rule_summary: rule_summary(&row.description),
    }
}

pub async fn list() -> Result<Vec<AgentSummary>, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    Ok(agents::for_teams(&state.db, &v.team_ids)
        .await?
        .iter()
        .map(summary)
        .collect())
}

pub async fn create(name: String, team_id: String) -> Result<AgentSummary, AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    v.require_team(&team_id)?;
    let name = validate::name(&name, "name", MAX_AGENT_NAME)?;
    let state = app_state()?;
    let author = Author {
        id: Some(&v.user.id),
        label: &v.user.email,
    };
    let id = agents::insert(&state.db, &team_id, &name, "", author).await?;
    audit::record_for(
        &state.db,
        v.actor(),
        Some(&team_id),
        "agent.created",
        &id,
        &name,
    )
    .await?;
    let row = agents::by_id(&state.db, &id)
        .await?
        .ok_or(AppError::Internal)?;
    Ok(summary(&row))
}

pub async fn rename(agent_id: String, name: String) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let row = visible(&v, &state.db, &agent_id).await?;
    v.require_manager()?;
    let name = validate::name(&name, "name", MAX_AGENT_NAME)?;
    let mut tx = state.db.begin().await?;
    if !agents::rename(&mut *tx, &row.id, &name).await? {
        return Err(not_found());
    }
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&row.team_id),
        "agent.renamed",
        &row.id,
        &format!("{} -> {name}", row.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(agent_id: String) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let row = visible(&v, &state.db, &agent_id).await?;
    v.require_manager()?;
    let mut tx = state.db.begin().await?;
    if !agents::soft_delete(&mut *tx, &row.id).await? {
        return Err(not_found());
    }
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&row.team_id),
        "agent.deleted",
        &row.id,
        &row.name,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn detail(agent_id: String) -> Result<AgentDetail, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let row = visible(&v, &state.db, &agent_id).await?;
    Ok(AgentDetail {
        id: row.id,
        name: row.name,
        team_id: row.team_id,
        team_name: row.team_name,
        understood: understood(&row.description),
        description: row.description,
        revision: row.revision,
        can_edit: v.user.role.can_manage(),
        reads_meaning: state.runtime.meaning.missing().is_none(),
    })
}

pub async fn read_description(description: String) -> Result<Understood, AppError> {
    viewer().await?;
    validate_description(&description)?;
    Ok(understood(&description))
}

pub async fn revisions(agent_id: String) -> Result<Vec<RevisionInfo>, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let row = visible(&v, &state.db, &agent_id).await?;
    Ok(agents::revisions(&state.db, &row.id)
        .await?
        .into_iter()
        .map(|r| RevisionInfo {
            revision: r.revision,
            author: r.author,
            at_ms: r.created_at,
            description: r.description,
        })
        .collect())
}

pub async fn save_description(
    agent_id: String,
    base_revision: i64,
    description: String,
) -> Result<SaveOutcome, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let row = visible(&v, &state.db, &agent_id).await?;
    v.require_manager()?;
    validate_description(&description)?;
    let outcome = save(&v, &state.db, row, base_revision, &description).await?;
    prepare_meaning(&state, description);
    Ok(outcome)
}

/// Embeds a saved Description's topics in the background, so its next message does not wait.
fn prepare_meaning(state: &super::state::AppState, description: String) {
    let meaning = state.runtime.meaning.clone();
    if meaning.missing().is_none() {
        // A failure is logged where it happens (`semantic::blocking`).
        tokio::spawn(async move {
            let policy = crate::rules::compile(&description);
            let _ = meaning.prepare(&description, &policy).await;
        });
    }
}

pub async fn try_message(
    agent_id: String,
    description: String,
    message: String,
) -> Result<Trial, AppError> {
    use super::runtime::{guardrail, rules_text, semantic};
    let v = viewer().await?;
    let state = app_state()?;
    visible(&v, &state.db, &agent_id).await?;
    v.require_manager()?;
    validate_description(&description)?;
    let message = validate::long_text(&message, "message", crate::chat::MAX_MESSAGE_BYTES)?;
    let policy = crate::rules::compile(&description);
    let rule_text = |i: usize| policy.rules[i].sentence.clone();
    let lexical = policy.evaluate(&rules_text(&message));
    let mut verdict = guardrail::lexical_escalation(&policy, &lexical);
    let mut matches: Vec<TrialMatch> = lexical
        .into_iter()
        .map(|m| TrialMatch {
            rule: rule_text(m.rule),
            by: MatchedBy::Words,
            topic: m.matched.clone(),
            found: m.matched,
            closeness: None,
            escalates: true,
            severity: m.severity,
        })
        .collect();
    let meaning = state
        .runtime
        .meaning
        .evaluate(&description, &policy, &message)
        .await;
    let read_meaning = meaning.is_ok();
    if let Ok(found) = &meaning {
        if verdict.is_none() {
            verdict = guardrail::semantic_escalation(&policy, found);
        }
        // Rules that matched by words already say why; meaning adds the others.
        for m in found {
            let rule = rule_text(m.rule);
            if matches.iter().any(|t| t.rule == rule) {
                continue;
            }
            matches.push(TrialMatch {
                rule,
                by: MatchedBy::Meaning,
                topic: m.topic.clone(),
                found: m.sentence.clone(),
                closeness: Some(m.closeness),
                escalates: m.escalates(),
                severity: m.severity,
            });
        }
    }
    matches.sort_by_key(|m| !m.escalates);
    Ok(Trial {
        escalates: verdict.is_some(),
        severity: verdict.as_ref().map(|e| e.severity),
        reason: verdict.map(|e| e.reason),
        matches,
        threshold: semantic::THRESHOLD,
        read_meaning,
    })
}

async fn save(
    v: &Viewer,
    db: &super::db::Db,
    row: AgentRow,
    base: i64,
    description: &str,
) -> Result<SaveOutcome, AppError> {
    if base > row.revision || base < 1 {
        return Err(AppError::invalid(format!(
            "Revision {base} does not exist; the latest is {}.",
            row.revision
        )));
    }
    let author = Author {
        id: Some(&v.user.id),
        label: &v.user.email,
    };
    if let Some(revision) = agents::save_description(db, &row.id, base, description, author).await?
    {
        return Ok(SaveOutcome::Saved { revision });
    }
    // Someone saved in between: show them what is there now, change nothing.
    let now = agents::by_id(db, &row.id).await?.ok_or_else(not_found)?;
    if now.deleted_at.is_some() {
        return Err(deleted());
    }
    let author = agents::revision(db, &row.id, now.revision)
        .await?
        .map(|r| r.author)
        .unwrap_or_default();
    Ok(SaveOutcome::Conflict {
        revision: now.revision,
        description: now.description,
        author,
    })
}

pub async fn restore(
    agent_id: String,
    revision: i64,
    base_revision: i64,
) -> Result<SaveOutcome, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let row = visible(&v, &state.db, &agent_id).await?;
    v.require_manager()?;
    let old = agents::revision(&state.db, &row.id, revision)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("Revision {revision} does not exist.")))?;
    let outcome = save(&v, &state.db, row, base_revision, &old.description).await?;
    prepare_meaning(&state, old.description);
    Ok(outcome)
}
