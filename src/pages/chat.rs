//! `/app/chat`: the user's threads and a way to start one with any agent of their teams.

use crate::agents::list_agents;
use crate::chat::{StartThread, list_threads};
use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::components::live::use_live;
use crate::components::shell::use_manager;
use crate::components::time::format_time;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn ChatPage() -> impl IntoView {
    let start = ServerAction::<StartThread>::new();
    let threads = data(|| (), |_| list_threads());
    let agents = data(|| (), |_| list_agents());
    // `?agent=<id>` (the agent page's link) preselects that agent.
    let query = use_query_map();
    let chosen = move || query.read().get("agent").unwrap_or_default();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = start.value().get() {
            navigate(&format!("/app/chat/{id}"), Default::default());
        }
    });
    use_live(move |_| threads.refetch());
    let start_error = Signal::derive(move || start.value().with(error_text));
    let manager = use_manager();
    view! {
        <Title text="Chat · Flare" />
        <h1>"Chat"</h1>
        // The Admin Agent comes first, for owners and admins (the only ones it answers).
        <Suspense>
            {move || Suspend::new(async move {
                manager.await.then(|| view! {
                    <section class="card narrow admin-agent" aria-labelledby="admin-agent-heading">
                        <h2 id="admin-agent-heading">{crate::admin_agent::NAME}</h2>
                        <p>"Your escalation coach: where agents should escalate, the wording to add, and a review of past escalations."</p>
                        <a href="/app/admin-agent">"Chat with the Admin Agent"</a>
                    </section>
                })
            })}
        </Suspense>
        <section class="card narrow" aria-labelledby="start-heading">
            <h2 id="start-heading">"Start a chat"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match agents.await {
                        Ok(list) if list.is_empty() => {
                            view! { <p class="empty-state">"No agents in your teams yet."</p> }
                                .into_any_in_step()
                        }
                        Ok(list) => {
                            let chosen = chosen();
                            view! {
                                <ActionForm action=start>
                                    {InStep(view! {
                                        <label for="chat-agent">"Agent"</label>
                                        <select id="chat-agent" name="agent_id">
                                            {list
                                                .into_iter()
                                                .map(|a| {
                                                    let selected = a.id == chosen;
                                                    view! {
                                                        <option value=a.id selected=selected>
                                                            {format!("{} ({})", a.name, a.team_name)}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()}
                                        </select>
                                        <button type="submit" class="primary">
                                            "Start chat"
                                        </button>
                                    })}
                                </ActionForm>
                            }
                                .into_any_in_step()
                        }
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    }
                })}
            </Suspense>
            <FormError message=start_error />
        </section>
        <h2>"Your threads"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match threads.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="empty-state">"No threads yet. Start a chat above."</p> }
                            .into_any_in_step()
                    }
                    Ok(list) => {
                        view! {
                            <ul class="thread-list" aria-label="Threads">
                                {list
                                    .into_iter()
                                    .map(|t| {
                                        view! {
                                            <li>
                                                <a href=format!("/app/chat/{}", t.id)>{t.title}</a>
                                                <span class="meta">
                                                    {format!(
                                                        "{} · trigger: {} · {}",
                                                        t.team_name,
                                                        t.trigger,
                                                        format_time(t.updated_at_ms),
                                                    )}
                                                </span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any_in_step()
                    }
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                }
            })}
        </Transition>
    }
}
