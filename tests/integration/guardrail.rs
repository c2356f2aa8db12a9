//! The guardrail reads meaning (issue 14): natural phrasings of the demo Customer Support
//! Agent's rules escalate through the real chat path with the embedded model; "Try a message"
//! says what would happen without sending anything; bad input and a missing or broken model
//! give clear answers, never a crash.

use crate::common::*;
use flare::agents::{LoadAgent, MatchedBy, Trial, TryMessage};
use flare::server::demo::CUSTOMER_SUPPORT_DESCRIPTION;
use reqwest::StatusCode;

/// The messages the issue found did not escalate, each with the topic it means.
const MISSED_BEFORE: [(&str, &str); 4] = [
    ("Please delete my account.", "account deletions"),
    (
        "The customer wants to delete their account today.",
        "account deletions",
    ),
    ("I'm going to sue you if this isn't fixed.", "legal action"),
    ("Customer wants their money back for order 88.", "refund"),
];

async fn try_message(app: &TestApp, c: &reqwest::Client, agent: &str, message: &str) -> Trial {
    app.call_fn(
        c,
        TryMessage {
            agent_id: agent.into(),
            description: CUSTOMER_SUPPORT_DESCRIPTION.into(),
            message: message.into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("try_message({message:?}): {e}"))
}

#[tokio::test]
async fn natural_phrasings_escalate_through_chat_with_the_reason_naming_rule_topic_and_sentence() {
    let c = chat_with(CUSTOMER_SUPPORT_DESCRIPTION).await;
    let mut kinds = Vec::new();
    for (i, (message, topic)) in MISSED_BEFORE.iter().enumerate() {
        // One thread per message: each run starts from the guardrail.
        let thread = if i == 0 {
            c.thread.clone()
        } else {
            start(&c.app, &c.owner, &c.agent).await
        };
        let r = send(&c.app, &c.owner, &thread, message).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let t = wait_for(&c.app, &c.owner, &thread, "the card", |t| {
            matches!(run_status(t), "waiting" | "completed" | "failed")
        })
        .await;
        assert_eq!(
            run_status(&t),
            "waiting",
            "{message:?} did not escalate: {t}"
        );
        let reason = card(&t).expect("a card")["reason"].as_str().unwrap();
        assert!(reason.contains(topic), "{message:?}: {reason}");
        assert!(
            reason.contains("in my rule \u{201c}") && reason.contains("scalate any"),
            "the reason names the rule: {reason}"
        );
        // The run gives the reason "Try a message" gives for the same text: the sentence and
        // the topic it is close to when meaning matched, the words when words did.
        let trial = try_message(&c.app, &c.owner, &c.agent, message).await;
        assert_eq!(trial.reason.as_deref(), Some(reason), "{message:?}");
        let top = trial.matches.iter().find(|m| m.escalates).expect("a match");
        let named = match top.by {
            MatchedBy::Meaning => {
                assert!(reason.contains("\u{201d} is close to \u{201c}"), "{reason}");
                format!("\u{201c}{}", message.trim_end_matches('.'))
            }
            MatchedBy::Words => format!("This message matches \u{201c}{}\u{201d}", top.found),
        };
        assert!(reason.starts_with(&named), "{reason} ({top:?})");
        kinds.push(top.by);
    }
    // At least the ones no word of the rule is in are found by meaning.
    assert!(
        kinds.iter().filter(|k| **k == MatchedBy::Meaning).count() >= 2,
        "{kinds:?}"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn benign_look_alikes_do_not_escalate() {
    let c = chat_with(CUSTOMER_SUPPORT_DESCRIPTION).await;
    for message in [
        "How do I delete a draft?",
        "What are your shipping times to Canada?",
    ] {
        let thread = start(&c.app, &c.owner, &c.agent).await;
        let r = send(&c.app, &c.owner, &thread, message).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let t = wait_for(&c.app, &c.owner, &thread, "the reply", |t| {
            matches!(run_status(t), "waiting" | "completed" | "failed")
        })
        .await;
        assert_eq!(run_status(&t), "completed", "{message:?}: {t}");
        assert!(card(&t).is_none(), "{message:?} escalated: {t}");
    }
    c.app.stop().await;
}

#[tokio::test]
async fn try_a_message_says_what_would_happen_and_sends_nothing() {
    let c = chat_with(CUSTOMER_SUPPORT_DESCRIPTION).await;
    let (app, owner) = (&c.app, &c.owner);
    let before = app.count("SELECT COUNT(*) FROM messages").await;

    let t = try_message(app, owner, &c.agent, "I want my money back").await;
    assert!(t.escalates && t.read_meaning, "{t:?}");
    assert_eq!(t.severity, Some(flare::rules::Severity::Critical), "{t:?}");
    let m = &t.matches[0];
    assert_eq!(m.by, MatchedBy::Meaning);
    assert!(m.escalates && m.closeness.unwrap() >= t.threshold, "{m:?}");
    assert!(m.topic.contains("refund"), "{m:?}");
    assert_eq!(m.found, "I want my money back");
    assert!(
        t.reason.as_deref().unwrap().contains("is close to"),
        "{t:?}"
    );

    // Words still escalate as before, named as words.
    let t = try_message(app, owner, &c.agent, "My attorney will call you.").await;
    assert!(t.escalates, "{t:?}");
    assert!(
        t.matches
            .iter()
            .any(|m| m.by == MatchedBy::Words && m.topic == "attorney"),
        "{t:?}"
    );

    // A benign message: no escalation, and the closest topic with how close it was.
    let t = try_message(app, owner, &c.agent, "How do I delete a draft?").await;
    assert!(
        !t.escalates && t.severity.is_none() && t.reason.is_none(),
        "{t:?}"
    );
    assert!(
        t.matches
            .iter()
            .all(|m| !m.escalates && m.closeness.is_some()),
        "{t:?}"
    );

    // The editor's unsaved text is what is tried: a rule only it has applies.
    let t = app
        .call_fn(
            owner,
            TryMessage {
                agent_id: c.agent.clone(),
                description: "Always escalate any message about the weather.".into(),
                message: "Is it going to rain tomorrow?".into(),
            },
        )
        .await
        .unwrap();
    assert!(!t.matches.is_empty(), "{t:?}");

    assert_eq!(
        app.count("SELECT COUNT(*) FROM messages").await,
        before,
        "trying a message stores nothing"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM escalations").await, 0);
    c.app.stop().await;
}

#[tokio::test]
async fn try_a_message_checks_session_team_and_role() {
    let c = chat_with(CUSTOMER_SUPPORT_DESCRIPTION).await;
    let app = &c.app;
    let args = || TryMessage {
        agent_id: c.agent.clone(),
        description: CUSTOMER_SUPPORT_DESCRIPTION.into(),
        message: "I want my money back".into(),
    };
    assert_eq!(
        app.send(&client(), args()).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The owner's own session, from another site's page: refused before it is read.
    let r = app.send_from_another_site(&c.owner, args()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(r.message().contains("other sites"), "{:?}", r.body);
    // A member of the team reads the agent but does not tune it.
    let team: String = sqlx::query_scalar("SELECT team_id FROM agents WHERE id = $1")
        .bind(&c.agent)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let member = app
        .create_user(&c.owner, "member@example.com", "member")
        .await;
    app.add_member(&c.owner, &team, &member).await;
    let m = app.sign_in("member@example.com", "password-123").await;
    assert_eq!(app.send(&m, args()).await.status, StatusCode::FORBIDDEN);
    // An admin of another team does not see the agent at all.
    app.create_user(&c.owner, "adm@example.com", "admin").await;
    let adm = app.sign_in("adm@example.com", "password-123").await;
    let r = app.send(&adm, args()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.message(), "No such agent.");
    c.app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_answer() {
    let c = chat_with(CUSTOMER_SUPPORT_DESCRIPTION).await;
    let (app, owner) = (&c.app, &c.owner);
    // A long message is read in pieces, and the money back in its middle is found.
    let filler = "We had a lovely time at the beach and the weather was fine. ";
    let mut long = filler.repeat(16);
    long.push_str("Also, I want my money back for the broken kettle. ");
    long.push_str(&filler.repeat(16));
    let t = try_message(app, owner, &c.agent, &long).await;
    assert!(t.escalates && t.read_meaning, "{t:?}");
    // A 32 KB message gets an answer (meaning within its deadline, or words after it: the
    // model reads about 2 KB a second on a busy machine), and the refund in it is found.
    let mut huge = filler.repeat(270);
    huge.push_str("Please refund the broken kettle. ");
    while huge.len() < 32 * 1024 - filler.len() {
        huge.push_str(filler);
    }
    assert!(huge.len() <= 32 * 1024);
    let t = try_message(app, owner, &c.agent, &huge).await;
    assert!(t.escalates, "{t:?}");
    // Over the limit: refused, with the limit in words.
    let r = app
        .send(
            owner,
            TryMessage {
                agent_id: c.agent.clone(),
                description: CUSTOMER_SUPPORT_DESCRIPTION.into(),
                message: "x".repeat(33 * 1024),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("at most 32 KB"), "{}", r.message());

    // Other scripts, emoji only, zero-width characters and homoglyphs.
    for (message, escalates) in [
        ("Здравствуйте, как дела?", false),
        ("こんにちは", false),
        ("😀😀🎉👍", false),
        ("ref\u{200B}und my order please", true),
        ("ｒｅｆｕｎｄ my order please", true),
        ("I want my m\u{200B}oney back", true),
    ] {
        let t = try_message(app, owner, &c.agent, message).await;
        assert_eq!(t.escalates, escalates, "{message:?}: {t:?}");
    }

    // A Description with 200 rules still compiles, prepares and answers.
    let many: String = (0..200)
        .map(|i| format!("Always escalate any request involving topic{i} widgets. "))
        .collect();
    let t = app
        .call_fn(
            owner,
            TryMessage {
                agent_id: c.agent.clone(),
                description: format!("{many} Always escalate any request involving refunds."),
                message: "I want my money back".into(),
            },
        )
        .await
        .unwrap();
    assert!(t.escalates, "{t:?}");
    c.app.stop().await;
}

/// A model folder that cannot be used: Flare starts, matches words, and says so.
async fn words_only_app(model_dir: &std::path::Path) {
    let mut config = TestApp::owner_config().await;
    config.embedding_model = Some(model_dir.display().to_string());
    let c = chat_on(TestApp::start(config).await, CUSTOMER_SUPPORT_DESCRIPTION).await;
    let (app, owner) = (&c.app, &c.owner);
    let detail = app
        .call_fn(
            owner,
            LoadAgent {
                agent_id: c.agent.clone(),
            },
        )
        .await
        .unwrap();
    assert!(!detail.reads_meaning);
    let page = app
        .page(owner, &format!("/app/settings/agents/{}", c.agent))
        .await;
    assert!(
        page.contains("not their meaning"),
        "the panel says words only"
    );
    let t = try_message(app, owner, &c.agent, "I want my money back").await;
    assert!(!t.read_meaning && !t.escalates, "{t:?}");
    let t = try_message(app, owner, &c.agent, "Please refund me.").await;
    assert!(t.escalates, "words still escalate: {t:?}");
    // And a chat run still completes.
    let r = send(app, owner, &c.thread, "Where is my order?").await;
    assert_eq!(r.status, StatusCode::OK);
    let t = wait_for(app, owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert!(card(&t).is_none());
    c.app.stop().await;
}

#[tokio::test]
async fn without_a_model_flare_matches_words_and_says_so() {
    let dir = std::env::temp_dir().join(format!("flare-no-model-{}", std::process::id()));
    words_only_app(&dir).await;
}

#[tokio::test]
async fn a_corrupt_model_falls_back_to_words() {
    let good = flare::server::embedding::model_dir(None);
    let dir = std::env::temp_dir().join(format!("flare-bad-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(good.join(f), dir.join(f)).expect("the pinned model is installed");
    }
    // Cut short, as by a failed download.
    let weights = std::fs::read(good.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &weights[..weights.len() / 3]).unwrap();
    let err = flare::server::embedding::Embedder::load(&dir).unwrap_err();
    assert!(
        err.to_string().contains("cannot be read"),
        "a clear error: {err}"
    );
    words_only_app(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The outcome check: under an outcome rule, a model's draft about a topic the Description
/// escalates, and far from its "fine" examples, is held for a person; an in-bounds one is sent.
#[tokio::test]
async fn an_out_of_bounds_draft_is_held_for_a_person_under_an_outcome_rule() {
    use crate::fake_openai::{Fake, Script};
    use flare::server::config::{ProviderConfig, Secret};
    let (fake, url) = Fake::start(vec![
        Script::Text(vec![
            "I have issued a full refund to your card; ",
            "you will get your money back in 3 days.",
        ]),
        Script::Text(vec![
            "Your order shipped yesterday and should arrive on Friday.",
        ]),
    ])
    .await;
    let mut config = TestApp::owner_config().await;
    config.provider = ProviderConfig::OpenAi {
        base_url: url,
        api_key: Secret::new("sk-test"),
        model: "test-model".into(),
    };
    let description = format!(
        "{CUSTOMER_SUPPORT_DESCRIPTION} Escalate any reply you'd be uncomfortable sending without a human checking it first."
    );
    let c = chat_on(TestApp::start(config).await, &description).await;
    let (app, owner) = (&c.app, &c.owner);
    let done = |t: &serde_json::Value| matches!(run_status(t), "waiting" | "completed" | "failed");

    send(app, owner, &c.thread, "Can you help me with my order?").await;
    let t = wait_for(app, owner, &c.thread, "the held draft", done).await;
    assert_eq!(run_status(&t), "waiting", "{t}");
    let reason = card(&t).expect("a card")["reason"].as_str().unwrap();
    assert!(reason.starts_with("I held my draft reply"), "{reason}");
    assert!(
        reason.contains("money back"),
        "the draft is in the card: {reason}"
    );
    assert!(
        messages_of(&t, "agent")
            .iter()
            .all(|m| !m.contains("refund")),
        "the draft was not sent: {t}"
    );

    let thread = start(app, owner, &c.agent).await;
    send(app, owner, &thread, "Where is my parcel?").await;
    let t = wait_for(app, owner, &thread, "the reply", done).await;
    assert_eq!(run_status(&t), "completed", "{t}");
    assert!(card(&t).is_none(), "{t}");
    assert_eq!(fake.requests().len(), 2);
    c.app.stop().await;
}

#[tokio::test]
async fn reading_past_the_deadline_stops_between_batches() {
    use flare::server::embedding::{Embedder, ModelError, model_dir};
    use std::time::{Duration, Instant};
    let config = flare::server::config::Config::for_database("sqlite::memory:");
    let dir = model_dir(config.embedding_model.as_deref());
    let model = tokio::task::spawn_blocking(move || Embedder::load(&dir))
        .await
        .unwrap()
        .expect("the model scripts/test installs");
    let texts = vec!["I want my money back for the broken kettle"; 64];
    // Nobody waits any more: nothing is read, the core is free at once.
    assert!(matches!(
        model.embed_all_until(&texts, Some(Instant::now())),
        Err(ModelError::Late)
    ));
    // Within its time, all of it is read.
    let read = model
        .embed_all_until(&texts[..3], Some(Instant::now() + Duration::from_secs(60)))
        .unwrap();
    assert_eq!(read.len(), 3);
    assert!(read[0].iter().any(|x| *x != 0.0));
}
