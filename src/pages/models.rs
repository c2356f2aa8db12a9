//! `/app/settings/models`: connections to language models for the whole deployment (owners and
//! admins). Keys are shown only as `sk-…abcd`; the environment's connection is read-only.

use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::models::{
    AddConnection, ConnectionInfo, DeleteConnection, MakeDefaultConnection, TestConnection,
    UpdateConnection, list_connections,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[derive(Clone, Copy)]
struct Actions {
    test: ServerAction<TestConnection>,
    default: ServerAction<MakeDefaultConnection>,
    delete: ServerAction<DeleteConnection>,
    update: ServerAction<UpdateConnection>,
}

#[component]
pub fn ModelsPage() -> impl IntoView {
    let add = ServerAction::<AddConnection>::new();
    let actions = Actions {
        test: ServerAction::new(),
        default: ServerAction::new(),
        delete: ServerAction::new(),
        update: ServerAction::new(),
    };
    let overview = data(
        move || {
            (
                add.version().get(),
                actions.default.version().get(),
                actions.delete.version().get(),
                actions.update.version().get(),
            )
        },
        |_| list_connections(),
    );
    let add_error = Signal::derive(move || add.value().with(error_text));
    let row_error = Signal::derive(move || {
        actions
            .default
            .value()
            .with(error_text)
            .or_else(|| actions.delete.value().with(error_text))
            .or_else(|| actions.update.value().with(error_text))
            .or_else(|| actions.test.value().with(error_text))
    });
    let tested = move || {
        actions.test.value().get().and_then(Result::ok).map(|t| {
            let class = if t.ok {
                "test-result ok"
            } else {
                "test-result failed"
            };
            view! { <p class=class role="status">{t.message}</p> }
        })
    };
    let testing = move || {
        actions
            .test
            .pending()
            .get()
            .then(|| view! { <p class="helper">"Testing…"</p> })
    };
    view! {
        <Title text="Models · Flare" />
        <h1>"Models"</h1>
        <p class="helper">
            "Connections to language models, for the whole deployment. Each agent picks a connection and a model on its page; agents that don't pick one use the default. Keys are stored encrypted and never shown again."
        </p>
        <FormError message=row_error />
        {testing}
        {tested}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    Ok(o) => {
                        let keys_note = (!o.can_store_keys).then(|| view! {
                            <p class="notice">
                                "Flare cannot store keys yet: set FLARE_SECRET_KEY (64 hexadecimal digits, from openssl rand -hex 32, the same on every instance) and restart. Connections without a key (a local server) work meanwhile."
                            </p>
                        });
                        view! {
                            <p>"Default for agents: " <strong>{o.default_label.clone()}</strong></p>
                            {keys_note}
                            {match o.connections.is_empty() {
                                true => view! { <p class="empty-state">"No connections yet: agents answer with Flare's offline rules."</p> }.into_any_in_step(),
                                false => view! {
                                    <table class="data-table" aria-label="Connections">
                                        <thead>
                                            <tr>
                                                <th scope="col">"Name"</th>
                                                <th scope="col">"Kind"</th>
                                                <th scope="col">"Base URL"</th>
                                                <th scope="col">"Key"</th>
                                                <th scope="col">"Models"</th>
                                                <th scope="col">"Used by"</th>
                                                <th scope="col">"Actions"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {o.connections.into_iter().map(|c| view! { <ConnectionRowView c actions /> }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any_in_step(),
                            }}
                        }
                            .into_any_in_step()
                    }
                }
            })}
        </Suspense>
        <section class="card narrow" aria-labelledby="new-connection-heading">
            <h2 id="new-connection-heading">"Add a connection"</h2>
            <ActionForm action=add>
                {InStep(view! {
                    <label for="connection-name">"Connection name"</label>
                    <input id="connection-name" name="name" required maxlength=80 />
                    <label for="connection-kind">"Kind"</label>
                    <select id="connection-kind" name="kind">
                        <option value="openai">"OpenAI-compatible"</option>
                        <option value="anthropic">"Anthropic"</option>
                    </select>
                    <label for="connection-url">"Base URL"</label>
                    <input id="connection-url" name="base_url" type="url" placeholder="https://api.openai.com/v1 or https://api.anthropic.com" />
                    <p class="helper">"Leave empty for the vendor's own address. Ollama: http://localhost:11434/v1."</p>
                    <label for="connection-key">"API key"</label>
                    <input id="connection-key" name="api_key" type="password" autocomplete="off" />
                    <label for="connection-models">"Models"</label>
                    <input id="connection-models" name="models" required placeholder="gpt-4o-mini, gpt-4o" />
                    <p class="helper">"Separated by commas; the first is the connection's default."</p>
                    <FormError message=add_error />
                    <button type="submit" class="primary">"Add connection"</button>
                })}
            </ActionForm>
        </section>
    }
}

#[component]
fn ConnectionRowView(c: ConnectionInfo, actions: Actions) -> impl IntoView {
    let used_by = match c.agents.is_empty() {
        true => "—".to_string(),
        false => c.agents.join(", "),
    };
    let default_cell = match c.is_default {
        true => view! { <span class="badge">"Default"</span> }.into_any_in_step(),
        false => {
            let (id, label) = (c.id.clone(), format!("Make {} the default", c.name));
            view! {
                <ActionForm action=actions.default>
                    <input type="hidden" name="connection_id" value=id />
                    <button type="submit" aria-label=label>"Make default"</button>
                </ActionForm>
            }
            .into_any_in_step()
        }
    };
    let manage = (!c.from_environment).then(|| {
        let models = c.models.join(", ");
        let (id1, id2) = (c.id.clone(), c.id.clone());
        let (models_id, key_id) = (format!("models-{}", c.id), format!("key-{}", c.id));
        let (models_for, key_for) = (models_id.clone(), key_id.clone());
        let delete_label = format!("Delete {}", c.name);
        view! {
            <details>
                <summary>"Edit"</summary>
                <ActionForm action=actions.update>
                    <input type="hidden" name="connection_id" value=id1 />
                    <label for=models_for>"Models"</label>
                    <input id=models_id name="models" value=models required />
                    <label for=key_for>"New API key (empty keeps the current one)"</label>
                    <input id=key_id name="api_key" type="password" autocomplete="off" />
                    <button type="submit">"Save changes"</button>
                </ActionForm>
            </details>
            <ActionForm action=actions.delete>
                <input type="hidden" name="connection_id" value=id2 />
                <button type="submit" class="danger" aria-label=delete_label>"Delete"</button>
            </ActionForm>
        }
    });
    let label = match c.from_environment {
        true => format!("{} (read-only)", c.name),
        false => c.name.clone(),
    };
    let (test_id, test_label) = (c.id.clone(), format!("Test {}", c.name));
    view! {
        <tr>
            <td>{label}</td>
            <td>{c.kind.label()}</td>
            <td>{c.base_url.clone()}</td>
            <td><code>{c.key_hint.clone()}</code></td>
            <td>{c.models.join(", ")}</td>
            <td>{used_by}</td>
            <td class="actions">
                <ActionForm action=actions.test>
                    <input type="hidden" name="connection_id" value=test_id />
                    <button type="submit" aria-label=test_label>"Test connection"</button>
                </ActionForm>
                {default_cell}
                {manage}
            </td>
        </tr>
    }
}
