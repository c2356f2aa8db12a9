//! `/app/settings/agents`: the agents of the user's teams. Owners and admins create, rename
//! and delete them (the server enforces it; the forms are only hidden from members).

use crate::agents::{AgentSummary, CreateAgent, DeleteAgent, RenameAgent, list_agents};
use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::components::shell::use_manager;
use crate::members::my_teams;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AgentsPage() -> impl IntoView {
    let create = ServerAction::<CreateAgent>::new();
    let rename = ServerAction::<RenameAgent>::new();
    let delete = ServerAction::<DeleteAgent>::new();
    let agents = data(
        move || {
            (
                create.version().get(),
                rename.version().get(),
                delete.version().get(),
            )
        },
        |_| list_agents(),
    );
    let teams = data(|| (), |_| my_teams());
    let manager = use_manager();
    let create_error = Signal::derive(move || create.value().with(error_text));
    let change_error = Signal::derive(move || {
        rename
            .value()
            .with(error_text)
            .or_else(|| delete.value().with(error_text))
    });
    view! {
        <Title text="Agents · Flare" />
        <h1>"Agents"</h1>
        <p class="helper">
            "Each agent's Description is its job description: it is where you tell it when to stop and ask a person."
        </p>
        <FormError message=change_error />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let can_manage = manager.await;
                match agents.await {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    Ok(list) if list.is_empty() => {
                        view! { <p class="empty-state">"No agents yet in your teams."</p> }.into_any_in_step()
                    }
                    Ok(list) => view! { <AgentTable list can_manage rename delete /> }.into_any_in_step(),
                }
            })}
        </Suspense>
        <Suspense>
            {move || Suspend::new(async move {
                let can_manage = manager.await;
                let teams = teams.await.unwrap_or_default();
                (can_manage && !teams.is_empty())
                    .then(|| {
                        view! {
                            <section class="card narrow" aria-labelledby="new-agent-heading">
                                <h2 id="new-agent-heading">"Create an agent"</h2>
                                <ActionForm action=create>
                                    {InStep(view! {
                                        <label for="new-agent-name">"Agent name"</label>
                                        <input id="new-agent-name" name="name" required maxlength=100 />
                                        <label for="new-agent-team">"Team"</label>
                                        <select id="new-agent-team" name="team_id">
                                            {teams
                                                .into_iter()
                                                .map(|t| view! { <option value=t.id>{t.name}</option> })
                                                .collect_view()}
                                        </select>
                                        <FormError message=create_error />
                                        <button type="submit" class="primary">"Create agent"</button>
                                    })}
                                </ActionForm>
                            </section>
                        }
                    })
            })}
        </Suspense>
    }
}

#[component]
fn AgentTable(
    list: Vec<AgentSummary>,
    can_manage: bool,
    rename: ServerAction<RenameAgent>,
    delete: ServerAction<DeleteAgent>,
) -> impl IntoView {
    view! {
        <table class="data-table">
            <thead>
                <tr>
                    <th scope="col">"Agent"</th>
                    <th scope="col">"Team"</th>
                    <th scope="col">"Escalation rules"</th>
                    {can_manage.then(|| view! { <th scope="col">"Manage"</th> })}
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|a| {
                        let href = format!("/app/settings/agents/{}", a.id);
                        let rename_label = format!("New name for {}", a.name);
                        let delete_label = format!("Delete {}", a.name);
                        let confirm = format!(
                            "Delete {}? It stops answering; its history stays in the audit log.",
                            a.name,
                        );
                        let rename_id = a.id.clone();
                        let delete_id = a.id.clone();
                        view! {
                            <tr>
                                <td>
                                    <a href=href>{a.name.clone()}</a>
                                </td>
                                <td>{a.team_name.clone()}</td>
                                <td>{a.rule_summary.clone()}</td>
                                {can_manage
                                    .then(|| {
                                        view! {
                                            <td class="manage">
                                                <ActionForm action=rename attr:class="inline-form">
                                                    {InStep(view! {
                                                        <input type="hidden" name="agent_id" value=rename_id />
                                                        <input
                                                            name="name"
                                                            aria-label=rename_label
                                                            value=a.name.clone()
                                                            required
                                                            maxlength=100
                                                        />
                                                        <button type="submit">"Rename"</button>
                                                    })}
                                                </ActionForm>
                                                <details class="confirm">
                                                    <summary>{delete_label.clone()}</summary>
                                                    <p>{confirm}</p>
                                                    <ActionForm action=delete>
                                                        {InStep(view! {
                                                            <input type="hidden" name="agent_id" value=delete_id />
                                                            <button type="submit" class="danger">
                                                                "Yes, delete"
                                                            </button>
                                                        })}
                                                    </ActionForm>
                                                </details>
                                            </td>
                                        }
                                    })}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
