//! Events: "when agent X's run completes (fails, escalates, is answered), start this agent".
//! After the source's change commits, each event trigger that follows it starts its agent with
//! a message made from its template. A run started by an event is one link further down its
//! chain; the link past `MAX_CHAIN_DEPTH` is not started, and the source thread says so, so two
//! agents that follow each other stop instead of looping forever.
//!
//! An event is handled by the instance that committed it, right after the commit: a server
//! that dies in between loses it (at most once). Each firing is keyed by the event, so handling
//! one twice starts nothing more.

use super::{Once, Start, StartError};
use crate::chat::MessageKind;
use crate::live::{Change, LiveEvent};
use crate::server::db::runs::RunRow;
use crate::server::db::threads;
use crate::server::db::triggers::{self as db, TriggerRow};
use crate::server::state::AppState;
use crate::triggers::{EventKind, MAX_CHAIN_DEPTH};

/// Something that happened to a run, with what a template may name.
pub struct Happened {
    pub kind: EventKind,
    pub run: RunRow,
    /// The escalation it concerns, if any (its id keys the firing).
    pub escalation_id: Option<String>,
    /// `{name}` → value, for the template.
    pub fields: Vec<(&'static str, String)>,
}

/// Handles `h` in the background (the caller has committed it).
pub fn after(state: &AppState, h: Happened) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = fire(&state, &h).await {
            tracing::warn!(error = %e, run = %h.run.id, "cannot handle an event");
        }
    });
}

/// `template` with each `{name}` of `fields` filled in, in one pass (a value that holds
/// `{…}` is never read again); other braces stay as written.
pub fn render(template: &str, fields: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

async fn fire(state: &AppState, h: &Happened) -> Result<(), sqlx::Error> {
    let followers = db::following(&state.db, &h.run.agent_id, h.kind.as_str()).await?;
    let source = crate::server::db::agents::by_id(&state.db, &h.run.agent_id).await?;
    let source_name = source.map(|a| a.name).unwrap_or_default();
    let mut fields = vec![
        ("agent", source_name),
        ("event", h.kind.label().to_string()),
        ("run_id", h.run.id.clone()),
        ("thread_id", h.run.thread_id.clone()),
    ];
    fields.extend(h.fields.iter().cloned());
    let depth = h.run.chain_depth + 1;
    for row in followers.iter().filter(|r| r.team_id == h.run.team_id) {
        if row.agent_deleted_at.is_some() {
            super::audit_rejected(&state.db, row, "its agent was deleted; nothing was started")
                .await;
            continue;
        }
        if depth > MAX_CHAIN_DEPTH {
            chain_cut(state, h, row).await?;
            continue;
        }
        let Some(agent) = crate::server::db::agents::by_id(&state.db, &row.agent_id).await? else {
            continue;
        };
        let message = render(row.message.as_deref().unwrap_or_default(), &fields);
        let key = format!(
            "{}:{}",
            h.kind.as_str(),
            h.escalation_id.as_deref().unwrap_or(&h.run.id)
        );
        let started = super::start_run(
            state,
            Start {
                once: Some(Once {
                    scope: format!("event:{}", row.id),
                    key: &key,
                    fingerprint: Once::fingerprint(&[message.as_bytes()]),
                }),
                chain_depth: depth,
                ..Start::fired(row, &agent, &message)
            },
        )
        .await;
        match started {
            Ok(_) => {}
            Err(StartError::Database(e)) => return Err(e),
            Err(e) => tracing::warn!(error = %e, trigger = %row.id, "event not started"),
        }
    }
    Ok(())
}

/// The chain is too long: the source thread says so, and the audit records it.
async fn chain_cut(state: &AppState, h: &Happened, row: &TriggerRow) -> Result<(), sqlx::Error> {
    let why = format!(
        "\u{201c}{}\u{201d} was not started: {MAX_CHAIN_DEPTH} agents in a row have started each other through events, and Flare stops chains there so agents cannot loop forever.",
        row.name
    );
    let mut tx = state.db.begin().await?;
    threads::add_message(
        &mut tx,
        &h.run.thread_id,
        Some(&h.run.id),
        MessageKind::Notice,
        "Flare",
        &why,
        None,
    )
    .await?;
    state
        .events
        .commit_then_publish(
            &state.db,
            tx,
            [LiveEvent::in_thread(
                &h.run.team_id,
                &h.run.thread_id,
                Change::Message,
            )],
        )
        .await?;
    super::audit_rejected(&state.db, row, &why).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn a_template_fills_the_names_it_knows_and_keeps_the_rest() {
        let fields = [
            ("agent", "Support".to_string()),
            ("reply", "Done {agent}".to_string()),
        ];
        assert_eq!(
            render("{agent} said: {reply} {unknown} {{agent}} {", &fields),
            "Support said: Done {agent} {unknown} {Support} {"
        );
    }
}
