//! `/metrics` in Prometheus' text format, on a listen address of its own (`FLARE_METRICS_ADDR`,
//! as exporters usually do, so it is never exposed with the app by accident). Off unless set.
//!
//! What it counts: HTTP requests by route and status with a latency histogram; runs by status
//! and trigger; open escalations by severity (read from the database at each scrape, so every
//! instance reports the team's truth); live subscribers on this instance; provider call latency
//! and errors; trigger firings and rejections; notification attempts by channel and outcome.

use super::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// The process's recorder (metrics are process-wide: one recorder, however many servers).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets, in seconds: from a cached page to a slow model.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn handle() -> Result<&'static PrometheusHandle, String> {
    if let Some(h) = HANDLE.get() {
        return Ok(h);
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    // Another server in this process may have installed it first: that one records for all.
    if metrics::set_global_recorder(recorder).is_ok() {
        let _ = HANDLE.set(handle);
    }
    HANDLE
        .get()
        .ok_or_else(|| "another metrics recorder is installed".to_string())
}

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let handle = handle().map_err(std::io::Error::other)?;
    let upkeep = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            handle.run_upkeep();
        }
    });
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state);
    let result = axum::serve(listener, app).await;
    upkeep.abort();
    result
}

async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = HANDLE.get() else {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    match super::db::escalations::open_by_severity_everywhere(&state.db).await {
        Ok(counts) => {
            for severity in ["info", "warning", "critical"] {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == severity)
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!("flare_open_escalations", "severity" => severity).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count open escalations"),
    }
    metrics::gauge!("flare_live_subscribers").set(state.streams.total() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Every request of the app: counted by route (the pattern, not the path, so ids do not
/// explode the series) and status, and timed.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("flare_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("flare_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

/// A run reached `status` ("started", "waiting", "completed", "failed").
pub fn run(status: &'static str, trigger: crate::chat::Trigger) {
    metrics::counter!("flare_runs_total", "status" => status, "trigger" => trigger.as_str())
        .increment(1);
}

/// One provider call took `seconds`; `error` names its failure, if it failed.
pub fn provider_call(seconds: f64, error: Option<&'static str>) {
    metrics::histogram!("flare_provider_call_duration_seconds").record(seconds);
    if let Some(kind) = error {
        metrics::counter!("flare_provider_errors_total", "kind" => kind).increment(1);
    }
}

/// A trigger started a run (`fired`) or was refused.
pub fn trigger(kind: &'static str, fired: bool) {
    let name = match fired {
        true => "flare_trigger_firings_total",
        false => "flare_trigger_rejections_total",
    };
    metrics::counter!(name, "kind" => kind).increment(1);
}

/// One notification attempt ended: `outcome` is sent, retrying or failed.
pub fn notification(kind: &'static str, outcome: &'static str) {
    metrics::counter!("flare_notifications_total", "channel" => kind, "outcome" => outcome)
        .increment(1);
}
