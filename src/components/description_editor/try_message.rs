//! "Try a message": what the guardrail would do with a message under the Description as it
//! stands in the editor (saved or not). Nothing is sent to anyone and nothing is stored.

use super::save::Editor;
use crate::agents::{MatchedBy, Trial, TryMessage};
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::InStep;
use leptos::prelude::*;

#[component]
pub(super) fn TryMessageBox(editor: Editor) -> impl IntoView {
    let trial = ServerAction::<TryMessage>::new();
    let error = Signal::derive(move || trial.value().with(error_text));
    view! {
        <section class="try-message" aria-labelledby="try-heading">
            <h2 id="try-heading">"Try a message"</h2>
            <p class="helper">
                "See whether a message would escalate under the Description above, and why. Nothing is sent."
            </p>
            <ActionForm action=trial>
                {InStep(view! {
                    <input type="hidden" name="agent_id" value=editor.agent_id.get_value() />
                    <input type="hidden" name="description" prop:value=move || editor.text.get() />
                    <label for="try-message">"Message"</label>
                    <textarea id="try-message" name="message" rows=3 required></textarea>
                    <button type="submit" disabled=move || trial.pending().get()>
                        "Try it"
                    </button>
                })}
            </ActionForm>
            <FormError message=error />
            <div class="trial" aria-live="polite">
                {move || trial.value().get().and_then(Result::ok).map(|t| view! { <Verdict trial=t /> })}
            </div>
        </section>
    }
}

#[component]
fn Verdict(trial: Trial) -> impl IntoView {
    let headline = match trial.severity {
        Some(s) if trial.escalates => format!("Would escalate ({})", s.label()),
        _ => "Would not escalate".to_string(),
    };
    let threshold = trial.threshold;
    let lines = trial
        .matches
        .into_iter()
        .map(|m| {
            let what = match (m.by, m.closeness) {
                (MatchedBy::Words, _) => format!("By words: \u{201c}{}\u{201d}", m.topic),
                (MatchedBy::Meaning, Some(c)) if m.escalates => format!(
                    "By meaning: \u{201c}{}\u{201d} is close to \u{201c}{}\u{201d} ({c:.2}; {threshold:.2} escalates)",
                    m.found, m.topic
                ),
                (MatchedBy::Meaning, c) => format!(
                    "Closest, not enough: \u{201c}{}\u{201d} to \u{201c}{}\u{201d} ({:.2}; {threshold:.2} escalates)",
                    m.found,
                    m.topic,
                    c.unwrap_or(0.0)
                ),
            };
            view! {
                <li data-escalates=m.escalates.to_string()>
                    {what}
                    " · "
                    {m.severity.label()}
                    <br />
                    <small>{format!("Rule: \u{201c}{}\u{201d}", m.rule)}</small>
                </li>
            }
        })
        .collect_view();
    view! {
        <p class="verdict" data-escalates=trial.escalates.to_string()>
            <strong>{headline}</strong>
        </p>
        {trial.reason.map(|r| view! { <p class="helper">{format!("The card would say: {r}")}</p> })}
        <ul class="trial-matches">{lines}</ul>
        {(!trial.read_meaning)
            .then(|| {
                view! {
                    <p class="helper">
                        "Words only: no embedding model is loaded on this server, so meaning was not read."
                    </p>
                }
            })}
    }
}
