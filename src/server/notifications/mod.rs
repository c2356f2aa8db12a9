//! Notifications: an escalation raised (or answered) writes one outbox row per listening
//! channel in its own transaction, so a notice is never announced for a change that rolled
//! back and never lost for one that committed. A worker on each instance claims due rows,
//! delivers them, and settles each as sent, due again after a backoff (honouring
//! `Retry-After`), or failed after [`MAX_ATTEMPTS`]. Delivery is at least once: a worker killed
//! mid-delivery leaves its row to be claimed again once the claim's deadline passes, and the
//! delivery's id (the same on every attempt) lets the receiver drop a repeat.

pub mod answers;
pub mod discord;
pub mod email;
pub mod links;
pub mod manage;
pub mod sla;
pub mod slack;
pub mod webhook;

use super::db::{self, channels, escalations as esc_db, now_ms, outbox};
use super::state::AppState;
use crate::live::{Change, LiveEvent};
use crate::notifications::ChannelKind;
use crate::rules::Severity;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Attempts before a delivery is given up (with the default 5 s first retry, the last one is
/// about 10 minutes after the first).
pub const MAX_ATTEMPTS: i64 = 8;
/// Deliveries one instance sends at once.
const IN_FLIGHT: usize = 32;
/// How long a claim holds a row: longer than an attempt may take, so only a dead worker's
/// rows are claimed again.
const CLAIM: Duration = Duration::from_secs(webhook::DEADLINE.as_secs() + 20);
/// The longest retry wait.
const MAX_BACKOFF_MS: i64 = 3_600_000;
/// How often an idle worker looks for work other instances queued.
const IDLE: Duration = Duration::from_secs(1);

/// What a chat channel (Slack, Discord) gave back for a message it accepted: its id (Slack's
/// `ts`), kept to update the message and to thread reminders under it.
pub struct Posted {
    pub outcome: webhook::Outcome,
    pub message_id: Option<String>,
}

impl Posted {
    pub fn not_delivered(error: String, retry_after: Option<Duration>) -> Self {
        Self {
            outcome: webhook::Outcome::NotDelivered { error, retry_after },
            message_id: None,
        }
    }
}

/// Where a sealed channel secret belongs (it opens only for its own row).
pub fn seal_context(channel_id: &str) -> String {
    format!("channel:{channel_id}")
}

/// The worker's side of the outbox on this instance.
pub struct Notifier {
    wake: Notify,
    pub(crate) client: reqwest::Client,
    slots: Arc<Semaphore>,
}

impl Notifier {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            wake: Notify::new(),
            client: webhook::client()?,
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
        })
    }

    /// Something was queued: look now rather than at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Queues the news that an escalation was raised for the team's listening channels, inside
/// the escalation's transaction. True when any channel listens.
pub async fn raised(
    conn: &mut sqlx::AnyConnection,
    team_id: &str,
    escalation_id: &str,
    severity: Severity,
) -> Result<bool, sqlx::Error> {
    let listening = channels::listening(conn, team_id, severity.rank()).await?;
    outbox::enqueue(conn, team_id, escalation_id, outbox::RAISED, &listening).await?;
    Ok(!listening.is_empty())
}

/// Queues how an escalation was answered for the channels told it was raised, inside the
/// answer's transaction.
pub async fn answered(
    conn: &mut sqlx::AnyConnection,
    team_id: &str,
    escalation_id: &str,
) -> Result<bool, sqlx::Error> {
    let told = outbox::told_of(conn, escalation_id).await?;
    outbox::enqueue(conn, team_id, escalation_id, outbox::ANSWERED, &told).await?;
    Ok(!told.is_empty())
}

/// Delivers due notifications for as long as the server runs.
pub async fn run_worker(state: AppState) {
    let postgres = !state.writes.is_shared();
    let notifier = state.notifier.clone();
    loop {
        // A free slot first, then as many more as are free: claim only what can be sent now.
        let Ok(first) = notifier.slots.clone().acquire_owned().await else {
            return;
        };
        let mut permits = vec![first];
        while let Ok(p) = notifier.slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let wanted = permits.len();
        let claimed = claim(&state, postgres, wanted as i64).await;
        let full = claimed.len() == wanted;
        for (row, permit) in claimed.into_iter().zip(permits) {
            tokio::spawn(deliver(state.clone(), row, permit));
        }
        if full {
            continue; // more may be due
        }
        let wait = match outbox::next_due(&state.db).await {
            Ok(Some(due)) => Duration::from_millis((due - now_ms()).clamp(0, 1000) as u64),
            _ => IDLE,
        };
        tokio::select! {
            _ = notifier.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn claim(state: &AppState, postgres: bool, limit: i64) -> Vec<outbox::Claimed> {
    let result = async {
        let _turn = state.writes.take().await?;
        let now = now_ms();
        outbox::claim(
            &state.db,
            postgres,
            now,
            now + CLAIM.as_millis() as i64,
            limit,
        )
        .await
    }
    .await;
    result.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot claim notifications");
        Vec::new()
    })
}

/// How one attempt is settled.
enum Settle {
    /// With what the channel gave back (a Slack message's `ts`).
    Sent(Option<String>),
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    GiveUp(String),
}

/// How long to wait after the `attempts`-th failure: the base, doubled each time, at most an
/// hour, and never less than the receiver asked for.
pub(crate) fn backoff(base_ms: u64, attempts: i64, retry_after: Option<Duration>) -> i64 {
    let doubled = (base_ms as i64).saturating_mul(1i64 << (attempts - 1).clamp(0, 30));
    let asked = retry_after.map_or(0, |d| d.as_millis() as i64);
    doubled.min(MAX_BACKOFF_MS).max(asked)
}

async fn deliver(state: AppState, row: outbox::Claimed, _slot: OwnedSemaphorePermit) {
    let (settle, kind, escalation) = attempt(&state, &row).await;
    let outcome = match &settle {
        Settle::Sent(_) => "sent",
        Settle::Retry { .. } if row.attempts < MAX_ATTEMPTS => "retrying",
        _ => "failed",
    };
    let recorded = async {
        let _turn = state.writes.take().await?;
        match settle {
            Settle::Sent(external_ref) => {
                outbox::sent(&state.db, &row.id, external_ref.as_deref()).await
            }
            Settle::Retry { error, retry_after } if row.attempts < MAX_ATTEMPTS => {
                let wait = backoff(state.config.outbox_retry_ms, row.attempts, retry_after);
                tracing::warn!(delivery = %row.id, channel = %row.channel_id, attempts = row.attempts, %error, "notification not delivered; will retry");
                outbox::not_sent(&state.db, &row.id, Some(now_ms() + wait), &error).await
            }
            Settle::Retry { error, .. } | Settle::GiveUp(error) => {
                tracing::warn!(delivery = %row.id, channel = %row.channel_id, attempts = row.attempts, %error, "notification not delivered; gave up");
                outbox::not_sent(&state.db, &row.id, None, &error).await
            }
        }
    }
    .await;
    match recorded {
        Ok(changed) => {
            if let Some(kind) = kind {
                super::metrics::notification(kind.as_str(), outcome);
            }
            // The card shows how its notices stand: tell open pages it changed.
            if changed
                && row.event == outbox::RAISED
                && let Some(e) = escalation
            {
                let ev = LiveEvent::in_thread(
                    &e.team_id,
                    &e.thread_id,
                    Change::Escalation {
                        escalation_id: e.id.clone(),
                        status: e.status,
                    },
                );
                state.events.publish(&state.db, ev).await;
            }
        }
        // Unrecorded: the claim runs out and the row is due again (delivered at least once).
        Err(e) => {
            tracing::warn!(error = %e, delivery = %row.id, "cannot record a notification's outcome")
        }
    }
}

/// How a chat or mail delivery's result is settled: what it gave back is kept.
fn settle(posted: Result<Posted, String>) -> Settle {
    match posted {
        Ok(Posted {
            outcome: webhook::Outcome::Delivered { .. },
            message_id,
        }) => Settle::Sent(message_id),
        Ok(Posted {
            outcome: webhook::Outcome::NotDelivered { error, retry_after },
            ..
        }) => Settle::Retry { error, retry_after },
        Err(why) => Settle::GiveUp(why),
    }
}

/// One attempt at one delivery.
async fn attempt(
    state: &AppState,
    row: &outbox::Claimed,
) -> (Settle, Option<ChannelKind>, Option<esc_db::EscalationRow>) {
    let read = async {
        let channel = channels::by_id(&state.db, &row.channel_id).await?;
        let escalation = esc_db::by_id(&state.db, &row.escalation_id).await?;
        Ok::<_, sqlx::Error>((channel, escalation))
    }
    .await;
    let (channel, escalation) = match read {
        Ok((Some(c), Some(e))) => (c, e),
        Ok(_) => {
            return (
                Settle::GiveUp("its channel or escalation is gone".into()),
                None,
                None,
            );
        }
        Err(e) => {
            return (
                Settle::Retry {
                    error: format!("the database could not be read: {e}"),
                    retry_after: None,
                },
                None,
                None,
            );
        }
    };
    let kind = Some(channel.kind);
    if channel.deleted_at.is_some() {
        let why = "the channel was deleted".to_string();
        return (Settle::GiveUp(why), kind, Some(escalation));
    }
    let settle = match channel.kind {
        ChannelKind::Webhook => {
            let event = format!("escalation.{}", row.event);
            let body = notice(state, &row.id, &event, &escalation);
            match send_webhook(state, &channel, &row.id, &event, body).await {
                Ok(webhook::Outcome::Delivered { .. }) => Settle::Sent(None),
                Ok(webhook::Outcome::NotDelivered { error, retry_after }) => {
                    Settle::Retry { error, retry_after }
                }
                Err(why) => Settle::GiveUp(why),
            }
        }
        ChannelKind::Slack => settle(post_to_slack(state, &channel, row, &escalation).await),
        ChannelKind::Discord => settle(post_to_discord(state, &channel, row, &escalation).await),
        ChannelKind::Email => settle(mail(state, &channel, row, &escalation).await),
    };
    (settle, kind, Some(escalation))
}

/// Opens the channel's sealed secret (a webhook's signing secret, a Slack bot token); `Err`
/// when it cannot be opened (no attempt can succeed until FLARE_SECRET_KEY is what it was).
pub(crate) fn open_secret(
    state: &AppState,
    channel: &channels::ChannelRow,
) -> Result<crate::server::config::Secret, String> {
    open_sealed(state, channel.secret.as_deref(), &seal_context(&channel.id)).ok_or_else(|| {
        "its secret cannot be opened on this Flare (FLARE_SECRET_KEY changed)".into()
    })
}

/// Opens a value sealed under `context`; `None` when there is none, or when it cannot be
/// opened (no FLARE_SECRET_KEY, or another one than it was sealed with).
pub(crate) fn open_sealed(
    state: &AppState,
    sealed: Option<&str>,
    context: &str,
) -> Option<crate::server::config::Secret> {
    state
        .runtime
        .connections
        .secrets()?
        .open(sealed?, context)
        .ok()
}

/// One Slack delivery: the escalation's message posted, updated with its outcome, or a
/// reminder in its thread.
async fn post_to_slack(
    state: &AppState,
    channel: &channels::ChannelRow,
    row: &outbox::Claimed,
    e: &esc_db::EscalationRow,
) -> Result<Posted, String> {
    let token = open_secret(state, channel)?;
    let url = card_url(state, e);
    let api = state.config.slack_api_url.as_str();
    let client = &state.notifier.client;
    // The message already posted for it, if any: updated rather than posted again.
    let posted = outbox::posted_ref(&state.db, &e.id, &channel.id)
        .await
        .map_err(|err| format!("the database could not be read: {err}"))?;
    Ok(match (row.event.as_str(), posted) {
        (outbox::REMINDER, thread) => {
            let body = slack::reminder(&channel.target, e, &url, thread.as_deref());
            slack::call(client, api, &token, "chat.postMessage", &body).await
        }
        (outbox::ANSWERED, Some(ts)) => {
            let mut body = slack::message(&channel.target, e, &url, false);
            body["ts"] = serde_json::json!(ts);
            let mut posted = slack::call(client, api, &token, "chat.update", &body).await;
            posted.message_id = Some(ts);
            posted
        }
        // Raised, or answered before its first message could be posted: post it as it
        // stands now.
        _ => {
            let buttons = answers::has_buttons(channel);
            let body = slack::message(&channel.target, e, &url, buttons);
            slack::call(client, api, &token, "chat.postMessage", &body).await
        }
    })
}

/// One Discord delivery: the escalation's message posted, edited with its outcome, or a
/// reminder replying to it.
async fn post_to_discord(
    state: &AppState,
    channel: &channels::ChannelRow,
    row: &outbox::Claimed,
    e: &esc_db::EscalationRow,
) -> Result<Posted, String> {
    use reqwest::Method;
    let token = open_secret(state, channel)?;
    let url = card_url(state, e);
    let api = state.config.discord_api_url.as_str();
    let client = &state.notifier.client;
    let posted = outbox::posted_ref(&state.db, &e.id, &channel.id)
        .await
        .map_err(|err| format!("the database could not be read: {err}"))?;
    let messages = format!("/channels/{}/messages", channel.target);
    Ok(match (row.event.as_str(), posted) {
        (outbox::REMINDER, reply_to) => {
            let body = discord::reminder(e, &url, reply_to.as_deref());
            discord::call(client, api, &token, Method::POST, &messages, &body).await
        }
        (outbox::ANSWERED, Some(id)) => {
            let body = discord::message(e, &url, false);
            let path = format!("{messages}/{id}");
            let mut posted = discord::call(client, api, &token, Method::PATCH, &path, &body).await;
            posted.message_id = Some(id);
            posted
        }
        _ => {
            let body = discord::message(e, &url, answers::has_buttons(channel));
            discord::call(client, api, &token, Method::POST, &messages, &body).await
        }
    })
}

/// One email delivery: the escalation's message, or its answer or a reminder as a reply in
/// its thread.
async fn mail(
    state: &AppState,
    channel: &channels::ChannelRow,
    row: &outbox::Claimed,
    e: &esc_db::EscalationRow,
) -> Result<Posted, String> {
    let mailer = email::mailer(state)?;
    let url = card_url(state, e);
    let thread = outbox::posted_ref(&state.db, &e.id, &channel.id)
        .await
        .map_err(|err| format!("the database could not be read: {err}"))?;
    let kind = match (row.event.as_str(), thread.as_deref()) {
        (outbox::REMINDER, thread) => email::Mail::Reminder { thread },
        // A reply under its first mail (alone when that one never went out).
        (outbox::ANSWERED, thread) => email::Mail::Answered { thread },
        // Says how it was answered, when that happened before it could be sent.
        _ => email::Mail::Raised,
    };
    email::send(mailer, &channel.target, &row.id, e, &url, kind).await
}

/// Opens the channel's signing secret and sends; `Err` when the secret cannot be opened (no
/// attempt can succeed until FLARE_SECRET_KEY is what it was).
async fn send_webhook(
    state: &AppState,
    channel: &channels::ChannelRow,
    delivery_id: &str,
    event: &str,
    body: Vec<u8>,
) -> Result<webhook::Outcome, String> {
    let secret = open_secret(state, channel)?;
    Ok(webhook::send(
        &state.notifier.client,
        &channel.target,
        &secret,
        delivery_id,
        event,
        body,
    )
    .await)
}

/// The JSON a webhook receives: the escalation as the API shows it, its severity's icon and a
/// link to its card.
fn notice(state: &AppState, delivery_id: &str, event: &str, e: &esc_db::EscalationRow) -> Vec<u8> {
    let (icon, _) = crate::escalations::severity_icon(e.severity);
    let body = serde_json::json!({
        "event": event,
        "delivery_id": delivery_id,
        "team_id": e.team_id,
        "severity_icon": icon,
        "url": card_url(state, e),
        "due_at_ms": e.due_at,
        "reminders_sent": e.reminders,
        "escalation": super::http::api::ApiEscalation::from(e),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Where people open the escalation's card: its thread.
pub fn card_url(state: &AppState, e: &esc_db::EscalationRow) -> String {
    format!(
        "{}/app/chat/{}#escalation-{}",
        state.config.public_url, e.thread_id, e.id
    )
}

/// The escalations' deliveries, as their cards and rows show them (in place).
pub async fn with_deliveries(
    db: &db::Db,
    views: &mut [crate::escalations::EscalationView],
) -> Result<(), sqlx::Error> {
    use crate::notifications::{Delivery, DeliveryState};
    let ids: Vec<String> = views.iter().map(|v| v.id.clone()).collect();
    for d in outbox::deliveries(db, &ids).await? {
        let state = match (d.state.as_str(), &d.last_error) {
            ("sent", _) => DeliveryState::Sent,
            ("failed", _) => DeliveryState::Failed,
            (_, Some(_)) => DeliveryState::Retrying,
            _ => DeliveryState::Sending,
        };
        if let Some(v) = views.iter_mut().find(|v| v.id == d.escalation_id) {
            v.deliveries.push(Delivery {
                channel: d.channel,
                state,
                attempts: d.attempts,
                error: d.last_error,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_an_hour_and_at_least_what_was_asked() {
        assert_eq!(backoff(5_000, 1, None), 5_000);
        assert_eq!(backoff(5_000, 2, None), 10_000);
        assert_eq!(backoff(5_000, 4, None), 40_000);
        assert_eq!(backoff(5_000, 40, None), MAX_BACKOFF_MS);
        assert_eq!(backoff(5_000, 1, Some(Duration::from_secs(30))), 30_000);
        assert_eq!(backoff(5_000, 3, Some(Duration::from_secs(1))), 20_000);
    }
}
