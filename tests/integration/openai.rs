//! The OpenAI-compatible provider against a local server speaking the wire protocol: streamed
//! text and tool calls, the guardrail, retries, timeouts, garbage, and tool workers.

use crate::common::*;
use crate::fake_openai::{Fake, Script};
use flare::server::config::{ProviderConfig, Secret};
use flare::server::runtime::tools::Registry;
use reqwest::StatusCode;
use serde_json::Value;

async fn openai_chat(description: &str, script: Vec<Script>, tools: Registry) -> (Chat, Fake) {
    let (fake, url) = Fake::start(script).await;
    let mut config = TestApp::owner_config().await;
    config.provider = ProviderConfig::OpenAi {
        base_url: url,
        api_key: Secret::new("sk-test"),
        model: "test-model".into(),
    };
    config.provider_timeout_ms = 1500;
    let app = TestApp::start_with_tools(config, tools).await;
    (chat_on(app, description).await, fake)
}

fn done(t: &Value) -> bool {
    matches!(run_status(t), "completed" | "failed" | "waiting")
}

#[tokio::test]
async fn a_streamed_reply_arrives_in_pieces_and_is_stored_whole() {
    let (c, fake) = openai_chat(
        "Escalate any reply you'd be uncomfortable sending to the customer.",
        vec![Script::Text(vec!["Our hours ", "are **9 to 5**."])],
        Registry::default(),
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
    let deltas = read_live(live, |e| e["type"] == "run" && e["status"] == "completed").await;
    let pieces: Vec<&str> = deltas
        .iter()
        .filter(|e| e["type"] == "delta")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(pieces.concat(), "Our hours are **9 to 5**.");
    assert_eq!(pieces.len(), 2, "streamed in the provider's pieces");
    // What the model was sent: the Description, the outcome rule to judge, the tool, the message.
    let req = &fake.requests()[0];
    assert_eq!(req["model"], "test-model");
    assert_eq!(req["stream"], true);
    let system = req["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains(
            "Rules you must judge yourself:\n- Escalate any reply you'd be uncomfortable sending"
        ),
        "{system}"
    );
    assert_eq!(req["messages"][1]["content"], "When are you open?");
    assert_eq!(req["tools"][0]["function"]["name"], "escalate_to_human");
    c.app.stop().await;
}

#[tokio::test]
async fn the_model_escalates_with_a_streamed_tool_call_and_gets_the_guidance_back() {
    let (c, fake) = openai_chat(
        "Answer billing questions.",
        vec![
            Script::Tool(
                "escalate_to_human",
                vec![
                    "{\"reason\": \"The customer wants a ",
                    "discount I cannot give.\", \"severity\": \"critical\"}",
                ],
            ),
            Script::Text(vec!["Offering 10% as you said."]),
        ],
        Registry::default(),
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
    let esc = card["id"].as_str().unwrap();
    let r = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "offer 10%".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert_eq!(
        messages_of(&t, "agent"),
        ["<p>Offering 10% as you said.</p>\n"]
    );
    // The resumed request carries the call and the person's answer as its result.
    let second = &fake.requests()[1];
    let msgs = second["messages"].as_array().unwrap();
    let call = &msgs[msgs.len() - 2];
    assert_eq!(call["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        call["tool_calls"][0]["function"]["name"],
        "escalate_to_human"
    );
    let result = msgs.last().unwrap();
    assert_eq!(result["role"], "tool");
    assert_eq!(result["tool_call_id"], "call_1");
    assert!(
        result["content"].as_str().unwrap().contains("offer 10%"),
        "{result}"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn the_guardrail_escalates_before_the_model_can_answer() {
    let (c, fake) = openai_chat(
        TUTORIAL_RULE,
        vec![
            Script::Text(vec!["Refund approved!"]),
            Script::Text(vec!["Done, refund approved."]),
        ],
        Registry::default(),
    )
    .await;
    send(&c.app, &c.owner, &c.thread, TUTORIAL_MESSAGE).await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the card", done).await;
    assert_eq!(
        run_status(&t),
        "waiting",
        "the rule holds whatever the model would say: {t}"
    );
    assert!(
        fake.requests().is_empty(),
        "the model was not asked before a person decided"
    );
    let esc = card(&t).unwrap()["id"].as_str().unwrap().to_string();
    c.app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "approve the refund".into(),
            },
        )
        .await;
    wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    let req = &fake.requests()[0];
    let last = req["messages"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .contains("approve the refund"),
        "{last}"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_with_backoff() {
    let (c, fake) = openai_chat(
        "Answer questions.",
        vec![
            Script::Status(429),
            Script::Status(503),
            Script::Text(vec!["Third time lucky."]),
        ],
        Registry::default(),
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Hello").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", done).await;
    assert_eq!(run_status(&t), "completed", "{t}");
    assert_eq!(fake.requests().len(), 3);
    c.app.stop().await;
}

#[tokio::test]
async fn a_provider_that_never_answers_fails_the_run_visibly_and_retry_resumes_it() {
    let (c, fake) = openai_chat("Answer questions.", vec![Script::Hang], Registry::default()).await;
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
    assert!(
        t["last_run"]["error"]
            .as_str()
            .unwrap()
            .contains("did not answer")
    );
    assert_eq!(messages_of(&t, "user").len(), 1, "the message is kept");
    fake.push(Script::Text(vec!["Hello again."]));
    let retry = RetryRun {
        run_id: t["last_run"]["id"].as_str().unwrap().to_string(),
    };
    let r = c.app.send(&c.owner, retry.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert_eq!(messages_of(&t, "agent"), ["<p>Hello again.</p>\n"]);
    let again = c.app.send(&c.owner, retry).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    c.app.stop().await;
}

#[tokio::test]
async fn garbage_from_the_provider_fails_the_run_with_a_clear_message() {
    let (c, _fake) = openai_chat(
        "Answer questions.",
        vec![Script::Garbage],
        Registry::default(),
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Hello").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the failure", |t| {
        run_status(t) == "failed"
    })
    .await;
    let notice = &messages_of(&t, "notice")[0];
    assert!(notice.contains("could not be read"), "{notice}");
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM threads WHERE active_run IS NULL")
            .await,
        1,
        "the thread takes messages again"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn bad_tool_calls_go_back_to_the_model_and_the_run_goes_on() {
    let (c, fake) = openai_chat(
        "Answer questions.",
        vec![
            Script::Tool("escalate_to_human", vec!["{not json"]),
            Script::Tool("no_such_tool", vec!["{}"]),
            Script::Tool(
                "escalate_to_human",
                vec!["{\"reason\": \"x\", \"severity\": \"extreme\"}"],
            ),
            Script::Text(vec!["Answered without help."]),
        ],
        Registry::default(),
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Hello").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", done).await;
    assert_eq!(run_status(&t), "completed", "{t}");
    assert_eq!(c.app.count("SELECT COUNT(*) FROM escalations").await, 0);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4);
    let result = |i: usize| {
        reqs[i]["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(result(1).contains("not valid JSON"), "{}", result(1));
    assert!(
        result(2).contains("no tool named \"no_such_tool\""),
        "{}",
        result(2)
    );
    assert!(
        result(3).contains("severity must be info, warning or critical"),
        "{}",
        result(3)
    );
    c.app.stop().await;
}

#[tokio::test]
async fn a_tool_worker_leaves_a_card_without_pausing_and_the_turn_ends() {
    let (c, fake) = openai_chat(
        "Answer refund questions.",
        vec![
            Script::Tool("check_refund", vec!["{\"amount\": 250}"]),
            Script::Text(vec!["never asked"]),
        ],
        Registry::default().with(RefundCheck),
    )
    .await;
    send(&c.app, &c.owner, &c.thread, "Refund me $250").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the end of the turn", done).await;
    assert_eq!(run_status(&t), "completed", "no pause: {t}");
    let card = card(&t).unwrap();
    assert_eq!(card["blocking"], false);
    assert_eq!(card["status"], "open");
    assert_eq!(
        card["reason"],
        "A refund of $250 is over the $100 policy limit."
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "the turn ended at the tool's escalation"
    );
    assert_eq!(
        fake.requests()[0]["tools"][1]["function"]["name"],
        "check_refund"
    );
    // A person can still answer it; nothing resumes.
    let esc = card["id"].as_str().unwrap();
    let r = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "approved".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM runs WHERE status = 'completed'")
            .await,
        1
    );
    assert_eq!(fake.requests().len(), 1);
    c.app.stop().await;
}

/// Issue 11: invisible characters and look-alike letters do not slip a message past a rule.
#[tokio::test]
async fn disguised_words_still_trip_the_guardrail() {
    let (c, fake) = openai_chat(
        TUTORIAL_RULE,
        vec![Script::Text(vec!["Refund approved!"])],
        Registry::default(),
    )
    .await;
    send(
        &c.app,
        &c.owner,
        &c.thread,
        "I want a ref\u{200B}und for order #1234, and \u{FF52}\u{FF45}\u{FF46}\u{FF55}\u{FF4E}\u{FF44} it today",
    )
    .await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the card", done).await;
    assert_eq!(run_status(&t), "waiting", "{t}");
    assert!(fake.requests().is_empty(), "the model was never asked");
    c.app.stop().await;
}

/// Issue 11: the model picks the severity, but never below what the Description maps.
#[tokio::test]
async fn the_model_cannot_lower_a_mapped_severity() {
    let (c, fake) = openai_chat(
        "Answer billing questions. Escalate any reply that mentions a chargeback. \
         Treat chargebacks as Critical.",
        vec![Script::Tool(
            "escalate_to_human",
            vec!["{\"reason\": \"Customer threatens a chargeback.\", \"severity\": \"info\"}"],
        )],
        Registry::default(),
    )
    .await;
    // The rule is about replies; the message itself says nothing the guardrail matches.
    send(
        &c.app,
        &c.owner,
        &c.thread,
        "Please look at my last invoice.",
    )
    .await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the card", done).await;
    assert_eq!(run_status(&t), "waiting", "{t}");
    assert_eq!(fake.requests().len(), 1, "the model was asked");
    assert_eq!(card(&t).unwrap()["severity"], "critical", "{t}");
    c.app.stop().await;
}
