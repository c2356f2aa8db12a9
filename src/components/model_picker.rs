//! The "Model" card of an agent's page: which connection and model answer for it, from its
//! next message on. Owners and admins change it; members read it.

use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::InStep;
use crate::models::{AgentModel, SetAgentModel};
use leptos::prelude::*;

#[component]
pub fn ModelPicker(agent_id: String, model: AgentModel) -> impl IntoView {
    let save = ServerAction::<SetAgentModel>::new();
    let error = Signal::derive(move || save.value().with(error_text));
    let choices = StoredValue::new(model.choices.clone());
    let chosen = RwSignal::new(model.selected.clone());
    // After a save, what the agent answers with, in words; a new pick clears it.
    let saved = move || {
        save.value().with(|v| matches!(v, Some(Ok(())))).then(|| {
            let v = chosen.get();
            let label = choices
                .with_value(|c| c.iter().find(|x| x.value == v).map(|x| x.label.clone()))
                .unwrap_or_default();
            format!("Done: {label} answers from this agent's next message on.")
        })
    };
    let on_change = move |ev: leptos::ev::Event| {
        chosen.set(event_target_value(&ev));
        save.value().set(None);
    };
    let notice = model.notice.clone();
    view! {
        <section class="card" aria-labelledby="model-heading">
            <h2 id="model-heading">"Model"</h2>
            <p>"Answers with: " <strong>{model.in_use.clone()}</strong></p>
            {notice.map(|n| view! { <p class="form-error" role="alert">{n}</p> })}
            {match model.can_edit {
                false => None,
                true => {
                    Some(
                        InStep(view! {
                            <ActionForm action=save>
                                <input type="hidden" name="agent_id" value=agent_id.clone() />
                                <label for="agent-model">"Connection and model"</label>
                                <select id="agent-model" name="choice" on:change=on_change>
                                    {model
                                        .choices
                                        .iter()
                                        .map(|c| {
                                            view! {
                                                <option value=c.value.clone() selected=c.value == model.selected>
                                                    {c.label.clone()}
                                                </option>
                                            }
                                        })
                                        .collect_view()}
                                </select>
                                <p class="helper">
                                    "Applies from the agent's next message on; runs under way finish with the model they started with. "
                                    <a href="/app/settings/models">"Settings → Models"</a>
                                </p>
                                <FormError message=error />
                                <button type="submit">"Use this model"</button>
                                <p class="helper" aria-live="polite">{saved}</p>
                            </ActionForm>
                        }),
                    )
                }
            }}
        </section>
    }
}
