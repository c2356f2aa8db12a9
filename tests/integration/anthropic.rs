//! The Anthropic provider against a local server speaking the Messages API's wire protocol:
//! streamed text, a streamed `tool_use` whose input arrives in pieces (each event cut across
//! network reads), the person's answer sent back as a `tool_result`, retries on 529 and 429
//! honouring `Retry-After`, a refused request that is not retried, and a cut-off reply.

use crate::common::*;
use crate::fake_anthropic::{Fake, Script};
use flare::server::config::{ProviderConfig, Secret};
use flare::server::runtime::tools::Registry;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

async fn anthropic_chat(description: &str, script: Vec<Script>, timeout_ms: u64) -> (Chat, Fake) {
    anthropic_chat_with(description, script, timeout_ms, Registry::default()).await
}

async fn anthropic_chat_with(
    description: &str,
    script: Vec<Script>,
    timeout_ms: u64,
    tools: Registry,
) -> (Chat, Fake) {
    let (fake, url) = Fake::start(script).await;
    let mut config = TestApp::owner_config().await;
    config.provider = ProviderConfig::Anthropic {
        base_url: url,
        api_key: Secret::new("sk-ant-test"),
        model: "claude-test".into(),
    };
    config.provider_timeout_ms = timeout_ms;
    let app = TestApp::start_with_tools(config, tools).await;
    (chat_on(app, description).await, fake)
}

/// The resumed request's `tool_use` block (in the assistant's turn) and `tool_result` block (in
/// the user's turn after it), checked for the call `id`.
fn call_and_result<'a>(request: &'a Value, id: &str) -> (&'a Value, &'a Value) {
    let msgs = request["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["user", "assistant", "user"],
        "roles alternate: {request}"
    );
    let block = |turn: &'a Value, kind: &str| -> &'a Value {
        turn["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} block in {turn}"))
    };
    let (call, result) = (block(&msgs[1], "tool_use"), block(&msgs[2], "tool_result"));
    assert_eq!(call["id"], id);
    assert_eq!(result["tool_use_id"], id);
    (call, result)
}

fn done(t: &Value) -> bool {
    matches!(run_status(t), "completed" | "failed" | "waiting")
}

#[tokio::test]
async fn a_streamed_reply_arrives_in_pieces_and_the_request_is_anthropics() {
    let (c, fake) = anthropic_chat(
        "Answer questions about opening hours.",
        vec![Script::Text(vec!["Our hours ", "are **9 to 5**."])],
        5000,
    )
    .await;
    let live = c.owner.get(c.app.url("/api/live")).send().await.unwrap();
    send(&c.app, &c.owner, &c.thread, "When are you open?").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", done).await;
    assert_eq!(run_status(&t), "completed", "{t}");
    assert_eq!(
        messages_of(&t, "agent"),
        ["<p>Our hours are <strong>9 to 5</strong>.</p>\n"]
    );
    let events = read_live(live, |e| e["type"] == "run" && e["status"] == "completed").await;
    let pieces: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "delta")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        pieces,
        ["Our hours ", "are **9 to 5**."],
        "streamed as written"
    );
    let first = fake.received().remove(0);
    let (req, headers) = (first.body, first.headers);
    assert_eq!(headers["x-api-key"], "sk-ant-test");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(req["model"], "claude-test");
    assert_eq!(req["stream"], true);
    assert!(req["max_tokens"].as_u64().unwrap() > 0);
    assert!(
        req["system"]
            .as_str()
            .unwrap()
            .contains("Answer questions about opening hours."),
        "{req}"
    );
    assert_eq!(req["messages"][0]["role"], "user");
    assert_eq!(
        req["messages"][0]["content"][0]["text"],
        "When are you open?"
    );
    assert_eq!(req["tools"][0]["name"], "escalate_to_human");
    assert_eq!(req["tools"][0]["input_schema"]["type"], "object");
    c.app.stop().await;
}

#[tokio::test]
async fn the_model_escalates_with_streamed_tool_input_and_gets_the_guidance_back() {
    let (c, fake) = anthropic_chat(
        "Answer billing questions.",
        vec![
            Script::Tool(
                "Let me ask someone.",
                "escalate_to_human",
                vec![
                    "{\"reason\": \"The customer wants a ",
                    "discount I cannot g",
                    "ive.\", \"severity\": \"critical\"}",
                ],
            ),
            Script::Text(vec!["Offering 10% as you said."]),
        ],
        5000,
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Can I get a discount?").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the card", done).await;
    assert_eq!(run_status(&t), "waiting", "{t}");
    let card = card(&t).unwrap();
    assert_eq!(
        card["reason"],
        "The customer wants a discount I cannot give."
    );
    assert_eq!(card["severity"], "critical");
    let r = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: card["id"].as_str().unwrap().to_string(),
                guidance: "offer 10%".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert!(
        messages_of(&t, "agent")
            .last()
            .unwrap()
            .contains("Offering 10% as you said."),
        "{t}"
    );
    // The resumed request: the call as a tool_use block with its whole input, then the
    // person's answer as a tool_result in the user's turn (roles alternate).
    let bodies = fake.requests();
    let (call, result) = call_and_result(&bodies[1], "toolu_fake1");
    assert_eq!(call["input"]["severity"], "critical");
    assert!(
        result["content"].as_str().unwrap().contains("offer 10%"),
        "{result}"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn overload_and_rate_limits_are_retried_honouring_retry_after() {
    let (c, fake) = anthropic_chat(
        "Answer questions.",
        vec![
            Script::Status(529, "overloaded_error", None),
            // Longer than the backoff's own second wait (1 s), so only Retry-After explains it.
            Script::Status(429, "rate_limit_error", Some("2")),
            Script::Text(vec!["Third time lucky."]),
        ],
        15_000,
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Hello").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", done).await;
    assert_eq!(run_status(&t), "completed", "{t}");
    let times: Vec<std::time::Instant> = fake.received().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 3);
    assert!(
        times[1] - times[0] >= Duration::from_millis(450),
        "a backoff after the 529: {:?}",
        times[1] - times[0]
    );
    assert!(
        times[2] - times[1] >= Duration::from_millis(1950),
        "Retry-After: 2 was honoured: {:?}",
        times[2] - times[1]
    );
    c.app.stop().await;
}

#[tokio::test]
async fn a_refused_request_is_not_retried_and_the_thread_says_why() {
    let (c, fake) = anthropic_chat(
        "Answer questions.",
        vec![Script::Status(400, "invalid_request_error", None)],
        5000,
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Hello").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the failure", |t| {
        run_status(t) == "failed"
    })
    .await;
    let notice = &messages_of(&t, "notice")[0];
    assert!(
        notice.contains("fake invalid_request_error") && notice.contains("400"),
        "{notice}"
    );
    assert_eq!(fake.requests().len(), 1, "a 400 is not retried");
    c.app.stop().await;
}

#[tokio::test]
async fn a_reply_cut_off_at_the_token_limit_is_not_sent() {
    let (c, _fake) =
        anthropic_chat("Answer questions.", vec![Script::Stop("max_tokens")], 5000).await;
    send(&c.app, &c.owner, &c.thread, "Can I get a refund?").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the failure", |t| {
        run_status(t) == "failed"
    })
    .await;
    let notice = &messages_of(&t, "notice")[0];
    assert!(notice.contains("cut off"), "{notice}");
    assert!(
        messages_of(&t, "agent").is_empty(),
        "nothing half-written is sent: {t}"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn a_model_that_never_answers_fails_at_the_deadline_and_retry_resumes() {
    let (c, fake) = anthropic_chat("Answer questions.", vec![Script::Hang], 1500).await;
    send(&c.app, &c.owner, &c.thread, "Hello").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the failure", |t| {
        run_status(t) == "failed"
    })
    .await;
    let notice = &messages_of(&t, "notice")[0];
    assert!(
        notice.contains("did not answer within 1.5 seconds"),
        "{notice}"
    );
    fake.push(Script::Text(vec!["Hello again."]));
    let retry = RetryRun {
        run_id: t["last_run"]["id"].as_str().unwrap().to_string(),
    };
    let r = c.app.send(&c.owner, retry).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert_eq!(messages_of(&t, "agent"), ["<p>Hello again.</p>\n"]);
    c.app.stop().await;
}

/// The real binary, configured from the environment as an operator would: a missing key is a
/// clear start-up error; with one, the agent answers through Anthropic, and the key appears in
/// no log line, even at debug level.
#[tokio::test]
async fn the_binary_is_configured_from_the_environment_and_never_logs_the_key() {
    let bin = env!("CARGO_BIN_EXE_flare");
    let said = Process::refused_start(
        bin,
        &[
            ("FLARE_PROVIDER", "anthropic"),
            ("FLARE_ANTHROPIC_MODEL", "claude-test"),
            ("DATABASE_URL", "sqlite::memory:"),
        ],
    )
    .await;
    assert!(said.contains("needs FLARE_ANTHROPIC_API_KEY"), "{said}");

    let (fake, url) = Fake::start(vec![Script::Text(vec!["Hello from the fake."])]).await;
    let database_url = fresh_database_url().await;
    let key = "sk-ant-secret-0123456789";
    let (p, logs) = Process::launch_logged(
        bin,
        &database_url,
        &[
            ("FLARE_PROVIDER", "anthropic"),
            ("FLARE_ANTHROPIC_API_KEY", key),
            ("FLARE_ANTHROPIC_MODEL", "claude-test"),
            ("FLARE_ANTHROPIC_BASE_URL", &url),
            ("FLARE_EMBEDDING_MODEL", "/nonexistent"),
        ],
    )
    .await;
    let (owner, thread, _) = chat_on_existing(&p.app, "Answer questions.").await;
    send(&p.app, &owner, &thread, "Hello").await;
    let t = wait_for(&p.app, &owner, &thread, "the reply", done).await;
    assert_eq!(
        messages_of(&t, "agent"),
        ["<p>Hello from the fake.</p>\n"],
        "{t}"
    );
    assert_eq!(fake.received()[0].headers["x-api-key"], key);
    p.kill().await;
    let logs = logs.await.unwrap();
    assert!(
        logs.contains("Flare is listening"),
        "the logs were read: {logs}"
    );
    assert!(!logs.contains(key), "the key was logged");
    drop_database(&database_url).await;
}

/// Bad answers from the provider, each a failed run whose notice says what happened in words,
/// with nothing sent to anyone: a wrong key, a model that does not exist, an HTML page (as a
/// success and as an error).
#[tokio::test]
async fn a_wrong_key_an_unknown_model_and_an_html_page_are_told_plainly() {
    for (script, says, tries) in [
        (
            Script::Status(401, "authentication_error", None),
            "the API key was refused: fake authentication_error (authentication_error, HTTP 401)",
            1,
        ),
        (
            Script::Status(404, "not_found_error", None),
            "no such model or address: fake not_found_error",
            1,
        ),
        (
            Script::Html(200),
            "answered text/html, not Anthropic's event stream",
            1,
        ),
        // A 502 may pass: it is retried (3 times), then told.
        (Script::Html(502), "answered HTTP 502 Bad Gateway", 4),
    ] {
        let (c, fake) =
            anthropic_chat("Answer questions.", vec![script.clone(); tries], 15_000).await;
        send(&c.app, &c.owner, &c.thread, "Hello").await;
        // Retries wait 0.5 + 1 + 2 s: longer than `wait_for`'s patience on a busy machine.
        let mut t = load(&c.app, &c.owner, &c.thread).await;
        for _ in 0..300 {
            if run_status(&t) == "failed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            t = load(&c.app, &c.owner, &c.thread).await;
        }
        assert_eq!(run_status(&t), "failed", "{script:?}: {t}");
        let notice = &messages_of(&t, "notice")[0];
        assert!(notice.contains(says), "{script:?}: {notice}");
        assert!(messages_of(&t, "agent").is_empty(), "{script:?}: {t}");
        assert_eq!(fake.requests().len(), tries, "{script:?}");
        c.app.stop().await;
    }
}

/// A tool call whose streamed input is not JSON goes back to the model as the tool's error,
/// and the model corrects itself; nobody is asked to answer a broken escalation.
#[tokio::test]
async fn a_tool_call_with_invalid_json_input_goes_back_to_the_model() {
    let (c, fake) = anthropic_chat(
        "Answer questions.",
        vec![
            Script::BrokenTool("escalate_to_human"),
            Script::Text(vec!["Sorry, here is the answer myself."]),
        ],
        5000,
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Hello").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", done).await;
    assert_eq!(run_status(&t), "completed", "{t}");
    assert!(card(&t).is_none(), "{t}");
    let bodies = fake.requests();
    let (call, result) = call_and_result(&bodies[1], "toolu_broken");
    assert_eq!(
        call["input"],
        serde_json::json!({}),
        "sent back as an object"
    );
    assert!(
        result["content"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("json"),
        "{result}"
    );
    c.app.stop().await;
}

/// A tool worker called through Anthropic: the streamed input reaches the worker whole, and
/// its result goes back as a `tool_result` before the model's final reply.
#[tokio::test]
async fn a_tool_worker_gets_the_streamed_input_and_its_result_goes_back() {
    let (c, fake) = anthropic_chat_with(
        "Answer refund questions.",
        vec![
            Script::Tool(
                "Checking.",
                "check_refund",
                vec!["{\"amo", "unt\": 4", "0}"],
            ),
            Script::Text(vec!["Your $40 refund is within policy."]),
        ],
        5000,
        Registry::default().with(RefundCheck),
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Can I get $40 back?").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", done).await;
    assert_eq!(run_status(&t), "completed", "{t}");
    assert!(
        messages_of(&t, "agent")
            .last()
            .unwrap()
            .contains("within policy"),
        "{t}"
    );
    let bodies = fake.requests();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["tools"][1]["name"], "check_refund");
    let (_, result) = call_and_result(&bodies[1], "toolu_fake1");
    assert_eq!(result["content"], "within policy");
    c.app.stop().await;
}
