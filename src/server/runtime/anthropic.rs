//! Anthropic's Messages API (`POST /v1/messages`, streamed as server-sent events): text as it
//! is written, tool use (`escalate_to_human` and tool workers) with the tool's input streamed
//! as pieces of JSON, retries with backoff that honour `Retry-After` and Anthropic's 529
//! "overloaded", and every `stop_reason`.
//!
//! A small client on `reqwest` and `eventsource-stream`, with its wire types here: the Rust
//! crates for this API were unmaintained or lacked streamed tool input when this was written.

use super::provider::{ChatMessage, OnDelta, Provider, ProviderError, Reply, Request, ToolCall};
use crate::server::config::Secret;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The API version Flare speaks (the `anthropic-version` header).
pub const API_VERSION: &str = "2023-06-01";
/// Retries after the first attempt, for rate limits, overload, server errors and refused
/// connections.
pub const MAX_RETRIES: u32 = 3;
/// The longest reply the model may write, in tokens (the API requires a limit).
pub const MAX_TOKENS: u32 = 4096;
/// The first retry's wait; each next one doubles it.
const BACKOFF: Duration = Duration::from_millis(500);
/// A `Retry-After` longer than this is not waited for: the run fails now with the reason, and
/// the person can press Retry later (the run's own deadline would end it anyway).
const LONGEST_WAIT: Duration = Duration::from_secs(60);

pub struct AnthropicProvider {
    http: reqwest::Client,
    url: String,
    api_key: Secret,
    model: String,
}

// --- The wire: what the stream's events carry (only the fields Flare reads). ---

#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {},
    ContentBlockStart {
        index: usize,
        content_block: Block,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta,
    },
    ContentBlockStop {},
    MessageDelta {
        delta: MessageDelta,
    },
    MessageStop {},
    Ping {},
    Error {
        error: ApiError,
    },
    /// Event types added to the API later: the API's versioning policy says to ignore them.
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    /// Thinking, server tools and blocks added to the API later: not part of the reply.
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Debug)]
struct MessageDelta {
    stop_reason: Option<String>,
}

#[derive(Deserialize, Debug)]
struct ApiError {
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

/// A block of the reply being assembled, by its index in the stream.
enum Part {
    Text,
    Tool(ToolCall),
    Skipped,
}

impl AnthropicProvider {
    pub fn new(base_url: &str, api_key: &Secret, model: &str) -> anyhow::Result<Self> {
        let http = super::provider::http_client()?;
        Ok(Self {
            http,
            url: format!("{}/v1/messages", base_url.trim_end_matches('/')),
            api_key: api_key.clone(),
            model: model.to_string(),
        })
    }

    /// The request as the Messages API reads it. Roles must alternate, so a tool's result
    /// (a `user` turn) and the person's next message are merged into one turn.
    pub fn body(&self, request: &Request<'_>) -> Value {
        let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
        for m in &request.messages {
            let (role, blocks) = match m {
                ChatMessage::User { text } => ("user", vec![json!({"type": "text", "text": text})]),
                ChatMessage::Assistant { text, tool_calls } => {
                    let mut blocks = Vec::new();
                    if !text.trim().is_empty() {
                        blocks.push(json!({"type": "text", "text": text}));
                    }
                    for c in tool_calls {
                        // The API wants the input as an object; a model's broken JSON (already
                        // answered as such) goes back as an empty one.
                        let input = serde_json::from_str::<Value>(&c.arguments)
                            .ok()
                            .filter(Value::is_object)
                            .unwrap_or_else(|| json!({}));
                        blocks.push(
                            json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                        );
                    }
                    ("assistant", blocks)
                }
                ChatMessage::Tool {
                    call_id, content, ..
                } => (
                    "user",
                    vec![
                        json!({"type": "tool_result", "tool_use_id": call_id, "content": content}),
                    ],
                ),
            };
            if blocks.is_empty() {
                continue;
            }
            match turns.last_mut() {
                Some((last, existing)) if *last == role => existing.extend(blocks),
                _ => turns.push((role, blocks)),
            }
        }
        let messages: Vec<Value> = turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect();
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        json!({
            "model": self.model,
            "max_tokens": MAX_TOKENS,
            "stream": true,
            "system": request.instructions,
            "messages": messages,
            "tools": tools,
        })
    }

    /// Sends the request, retrying what may pass (429, 529 overloaded, 5xx, a refused
    /// connection) after `Retry-After` or a doubling backoff; returns the streaming response.
    async fn send(&self, body: &Value) -> Result<reqwest::Response, ProviderError> {
        let mut attempt = 0;
        loop {
            let sent = self
                .http
                .post(&self.url)
                .header("x-api-key", self.api_key.expose())
                .header("anthropic-version", API_VERSION)
                .header("content-type", "application/json")
                .header("accept", "text/event-stream")
                .body(body.to_string())
                .send()
                .await;
            let (why, wait) = match sent {
                Ok(res) if res.status().is_success() => {
                    // A proxy's login page or an error page served as 200 is not a reply.
                    let kind = res
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("no content type")
                        .to_string();
                    if !kind.starts_with("text/event-stream") {
                        return Err(ProviderError::Malformed(format!(
                            "the server at {} answered {kind}, not Anthropic's event stream",
                            self.url
                        )));
                    }
                    return Ok(res);
                }
                Ok(res) => {
                    let status = res.status();
                    let wait = retry_after(&res);
                    let text = res.text().await.unwrap_or_default();
                    let why = match serde_json::from_str::<ErrorBody>(&text) {
                        Ok(b) => {
                            let hint = match status.as_u16() {
                                401 => "the API key was refused: ",
                                403 => "the API key may not do this: ",
                                404 => "no such model or address: ",
                                _ => "",
                            };
                            format!(
                                "{hint}{} ({}, HTTP {})",
                                b.error.message,
                                b.error.kind,
                                status.as_u16()
                            )
                        }
                        // Not Anthropic's error body (a proxy's HTML page): the status says it.
                        Err(_) => format!("the server at {} answered HTTP {status}", self.url),
                    };
                    let passing = matches!(status.as_u16(), 408 | 409 | 429 | 500..=599);
                    if !passing {
                        return Err(ProviderError::Unavailable(why));
                    }
                    (why, wait)
                }
                Err(e) if e.is_connect() || e.is_timeout() => (format!("{e}"), None),
                Err(e) => return Err(ProviderError::Unavailable(e.to_string())),
            };
            if attempt >= MAX_RETRIES {
                return Err(ProviderError::Unavailable(format!(
                    "{why}; gave up after {} attempts",
                    attempt + 1
                )));
            }
            let wait = wait.unwrap_or(BACKOFF * 2u32.pow(attempt));
            if wait > LONGEST_WAIT {
                return Err(ProviderError::Unavailable(format!(
                    "{why}; it asks to wait {} s",
                    wait.as_secs()
                )));
            }
            tracing::warn!(%why, attempt, wait_ms = wait.as_millis() as u64, "Anthropic: retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// `Retry-After` in seconds (Anthropic sends seconds; a date is not waited for).
fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    let v = res.headers().get("retry-after")?.to_str().ok()?;
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Builds the reply from the stream's events, one `data` payload at a time.
#[derive(Default)]
pub struct Assembler {
    parts: Vec<Part>,
    text: String,
    stop_reason: Option<String>,
    stopped: bool,
}

impl Assembler {
    /// Reads one event; returns whether the message is complete (`message_stop`).
    pub fn feed(&mut self, data: &str, on_delta: OnDelta<'_>) -> Result<bool, ProviderError> {
        let event: Event = serde_json::from_str(data)
            .map_err(|e| ProviderError::Malformed(format!("an event: {e}")))?;
        match event {
            Event::MessageStart {}
            | Event::Ping {}
            | Event::ContentBlockStop {}
            | Event::Unknown => {}
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                if index > 64 {
                    return Err(ProviderError::Malformed(format!("block index {index}")));
                }
                if self.parts.len() <= index {
                    self.parts.resize_with(index + 1, || Part::Skipped);
                }
                self.parts[index] = match content_block {
                    Block::Text { text } => {
                        self.push_text(&text, on_delta);
                        Part::Text
                    }
                    Block::ToolUse { id, name } => Part::Tool(ToolCall {
                        id,
                        name,
                        arguments: String::new(),
                    }),
                    Block::Other => Part::Skipped,
                };
            }
            Event::ContentBlockDelta { index, delta } => match (self.parts.get_mut(index), delta) {
                (Some(Part::Text), Delta::Text { text }) => self.push_text(&text, on_delta),
                (Some(Part::Tool(call)), Delta::InputJson { partial_json }) => {
                    call.arguments.push_str(&partial_json)
                }
                (Some(Part::Skipped), _) | (_, Delta::Other) => {}
                (_, delta) => {
                    return Err(ProviderError::Malformed(format!(
                        "a delta for block {index} that was not started as its kind: {delta:?}"
                    )));
                }
            },
            Event::MessageDelta { delta } => {
                self.stop_reason = delta.stop_reason.or(self.stop_reason.take())
            }
            Event::MessageStop {} => self.stopped = true,
            Event::Error { error } => {
                return Err(ProviderError::Unavailable(format!(
                    "{} ({}, during the reply)",
                    error.message, error.kind
                )));
            }
        }
        Ok(self.stopped)
    }

    fn push_text(&mut self, piece: &str, on_delta: OnDelta<'_>) {
        if !piece.is_empty() {
            on_delta(piece);
            self.text.push_str(piece);
        }
    }

    /// The reply, once the stream has ended: complete, not cut off, not empty.
    pub fn finish(self) -> Result<Reply, ProviderError> {
        if !self.stopped {
            return Err(ProviderError::Unavailable(
                "the stream ended before the reply was complete".into(),
            ));
        }
        match self.stop_reason.as_deref() {
            Some("end_turn" | "tool_use" | "stop_sequence" | "pause_turn") | None => {}
            // A reply cut off mid-sentence (or mid tool call) is not sent to anyone.
            Some("max_tokens") => {
                return Err(ProviderError::Malformed(format!(
                    "the reply was cut off at the limit of {MAX_TOKENS} tokens"
                )));
            }
            Some("refusal") => {
                return Err(ProviderError::Unavailable(
                    "the model declined to answer (refusal)".into(),
                ));
            }
            Some(other) => tracing::warn!(stop_reason = other, "Anthropic: unknown stop reason"),
        }
        let mut tool_calls = Vec::new();
        for part in self.parts {
            if let Part::Tool(mut call) = part {
                // A tool called without arguments streams no input: it is the empty object.
                if call.arguments.trim().is_empty() {
                    call.arguments = "{}".into();
                }
                tool_calls.push(call);
            }
        }
        if self.text.trim().is_empty() && tool_calls.is_empty() {
            return Err(ProviderError::Malformed("the reply was empty".into()));
        }
        Ok(Reply {
            text: self.text,
            tool_calls,
        })
    }
}

#[async_trait::async_trait]
impl Provider for AnthropicProvider {
    async fn complete(
        &self,
        request: &Request<'_>,
        on_delta: OnDelta<'_>,
    ) -> Result<Reply, ProviderError> {
        let body = self.body(request);
        let mut events = self.send(&body).await?.bytes_stream().eventsource();
        let mut reply = Assembler::default();
        while let Some(event) = events.next().await {
            let event =
                event.map_err(|e| ProviderError::Unavailable(format!("the stream broke: {e}")))?;
            if reply.feed(&event.data, on_delta)? {
                break;
            }
        }
        reply.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(events: &[Value]) -> (Result<Reply, ProviderError>, Vec<String>) {
        let seen = std::sync::Mutex::new(Vec::new());
        let on_delta = |s: &str| seen.lock().unwrap().push(s.to_string());
        let mut a = Assembler::default();
        for e in events {
            match a.feed(&e.to_string(), &on_delta) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return (Err(e), seen.into_inner().unwrap()),
            }
        }
        (a.finish(), seen.into_inner().unwrap())
    }

    fn start(index: usize, block: Value) -> Value {
        json!({"type": "content_block_start", "index": index, "content_block": block})
    }
    fn delta(index: usize, delta: Value) -> Value {
        json!({"type": "content_block_delta", "index": index, "delta": delta})
    }
    fn stop(reason: &str) -> [Value; 2] {
        [
            json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": null}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ]
    }

    #[test]
    fn text_and_a_tool_call_with_its_input_in_pieces() {
        let mut events = vec![
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m", "usage": {"input_tokens": 5, "output_tokens": 1}}}),
            start(0, json!({"type": "text", "text": ""})),
            json!({"type": "ping"}),
            delta(0, json!({"type": "text_delta", "text": "Let me "})),
            delta(0, json!({"type": "text_delta", "text": "check."})),
            json!({"type": "content_block_stop", "index": 0}),
            start(
                1,
                json!({"type": "tool_use", "id": "toolu_1", "name": "escalate_to_human", "input": {}}),
            ),
            delta(1, json!({"type": "input_json_delta", "partial_json": ""})),
            delta(
                1,
                json!({"type": "input_json_delta", "partial_json": "{\"reason\": \"Refu"}),
            ),
            delta(
                1,
                json!({"type": "input_json_delta", "partial_json": "nd over $100\"}"}),
            ),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "some_future_event", "anything": 1}),
        ];
        events.extend(stop("tool_use"));
        let (reply, seen) = read(&events);
        let reply = reply.unwrap();
        assert_eq!(seen, ["Let me ", "check."]);
        assert_eq!(reply.text, "Let me check.");
        assert_eq!(reply.tool_calls.len(), 1);
        let call = &reply.tool_calls[0];
        assert_eq!(
            (call.id.as_str(), call.name.as_str()),
            ("toolu_1", "escalate_to_human")
        );
        let input: Value = serde_json::from_str(&call.arguments).unwrap();
        assert_eq!(input["reason"], "Refund over $100");
    }

    #[test]
    fn a_cut_off_refused_unfinished_or_empty_reply_is_an_error() {
        let text = [
            start(0, json!({"type": "text", "text": ""})),
            delta(0, json!({"type": "text_delta", "text": "Half a sen"})),
        ];
        let cut: Vec<Value> = text.iter().cloned().chain(stop("max_tokens")).collect();
        let err = read(&cut).0.unwrap_err().to_string();
        assert!(err.contains("cut off"), "{err}");
        let refused: Vec<Value> = text.iter().cloned().chain(stop("refusal")).collect();
        assert!(
            read(&refused)
                .0
                .unwrap_err()
                .to_string()
                .contains("declined")
        );
        let unfinished = read(&text).0.unwrap_err().to_string();
        assert!(unfinished.contains("ended before"), "{unfinished}");
        let empty = read(&stop("end_turn")).0.unwrap_err().to_string();
        assert!(empty.contains("empty"), "{empty}");
        let overloaded = read(&[
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ]);
        assert!(
            overloaded
                .0
                .unwrap_err()
                .to_string()
                .contains("Overloaded (overloaded_error")
        );
        // A delta for a block that never started, and an event that is not JSON.
        assert!(
            read(&[delta(3, json!({"type": "text_delta", "text": "x"}))])
                .0
                .is_err()
        );
        let mut a = Assembler::default();
        assert!(a.feed("not json", &|_| {}).is_err());
    }

    #[test]
    fn the_request_alternates_roles_and_sends_tool_results_as_the_user() {
        let p = AnthropicProvider::new("http://x/", &Secret::new("k"), "claude-test").unwrap();
        let policy = crate::rules::compile("Escalate refunds.");
        let call = ToolCall {
            id: "toolu_1".into(),
            name: "escalate_to_human".into(),
            arguments: "{\"reason\":\"r\"}".into(),
        };
        let request = Request {
            agent_name: "A",
            instructions: "Be kind.".into(),
            policy: &policy,
            messages: vec![
                ChatMessage::User {
                    text: "Refund me".into(),
                },
                ChatMessage::Assistant {
                    text: String::new(),
                    tool_calls: vec![call],
                },
                ChatMessage::Tool {
                    call_id: "toolu_1".into(),
                    name: "escalate_to_human".into(),
                    content: "Guidance: yes".into(),
                    answer: None,
                },
                ChatMessage::User {
                    text: "Thanks".into(),
                },
            ],
            tools: vec![super::super::provider::ToolSpec {
                name: "escalate_to_human".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
        };
        let body = p.body(&request);
        assert_eq!(p.url, "http://x/v1/messages");
        assert_eq!(body["system"], "Be kind.");
        assert_eq!(body["stream"], true);
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        let m = body["messages"].as_array().unwrap();
        let roles: Vec<&str> = m.iter().map(|t| t["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(m[1]["content"][0]["type"], "tool_use");
        assert_eq!(m[1]["content"][0]["input"]["reason"], "r");
        assert_eq!(m[2]["content"][0]["type"], "tool_result");
        assert_eq!(m[2]["content"][0]["tool_use_id"], "toolu_1");
        assert_eq!(m[2]["content"][1]["text"], "Thanks");
    }
}
