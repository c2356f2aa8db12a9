//! A local server that speaks the OpenAI Chat Completions wire protocol (streamed SSE chunks,
//! tool-call deltas, error statuses), scripted per test. No real vendor is ever called.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

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

#[derive(Clone, Default)]
pub struct Fake {
    script: Arc<Mutex<VecDeque<Script>>>,
    pub requests: Arc<Mutex<Vec<Value>>>,
}

impl Fake {
    /// Starts the server; returns it and its base URL (as FLARE_OPENAI_BASE_URL takes it).
    pub async fn start(script: Vec<Script>) -> (Self, String) {
        let fake = Fake {
            script: Arc::new(Mutex::new(script.into())),
            ..Default::default()
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (fake, format!("http://{addr}/v1"))
    }

    pub fn push(&self, s: Script) {
        self.script.lock().unwrap().push_back(s);
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
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

async fn completions(State(fake): State<Fake>, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    fake.requests.lock().unwrap().push(request);
    let next = fake.script.lock().unwrap().pop_front();
    match next.unwrap_or(Script::Text(vec!["ok"])) {
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
