//! Live events: what the server pushes to open pages (over Server-Sent Events at `/api/live`)
//! so they update without reload. Small on purpose: a page refetches what changed.

use serde::{Deserialize, Serialize};

/// The SSE endpoint every page subscribes to; events are filtered to the viewer's teams.
pub const LIVE_PATH: &str = "/api/live";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub team_id: String,
    pub thread_id: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// A message was added to the thread (a user message, a reply, a card, a notice).
    Message,
    /// Part of a reply as the provider produces it.
    Delta { run_id: String, text: String },
    /// A run changed state.
    Run {
        run_id: String,
        status: crate::chat::RunStatus,
    },
    /// An escalation was raised or answered.
    Escalation {
        escalation_id: String,
        status: crate::escalations::EscalationStatus,
    },
    /// An embed token was revoked: widgets using it stop.
    TokenRevoked { token_id: String },
    /// A user's access changed (signed out, a session ended, deactivated, a team joined or
    /// left, a new password): their open streams check again what they may see, or end.
    /// Server-side only: never sent to a browser.
    AccessChanged { user_id: String },
}

impl LiveEvent {
    /// A change in one thread of a team.
    pub fn in_thread(team_id: &str, thread_id: &str, change: Change) -> Self {
        Self {
            team_id: team_id.to_string(),
            thread_id: thread_id.to_string(),
            change,
        }
    }

    /// A change to a team's data outside any thread.
    pub fn in_team(team_id: &str, change: Change) -> Self {
        Self::in_thread(team_id, "", change)
    }

    /// The event that makes `user_id`'s open streams check their access again.
    pub fn access_changed(user_id: &str) -> Self {
        Self {
            team_id: String::new(),
            thread_id: String::new(),
            change: Change::AccessChanged {
                user_id: user_id.to_string(),
            },
        }
    }
}
