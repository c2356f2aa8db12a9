//! The save state machine: Saved → Unsaved (typing) → Saving → Saved, or Offline (retried),
//! Conflict (someone else saved first: keep mine or take theirs) or Failed (our side said no).
//! Saves are debounced, one at a time, and never overwrite a newer revision.

use super::storage;
use crate::agents::{RevisionInfo, SaveOutcome, agent_revisions, save_description};
use crate::error::AppError;
use leptos::prelude::*;

/// No more than this after the last keystroke, a save starts.
pub const DEBOUNCE_MS: u64 = 600;
/// Between retries while the server cannot be reached.
pub const RETRY_MS: u64 = 2000;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum SaveState {
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
    pub(super) fn key(&self) -> &'static str {
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
pub(super) struct Editor {
    pub(super) agent_id: StoredValue<String>,
    pub(super) text: RwSignal<String>,
    /// The revision the text in the editor is based on.
    pub(super) base: RwSignal<i64>,
    /// The text known to be stored at `base`.
    pub(super) stored: RwSignal<String>,
    pub(super) state: RwSignal<SaveState>,
    pub(super) in_flight: RwSignal<bool>,
    pub(super) timer: StoredValue<Option<TimeoutHandle>>,
    /// The saved revisions, newest first (rendered with the page, refreshed after each save).
    pub(super) history: RwSignal<Vec<RevisionInfo>>,
}

impl Editor {
    pub(super) fn dirty(&self) -> bool {
        self.text
            .try_with_untracked(|t| self.stored.try_with_untracked(|s| t != s))
            .flatten()
            .unwrap_or(false)
    }

    pub(super) fn schedule(self, ms: u64) {
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

    pub(super) fn save_now(self) {
        if self.in_flight.get_untracked()
            || matches!(self.state.get_untracked(), SaveState::Conflict { .. })
        {
            return;
        }
        if !self.dirty() {
            self.state.set(SaveState::Saved);
            storage::clear(&self.agent_id.get_value());
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

    pub(super) fn apply(self, result: Result<SaveOutcome, AppError>, text: String) {
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
                    storage::clear(&self.agent_id.get_value());
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
    pub(super) fn refresh_history(self) {
        leptos::task::spawn_local(async move {
            if let Some(id) = self.agent_id.try_get_value()
                && let Ok(list) = agent_revisions(id).await
            {
                self.history.try_set(list);
            }
        });
    }

    pub(super) fn keep_mine(self, revision: i64) {
        self.base.set(revision);
        self.state.set(SaveState::Unsaved);
        self.save_now();
    }

    pub(super) fn take_theirs(self, revision: i64, description: String) {
        self.base.set(revision);
        self.stored.set(description.clone());
        self.text.set(description);
        self.state.set(SaveState::Saved);
        storage::clear(&self.agent_id.get_value());
    }
}
