//! The Admin Agent: offline answers to the tutorial's three prompts from Flare's own analysis
//! (real agent names and figures from the demo data), drafts that Flare's lint accepts, the
//! conversation kept, owners and admins only, and with a model connected, read-only tools that
//! see only the asking person's teams.

use crate::common::*;
use crate::fake_openai::{Fake, Script};
use flare::admin_agent::{AdminConversation, AskAdminAgent, PROMPTS};
use flare::models::{AddConnection, MakeDefaultConnection};
use flare::server::config::Secret;
use reqwest::StatusCode;
use serde_json::Value;

async fn demo_app() -> (TestApp, reqwest::Client) {
    let mut config = TestApp::owner_config().await;
    config.demo = true;
    config.secret_key = Some(Secret::new("ab".repeat(32)));
    let app = TestApp::start(config).await;
    let owner = app.owner().await;
    (app, owner)
}

async fn agent_id(app: &TestApp, c: &reqwest::Client, name: &str) -> String {
    app.call_fn(c, ListAgents {})
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no agent {name}"))
        .id
}

/// Sends `text` in a new thread with the agent and waits for its card; returns the card's id.
async fn escalate(app: &TestApp, c: &reqwest::Client, agent: &str, text: &str) -> String {
    let thread = start(app, c, agent).await;
    send(app, c, &thread, text).await;
    let t = wait_for(app, c, &thread, "the card", |t| run_status(t) == "waiting").await;
    card(&t).expect("a card")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn answer_alone(app: &TestApp, c: &reqwest::Client, agent: &str, text: &str) {
    let thread = start(app, c, agent).await;
    send(app, c, &thread, text).await;
    wait_for(app, c, &thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
}

async fn ask(app: &TestApp, c: &reqwest::Client, text: &str) -> Value {
    let r = app.send(c, AskAdminAgent { text: text.into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body.as_array().unwrap().last().unwrap().clone()
}

#[tokio::test]
async fn offline_the_three_prompts_name_the_agents_and_real_figures() {
    let (app, owner) = demo_app().await;
    let support = agent_id(&app, &owner, "Customer Support Agent").await;
    let sales = agent_id(&app, &owner, "Sales Outreach Agent").await;
    // Two refunds answered with the same guidance, a legal threat dismissed, and messages the
    // agents answered alone (one about a password: personal data, which no rule covers).
    for text in [
        "I want a refund for order 1001.",
        "Refund my order 1002 please.",
    ] {
        let id = escalate(&app, &owner, &support, text).await;
        app.call_fn(
            &owner,
            RespondEscalation {
                escalation_id: id,
                guidance: "Offer store credit instead of a refund.".into(),
            },
        )
        .await
        .unwrap();
    }
    let id = escalate(&app, &owner, &support, "My lawyer says you owe me.").await;
    app.call_fn(&owner, DismissEscalation { escalation_id: id })
        .await
        .unwrap();
    answer_alone(
        &app,
        &owner,
        &support,
        "What is the password on my account? I forgot it.",
    )
    .await;
    answer_alone(
        &app,
        &owner,
        &sales,
        "Can you send the pricing sheet and a discount?",
    )
    .await;

    // 1. The moments to escalate.
    let a = ask(&app, &owner, PROMPTS[0].1).await;
    assert_eq!(a["from_agent"], true);
    assert_eq!(a["offline"], true);
    let html = a["html"].as_str().unwrap();
    for name in [
        "Customer Support Agent",
        "Contract Reviewer Agent",
        "Sales Outreach Agent",
    ] {
        assert!(html.contains(name), "{name} missing: {html}");
    }
    assert!(html.contains("personal data"), "{html}");
    assert!(
        html.contains("1 of the 1 messages it answered alone concern this"),
        "{html}"
    );
    assert!(
        html.contains("Already covered by its rules: money, deletion, legal"),
        "{html}"
    );
    assert!(html.contains("Offline answer"), "{html}");

    // 2. The wording, for the agent named: one draft, which Flare's lint accepts.
    let a = ask(&app, &owner, "For my agent \"Sales Outreach Agent,\" draft me the exact wording I should add to its Description so it escalates in the right situations.").await;
    let drafts = a["drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 1, "{a}");
    assert_eq!(drafts[0]["agent_name"], "Sales Outreach Agent");
    let draft = drafts[0]["text"].as_str().unwrap();
    assert!(
        draft.contains("discounts"),
        "money comes first: seen in its threads: {draft}"
    );
    let combined = format!(
        "{}\n{draft}",
        flare::server::demo::SALES_OUTREACH_DESCRIPTION
    );
    let policy = flare::rules::compile(&combined);
    let before = flare::rules::compile(flare::server::demo::SALES_OUTREACH_DESCRIPTION);
    assert!(policy.rules.len() > before.rules.len());
    assert!(
        policy
            .lints
            .iter()
            .all(|l| !draft.contains(&l.sentence) || l.sentence.is_empty()),
        "{:?}",
        policy.lints
    );
    assert!(
        !policy
            .evaluate("Can I get a discount on the license?")
            .is_empty()
    );
    // The placeholder prompt: wording for every agent with gaps.
    let a = ask(&app, &owner, PROMPTS[1].1).await;
    assert!(a["drafts"].as_array().unwrap().len() >= 2, "{a}");

    // 3. The review: counts, outcomes, the rule per escalation, repeated guidance.
    let a = ask(&app, &owner, PROMPTS[2].1).await;
    let html = a["html"].as_str().unwrap();
    assert!(
        html.contains("<strong>3 escalations</strong>: 2 resolved, 1 dismissed, 0 still open"),
        "{html}"
    );
    assert!(html.contains("Median time to answer"), "{html}");
    assert!(
        html.contains("Offer store credit instead of a refund.” (2 times"),
        "{html}"
    );
    assert!(html.contains("Never triggered"), "{html}");
    assert!(
        html.contains("My lawyer says you owe me") || html.contains("lawyer"),
        "{html}"
    );

    // The conversation is kept: three questions and their answers, and the placeholder one.
    let all = app.call_fn(&owner, AdminConversation {}).await.unwrap();
    assert_eq!(all.len(), 8);
    assert!(!all[0].from_agent && all[1].from_agent);
    app.stop().await;
}

/// A member is refused; an admin who is only in Support sees nothing of Sales, offline or
/// through the model's tools (checked in the tool results the model received).
#[tokio::test]
async fn members_are_refused_and_other_teams_stay_invisible_even_to_the_models_tools() {
    let (app, owner) = demo_app().await;
    let member = app
        .sign_in("support@example.com", "flare-demo-password")
        .await;
    for r in [
        app.send(&member, AdminConversation {}).await,
        app.send(
            &member,
            AskAdminAgent {
                text: PROMPTS[0].1.into(),
            },
        )
        .await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert!(r.message().contains("owners and admins"));
    }
    let page = app.page(&member, "/app/chat").await;
    assert!(!page.contains("Chat with the Admin Agent"));
    assert!(
        app.page(&owner, "/app/chat")
            .await
            .contains("Chat with the Admin Agent")
    );

    let support_team = app
        .call_fn(&owner, MyTeams {})
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "Support")
        .unwrap()
        .id;
    let admin = app.create_user(&owner, "coach@example.com", "admin").await;
    app.add_member(&owner, &support_team, &admin).await;
    let coach = app.sign_in("coach@example.com", "password-123").await;
    let a = ask(&app, &coach, PROMPTS[0].1).await;
    let html = a["html"].as_str().unwrap();
    assert!(html.contains("Customer Support Agent"), "{html}");
    assert!(
        !html.contains("Sales Outreach") && !html.contains("Contract Reviewer"),
        "{html}"
    );

    // With a model: it lists agents and escalations, asks for a Sales thread by id, offers a
    // draft for a Sales agent, then answers. Every tool result stays within Support.
    let sales = agent_id(&app, &owner, "Sales Outreach Agent").await;
    let sales_thread = start(&app, &owner, &sales).await;
    let support = agent_id(&app, &owner, "Customer Support Agent").await;
    let offer = "{\"agent\": \"Customer Support Agent\", \"text\": \"Always escalate any request involving passwords: data shared with the wrong person cannot be unshared.\"}";
    let thread_args: &'static str =
        Box::leak(format!("{{\"thread_id\": \"{sales_thread}\"}}").into_boxed_str());
    let (fake, url) = Fake::start(vec![
        Script::Tool("list_agents", vec!["{}"]),
        Script::Tool("list_escalations", vec!["{\"days\": 30}"]),
        Script::Tool("get_thread", vec![thread_args]),
        Script::Tool(
            "offer_draft",
            vec!["{\"agent\": \"Sales Outreach Agent\", \"text\": \"Always escalate refunds.\"}"],
        ),
        Script::Tool("offer_draft", vec![offer]),
        Script::Text(vec!["Here is what I found."]),
    ])
    .await;
    let conn = app
        .call_fn(
            &owner,
            AddConnection {
                name: "Local".into(),
                kind: "openai".into(),
                base_url: url,
                api_key: "".into(),
                models: "coach-model".into(),
            },
        )
        .await
        .unwrap();
    app.call_fn(
        &owner,
        MakeDefaultConnection {
            connection_id: conn.id,
        },
    )
    .await
    .unwrap();
    let a = ask(&app, &coach, "Review my agents.").await;
    assert_eq!(a["offline"], false);
    assert!(
        a["html"]
            .as_str()
            .unwrap()
            .contains("Here is what I found."),
        "{a}"
    );
    let drafts = a["drafts"].as_array().unwrap();
    assert_eq!(
        drafts.len(),
        1,
        "only the draft for an agent of the coach's teams: {a}"
    );
    assert_eq!(drafts[0]["agent_id"], support.as_str());
    let got = fake.received();
    assert_eq!(got.len(), 6);
    let last = &got[5].body["messages"];
    let results: Vec<&str> = last
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(results.len(), 5, "{last}");
    assert!(
        results[0].contains("Customer Support Agent"),
        "{}",
        results[0]
    );
    for r in &results {
        assert!(
            !r.contains("Sales Outreach") || r.contains("no such"),
            "a Sales detail leaked: {r}"
        );
        assert!(!r.contains("Contract Reviewer"), "{r}");
    }
    assert!(
        results[2].contains("no such thread in your teams"),
        "{}",
        results[2]
    );
    assert!(
        results[3].contains("no such agent in your teams"),
        "{}",
        results[3]
    );
    // Only read-only tools (and the draft offer) are given to the model.
    let tools: Vec<&str> = got[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "list_agents",
            "get_agent",
            "list_escalations",
            "get_thread",
            "lint_description",
            "offer_draft"
        ]
    );
    app.stop().await;
}
