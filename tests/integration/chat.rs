//! The runtime end to end over HTTP: chat threads, runs, the guardrail, escalation cards,
//! Respond & Resume, Dismiss, first response wins, scoping and bad input.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn a_matching_rule_escalates_and_guidance_resumes_the_run() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (t, esc) = escalated(&c).await;
    let card = card(&t).unwrap();
    assert_eq!(card["status"], "open");
    assert_eq!(
        card["severity"], "warning",
        "no mapping: the documented default"
    );
    assert_eq!(card["blocking"], true);
    let reason = card["reason"].as_str().unwrap();
    assert!(
        reason.contains("refund"),
        "the reason names what triggered it: {reason}"
    );
    assert!(
        reason.contains(TUTORIAL_RULE.trim_end_matches('.')),
        "the reason names the rule: {reason}"
    );
    assert_eq!(t["messages"][0]["kind"], "user");
    assert!(
        messages_of(&t, "agent").is_empty(),
        "the run waits; no reply yet"
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM runs WHERE status = 'waiting'")
            .await,
        1
    );

    let r = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "approve the refund".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    let replies = messages_of(&t, "agent");
    assert_eq!(replies.len(), 1, "{t}");
    assert!(
        replies[0].contains("approve the refund"),
        "the agent continues with the guidance: {}",
        replies[0]
    );
    let card = self::card(&t).unwrap();
    assert_eq!(card["status"], "resolved");
    assert_eq!(card["guidance"], "approve the refund");
    assert_eq!(card["responder"], "owner");
    assert!(card["answered_at_ms"].as_i64().is_some());
    // The reply comes after the card, in the thread's order.
    let kinds: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["user", "escalation", "agent"]);
    let actions: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE action LIKE 'escalation.%' ORDER BY at, action DESC",
    )
    .fetch_all(&c.app.db)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            (
                "escalation.raised".to_string(),
                "agent: Customer Support Agent".to_string()
            ),
            ("escalation.resolved".to_string(), OWNER_EMAIL.to_string())
        ]
    );
    c.app.stop().await;
}

#[tokio::test]
async fn dismiss_lets_the_agent_proceed_on_its_own() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (_, esc) = escalated(&c).await;
    let r = c
        .app
        .send(
            &c.owner,
            DismissEscalation {
                escalation_id: esc.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    let replies = messages_of(&t, "agent");
    assert!(replies[0].contains("dismissed"), "{}", replies[0]);
    assert!(
        replies[0].contains("proceeding on my own"),
        "{}",
        replies[0]
    );
    assert_eq!(card(&t).unwrap()["status"], "dismissed");
    assert_eq!(card(&t).unwrap()["guidance"], Value::Null);
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.dismissed'")
            .await,
        1
    );
    // Answering it again changes nothing.
    let again = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "too late".into(),
            },
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.message(), "This escalation is already resolved.");
    assert_eq!(
        card(&load(&c.app, &c.owner, &c.thread).await).unwrap()["status"],
        "dismissed"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn no_matching_rule_gets_an_honest_offline_reply() {
    let c = chat_with(TUTORIAL_RULE).await;
    let r = send(&c.app, &c.owner, &c.thread, "What are your opening hours?").await;
    assert_eq!(r.status, StatusCode::OK);
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    let replies = messages_of(&t, "agent");
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("nothing to escalate"), "{}", replies[0]);
    assert!(
        replies[0].contains("Offline reply"),
        "clearly labelled: {}",
        replies[0]
    );
    assert!(card(&t).is_none());
    assert_eq!(c.app.count("SELECT COUNT(*) FROM escalations").await, 0);
    c.app.stop().await;
}

#[tokio::test]
async fn the_description_in_force_is_the_one_saved_when_the_message_arrives() {
    let c = chat_with("Answer questions about shipping.").await;
    send(&c.app, &c.owner, &c.thread, TUTORIAL_MESSAGE).await;
    wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert_eq!(
        c.app.count("SELECT COUNT(*) FROM escalations").await,
        0,
        "no rule yet"
    );
    let saved = c
        .app
        .send(
            &c.owner,
            SaveDescription {
                agent_id: c.agent.to_string(),
                base_revision: 2,
                description: TUTORIAL_RULE.to_string(),
            },
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    send(&c.app, &c.owner, &c.thread, TUTORIAL_MESSAGE).await;
    wait_for(&c.app, &c.owner, &c.thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    c.app.stop().await;
}

#[tokio::test]
async fn severity_follows_the_descriptions_mapping() {
    let c = chat_with(&format!(
        "{TUTORIAL_RULE} Treat refund requests as Critical."
    ))
    .await;
    let (t, _) = escalated(&c).await;
    assert_eq!(card(&t).unwrap()["severity"], "critical");
    c.app.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_answers_one_wins_and_one_resume_happens() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (_, esc) = escalated(&c).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (base, client, esc) = (c.app.base.clone(), c.owner.clone(), esc.clone());
        tasks.push(tokio::spawn(async move {
            let form: Vec<(&str, String)> = if i % 2 == 0 {
                vec![
                    ("escalation_id", esc),
                    ("guidance", format!("guidance {i}")),
                ]
            } else {
                vec![("escalation_id", esc)]
            };
            let endpoint = if i % 2 == 0 {
                "respond_escalation"
            } else {
                "dismiss_escalation"
            };
            let res = client
                .post(format!("{base}/api/{endpoint}"))
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.text().await.unwrap())
        }));
    }
    let mut wins = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        if status == StatusCode::OK {
            wins += 1;
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            assert!(
                body.contains("This escalation is already resolved."),
                "{body}"
            );
        }
    }
    assert_eq!(wins, 1, "exactly one answer wins");
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    // Give a second (wrong) resume time to show up, then count.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t2 = load(&c.app, &c.owner, &c.thread).await;
    assert_eq!(t, t2, "nothing else happened after the reply");
    assert_eq!(messages_of(&t2, "agent").len(), 1, "one resume, one reply");
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM audit_log WHERE action IN ('escalation.resolved', 'escalation.dismissed')")
            .await,
        1
    );
    c.app.stop().await;
}

#[tokio::test]
async fn a_second_message_while_the_agent_waits_or_works_is_refused_and_nothing_is_lost() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (_, esc) = escalated(&c).await;
    // Ten at once (a double-clicked Send, two tabs): all refused, nothing stored.
    let mut sends = Vec::new();
    for _ in 0..10 {
        sends.push(send(&c.app, &c.owner, &c.thread, "hello?"));
    }
    for r in futures::future::join_all(sends).await {
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(
            r.message().contains("waiting for a person"),
            "{}",
            r.message()
        );
        assert!(r.message().contains("not sent"), "{}", r.message());
    }
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM messages WHERE kind = 'user'")
            .await,
        1
    );
    assert_eq!(c.app.count("SELECT COUNT(*) FROM runs").await, 1);
    c.app
        .send(
            &c.owner,
            DismissEscalation {
                escalation_id: esc.to_string(),
            },
        )
        .await;
    wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    // Once the run is over the thread takes messages again.
    assert_eq!(
        send(&c.app, &c.owner, &c.thread, "What are your opening hours?")
            .await
            .status,
        StatusCode::OK
    );
    wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM messages WHERE kind = 'user'")
            .await,
        2
    );
    c.app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (app, owner, thread) = (&c.app, &c.owner, &c.thread);
    let empty = send(app, owner, thread, "   ").await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.message(), "Write a message first.");
    let huge = send(app, owner, thread, &"a".repeat(1024 * 1024)).await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST);
    assert!(
        huge.message().contains("at most 32 KB"),
        "{}",
        huge.message()
    );
    let ctl = send(app, owner, thread, "hi\u{0}there").await;
    assert_eq!(ctl.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM runs").await, 0);

    let (_, esc) = escalated(&c).await;
    let long = app
        .send(
            owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "g".repeat(9000),
            },
        )
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    assert!(
        long.message().contains("at most 8 KB"),
        "{}",
        long.message()
    );
    let blank = app
        .send(
            owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: " ".into(),
            },
        )
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert_eq!(blank.message(), "Write a guidance first.");
    let unknown = app
        .send(
            owner,
            DismissEscalation {
                escalation_id: "nope".into(),
            },
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let t = load(app, owner, thread).await;
    assert_eq!(
        card(&t).unwrap()["status"],
        "open",
        "still open after bad answers"
    );
    assert_eq!(run_status(&t), "waiting");
    let retry = app
        .send(
            owner,
            RetryRun {
                run_id: t["last_run"]["id"].as_str().unwrap().to_string(),
            },
        )
        .await;
    assert_eq!(
        retry.status,
        StatusCode::CONFLICT,
        "a waiting run is not retried"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn messages_are_sanitised_markdown() {
    let c = chat_with(TUTORIAL_RULE).await;
    send(
        &c.app,
        &c.owner,
        &c.thread,
        "**Hours?** <script>alert(1)</script> [x](javascript:alert(1))",
    )
    .await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    let mine = &messages_of(&t, "user")[0];
    assert!(mine.contains("<strong>Hours?</strong>"), "{mine}");
    assert!(!mine.contains("<script"), "{mine}");
    assert!(!mine.contains("javascript:"), "{mine}");
    c.app.stop().await;
}

#[tokio::test]
async fn another_team_sees_and_answers_nothing() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (t, esc) = escalated(&c).await;
    let run = t["last_run"]["id"].as_str().unwrap().to_string();
    let other_team = c.app.create_team(&c.owner, "Sales").await;
    let bob = c
        .app
        .create_user(&c.owner, "bob@example.com", "admin")
        .await;
    c.app.add_member(&c.owner, &other_team, &bob).await;
    let bob = c.app.sign_in("bob@example.com", "password-123").await;
    for (endpoint, form) in [
        ("load_thread", vec![("thread_id", c.thread.as_str())]),
        (
            "send_message",
            vec![("thread_id", c.thread.as_str()), ("body", "hi")],
        ),
        (
            "respond_escalation",
            vec![("escalation_id", esc.as_str()), ("guidance", "deny")],
        ),
        ("dismiss_escalation", vec![("escalation_id", esc.as_str())]),
        ("retry_run", vec![("run_id", run.as_str())]),
        ("start_thread", vec![("agent_id", c.agent.as_str())]),
    ] {
        let r = c.app.call(&bob, endpoint, &form).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{endpoint}: {:?}", r.body);
    }
    let list = c.app.send(&bob, ListThreads {}).await;
    assert_eq!(list.body, serde_json::json!([]));
    let anon = client();
    assert_eq!(
        c.app
            .send(
                &anon,
                LoadThread {
                    thread_id: c.thread.to_string()
                }
            )
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.app
            .send(
                &anon,
                DismissEscalation {
                    escalation_id: esc.to_string()
                }
            )
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        load(&c.app, &c.owner, &c.thread).await,
        t,
        "nothing changed"
    );
    // The owner's list has the thread.
    let mine = c.app.send(&c.owner, ListThreads {}).await;
    assert_eq!(mine.body[0]["id"], c.thread);
    assert_eq!(mine.body[0]["trigger"], "chat");
    c.app.stop().await;
}

#[tokio::test]
async fn live_events_reach_the_team_and_no_one_else() {
    let c = chat_with(TUTORIAL_RULE).await;
    let sales = c.app.create_team(&c.owner, "Sales").await;
    let bob_id = c
        .app
        .create_user(&c.owner, "bob@example.com", "member")
        .await;
    c.app.add_member(&c.owner, &sales, &bob_id).await;
    let bob = c.app.sign_in("bob@example.com", "password-123").await;
    let me = c.app.send(&c.owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.app.add_member(&c.owner, &sales, &me).await;
    let anon = client().get(c.app.url("/api/live")).send().await.unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let mine = c.owner.get(c.app.url("/api/live")).send().await.unwrap();
    let theirs = bob.get(c.app.url("/api/live")).send().await.unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(
        mine.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    send(&c.app, &c.owner, &c.thread, TUTORIAL_MESSAGE).await;
    let seen = read_live(mine, |e| e["type"] == "escalation").await;
    assert!(
        seen.iter().all(|e| e["thread_id"] == c.thread.as_str()),
        "{seen:?}"
    );
    assert!(seen.iter().any(|e| e["type"] == "message"), "{seen:?}");
    let esc = seen.last().unwrap();
    assert_eq!(esc["status"], "open");
    // Bob's stream carries his own team's events only: a Sales thread's, not Support's.
    let sales_agent = c
        .app
        .send(
            &c.owner,
            CreateAgent {
                name: "Sales Bot".into(),
                team_id: sales.to_string(),
            },
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sales_thread = start(&c.app, &bob, &sales_agent).await;
    send(&c.app, &bob, &sales_thread, "hello").await;
    let bobs = read_live(theirs, |e| e["type"] == "run" && e["status"] == "completed").await;
    assert!(
        bobs.iter()
            .all(|e| e["thread_id"] == sales_thread.as_str() && e["team_id"] == sales.as_str()),
        "no event of another team: {bobs:?}"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn the_thread_page_renders_the_card_without_javascript() {
    let c = chat_with(TUTORIAL_RULE).await;
    escalated(&c).await;
    let html = c
        .app
        .page(&c.owner, &format!("/app/chat/{}", c.thread))
        .await;
    assert!(html.contains("Agent Needs Help"), "{html}");
    assert!(html.contains("Respond &amp; Resume"), "{html}");
    assert!(html.contains(">Dismiss<"), "{html}");
    assert!(html.contains("Severity: warning"), "{html}");
    assert!(
        html.contains("A customer named John is asking for a full refund"),
        "{html}"
    );
    let agent = c
        .app
        .page(&c.owner, &format!("/app/settings/agents/{}", c.agent))
        .await;
    assert!(
        agent.contains(&format!("href=\"/app/chat?agent={}\"", c.agent)),
        "the agent page links to a chat"
    );
    let list = c.app.page(&c.owner, "/app/chat").await;
    assert!(list.contains(&format!("/app/chat/{}", c.thread)), "{list}");
    assert!(list.contains("trigger: chat"), "{list}");
    c.app.stop().await;
}
