//! The outbound webhook channel: a JSON POST signed like Flare's inbound hooks
//! (`X-Flare-Timestamp`, `X-Flare-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`),
//! with `X-Flare-Delivery` the same on every attempt, so a receiver can drop a repeat.

use crate::server::config::Secret;
use crate::server::triggers::webhook::sign;
use std::time::{Duration, Instant};

/// How long one delivery may take, connecting included.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// What one attempt came to.
#[derive(Debug)]
pub enum Outcome {
    Delivered {
        status: u16,
        took: Duration,
    },
    NotDelivered {
        error: String,
        /// What the receiver asked for (`Retry-After`, in seconds), at most an hour.
        retry_after: Option<Duration>,
    },
}

/// The client deliveries are sent with: no redirects (a signed notice goes where it was
/// configured to, or nowhere), a deadline on every request.
pub fn client() -> anyhow::Result<reqwest::Client> {
    use anyhow::Context;
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(DEADLINE)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Flare/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the notification client")
}

/// Why a request got no answer, in words for the card; `peer` names who did not answer.
pub fn unreachable(e: &reqwest::Error, peer: Option<&str>) -> String {
    match (peer, e.is_timeout(), e.is_connect()) {
        (None, true, _) => format!("no answer within {} s", DEADLINE.as_secs()),
        (Some(p), true, _) => format!("{p} did not answer within {} s", DEADLINE.as_secs()),
        (None, _, true) => "could not connect".to_string(),
        (Some(p), _, true) => format!("could not connect to {p}"),
        (None, _, _) => "the request failed".to_string(),
        (Some(p), _, _) => format!("the request to {p} failed"),
    }
}

/// What a refusal's `Retry-After` asked for (seconds, fractions allowed), at most an hour.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite())
        .map(|s| Duration::from_secs_f64(s.clamp(0.0, 3600.0)))
}

pub async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: &Secret,
    delivery_id: &str,
    event: &str,
    body: Vec<u8>,
) -> Outcome {
    let ts = crate::server::db::now_ms() / 1000;
    let signature = format!("sha256={}", sign(secret.expose(), ts, &body));
    let started = Instant::now();
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-flare-timestamp", ts.to_string())
        .header("x-flare-signature", signature)
        .header("x-flare-delivery", delivery_id)
        .header("x-flare-event", event)
        .body(body)
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        Err(e) => {
            return Outcome::NotDelivered {
                error: unreachable(&e, None),
                retry_after: None,
            };
        }
    };
    let status = res.status();
    if status.is_success() {
        return Outcome::Delivered {
            status: status.as_u16(),
            took: started.elapsed(),
        };
    }
    let retry_after = retry_after(res.headers());
    Outcome::NotDelivered {
        error: format!("HTTP {}", status.as_u16()),
        retry_after,
    }
}
