//! The Description's saved revisions, newest first, each restorable (a restore is a new
//! revision, so nothing is ever lost).

use super::save::Editor;
use crate::agents::{RevisionInfo, SaveOutcome, restore_revision};
use crate::components::time::format_time;
use leptos::prelude::*;

#[component]
pub(super) fn RevisionList(
    list: Vec<RevisionInfo>,
    editor: Editor,
    can_edit: bool,
) -> impl IntoView {
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
