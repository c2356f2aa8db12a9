//! Provider overhead per turn (issue 15): the time Flare spends on one model call outside the
//! model itself, for the OpenAI-compatible and the Anthropic providers. Each call goes to a
//! local server on loopback that answers at once with a prebuilt stream (a 40-piece text reply,
//! or a reply with an `escalate_to_human` call whose input arrives in 8 pieces), so what is
//! timed is building the request, HTTP on loopback, reading the stream and assembling the
//! reply. The local server's own work is inside the figure: Flare's share is at most this.
//!
//! Since Settings → Models, each turn also chooses its provider (`Connections::resolve`: one
//! query on SQLite for the agent's connection or the default, then a cached provider): timed
//! last, on a SQLite file; a turn's overhead is the provider's figure plus this one.
//!
//! Rerun: `cargo bench --features ssr --bench providers`

use axum::Router;
use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use axum::routing::post;
use flare::rules::compile;
use flare::server::config::Secret;
use flare::server::demo::CUSTOMER_SUPPORT_DESCRIPTION;
use flare::server::runtime::anthropic::AnthropicProvider;
use flare::server::runtime::guardrail::escalate_tool;
use flare::server::runtime::openai::OpenAiProvider;
use flare::server::runtime::provider::{ChatMessage, Provider, Request};
use serde_json::json;
use std::time::{Duration, Instant};

const TURNS: usize = 2000;

fn openai_stream(tool: bool) -> String {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        let c = json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let mut out = chunk(json!({"role": "assistant", "content": ""}), None);
    if tool {
        out.push_str(&chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "escalate_to_human", "arguments": ""}}]}),
            None,
        ));
        for piece in tool_pieces() {
            out.push_str(&chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                None,
            ));
        }
        out.push_str(&chunk(json!({}), Some("tool_calls")));
    } else {
        for i in 0..40 {
            out.push_str(&chunk(json!({"content": format!("word{i} ")}), None));
        }
        out.push_str(&chunk(json!({}), Some("stop")));
    }
    out + "data: [DONE]\n\n"
}

fn anthropic_stream(tool: bool) -> String {
    let ev = |kind: &str, data: serde_json::Value| format!("event: {kind}\ndata: {data}\n\n");
    let mut out = ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg", "type": "message", "role": "assistant",
            "content": [], "model": "m", "usage": {"input_tokens": 1, "output_tokens": 1}}}),
    );
    if tool {
        out.push_str(&ev("content_block_start", json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "escalate_to_human", "input": {}}})));
        for piece in tool_pieces() {
            out.push_str(&ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
    } else {
        out.push_str(&ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ));
        for i in 0..40 {
            out.push_str(&ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": format!("word{i} ")}}),
            ));
        }
    }
    out.push_str(&ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push_str(&ev("message_delta", json!({"type": "message_delta",
        "delta": {"stop_reason": if tool { "tool_use" } else { "end_turn" }}, "usage": {"output_tokens": 40}})));
    out + &ev("message_stop", json!({"type": "message_stop"}))
}

fn tool_pieces() -> Vec<String> {
    let args = json!({"reason": "The customer asks for a refund of $240 for order 88, over the $100 limit.",
        "severity": "critical"})
    .to_string();
    let step = args.len().div_ceil(8);
    args.as_bytes()
        .chunks(step)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect()
}

fn sse(body: String) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from(body))
        .unwrap()
}

/// One line of figures for a case's timings.
fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name:>42}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("provider overhead per turn (rerun: cargo bench --features ssr --bench providers)");
    let streams = [
        openai_stream(false),
        openai_stream(true),
        anthropic_stream(false),
        anthropic_stream(true),
    ];
    let [oa_text, oa_tool, an_text, an_tool] = streams;
    let app = Router::new()
        .route(
            "/openai/text/chat/completions",
            post(move || async move { sse(oa_text) }),
        )
        .route(
            "/openai/tool/chat/completions",
            post(move || async move { sse(oa_tool) }),
        )
        .route(
            "/anthropic/text/v1/messages",
            post(move || async move { sse(an_text) }),
        )
        .route(
            "/anthropic/tool/v1/messages",
            post(move || async move { sse(an_tool) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let policy = compile(CUSTOMER_SUPPORT_DESCRIPTION);
    let key = Secret::new("sk-bench");
    // A conversation of a few turns, as a resumed run sends it.
    let messages = vec![
        ChatMessage::User {
            text: "Hi, I ordered a blender last week (order 88).".into(),
        },
        ChatMessage::Assistant {
            text: "Thanks! How can I help with order 88?".into(),
            tool_calls: vec![],
        },
        ChatMessage::User {
            text: "It arrived broken. What can you do about it?".into(),
        },
    ];
    let request = Request {
        agent_name: "Customer Support Agent",
        instructions: format!(
            "{CUSTOMER_SUPPORT_DESCRIPTION}\n\nCall escalate_to_human when a rule applies."
        ),
        policy: &policy,
        messages,
        tools: vec![escalate_tool()],
    };
    let cases: Vec<(&str, Box<dyn Provider>)> = vec![
        (
            "openai, 40-piece text reply",
            Box::new(OpenAiProvider::new(&format!("{base}/openai/text"), &key, "m").unwrap()),
        ),
        (
            "openai, escalate_to_human in 8 pieces",
            Box::new(OpenAiProvider::new(&format!("{base}/openai/tool"), &key, "m").unwrap()),
        ),
        (
            "anthropic, 40-piece text reply",
            Box::new(AnthropicProvider::new(&format!("{base}/anthropic/text"), &key, "m").unwrap()),
        ),
        (
            "anthropic, escalate_to_human in 8 pieces",
            Box::new(AnthropicProvider::new(&format!("{base}/anthropic/tool"), &key, "m").unwrap()),
        ),
    ];
    println!("{TURNS} calls each, one at a time, after 100 to warm up (target: p99 < 2 ms)");
    for (name, provider) in cases {
        let deltas = std::sync::atomic::AtomicUsize::new(0);
        let on_delta = |_: &str| {
            deltas.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let mut times = Vec::with_capacity(TURNS);
        for i in 0..TURNS + 100 {
            let t = Instant::now();
            let reply = provider.complete(&request, &on_delta).await.expect("reply");
            let took = t.elapsed();
            assert!(!reply.text.is_empty() || reply.tool_calls.len() == 1);
            if i >= 100 {
                times.push(took);
            }
        }
        report(name, times);
    }
    choosing(&base).await;
}

/// Times `Connections::resolve` for an agent's own stored connection and for the default.
async fn choosing(base: &str) {
    use flare::models::ConnectionKind;
    use flare::server::config::ProviderConfig;
    use flare::server::db::connections::{self, NewConnection};
    use flare::server::runtime::connections::{Connections, seal_context};
    use flare::server::secret_box::SecretBox;
    let dir = std::env::temp_dir().join(format!("flare-bench-providers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = flare::server::db::connect(&format!("sqlite://{}/bench.db", dir.display()))
        .await
        .expect("database");
    let secrets = SecretBox::from_hex(&Secret::new("ab".repeat(32))).unwrap();
    let id = flare::server::db::new_id();
    let sealed = secrets.seal(&Secret::new("sk-ant-bench-key-1234"), &seal_context(&id));
    connections::insert(
        &db,
        NewConnection {
            id: &id,
            name: "Bench",
            kind: ConnectionKind::Anthropic,
            base_url: &format!("{base}/anthropic/text"),
            sealed_key: &sealed,
            key_hint: "…1234",
            models: "m",
            created_by: "bench",
        },
    )
    .await
    .unwrap();
    let conns =
        Connections::new(&ProviderConfig::Rules, Some(std::sync::Arc::new(secrets))).unwrap();
    for (name, choice) in [
        ("choosing: the agent's own connection", Some(id.as_str())),
        ("choosing: the default", None),
    ] {
        let mut times = Vec::with_capacity(TURNS);
        for i in 0..TURNS + 100 {
            let t = Instant::now();
            let r = conns
                .resolve(&db, choice, Some("m"))
                .await
                .expect("resolved");
            let took = t.elapsed();
            assert!(r.notice.is_none());
            if i >= 100 {
                times.push(took);
            }
        }
        report(name, times);
    }
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
