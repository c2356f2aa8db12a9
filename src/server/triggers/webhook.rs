//! Inbound webhooks: `POST /hooks/{id}`, signed like Stripe's and GitHub's. The request carries
//! `X-Flare-Timestamp` (unix seconds) and `X-Flare-Signature: sha256=<hex HMAC-SHA256 of
//! "{timestamp}.{raw body}">` under the hook's secret; the signature is compared in constant
//! time. A request older than five minutes is refused, and the same signed request is taken
//! once: a replay within those minutes starts nothing. An `X-Flare-Delivery` id makes a
//! sender's retry (newly signed) answer with the run the first try started.

use super::{Once, Start, StartError, Started};
use crate::server::config::Secret;
use crate::server::db::triggers::{self as db, TriggerRow};
use crate::server::state::AppState;
use crate::triggers::{HOOK_TOLERANCE_SECS, MAX_HOOK_BODY_BYTES, TriggerKind};
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};

/// A refusal: its status and what the sender is told.
#[derive(Debug)]
pub struct Refused(pub StatusCode, pub String);

fn refused(status: StatusCode, msg: impl Into<String>) -> Refused {
    Refused(status, msg.into())
}

/// Our own failure: logged, and the sender told to retry.
fn failed(why: impl std::fmt::Display) -> Refused {
    tracing::error!(error = %why, "webhook: database error");
    refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side; nothing was started. Retry later.",
    )
}

impl From<sqlx::Error> for Refused {
    fn from(e: sqlx::Error) -> Self {
        failed(e)
    }
}

/// The signature a sender computes: hex HMAC-SHA256 of `"{timestamp}.{body}"`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<sha2::Sha256> {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// How many of one hook's refusals a minute are audited one by one. Past that they are counted,
/// and the count is audited once the minute is over ([`audit_counted`]): a flood of forged
/// requests at a known hook address cannot fill the audit log, and none goes unaccounted for.
pub const AUDITED_PER_MINUTE: u32 = 10;

const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

/// Each hook's refusals in its current minute (hooks that were refused lately only).
#[derive(Default)]
pub struct Refusals(std::sync::Mutex<std::collections::HashMap<String, Window>>);

struct Window {
    since: std::time::Instant,
    audited: u32,
    counted: u32,
}

impl Refusals {
    /// Notes a refusal of hook `id`: true when it is audited on its own.
    fn note(&self, id: &str, now: std::time::Instant) -> bool {
        let mut hooks = self.0.lock().expect("refusals");
        let fresh = || Window {
            since: now,
            audited: 0,
            counted: 0,
        };
        let w = hooks.entry(id.to_string()).or_insert_with(fresh);
        // A minute with a count waits for `audit_counted` to write it before a new one starts.
        if now.duration_since(w.since) >= MINUTE && w.counted == 0 {
            *w = fresh();
        }
        if w.audited < AUDITED_PER_MINUTE {
            w.audited += 1;
            true
        } else {
            w.counted += 1;
            false
        }
    }

    /// Removes the minutes that are over; returns the hooks with refusals only counted in
    /// them, and how many.
    fn take_over(&self, now: std::time::Instant) -> Vec<(String, u32)> {
        let mut counted = Vec::new();
        self.0.lock().expect("refusals").retain(|id, w| {
            if now.duration_since(w.since) < MINUTE {
                return true;
            }
            if w.counted > 0 {
                counted.push((id.clone(), w.counted));
            }
            false
        });
        counted
    }
}

/// Audits a refusal on its own, or counts it past [`AUDITED_PER_MINUTE`] (the metrics count
/// every one).
async fn audit_refusal(state: &AppState, row: &TriggerRow, why: &str) {
    if state.refusals.note(&row.id, std::time::Instant::now()) {
        super::audit_rejected(&state.db, row, why).await;
    } else {
        crate::server::metrics::trigger(row.kind.as_str(), false);
    }
}

/// Audits, for each hook whose minute (as of `now`) is over, how many of its refusals were
/// counted rather than recorded one by one. Runs every minute, and at shutdown.
pub async fn audit_counted(state: &AppState, now: std::time::Instant) {
    for (id, n) in state.refusals.take_over(now) {
        let row = match db::by_id(&state.db, &id).await {
            Ok(Some(row)) => row,
            Ok(None) => continue, // deleted since: its audit says so
            Err(e) => {
                tracing::warn!(error = %e, trigger = %id, "cannot audit counted refusals");
                continue;
            }
        };
        let why = format!(
            "{n} more refusals in one minute, counted and not recorded one by one (at most \
             {AUDITED_PER_MINUTE} a minute are)"
        );
        // Each was counted in the metrics when it was refused.
        super::record_rejection(&state.db, &row, &why).await;
    }
}

/// A body over the limit, refused before it is read to the end: audited like any refusal when
/// the hook exists.
pub async fn refuse_oversized(state: &AppState, trigger_id: &str) -> Refused {
    let r = refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "The body is over {} KB; nothing was started.",
            MAX_HOOK_BODY_BYTES / 1024
        ),
    );
    match db::by_id(&state.db, trigger_id).await {
        Ok(Some(row)) if row.kind == TriggerKind::Webhook => audit_refusal(state, &row, &r.1).await,
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, trigger = %trigger_id, "cannot audit a refusal"),
    }
    r
}

/// Checks the request and starts the hook's agent. `body` is at most the limit already.
pub async fn receive(
    state: &AppState,
    trigger_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<Started, Refused> {
    let no_hook = || refused(StatusCode::NOT_FOUND, "No such webhook.");
    let row = db::by_id(&state.db, trigger_id)
        .await?
        .filter(|r| r.kind == TriggerKind::Webhook)
        .ok_or_else(no_hook)?;
    match check(state, &row, headers, body, now_secs).await {
        Ok(started) => Ok(started),
        Err(r) => {
            // The audit says why, never what was sent.
            if r.0 != StatusCode::INTERNAL_SERVER_ERROR {
                audit_refusal(state, &row, &r.1).await;
            }
            Err(r)
        }
    }
}

async fn check(
    state: &AppState,
    row: &TriggerRow,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<Started, Refused> {
    let unsigned = || {
        refused(
            StatusCode::UNAUTHORIZED,
            "Sign the request: X-Flare-Timestamp (unix seconds) and X-Flare-Signature (sha256=<hex HMAC-SHA256 of \"{timestamp}.{body}\">) are required.",
        )
    };
    let timestamp: i64 = header(headers, "x-flare-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(unsigned)?;
    let signature = header(headers, "x-flare-signature")
        .and_then(|s| s.strip_prefix("sha256="))
        .and_then(|s| hex::decode(s).ok())
        .ok_or_else(unsigned)?;
    let secret = row
        .secret
        .as_deref()
        .ok_or_else(|| refused(StatusCode::NOT_FOUND, "No such webhook."))?;
    let secret = open(state, secret, &row.id)?;
    // Constant time: how much of a guess matched is never measurable.
    if mac(secret.expose(), timestamp, body)
        .verify_slice(&signature)
        .is_err()
    {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "The signature does not match: sign \"{timestamp}.{raw body}\" with this webhook's secret (HMAC-SHA256, hex).",
        ));
    }
    if (now_secs - timestamp).abs() > HOOK_TOLERANCE_SECS {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            format!(
                "The request's timestamp is more than {} minutes from now: sign it again with the current time.",
                HOOK_TOLERANCE_SECS / 60
            ),
        ));
    }
    if row.enabled == 0 {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "This webhook is paused: resume it on the agent's Triggers page; nothing was started.",
        ));
    }
    let agent = crate::server::db::agents::by_id(&state.db, &row.agent_id)
        .await?
        .filter(|a| a.deleted_at.is_none())
        .ok_or_else(|| {
            refused(
                StatusCode::GONE,
                "This webhook's agent was deleted; nothing was started.",
            )
        })?;
    let message = message(body)?;
    let delivery = header(headers, "x-flare-delivery").filter(|d| !d.is_empty());
    if let Some(d) = delivery
        && (d.len() > 200 || !d.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "X-Flare-Delivery is at most 200 visible ASCII characters.",
        ));
    }
    let sig_hex = hex::encode(&signature);
    let key = match delivery {
        Some(d) => format!("delivery:{d}"),
        None => format!("signature:{sig_hex}"),
    };
    let started = super::start_run(
        state,
        Start {
            once: Some(Once {
                scope: format!("hook:{}", row.id),
                key: &key,
                fingerprint: Once::fingerprint(&[body]),
            }),
            ..Start::fired(row, &agent, &message)
        },
    )
    .await
    .map_err(|e| match e {
        StartError::KeyReused => refused(
            StatusCode::CONFLICT,
            "This X-Flare-Delivery id was used for another body; nothing was started.",
        ),
        StartError::Database(e) => e.into(),
        StartError::Unwritten(why) => failed(why),
        // Only schedules claim a firing.
        StartError::NotClaimed => failed("a webhook's start claimed a firing"),
    })?;
    if !started.fresh && delivery.is_none() {
        return Err(refused(
            StatusCode::CONFLICT,
            "This signed request was received already; nothing new was started. To retry on purpose, sign it again with a new timestamp, or send an X-Flare-Delivery id.",
        ));
    }
    Ok(started)
}

fn open(state: &AppState, sealed: &str, trigger_id: &str) -> Result<Secret, Refused> {
    let broken = |why: String| {
        tracing::error!(trigger = %trigger_id, "webhook secret cannot be opened: {why}");
        refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "This webhook's secret cannot be read on this Flare (its FLARE_SECRET_KEY changed); nothing was started.",
        )
    };
    let secrets = state
        .runtime
        .connections
        .secrets()
        .ok_or_else(|| broken("no FLARE_SECRET_KEY".into()))?;
    secrets
        .open(sealed, &super::manage::seal_context(trigger_id))
        .map_err(|e| broken(e.to_string()))
}

/// The run's message: the body's `message` field when it has one, otherwise the whole body as
/// pretty JSON.
pub fn message(body: &[u8]) -> Result<String, Refused> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        refused(
            StatusCode::BAD_REQUEST,
            format!("The body is not valid JSON ({e}); nothing was started."),
        )
    })?;
    let text = match value.get("message") {
        Some(serde_json::Value::String(m)) => m.clone(),
        _ => serde_json::to_string_pretty(&value).unwrap_or_default(),
    };
    crate::validate::long_text(&text, "message", MAX_HOOK_BODY_BYTES)
        .map_err(|e| refused(StatusCode::BAD_REQUEST, format!("{e}")))
}
