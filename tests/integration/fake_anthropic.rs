//! A local server that speaks Anthropic's Messages API wire protocol (`POST /v1/messages`
//! streamed as server-sent events: content blocks, text and `input_json_delta` deltas,
//! `message_delta` with the stop reason, error bodies and statuses, `Retry-After`), scripted
//! per test. Each event is sent in two network writes, cut mid-event, so the client's SSE
//! reader is tested across reads. No real vendor is ever called.

use crate::common::scripted::Scripted;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub enum Script {
    /// A streamed text reply, one `text_delta` per piece.
    Text(Vec<&'static str>),
    /// Some text, then a `tool_use` block whose input arrives in the given pieces.
    Tool(&'static str, &'static str, Vec<&'static str>),
    /// A reply that stops with this `stop_reason` after a few words.
    Stop(&'static str),
    /// An HTTP error with Anthropic's error body and, optionally, `Retry-After` seconds.
    Status(u16, &'static str, Option<&'static str>),
    /// An HTML page with this status (a proxy or captive portal in the way).
    Html(u16),
    /// A tool call whose streamed input is not valid JSON.
    BrokenTool(&'static str),
    /// Never answers.
    Hang,
}

pub type Fake = Scripted<Script>;

impl Scripted<Script> {
    /// Starts the server; returns it and its base URL (as FLARE_ANTHROPIC_BASE_URL takes it).
    pub async fn start(script: Vec<Script>) -> (Fake, String) {
        Scripted::serve(
            script,
            "/v1/messages",
            |s| Box::pin(messages(s)),
            || Script::Text(vec!["ok"]),
        )
        .await
    }
}

fn event(kind: &str, data: Value) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

fn start_message() -> String {
    event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message",
            "role": "assistant", "content": [], "model": "claude-test", "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}),
    )
}

fn text_block(index: usize, pieces: &[&str]) -> String {
    let mut out = event(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
    );
    out.push_str(&event("ping", json!({"type": "ping"})));
    for p in pieces {
        out.push_str(&event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}),
        ));
    }
    out.push_str(&event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    ));
    out
}

fn stop(reason: &str) -> String {
    let mut out = event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": null},
            "usage": {"output_tokens": 15}}),
    );
    out.push_str(&event("message_stop", json!({"type": "message_stop"})));
    out
}

/// The stream, each event cut in two writes with a pause between them.
fn sse(body: String) -> Response {
    let mut chunks: Vec<String> = Vec::new();
    for e in body.split_inclusive("\n\n") {
        let cut = e
            .char_indices()
            .nth(e.chars().count() / 2)
            .map_or(0, |(i, _)| i);
        chunks.push(e[..cut].to_string());
        chunks.push(e[cut..].to_string());
    }
    let stream = futures::stream::iter(chunks).then(|c| async move {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        Ok::<_, std::io::Error>(c)
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

use futures::StreamExt;

async fn messages(step: Script) -> Response {
    match step {
        Script::Text(pieces) => sse(start_message() + &text_block(0, &pieces) + &stop("end_turn")),
        Script::Tool(said, name, input) => {
            let mut out = start_message() + &text_block(0, &[said]);
            out.push_str(&event(
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block":
                    {"type": "tool_use", "id": "toolu_fake1", "name": name, "input": {}}}),
            ));
            for piece in std::iter::once("").chain(input) {
                out.push_str(&event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
                ));
            }
            out.push_str(&event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 1}),
            ));
            sse(out + &stop("tool_use"))
        }
        Script::Stop(reason) => {
            sse(start_message() + &text_block(0, &["Your refund is appr"]) + &stop(reason))
        }
        Script::Status(code, kind, retry_after) => {
            let mut res = Response::builder()
                .status(StatusCode::from_u16(code).unwrap())
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(s) = retry_after {
                res = res.header("retry-after", s);
            }
            res.body(Body::from(
                json!({"type": "error", "error": {"type": kind, "message": format!("fake {kind}")}})
                    .to_string(),
            ))
            .unwrap()
        }
        Script::Html(code) => Response::builder()
            .status(StatusCode::from_u16(code).unwrap())
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::from("<html><body>Please sign in</body></html>"))
            .unwrap(),
        Script::BrokenTool(name) => {
            let mut out = start_message();
            out.push_str(&event(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block":
                    {"type": "tool_use", "id": "toolu_broken", "name": name, "input": {}}}),
            ));
            out.push_str(&event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": "{\"reason\": \"unfinished"}}),
            ));
            out.push_str(&event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ));
            sse(out + &stop("tool_use"))
        }
        Script::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            sse(String::new())
        }
    }
}
