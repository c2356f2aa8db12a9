//! The Description editor: saves as you type (debounced), on blur and when the page is hidden
//! or left; shows "Saving…", "Saved" or "Offline — will retry"; keeps a copy of unsaved text in
//! the browser so a closed tab or a server restart loses nothing; and never overwrites someone
//! else's newer revision (the server refuses stale saves, the editor shows both texts).

use super::time::format_time;
use crate::agents::{
    AgentDetail, RevisionInfo, SaveOutcome, agent_revisions, restore_revision, save_description,
};
use crate::error::AppError;
use crate::rules::{self, Severity};
use leptos::prelude::*;

/// No more than this after the last keystroke, a save starts.
pub const DEBOUNCE_MS: u64 = 600;
/// Between retries while the server cannot be reached.
pub const RETRY_MS: u64 = 2000;

#[derive(Clone, Debug, PartialEq)]
enum SaveState {
    Saved,
    Unsaved,
    Saving,
    Offline,
    Conflict {
        revision: i64,
        description: String,
        author: String,
    },
    Failed(String),
}

impl SaveState {
    /// A stable name for tests and styling.
    fn key(&self) -> &'static str {
        match self {
            SaveState::Saved => "saved",
            SaveState::Unsaved => "unsaved",
            SaveState::Saving => "saving",
            SaveState::Offline => "offline",
            SaveState::Conflict { .. } => "conflict",
            SaveState::Failed(_) => "failed",
        }
    }
}

#[derive(Clone, Copy)]
struct Editor {
    agent_id: StoredValue<String>,
    text: RwSignal<String>,
    /// The revision the text in the editor is based on.
    base: RwSignal<i64>,
    /// The text known to be stored at `base`.
    stored: RwSignal<String>,
    state: RwSignal<SaveState>,
    in_flight: RwSignal<bool>,
    timer: StoredValue<Option<TimeoutHandle>>,
    /// The saved revisions, newest first (rendered with the page, refreshed after each save).
    history: RwSignal<Vec<RevisionInfo>>,
}

impl Editor {
    fn dirty(&self) -> bool {
        self.text
            .try_with_untracked(|t| self.stored.try_with_untracked(|s| t != s))
            .flatten()
            .unwrap_or(false)
    }

    fn schedule(self, ms: u64) {
        if let Some(h) = self.timer.get_value() {
            h.clear();
        }
        let handle = set_timeout_with_handle(
            move || self.save_now(),
            std::time::Duration::from_millis(ms),
        )
        .ok();
        self.timer.set_value(handle);
    }

    fn save_now(self) {
        if self.in_flight.get_untracked()
            || matches!(self.state.get_untracked(), SaveState::Conflict { .. })
        {
            return;
        }
        if !self.dirty() {
            self.state.set(SaveState::Saved);
            backup::clear(&self.agent_id.get_value());
            return;
        }
        let text = self.text.get_untracked();
        let base = self.base.get_untracked();
        self.in_flight.set(true);
        self.state.set(SaveState::Saving);
        leptos::task::spawn_local(async move {
            let result = save_description(self.agent_id.get_value(), base, text.clone()).await;
            self.in_flight.set(false);
            self.apply(result, text);
        });
    }

    fn apply(self, result: Result<SaveOutcome, AppError>, text: String) {
        match result {
            Ok(SaveOutcome::Saved { revision }) => {
                self.base.set(revision);
                self.stored.set(text);
                self.refresh_history();
                if self.dirty() {
                    // More was typed while this save was on its way.
                    self.schedule(0);
                } else {
                    self.state.set(SaveState::Saved);
                    backup::clear(&self.agent_id.get_value());
                }
            }
            Ok(SaveOutcome::Conflict {
                revision,
                description,
                author,
            }) => {
                self.state.set(SaveState::Conflict {
                    revision,
                    description,
                    author,
                });
            }
            // The request never got an answer (or a proxy's, not ours): keep the text, try
            // again. An error of our own is not the browser being offline: say so, keep the
            // text here (and in the browser's copy), and save with the next edit.
            Err(AppError::Request(_)) => {
                self.state.set(SaveState::Offline);
                self.schedule(RETRY_MS);
            }
            Err(e) => self.state.set(SaveState::Failed(e.to_string())),
        }
    }

    /// Reloads the history after a save; the page was rendered with it, so this is client-only.
    fn refresh_history(self) {
        leptos::task::spawn_local(async move {
            if let Some(id) = self.agent_id.try_get_value()
                && let Ok(list) = agent_revisions(id).await
            {
                self.history.try_set(list);
            }
        });
    }

    fn keep_mine(self, revision: i64) {
        self.base.set(revision);
        self.state.set(SaveState::Unsaved);
        self.save_now();
    }

    fn take_theirs(self, revision: i64, description: String) {
        self.base.set(revision);
        self.stored.set(description.clone());
        self.text.set(description);
        self.state.set(SaveState::Saved);
        backup::clear(&self.agent_id.get_value());
    }
}

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
    browser::install(editor);

    let policy = Memo::new(move |_| editor.text.with(|t| rules::compile(t)));

    let on_input = move |ev: leptos::ev::Event| {
        editor.text.set(event_target_value(&ev));
        editor.state.set(SaveState::Unsaved);
        backup::store(
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
                {move || policy.with(|p| view! { <Understood policy=p.clone() /> })}
            </aside>
        </div>
    }
}

#[component]
fn RevisionList(list: Vec<RevisionInfo>, editor: Editor, can_edit: bool) -> impl IntoView {
    let current = editor.base.get_untracked();
    view! {
        <ol class="revisions">
            {list
                .into_iter()
                .map(|r| {
                    let label = format!("Restore revision {}", r.revision);
                    let revision = r.revision;
                    view! {
                        <li>
                            <span>{format!("Revision {} · {} · ", r.revision, r.author)}</span>
                            <time data-ms=r.at_ms.to_string()>{format_time(r.at_ms)}</time>
                            {(can_edit && r.revision != current)
                                .then(|| {
                                    view! {
                                        <button
                                            type="button"
                                            aria-label=label
                                            on:click=move |_| {
                                                let base = editor.base.get_untracked();
                                                // The text to restore is already here, in the history.
                                                let text = editor
                                                    .history
                                                    .with_untracked(|h| h.iter().find(|r| r.revision == revision).map(|r| r.description.clone()))
                                                    .unwrap_or_default();
                                                leptos::task::spawn_local(async move {
                                                    let result = restore_revision(editor.agent_id.get_value(), revision, base).await;
                                                    if matches!(result, Ok(SaveOutcome::Saved { .. })) {
                                                        editor.text.set(text.clone());
                                                    }
                                                    editor.apply(result, text);
                                                });
                                            }
                                        >
                                            "Restore"
                                        </button>
                                    }
                                })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

#[component]
fn Understood(policy: rules::Policy) -> impl IntoView {
    let rule_items: Vec<String> = policy
        .rules
        .iter()
        .map(|r| {
            let what = match &r.trigger {
                rules::Trigger::AnyOf(ts) => format!(
                    "the message mentions {}",
                    ts.iter()
                        .map(|t| format!("\u{201c}{}\u{201d}", t.text))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                rules::Trigger::Over {
                    subject,
                    amount,
                    unit,
                    ..
                } => format!(
                    "it is about {} over {}",
                    subject.join(" "),
                    rules::show_amount(*amount, *unit)
                ),
            };
            let severity: Severity = policy.rule_severity(r);
            let mut line = format!("{what} ({})", severity.label());
            if !r.before_escalating.is_empty() {
                line.push_str(&format!("; first: {}", r.before_escalating.join("; ")));
            }
            if r.flag_only {
                line.push_str("; flag it without drafting a reply");
            }
            line
        })
        .collect();
    view! {
        {if rule_items.is_empty() {
            view! { <p class="helper">"No rule Flare can enforce yet."</p> }.into_any()
        } else {
            view! {
                <p>"Flare will escalate when:"</p>
                <ul class="rules">{rule_items.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
            }
                .into_any()
        }}
        {(!policy.model_judged.is_empty())
            .then(|| {
                view! {
                    <p>"Left to the model to judge:"</p>
                    <ul class="rules judged">
                        {policy.model_judged.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}
                    </ul>
                }
            })}
        {(!policy.lints.is_empty())
            .then(|| {
                view! {
                    <ul class="lints" aria-label="Rule warnings">
                        {policy
                            .lints
                            .iter()
                            .map(|l| {
                                view! {
                                    <li>
                                        {(!l.sentence.is_empty()).then(|| view! { <q>{l.sentence.clone()}</q> " " })}
                                        {l.why.clone()}
                                        " "
                                        <em>{format!("Try: {}", l.suggestion)}</em>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
            })}
    }
}

/// Forgets the unsaved Description copies kept in this browser (on sign-out).
pub fn forget_unsaved_drafts() {
    backup::clear_all();
}

/// A copy of unsaved text in localStorage, so a closed tab or a failed save loses nothing.
mod backup {
    #[cfg(feature = "hydrate")]
    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    #[cfg(feature = "hydrate")]
    fn key(agent_id: &str) -> String {
        format!("flare.description.{agent_id}")
    }

    pub fn store(agent_id: &str, base: i64, text: &str) {
        #[cfg(feature = "hydrate")]
        if let Some(s) = storage() {
            let _ = s.set_item(&key(agent_id), &format!("{base}\n{text}"));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (agent_id, base, text);
    }

    pub fn clear(agent_id: &str) {
        #[cfg(feature = "hydrate")]
        if let Some(s) = storage() {
            let _ = s.remove_item(&key(agent_id));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = agent_id;
    }

    /// Forgets every unsaved copy in this browser (signing out: the next person at this
    /// browser must not find them).
    pub fn clear_all() {
        #[cfg(feature = "hydrate")]
        if let Some(s) = storage() {
            let keys: Vec<String> = (0..s.length().unwrap_or(0))
                .filter_map(|i| s.key(i).ok().flatten())
                .filter(|k| k.starts_with("flare.description."))
                .collect();
            for k in keys {
                let _ = s.remove_item(&k);
            }
        }
    }

    /// The unsaved copy: the revision it was typed on, and the text.
    #[cfg(feature = "hydrate")]
    pub fn load(agent_id: &str) -> Option<(i64, String)> {
        let raw = storage()?.get_item(&key(agent_id)).ok()??;
        let (base, text) = raw.split_once('\n')?;
        Some((base.parse().ok()?, text.to_string()))
    }
}

/// Browser-only wiring: restore an unsaved copy, and flush when the page is hidden or left.
mod browser {
    use super::Editor;

    #[cfg(not(feature = "hydrate"))]
    pub fn install(_editor: Editor) {}

    #[cfg(feature = "hydrate")]
    pub fn install(editor: Editor) {
        use super::{SaveState, backup};
        use leptos::prelude::*;
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;

        // After hydration: an unsaved copy from a closed tab or a failed save comes back.
        Effect::new(move |_| {
            let id = editor.agent_id.get_value();
            if let Some((base, text)) = backup::load(&id) {
                let server_text = editor.stored.get_untracked();
                if text != server_text {
                    editor.text.set(text);
                    if base == editor.base.get_untracked() {
                        editor.state.set(SaveState::Unsaved);
                        editor.schedule(0);
                    } else {
                        // Typed on an older revision: the server will report the conflict.
                        editor.base.set(base);
                        editor.state.set(SaveState::Unsaved);
                        editor.schedule(0);
                    }
                } else {
                    backup::clear(&id);
                }
            }
        });

        // Leaving or hiding the page: send what is unsaved with a beacon, which outlives the
        // page. `try_` reads: after the editor is gone the listeners do nothing.
        let flush = move || {
            let (Some(text), Some(base), Some(state)) = (
                editor.text.try_get_untracked(),
                editor.base.try_get_untracked(),
                editor.state.try_get_untracked(),
            ) else {
                return;
            };
            if editor.dirty()
                && !matches!(state, SaveState::Conflict { .. })
                && let Some(id) = editor.agent_id.try_get_value()
            {
                send_beacon(&id, base, &text);
            }
        };
        let on_hide = Closure::<dyn Fn()>::new(move || {
            if leptos::prelude::document().visibility_state() == web_sys::VisibilityState::Hidden {
                flush();
            }
        });
        let on_pagehide = Closure::<dyn Fn()>::new(flush);
        let _ = leptos::prelude::document()
            .add_event_listener_with_callback("visibilitychange", on_hide.as_ref().unchecked_ref());
        let _ = leptos::prelude::window()
            .add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
        // Removed when the editor goes, so opening one agent after another adds no listeners.
        let listeners = StoredValue::new_local(Some((on_hide, on_pagehide)));
        // Navigating away inside the app (no page unload): flush now.
        on_cleanup(move || {
            flush();
            if let Some(h) = editor.timer.try_get_value().flatten() {
                h.clear();
            }
            if let Some((on_hide, on_pagehide)) = listeners.try_update_value(Option::take).flatten()
            {
                let _ = leptos::prelude::document().remove_event_listener_with_callback(
                    "visibilitychange",
                    on_hide.as_ref().unchecked_ref(),
                );
                let _ = leptos::prelude::window().remove_event_listener_with_callback(
                    "pagehide",
                    on_pagehide.as_ref().unchecked_ref(),
                );
            }
        });
    }

    /// Posts the save as the server function's own form, to its own path: a request that
    /// survives the page closing. Built from `SaveDescription`, so a renamed argument breaks
    /// the build instead of silently losing the last words typed.
    #[cfg(feature = "hydrate")]
    fn send_beacon(agent_id: &str, base: i64, text: &str) {
        use crate::agents::SaveDescription;
        use server_fn::ServerFn;
        let args = SaveDescription {
            agent_id: agent_id.to_string(),
            base_revision: base,
            description: text.to_string(),
        };
        let Ok(body) = serde_qs::to_string(&args) else {
            return;
        };
        let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&body));
        let opts = web_sys::BlobPropertyBag::new();
        opts.set_type("application/x-www-form-urlencoded");
        if let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) {
            let _ = leptos::prelude::window()
                .navigator()
                .send_beacon_with_opt_blob(SaveDescription::PATH, Some(&blob));
        }
    }
}
