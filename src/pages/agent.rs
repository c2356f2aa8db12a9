//! `/app/settings/agents/{id}`: an agent's Description, saved as you type.

use crate::agents::{agent_revisions, load_agent};
use crate::components::data::data;
use crate::components::description_editor::DescriptionEditor;
use crate::components::model_picker::ModelPicker;
use crate::models::load_agent_model;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AgentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    // Both at the top of the page, so server and browser create them in the same order.
    let agent = data(id, load_agent);
    let history = data(id, agent_revisions);
    let model = data(id, load_agent_model);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let history = history.await.unwrap_or_default();
                let model = model.await.ok();
                match agent.await {
                    Err(e) => {
                        Either::Left(view! {
                            <Title text="Agent · Flare" />
                            <h1>"Agent"</h1>
                            <p class="form-error" role="alert">{e.to_string()}</p>
                            <a href="/app/settings/agents">"Back to Agents"</a>
                        })
                    }
                    Ok(detail) => {
                        Either::Right(view! {
                            <Title text=format!("{} · Flare", detail.name) />
                            <p class="crumbs">
                                <a href="/app/settings/agents">"Agents"</a>
                                " › "
                                {detail.team_name.clone()}
                            </p>
                            <h1>{detail.name.clone()}</h1>
                            <p>
                                <a href=format!("/app/chat?agent={}", detail.id)>
                                    "Chat with this agent"
                                </a>
                                " · "
                                <a href=format!("/app/settings/agents/{}/triggers", detail.id)>
                                    "Triggers"
                                </a>
                            </p>
                            {model.map(|model| view! { <ModelPicker agent_id=detail.id.clone() model /> })}
                            <DescriptionEditor detail history />
                        })
                    }
                }
            })}
        </Suspense>
    }
}
