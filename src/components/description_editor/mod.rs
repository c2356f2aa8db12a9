//! The Description editor: saves as you type (debounced), on blur and when the page is hidden
//! or left; shows "Saving…", "Saved" or "Offline — will retry"; keeps a copy of unsaved text in
//! the browser so a closed tab or a server restart loses nothing; and never overwrites someone
//! else's newer revision (the server refuses stale saves, the editor shows both texts).

mod leaving;
mod revisions;
mod save;
mod storage;
mod try_message;
mod understood;

use crate::agents::{AgentDetail, RevisionInfo};
use leptos::prelude::*;
use revisions::RevisionList;
use save::{Editor, SaveState};
use try_message::TryMessageBox;
use understood::Understood;

pub use save::{DEBOUNCE_MS, RETRY_MS};

#[component]
pub fn DescriptionEditor(detail: AgentDetail, history: Vec<RevisionInfo>) -> impl IntoView {
    let editor = Editor {
        agent_id: StoredValue::new(detail.id.clone()),
        text: RwSignal::new(detail.description.clone()),
        base: RwSignal::new(detail.revision),
        stored: RwSignal::new(detail.description.clone()),
        state: RwSignal::new(SaveState::Saved),
        in_flight: RwSignal::new(false),
        timer: StoredValue::new(None),
        history: RwSignal::new(history),
    };
    let can_edit = detail.can_edit;
    let reads_meaning = detail.reads_meaning;
    leaving::install(editor);
    add_from_link(editor, can_edit);

    let said = RwSignal::new(detail.understood.clone());
    follow_text(editor, said);

    let on_input = move |ev: leptos::ev::Event| {
        editor.text.set(event_target_value(&ev));
        editor.state.set(SaveState::Unsaved);
        storage::store(
            &editor.agent_id.get_value(),
            editor.base.get_untracked(),
            &editor.text.get_untracked(),
        );
        editor.schedule(DEBOUNCE_MS);
    };
    let status = move || match editor.state.get() {
        SaveState::Saved => "Saved".to_string(),
        SaveState::Unsaved => "Unsaved changes".to_string(),
        SaveState::Saving => "Saving…".to_string(),
        SaveState::Offline => "Offline — will retry".to_string(),
        SaveState::Conflict { .. } => "Not saved: someone else changed it".to_string(),
        SaveState::Failed(msg) => format!("Not saved: {msg}"),
    };
    view! {
        <div class="editor-grid">
            <section class="editor" aria-labelledby="description-label">
                <div class="editor-head">
                    <label id="description-label" for="description">"Description"</label>
                    <span class="save-state" role="status" aria-live="polite" data-state=move || editor.state.with(SaveState::key)>
                        {status}
                    </span>
                </div>
                <p class="helper">
                    "Tell the agent exactly when to stop and ask a person. Saved as you type; no Save button."
                </p>
                <textarea
                    id="description"
                    name="description"
                    rows=14
                    readonly=!can_edit
                    prop:value=move || editor.text.get()
                    on:input=on_input
                    on:blur=move |_| editor.save_now()
                ></textarea>
                {move || match editor.state.get() {
                    SaveState::Conflict { revision, description, author } => {
                        let theirs = description.clone();
                        Some(
                            view! {
                                <div class="conflict" role="alert">
                                    <p>
                                        {format!("{author} saved a newer version (revision {revision}) while you were typing. Their text:")}
                                    </p>
                                    <pre class="their-text">{description}</pre>
                                    <button type="button" on:click=move |_| editor.keep_mine(revision)>
                                        "Keep mine"
                                    </button>
                                    <button type="button" on:click=move |_| editor.take_theirs(revision, theirs.clone())>
                                        "Take theirs"
                                    </button>
                                </div>
                            },
                        )
                    }
                    _ => None,
                }}
                <h2>"History"</h2>
                {move || view! { <RevisionList list=editor.history.get() editor can_edit /> }}
            </section>
            <aside class="understood" aria-labelledby="understood-heading">
                <h2 id="understood-heading">"What Flare understood"</h2>
                {move || view! { <Understood said=said.get() reads_meaning /> }}
                {can_edit.then(|| view! { <TryMessageBox editor /> })}
            </aside>
        </div>
    }
}

/// How long typing must pause before "What Flare understood" is asked for again.
const PREVIEW_MS: u64 = 250;

/// Keeps "What Flare understood" in step with the text, however it changed (typing, a restored
/// copy, "Take theirs", a link): the server reads it (`read_description`), so the browser needs
/// no compiler. Answers that arrive after a newer change are dropped; when the server cannot be
/// reached the panel keeps its last reading (the save state already says "Offline").
fn follow_text(editor: Editor, said: RwSignal<crate::rules::understood::Understood>) {
    let latest = StoredValue::new(0u64);
    // The text the server's panel was read from (the page's saved Description).
    let read_from = editor.stored.get_untracked();
    Effect::new(move |_| {
        let text = editor.text.get();
        let asked = latest.get_value() + 1;
        latest.set_value(asked);
        if asked == 1 && text == read_from {
            return;
        }
        // The page may be gone by the time the timer or the answer comes (`try_`: no panic).
        let current = move || latest.try_get_value() == Some(asked);
        set_timeout(
            move || {
                if !current() {
                    return;
                }
                leptos::task::spawn_local(async move {
                    if let Ok(now) = crate::agents::read_description(text).await
                        && current()
                    {
                        said.try_set(now);
                    }
                });
            },
            std::time::Duration::from_millis(PREVIEW_MS),
        );
    });
}

/// "Copy to Description" (the Admin Agent's drafts) opens this page with `?add=<text>`: the
/// text is added at the end once, and saved like typing (a revision, autosave, the unsaved copy
/// kept in the browser). The link is then taken out of the address, so a reload adds nothing.
fn add_from_link(editor: Editor, can_edit: bool) {
    use leptos_router::NavigateOptions;
    use leptos_router::hooks::{use_location, use_navigate, use_query_map};
    let query = use_query_map();
    let location = use_location();
    let navigate = use_navigate();
    Effect::new(move |_| {
        let Some(add) = query.with_untracked(|q| q.get("add")) else {
            return;
        };
        let add = add.trim().to_string();
        let current = editor.text.get_untracked();
        if can_edit && !add.is_empty() && !current.contains(&add) {
            let next = match current.trim().is_empty() {
                true => add,
                false => format!("{}\n\n{add}", current.trim_end()),
            };
            editor.text.set(next.clone());
            storage::store(
                &editor.agent_id.get_value(),
                editor.base.get_untracked(),
                &next,
            );
            editor.state.set(SaveState::Unsaved);
            editor.schedule(0);
        }
        let path = location.pathname.get_untracked();
        navigate(
            &path,
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    });
}

/// Forgets the unsaved Description copies kept in this browser (on sign-out).
pub fn forget_unsaved_drafts() {
    storage::clear_all();
}
