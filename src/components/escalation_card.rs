//! The inline escalation card: "Agent Needs Help", the severity, the agent's reason, and
//! Respond & Resume (with a guidance box) or Dismiss; once answered, the outcome, who and when.

use super::form_error::{FormError, error_text};
use super::time::format_time;
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::escalations::{
    DismissEscalation, EscalationStatus, EscalationView, MAX_GUIDANCE_BYTES, RespondEscalation,
    SnoozeEscalation, severity_icon,
};
use leptos::prelude::*;

/// How an escalation's notices to its team's channels stand, one line each ("Sent to Ops
/// hook"); nothing when no channel was told.
#[component]
pub fn Deliveries(list: Vec<crate::notifications::Delivery>) -> impl IntoView {
    (!list.is_empty()).then(|| {
        view! {
            <ul class="deliveries" aria-label="Notifications">
                {list
                    .into_iter()
                    .map(|d| {
                        let state = match d.state {
                            crate::notifications::DeliveryState::Sending => "sending",
                            crate::notifications::DeliveryState::Sent => "sent",
                            crate::notifications::DeliveryState::Retrying => "retrying",
                            crate::notifications::DeliveryState::Failed => "failed",
                        };
                        view! { <li data-state=state>{d.line()}</li> }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

#[component]
pub fn EscalationCard(
    escalation: EscalationView,
    /// Called after this page answered it (the thread refetches).
    #[prop(into)]
    on_answered: Callback<()>,
) -> impl IntoView {
    let respond = ServerAction::<RespondEscalation>::new();
    let dismiss = ServerAction::<DismissEscalation>::new();
    let snooze = ServerAction::<SnoozeEscalation>::new();
    let open_box = RwSignal::new(false);
    let error = Signal::derive(move || {
        respond
            .value()
            .with(error_text)
            .or_else(|| dismiss.value().with(error_text))
            .or_else(|| snooze.value().with(error_text))
    });
    // Success or "already resolved": either way the card should show what is true now.
    Effect::new(move |_| {
        if respond.version().get() + dismiss.version().get() + snooze.version().get() > 0 {
            on_answered.run(());
        }
    });
    let (icon, label) = severity_icon(escalation.severity);
    let sev = escalation.severity.as_str();
    let id = escalation.id.clone();
    let outcome = match escalation.status {
        EscalationStatus::Open => None,
        status => Some((
            status,
            escalation.responder.clone().unwrap_or_default(),
            escalation
                .answered_at_ms
                .map(format_time)
                .unwrap_or_default(),
            escalation.guidance.clone(),
        )),
    };
    let box_id = format!("guidance-{}", escalation.id);
    let snoozed = escalation
        .snoozed_until_ms
        .filter(|_| escalation.status == EscalationStatus::Open)
        .map(|until| format!("Reminder snoozed until {}", format_time(until)));
    view! {
        <article
            id=format!("escalation-{}", escalation.id)
            class=format!("escalation-card severity-{sev}")
            data-status=escalation.status.as_str()
            aria-label="Escalation"
        >
            <header>
                <span class="severity-icon" role="img" aria-label=label title=label>
                    {icon}
                </span>
                <h3>"Agent Needs Help"</h3>
                {escalation.overdue.then(|| view! { <strong class="overdue-badge">"Overdue"</strong> })}
            </header>
            <p class="reason">{escalation.reason.clone()}</p>
            <Deliveries list=escalation.deliveries.clone() />
            {snoozed.map(|s| view! { <p class="note">{s}</p> })}
            {(!escalation.blocking)
                .then(|| {
                    view! {
                        <p class="note">"Left by a tool: the agent did not wait for an answer."</p>
                    }
                })}
            {match outcome {
                None => {
                    let id2 = id.clone();
                    let id3 = id.clone();
                    let box_id2 = box_id.clone();
                    let text_id = format!("{box_id}-text");
                    view! {
                        <div class="card-actions">
                            <button
                                type="button"
                                class="primary"
                                aria-expanded=move || open_box.get().to_string()
                                aria-controls=box_id.clone()
                                on:click=move |_| open_box.update(|o| *o = !*o)
                            >
                                "Respond & Resume"
                            </button>
                            <ActionForm action=dismiss>
                                {InStep(view! {
                                    <input type="hidden" name="escalation_id" value=id2.clone() />
                                    <button type="submit" disabled=move || dismiss.pending().get()>
                                        "Dismiss"
                                    </button>
                                })}
                            </ActionForm>
                            <ActionForm action=snooze>
                                {InStep(view! {
                                    <input type="hidden" name="escalation_id" value=id3.clone() />
                                    <input type="hidden" name="minutes" value="60" />
                                    <button type="submit" disabled=move || snooze.pending().get()>
                                        "Remind me in 1 h"
                                    </button>
                                })}
                            </ActionForm>
                        </div>
                        <div id=box_id2 class="guidance-box" hidden=move || !open_box.get()>
                            <ActionForm action=respond>
                                {InStep(view! {
                                    <input type="hidden" name="escalation_id" value=id />
                                    <label for=text_id.clone()>"Guidance for the agent"</label>
                                    <textarea
                                        id=text_id
                                        name="guidance"
                                        required
                                        maxlength=MAX_GUIDANCE_BYTES
                                        rows=3
                                        placeholder="approve the refund"
                                    ></textarea>
                                    <button type="submit" class="primary" disabled=move || respond.pending().get()>
                                        "Send guidance"
                                    </button>
                                })}
                            </ActionForm>
                        </div>
                    }
                        .into_any_in_step()
                }
                Some((status, who, when, guidance)) => {
                    let verb = if status == EscalationStatus::Resolved {
                        "Resolved"
                    } else {
                        "Dismissed"
                    };
                    view! {
                        <p class="outcome" role="status">
                            <strong>{verb}</strong>
                            {format!(" by {who} · {when}")}
                        </p>
                        {guidance
                            .map(|g| view! { <blockquote class="guidance">{g}</blockquote> })}
                    }
                        .into_any_in_step()
                }
            }}
            <FormError message=error />
        </article>
    }
}
