//! Escalations: an agent's "I need a human here". Answered once, by the first person to act:
//! Respond & Resume (guidance becomes the result of the agent's escalate_to_human call) or
//! Dismiss (the agent proceeds as best it can).

use crate::chat::Trigger;
use crate::error::AppError;
use crate::rules::Severity;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The longest guidance a person can give, in bytes.
pub const MAX_GUIDANCE_BYTES: usize = 8 * 1024;

/// The error every answer after the first one gets (SPEC wording).
pub const ALREADY_RESOLVED: &str = "This escalation is already resolved.";

crate::names::stored_enum! {
    pub enum EscalationStatus as "escalation status" {
        Open,
        Resolved,
        Dismissed,
    }
}

/// The severity icon and its accessible name.
pub fn severity_icon(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Info => ("\u{2139}\u{fe0f}", "Severity: info"),
        Severity::Warning => ("\u{26a0}\u{fe0f}", "Severity: warning"),
        Severity::Critical => ("\u{1f534}", "Severity: critical"),
    }
}

/// What the inline card and the Escalations page show of one escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationView {
    pub id: String,
    pub thread_id: String,
    pub agent_name: String,
    pub trigger: Trigger,
    pub reason: String,
    pub severity: Severity,
    /// False for a direct tool-call escalation: the agent did not wait for the answer.
    pub blocking: bool,
    pub status: EscalationStatus,
    pub guidance: Option<String>,
    pub responder: Option<String>,
    pub created_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    /// When its SLA passes: open past it, it is overdue.
    #[serde(default)]
    pub due_at_ms: Option<i64>,
    /// Open past its SLA when it was read (by the server's clock, so the page hydrates as it
    /// was rendered).
    #[serde(default)]
    pub overdue: bool,
    /// Until when its reminders are snoozed.
    #[serde(default)]
    pub snoozed_until_ms: Option<i64>,
    /// How its notices to the team's channels stand.
    #[serde(default)]
    pub deliveries: Vec<crate::notifications::Delivery>,
}

/// Respond & Resume: the guidance goes to the agent, whose run continues from where it stopped.
#[server(endpoint = "respond_escalation")]
pub async fn respond_escalation(escalation_id: String, guidance: String) -> Result<(), AppError> {
    crate::server::escalations::respond(escalation_id, guidance).await
}

/// Dismiss: the agent is told no one will answer and proceeds as best it can.
#[server(endpoint = "dismiss_escalation")]
pub async fn dismiss_escalation(escalation_id: String) -> Result<(), AppError> {
    crate::server::escalations::dismiss(escalation_id).await
}

/// "Remind me in …": the next reminder of an open escalation comes `minutes` from now.
#[server(endpoint = "snooze_escalation")]
pub async fn snooze_escalation(escalation_id: String, minutes: i64) -> Result<(), AppError> {
    crate::server::notifications::sla::snooze(escalation_id, minutes).await
}

/// Rows per page of the Escalations page.
pub const PAGE_SIZE: usize = 50;

/// Which list: open escalations, or the answered ones (resolved and dismissed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListView {
    #[default]
    Open,
    Answered,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Newest first (the default).
    #[default]
    Newest,
    /// Oldest first: who has waited longest.
    Oldest,
    /// Critical first, then warning, then info; newest first within each.
    Severity,
}

/// The page's choices, as they appear in its URL (`?view=…&severity=…&agent=…&trigger=…&sort=…&after=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub view: ListView,
    pub severity: Option<Severity>,
    pub agent: Option<String>,
    pub trigger: Option<Trigger>,
    pub sort: Sort,
    /// The keyset cursor of the page to show (from the previous page's `next`).
    pub after: Option<String>,
}

impl ListQuery {
    /// Reads the URL's values; anything unknown is refused with a message, never guessed.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Self, AppError> {
        let val = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let view = match val("view").as_deref() {
            None | Some("open") => ListView::Open,
            Some("answered") => ListView::Answered,
            Some(v) => {
                return Err(AppError::invalid(format!(
                    "Unknown view \u{201c}{v}\u{201d}: use open or answered."
                )));
            }
        };
        let severity = match val("severity") {
            None => None,
            Some(v) => Some(v.parse::<Severity>().map_err(|_| {
                AppError::invalid(format!(
                    "Unknown severity \u{201c}{v}\u{201d}: use info, warning or critical."
                ))
            })?),
        };
        let sort = match val("sort").as_deref() {
            None | Some("newest") => Sort::Newest,
            Some("oldest") => Sort::Oldest,
            Some("severity") => Sort::Severity,
            Some(v) => {
                return Err(AppError::invalid(format!(
                    "Unknown order \u{201c}{v}\u{201d}: use newest, oldest or severity."
                )));
            }
        };
        let trigger = match val("trigger") {
            None => None,
            Some(t) => Some(t.parse::<Trigger>().map_err(|_| {
                AppError::invalid(format!(
                    "Unknown trigger \u{201c}{t}\u{201d}: use one of {}.",
                    <Trigger as strum::VariantArray>::VARIANTS
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?),
        };
        let agent = val("agent");
        if let Some(a) = &agent
            && (a.len() > 64 || !a.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        {
            return Err(AppError::invalid("Unknown agent filter."));
        }
        Ok(Self {
            view,
            severity,
            agent,
            trigger,
            sort,
            after: val("after"),
        })
    }

    /// The URL query for these choices (without a cursor unless `after` is given).
    pub fn to_query(&self, after: Option<&str>) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.view == ListView::Answered {
            parts.push("view=answered".into());
        }
        if let Some(s) = self.severity {
            parts.push(format!("severity={}", s.as_str()));
        }
        if let Some(a) = &self.agent {
            parts.push(format!("agent={a}"));
        }
        if let Some(t) = &self.trigger {
            parts.push(format!("trigger={t}"));
        }
        match self.sort {
            Sort::Newest => {}
            Sort::Oldest => parts.push("sort=oldest".into()),
            Sort::Severity => parts.push("sort=severity".into()),
        }
        if let Some(c) = after {
            parts.push(format!("after={c}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentOption {
    pub id: String,
    pub name: String,
}

/// One page of the Escalations page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationList {
    pub rows: Vec<EscalationView>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    /// Open escalations of the user's teams (all filters aside).
    pub open_count: i64,
    /// Whether the user's teams ever had an escalation (the "No escalations yet" state).
    pub any_ever: bool,
    /// The agents of the user's teams, for the agent filter.
    pub agents: Vec<AgentOption>,
    /// The server's clock when the page was made: ages are counted from it.
    pub now_ms: i64,
}

/// A page of escalations of the user's teams. The arguments are the URL's, checked here.
#[server(endpoint = "list_escalations")]
pub async fn list_escalations(
    view: Option<String>,
    severity: Option<String>,
    agent: Option<String>,
    trigger: Option<String>,
    sort: Option<String>,
    after: Option<String>,
) -> Result<EscalationList, AppError> {
    let query = ListQuery::parse(|k| match k {
        "view" => view.clone(),
        "severity" => severity.clone(),
        "agent" => agent.clone(),
        "trigger" => trigger.clone(),
        "sort" => sort.clone(),
        "after" => after.clone(),
        _ => None,
    })?;
    crate::server::escalations::list(query).await
}

/// How many escalations of the user's teams are open (the menu's count).
#[server(endpoint = "open_escalation_count")]
pub async fn open_escalation_count() -> Result<i64, AppError> {
    crate::server::escalations::open_count().await
}

/// "3 min", "2 h", "5 d": how long something has waited.
pub fn show_age(ms: i64) -> String {
    let m = (ms.max(0) / 60_000) as u64;
    match m {
        0 => "just now".into(),
        1..=59 => format!("{m} min"),
        60..=2879 => format!("{} h", m / 60),
        _ => format!("{} d", m / 1440),
    }
}
