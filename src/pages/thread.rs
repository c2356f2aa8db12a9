//! `/app/chat/{id}`: one thread, live. Messages (sanitised Markdown from the server), inline
//! escalation cards, the reply as it streams, and the composer.

use crate::chat::{
    MAX_MESSAGE_BYTES, MessageKind, MessageView, RetryRun, RunStatus, SendMessage, load_thread,
};
use crate::components::data::data;
use crate::components::escalation_card::EscalationCard;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::components::live::{coalesced, use_live};
use crate::live::Change;
use leptos::html::Textarea;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ThreadPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let thread = data(id, load_thread);
    // One fetch per change, however many events announce it (an answer sends four).
    let refetch = coalesced(move || thread.refetch());
    let answered = Callback::new(move |()| thread.refetch());
    // Reply text as the provider produces it, until the finished message arrives.
    let streaming = RwSignal::new(String::new());
    use_live(move |event| match event {
        None => refetch(),
        Some(ev) if ev.thread_id == params.with_untracked(|p| p.get("id").unwrap_or_default()) => {
            match ev.change {
                Change::Delta { text, .. } => streaming.update(|s| s.push_str(&text)),
                _ => {
                    streaming.set(String::new());
                    refetch();
                }
            }
        }
        Some(_) => {}
    });
    let send = ServerAction::<SendMessage>::new();
    let retry = ServerAction::<RetryRun>::new();
    let composer = NodeRef::<Textarea>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = send.value().get() {
            if let Some(t) = composer.get_untracked() {
                t.set_value("");
            }
            thread.refetch();
        }
    });
    Effect::new(move |_| {
        if retry.version().get() > 0 {
            thread.refetch();
        }
    });
    let send_error = Signal::derive(move || {
        send.value()
            .with(error_text)
            .or_else(|| retry.value().with(error_text))
    });
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match thread.await {
                    Err(e) => {
                        view! {
                            <Title text="Chat · Flare" />
                            <h1>"Chat"</h1>
                            <p class="form-error" role="alert">{e.to_string()}</p>
                            <a href="/app/chat">"Back to Chat"</a>
                        }
                            .into_any_in_step()
                    }
                    Ok(t) => {
                        let agent = t.agent_name.clone();
                        let run = t.last_run.clone();
                        let working = matches!(run, Some(ref r) if r.status == RunStatus::Running);
                        let failed_run = run.filter(|r| r.status == RunStatus::Failed).map(|r| r.id);
                        view! {
                            <Title text=format!("{} · Flare", t.title) />
                            <p class="crumbs">
                                <a href="/app/chat">"Chat"</a>
                                {format!(" › trigger: {}", t.trigger)}
                            </p>
                            <h1>{t.title.clone()}</h1>
                            <ol class="messages" aria-label="Messages">
                                {t
                                    .messages
                                    .into_iter()
                                    .map(|m| view! { <Message m on_answered=answered /> })
                                    .collect_view()}
                            </ol>
                            {working
                                .then(|| {
                                    view! {
                                        <div class="msg agent streaming">
                                            <p class="author" role="status">
                                                {format!("{agent} is working…")}
                                            </p>
                                            <p class="body">{move || streaming.get()}</p>
                                        </div>
                                    }
                                })}
                            {failed_run
                                .map(|run_id| {
                                    view! {
                                        <ActionForm action=retry>
                                            {InStep(view! {
                                                <input type="hidden" name="run_id" value=run_id />
                                                <button type="submit">"Retry"</button>
                                            })}
                                        </ActionForm>
                                    }
                                })}
                        }
                            .into_any_in_step()
                    }
                }
            })}
        </Transition>
        <ActionForm action=send attr:class="composer">
            {InStep(view! {
                <input type="hidden" name="thread_id" value=id />
                <label for="composer-text">"Message"</label>
                <textarea
                    id="composer-text"
                    name="body"
                    node_ref=composer
                    required
                    rows=3
                    maxlength=MAX_MESSAGE_BYTES
                ></textarea>
                <button type="submit" class="primary" disabled=move || send.pending().get()>
                    "Send"
                </button>
            })}
        </ActionForm>
        <FormError message=send_error />
    }
}

#[component]
fn Message(m: MessageView, on_answered: Callback<()>) -> impl IntoView {
    match (m.kind, m.escalation) {
        (MessageKind::Escalation, Some(e)) => view! {
            <li class="msg card-row">
                <EscalationCard escalation=e on_answered />
            </li>
        }
        .into_any_in_step(),
        (kind, _) => {
            let class = match kind {
                MessageKind::User => "msg user",
                MessageKind::Notice => "msg notice",
                _ => "msg agent",
            };
            view! {
                <li class=class>
                    <article aria-label=format!("Message from {}", m.author)>
                        <p class="author">{m.author.clone()}</p>
                        <div class="body" inner_html=m.html></div>
                    </article>
                </li>
            }
            .into_any_in_step()
        }
    }
}
