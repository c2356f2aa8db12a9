//! `/app/admin-agent`: the Admin Agent, an escalation coach for owners and admins. Its empty
//! chat offers the tutorial's three prompts; its drafts come with "Copy to Description".

use crate::admin_agent::{
    AdminMessage, AskAdminAgent, NAME, PROMPTS, admin_conversation, copy_link,
};
use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use leptos::html::Textarea;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminAgentPage() -> impl IntoView {
    let ask = ServerAction::<AskAdminAgent>::new();
    let stored = data(|| (), |_| admin_conversation());
    let composer = NodeRef::<Textarea>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = ask.value().get()
            && let Some(t) = composer.get_untracked()
        {
            t.set_value("");
        }
    });
    let error = Signal::derive(move || ask.value().with(error_text));
    let pending = move || {
        ask.pending().get().then(
            || view! { <p class="helper" aria-live="polite">"The Admin Agent is looking…"</p> },
        )
    };
    view! {
        <Title text="Admin Agent · Flare" />
        <h1>{NAME}</h1>
        <p class="helper">
            "Your escalation coach: it reads your teams' agents, threads and escalations, and never resolves, dismisses or edits anything."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match stored.await {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    Ok(first) => {
                        // The conversation: as stored at load, then as the last answer returned it.
                        let messages = move || match ask.value().get() {
                            Some(Ok(list)) => list,
                            _ => first.clone(),
                        };
                        view! {
                            {move || {
                                let list = messages();
                                match list.is_empty() {
                                    true => view! { <Suggestions ask /> }.into_any_in_step(),
                                    false => view! {
                                        <ol class="messages" aria-label="Conversation">
                                            {list.into_iter().map(|m| view! { <Message m /> }).collect_view()}
                                        </ol>
                                    }.into_any_in_step(),
                                }
                            }}
                        }
                            .into_any_in_step()
                    }
                }
            })}
        </Suspense>
        {pending}
        <ActionForm action=ask>
            {InStep(view! {
                <label for="admin-question">"Ask the Admin Agent"</label>
                <textarea id="admin-question" name="text" rows=3 required node_ref=composer></textarea>
                <FormError message=error />
                <button type="submit" class="primary">"Ask"</button>
            })}
        </ActionForm>
    }
}

#[component]
fn Suggestions(ask: ServerAction<AskAdminAgent>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="suggestions-heading">
            <h2 id="suggestions-heading">"Try one of these"</h2>
            <ul class="suggestions">
                {PROMPTS
                    .iter()
                    .map(|(title, prompt)| {
                        let text = prompt.to_string();
                        view! {
                            <li>
                                <button
                                    type="button"
                                    title=*prompt
                                    on:click=move |_| {
                                        ask.dispatch(AskAdminAgent { text: text.clone() });
                                    }
                                >
                                    {*title}
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Message(m: AdminMessage) -> impl IntoView {
    let who = match m.from_agent {
        true => NAME,
        false => "You",
    };
    let class = match m.from_agent {
        true => "message agent",
        false => "message user",
    };
    let offline =
        (m.from_agent && m.offline).then(|| view! { <span class="badge">"Offline"</span> });
    let label = match m.from_agent {
        true => "Answer from the Admin Agent",
        false => "Your question",
    };
    view! {
        <li>
            <article class=class aria-label=label>
            <p class="author">{who} " " {offline}</p>
            <div class="body" inner_html=m.html></div>
            {m
                .drafts
                .iter()
                .map(|d| {
                    let href = copy_link(d);
                    let label = format!("Copy to Description of {}", d.agent_name);
                    view! {
                        <p class="draft">
                            <a class="button" href=href aria-label=label>"Copy to Description"</a>
                            " (" {d.agent_name.clone()} ")"
                        </p>
                    }
                })
                .collect_view()}
            </article>
        </li>
    }
}
