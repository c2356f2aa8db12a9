//! Any OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama, vLLM, LM Studio,
//! OpenRouter…) through `async-openai`: streamed replies, tool calling, and its retry layer
//! for 429 / 5xx / connection failures with exponential backoff (honouring Retry-After).

use super::provider::{ChatMessage, OnDelta, Provider, ProviderError, Reply, Request, ToolCall};
use crate::server::config::Secret;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::types::chat::CreateChatCompletionRequest;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Retries after the first attempt, for rate limits, server errors and refused connections.
pub const MAX_RETRIES: usize = 3;

pub struct OpenAiProvider {
    client: Client<OpenAIConfig>,
    model: String,
}

impl OpenAiProvider {
    pub fn new(base_url: &str, api_key: &Secret, model: &str) -> anyhow::Result<Self> {
        let http = super::provider::http_client()?;
        let service = tower::ServiceBuilder::new()
            .layer(OpenAIRetryLayer::new(MAX_RETRIES))
            .service(ReqwestService::new(http));
        let config = OpenAIConfig::new()
            .with_api_base(base_url.trim_end_matches('/'))
            .with_api_key(api_key.expose());
        Ok(Self {
            client: Client::with_config(config).with_http_service(service),
            model: model.to_string(),
        })
    }

    /// The request as the Chat Completions API reads it.
    pub fn body(&self, request: &Request<'_>) -> Value {
        let mut messages = vec![json!({"role": "system", "content": request.instructions})];
        for m in &request.messages {
            messages.push(match m {
                ChatMessage::User { text } => json!({"role": "user", "content": text}),
                ChatMessage::Assistant { text, tool_calls } if tool_calls.is_empty() => {
                    json!({"role": "assistant", "content": text})
                }
                ChatMessage::Assistant { text, tool_calls } => json!({
                    "role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { json!(text) },
                    "tool_calls": tool_calls.iter().map(|c| json!({
                        "id": c.id, "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments}
                    })).collect::<Vec<_>>(),
                }),
                ChatMessage::Tool {
                    call_id, content, ..
                } => {
                    json!({"role": "tool", "tool_call_id": call_id, "content": content})
                }
            });
        }
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters
                }})
            })
            .collect();
        json!({"model": self.model, "stream": true, "messages": messages, "tools": tools})
    }
}

fn unavailable(e: OpenAIError) -> ProviderError {
    match e {
        OpenAIError::JSONDeserialize(..) | OpenAIError::StreamError(_) => {
            ProviderError::Malformed(e.to_string())
        }
        other => ProviderError::Unavailable(other.to_string()),
    }
}

#[async_trait::async_trait]
impl Provider for OpenAiProvider {
    async fn complete(
        &self,
        request: &Request<'_>,
        on_delta: OnDelta<'_>,
    ) -> Result<Reply, ProviderError> {
        let body: CreateChatCompletionRequest = serde_json::from_value(self.body(request))
            .map_err(|e| ProviderError::Malformed(format!("request: {e}")))?;
        let mut stream = self
            .client
            .chat()
            .create_stream(body)
            .await
            .map_err(unavailable)?;
        let mut text = String::new();
        // Tool calls arrive in pieces, keyed by index: id and name first, arguments in chunks.
        let mut calls: BTreeMap<u32, ToolCall> = BTreeMap::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(unavailable)?;
            for choice in chunk.choices {
                if let Some(piece) = choice.delta.content.filter(|p| !p.is_empty()) {
                    on_delta(&piece);
                    text.push_str(&piece);
                }
                for part in choice.delta.tool_calls.unwrap_or_default() {
                    let call = calls.entry(part.index).or_insert_with(|| ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                    if let Some(id) = part.id {
                        call.id = id;
                    }
                    if let Some(f) = part.function {
                        call.name.push_str(&f.name.unwrap_or_default());
                        call.arguments.push_str(&f.arguments.unwrap_or_default());
                    }
                }
            }
        }
        let mut tool_calls = Vec::with_capacity(calls.len());
        for (index, mut call) in calls {
            if call.name.is_empty() {
                return Err(ProviderError::Malformed(format!(
                    "tool call {index} has no name"
                )));
            }
            if call.id.is_empty() {
                call.id = format!("call-{index}-{}", crate::server::db::new_id());
            }
            tool_calls.push(call);
        }
        if text.trim().is_empty() && tool_calls.is_empty() {
            return Err(ProviderError::Malformed("the reply was empty".into()));
        }
        Ok(Reply { text, tool_calls })
    }
}
