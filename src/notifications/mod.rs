//! Telling people where they are: each team's notification channels (Settings → Notifications),
//! which owners and admins add, mute, tune and test, and the state of each escalation's
//! deliveries as its card and row show it. Every server function checks the session, the team
//! and the role itself.

use crate::error::AppError;
use crate::rules::Severity;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

crate::names::stored_enum! {
    pub enum ChannelKind as "channel kind" {
        /// A signed JSON POST to a URL of the team's choosing.
        Webhook,
        Email,
        Slack,
        Discord,
    }
}

impl ChannelKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Webhook => "Webhook",
            Self::Email => "Email",
            Self::Slack => "Slack",
            Self::Discord => "Discord",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub id: String,
    pub kind: ChannelKind,
    pub name: String,
    pub team_id: String,
    pub team_name: String,
    /// Where deliveries go (a webhook's URL).
    pub target: String,
    /// Escalations below this are not sent.
    pub min_severity: Severity,
    pub muted: bool,
    pub created_at_ms: i64,
    /// Where Slack sends button clicks (the app's Interactivity Request URL), once the
    /// channel takes answers.
    pub answers_url: Option<String>,
    /// The agent that answers what people write to the bot (Slack channels).
    pub agent_id: Option<String>,
    /// Where Slack sends those messages (the app's Event Subscriptions Request URL), once the
    /// channel has an agent and a signing secret.
    pub events_url: Option<String>,
}

/// A new webhook channel: the only time its signing secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChannel {
    pub channel: ChannelInfo,
    pub secret: String,
}

/// What "Send test" reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub channel_name: String,
    pub delivered: bool,
    /// "HTTP 200 in 35 ms", or why it was not delivered.
    pub detail: String,
}

/// Where one escalation's notice to one channel stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not tried yet, or being sent.
    Sending,
    Sent,
    /// Failed at least once; tried again later.
    Retrying,
    /// Given up: every attempt failed.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub channel: String,
    pub state: DeliveryState,
    pub attempts: i64,
    /// The last failure's reason.
    pub error: Option<String>,
}

impl Delivery {
    /// One line for the card and the row: "Sent to Ops hook", "Retrying Ops hook (3 attempts):
    /// HTTP 500".
    pub fn line(&self) -> String {
        let why = self.error.as_deref().unwrap_or("no answer");
        match self.state {
            DeliveryState::Sending => format!("Sending to {}", self.channel),
            DeliveryState::Sent => format!("Sent to {}", self.channel),
            DeliveryState::Retrying => format!(
                "Retrying {} ({} attempts so far): {why}",
                self.channel, self.attempts
            ),
            DeliveryState::Failed => format!(
                "Not delivered to {} after {} attempts: {why}",
                self.channel, self.attempts
            ),
        }
    }
}

/// A team's SLAs: minutes an escalation may stay open, by severity (`None`: no SLA), and the
/// channel that hears when nobody answered in twice that time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamSla {
    pub team_id: String,
    pub team_name: String,
    pub info_minutes: Option<i64>,
    pub warning_minutes: Option<i64>,
    pub critical_minutes: Option<i64>,
    pub fallback_channel_id: Option<String>,
}

/// The viewer's teams' SLAs (owners and admins).
#[server(endpoint = "load_slas")]
pub async fn load_slas() -> Result<Vec<TeamSla>, AppError> {
    crate::server::notifications::sla::load().await
}

/// Sets a team's SLAs; each is a number of minutes, or empty for none.
#[server(endpoint = "save_sla")]
pub async fn save_sla(
    team_id: String,
    info_minutes: String,
    warning_minutes: String,
    critical_minutes: String,
    fallback_channel_id: String,
) -> Result<(), AppError> {
    crate::server::notifications::sla::save(
        team_id,
        info_minutes,
        warning_minutes,
        critical_minutes,
        fallback_channel_id,
    )
    .await
}

/// The viewer's teams' channels (owners and admins).
#[server(endpoint = "list_channels")]
pub async fn list_channels() -> Result<Vec<ChannelInfo>, AppError> {
    crate::server::notifications::manage::list().await
}

/// A webhook channel: Flare POSTs each escalation, signed, to `url`.
#[server(endpoint = "add_webhook_channel")]
pub async fn add_webhook_channel(
    team_id: String,
    name: String,
    url: String,
    min_severity: String,
) -> Result<NewChannel, AppError> {
    crate::server::notifications::manage::add_webhook(team_id, name, url, min_severity).await
}

/// A Slack or Discord channel (`kind`): the team's bot (its token) posts each escalation to
/// the channel `channel_id`, and updates the message with the outcome.
#[server(endpoint = "add_chat_channel")]
pub async fn add_chat_channel(
    kind: String,
    team_id: String,
    name: String,
    bot_token: String,
    channel_id: String,
    min_severity: String,
) -> Result<ChannelInfo, AppError> {
    crate::server::notifications::manage::add_chat_channel(
        kind,
        team_id,
        name,
        bot_token,
        channel_id,
        min_severity,
    )
    .await
}

/// An email channel: each escalation is mailed to `recipients` (commas between addresses)
/// through the deployment's SMTP relay.
#[server(endpoint = "add_email_channel")]
pub async fn add_email_channel(
    team_id: String,
    name: String,
    recipients: String,
    min_severity: String,
) -> Result<ChannelInfo, AppError> {
    crate::server::notifications::manage::add_email(team_id, name, recipients, min_severity).await
}

#[server(endpoint = "set_channel_muted")]
pub async fn set_channel_muted(channel_id: String, muted: bool) -> Result<(), AppError> {
    crate::server::notifications::manage::set_muted(channel_id, muted).await
}

#[server(endpoint = "set_channel_min_severity")]
pub async fn set_channel_min_severity(
    channel_id: String,
    min_severity: String,
) -> Result<(), AppError> {
    crate::server::notifications::manage::set_min_severity(channel_id, min_severity).await
}

#[server(endpoint = "delete_channel")]
pub async fn delete_channel(channel_id: String) -> Result<(), AppError> {
    crate::server::notifications::manage::delete(channel_id).await
}

/// Sends a test notice now and reports what the channel answered.
#[server(endpoint = "test_channel")]
pub async fn test_channel(channel_id: String) -> Result<TestResult, AppError> {
    crate::server::notifications::manage::test(channel_id).await
}

/// Turns a Slack channel's Respond & Resume and Dismiss buttons on with the Slack app's
/// signing secret (empty: off).
#[server(endpoint = "set_channel_signing_secret")]
pub async fn set_channel_signing_secret(
    channel_id: String,
    signing_secret: String,
) -> Result<(), AppError> {
    crate::server::notifications::manage::set_signing_secret(channel_id, signing_secret).await
}

/// Names the agent that answers messages to a Slack channel's bot (empty: none).
#[server(endpoint = "set_channel_agent")]
pub async fn set_channel_agent(channel_id: String, agent_id: String) -> Result<(), AppError> {
    crate::server::notifications::manage::set_agent(channel_id, agent_id).await
}

/// "Slack" or "Discord", for a chat account's `kind`.
pub fn platform(kind: &str) -> &'static str {
    if kind == "discord" {
        "Discord"
    } else {
        "Slack"
    }
}

/// A chat account linked to the viewer's Flare account: its clicks answer as them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLink {
    /// "slack" or "discord".
    pub kind: String,
    /// The Slack workspace's id.
    pub workspace: String,
    /// The account's id there.
    pub external_id: String,
    pub created_at_ms: i64,
}

/// A link offered from Slack, as the person about to take it sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOffer {
    pub kind: String,
    pub workspace: String,
    pub external_id: String,
    pub external_name: String,
}

/// What the link `token` (from a private reply in Slack) would link; an error once it expired
/// or was used.
#[server(endpoint = "chat_link_offer")]
pub async fn chat_link_offer(token: String) -> Result<LinkOffer, AppError> {
    crate::server::notifications::links::offer(token).await
}

/// Links the chat account of the offer `token` to the signed-in person.
#[server(endpoint = "link_chat_account")]
pub async fn link_chat_account(token: String) -> Result<LinkOffer, AppError> {
    crate::server::notifications::links::link(token).await
}

/// The signed-in person's linked chat accounts.
#[server(endpoint = "list_chat_links")]
pub async fn list_chat_links() -> Result<Vec<ChatLink>, AppError> {
    crate::server::notifications::links::list().await
}

#[server(endpoint = "unlink_chat_account")]
pub async fn unlink_chat_account(
    kind: String,
    workspace: String,
    external_id: String,
) -> Result<(), AppError> {
    crate::server::notifications::links::unlink(kind, workspace, external_id).await
}
