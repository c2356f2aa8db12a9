//! A local server that speaks the OpenAI Chat Completions wire protocol (streamed SSE chunks,
//! tool-call deltas, error statuses), scripted per test. No real vendor is ever called.

use crate::common::scripted::Scripted;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub enum Script {
    /// A streamed text reply, one chunk per piece.
    Text(Vec<&'static str>),
    /// A streamed tool call; the arguments arrive split into the given pieces.
    Tool(&'static str, Vec<&'static str>),
    /// An HTTP error with an OpenAI error body.
    Status(u16),
    /// Never answers.
    Hang,
    /// 200 with an event stream that is not JSON.
    Garbage,
}

pub type Fake = Scripted<Script>;

impl Scripted<Script> {
    /// Starts the server; returns it and its base URL (as FLARE_OPENAI_BASE_URL takes it).
    pub async fn start(script: Vec<Script>) -> (Fake, String) {
        let (fake, base) = Scripted::serve(
            script,
            "/v1/chat/completions",
            |s| Box::pin(completions(s)),
            || Script::Text(vec!["ok"]),
        )
        .await;
        (fake, format!("{base}/v1"))
    }
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let c = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {c}\n\n")
}

fn sse(body: String) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from(body))
        .unwrap()
}

async fn completions(step: Script) -> Response {
    match step {
        Script::Text(pieces) => {
            let mut out = chunk(json!({"role": "assistant", "content": ""}), None);
            for p in pieces {
                out.push_str(&chunk(json!({"content": p}), None));
            }
            out.push_str(&chunk(json!({}), Some("stop")));
            out.push_str("data: [DONE]\n\n");
            sse(out)
        }
        Script::Tool(name, args) => {
            let mut out = chunk(
                json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                None,
            );
            for a in args {
                out.push_str(&chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}),
                    None,
                ));
            }
            out.push_str(&chunk(json!({}), Some("tool_calls")));
            out.push_str("data: [DONE]\n\n");
            sse(out)
        }
        Script::Status(code) => Response::builder()
            .status(StatusCode::from_u16(code).unwrap())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"error": {"message": format!("fake {code}"), "type": "server_error", "param": null, "code": null}})
                    .to_string(),
            ))
            .unwrap(),
        Script::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            sse(String::new())
        }
        Script::Garbage => sse("data: this is not json\n\n".into()),
    }
}
