use crate::common::*;
use reqwest::StatusCode;

struct Setup {
    app: TestApp,
    owner: reqwest::Client,
    team_a: String,
    agent_a: String,
    agent_b: String,
}

/// Two teams with an agent each; the owner is in both.
async fn setup() -> Setup {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let team_a = app.create_team(&owner, "Team A").await;
    let team_b = app.create_team(&owner, "Team B").await;
    let me = app.send(&owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.add_member(&owner, &team_a, &me).await;
    app.add_member(&owner, &team_b, &me).await;
    let a = app
        .send(
            &owner,
            CreateAgent {
                name: "Support Bot".into(),
                team_id: team_a.to_string(),
            },
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let b = app
        .send(
            &owner,
            CreateAgent {
                name: "Sales Bot".into(),
                team_id: team_b.to_string(),
            },
        )
        .await;
    Setup {
        agent_a: a.body["id"].as_str().unwrap().to_string(),
        agent_b: b.body["id"].as_str().unwrap().to_string(),
        app,
        owner,
        team_a,
    }
}

async fn save(app: &TestApp, c: &reqwest::Client, agent: &str, base: i64, text: &str) -> Reply {
    app.send(
        c,
        SaveDescription {
            agent_id: agent.to_string(),
            base_revision: base,
            description: text.to_string(),
        },
    )
    .await
}

async fn description(app: &TestApp, agent: &str) -> (String, i64) {
    sqlx::query_as("SELECT description, revision FROM agents WHERE id = $1")
        .bind(agent)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn agents_are_team_scoped() {
    let s = setup().await;
    let app = &s.app;
    let alice = app
        .create_user(&s.owner, "alice@example.com", "member")
        .await;
    app.add_member(&s.owner, &s.team_a, &alice).await;
    let alice_c = app.sign_in("alice@example.com", "password-123").await;
    let list = app.send(&alice_c, ListAgents {}).await;
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Support Bot"]);
    assert_eq!(
        app.send(
            &alice_c,
            LoadAgent {
                agent_id: s.agent_a.to_string()
            }
        )
        .await
        .status,
        StatusCode::OK
    );
    let other = app
        .send(
            &alice_c,
            LoadAgent {
                agent_id: s.agent_b.to_string(),
            },
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.message(), "No such agent.");
    let revs = app
        .send(
            &alice_c,
            AgentRevisions {
                agent_id: s.agent_b.to_string(),
            },
        )
        .await;
    assert_eq!(revs.status, StatusCode::NOT_FOUND);
    // Members read; only owners and admins change.
    let denied = save(app, &alice_c, &s.agent_a, 1, "Escalate refunds.").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let denied = app
        .send(
            &alice_c,
            CreateAgent {
                name: "X".into(),
                team_id: s.team_a.to_string(),
            },
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(description(app, &s.agent_a).await, (String::new(), 1));
    // Signed out: nothing.
    let anon = client();
    assert_eq!(
        app.send(&anon, ListAgents {}).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        save(app, &anon, &s.agent_a, 1, "x").await.status,
        StatusCode::UNAUTHORIZED
    );
    s.app.stop().await;
}

#[tokio::test]
async fn an_admin_outside_the_team_cannot_touch_its_agents() {
    let s = setup().await;
    let app = &s.app;
    app.create_user(&s.owner, "adm@example.com", "admin").await;
    let adm = app.sign_in("adm@example.com", "password-123").await;
    let r = save(app, &adm, &s.agent_a, 1, "Escalate refunds.").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .send(
            &adm,
            CreateAgent {
                name: "Sneaky".into(),
                team_id: s.team_a.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for (endpoint, form) in [
        ("load_agent", vec![("agent_id", s.agent_a.as_str())]),
        ("agent_revisions", vec![("agent_id", s.agent_a.as_str())]),
        (
            "rename_agent",
            vec![("agent_id", s.agent_a.as_str()), ("name", "Mine now")],
        ),
        ("delete_agent", vec![("agent_id", s.agent_a.as_str())]),
        (
            "restore_revision",
            vec![
                ("agent_id", s.agent_a.as_str()),
                ("revision", "1"),
                ("base_revision", "1"),
            ],
        ),
    ] {
        let r = app.call(&adm, endpoint, &form).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{endpoint}");
        assert_eq!(r.message(), "No such agent.", "{endpoint}");
    }
    let names: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT name, deleted_at FROM agents ORDER BY name")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        names,
        [
            ("Sales Bot".to_string(), None),
            ("Support Bot".to_string(), None)
        ]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM agents").await, 2);
    s.app.stop().await;
}

#[tokio::test]
async fn saves_carry_their_base_and_never_overwrite_a_newer_revision() {
    let s = setup().await;
    let app = &s.app;
    let r = save(app, &s.owner, &s.agent_a, 1, "Always escalate refunds.").await;
    assert_eq!(
        r.body,
        serde_json::json!({"outcome": "Saved", "revision": 2})
    );
    // A second editor still on revision 1.
    let r = save(app, &s.owner, &s.agent_a, 1, "Escalate nothing.").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["outcome"], "Conflict");
    assert_eq!(r.body["revision"], 2);
    assert_eq!(r.body["description"], "Always escalate refunds.");
    assert_eq!(r.body["author"], OWNER_EMAIL);
    assert_eq!(
        description(app, &s.agent_a).await,
        ("Always escalate refunds.".to_string(), 2)
    );
    // The list shows what the rules mean.
    let list = app.send(&s.owner, ListAgents {}).await;
    let bot = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Support Bot")
        .unwrap()
        .clone();
    assert_eq!(bot["rule_summary"], "Escalates on: refunds");
    // Every revision is kept, with its author; a restore is a new revision.
    let revs = app
        .send(
            &s.owner,
            AgentRevisions {
                agent_id: s.agent_a.to_string(),
            },
        )
        .await;
    let numbers: Vec<i64> = revs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    assert_eq!(revs.body[0]["author"], OWNER_EMAIL);
    let r = app
        .send(
            &s.owner,
            RestoreRevision {
                agent_id: s.agent_a.to_string(),
                revision: 1,
                base_revision: 2,
            },
        )
        .await;
    assert_eq!(
        r.body,
        serde_json::json!({"outcome": "Saved", "revision": 3})
    );
    assert_eq!(description(app, &s.agent_a).await, (String::new(), 3));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'agent.description_changed'")
            .await,
        2
    );
    s.app.stop().await;
}

#[tokio::test]
async fn concurrent_saves_on_one_base_have_exactly_one_winner() {
    let s = setup().await;
    let url = s.app.url("/api/save_description");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = s.owner.clone();
        let url = url.clone();
        let agent = s.agent_a.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!("Escalate refunds over ${i}00.");
            let res = c
                .post(url)
                .form(&[
                    ("agent_id", agent.as_str()),
                    ("base_revision", "1"),
                    ("description", text.as_str()),
                ])
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = res.json().await.unwrap();
            body["outcome"].as_str().unwrap().to_string()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "Saved").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(outcomes.iter().filter(|o| *o == "Conflict").count(), 19);
    assert_eq!(description(&s.app, &s.agent_a).await.1, 2);
    assert_eq!(s.app.count("SELECT COUNT(*) FROM agent_revisions").await, 3);
    s.app.stop().await;
}

#[tokio::test]
async fn bad_descriptions_are_refused_and_nothing_is_lost() {
    let s = setup().await;
    let app = &s.app;
    save(app, &s.owner, &s.agent_a, 1, "Always escalate refunds.").await;
    let before = description(app, &s.agent_a).await;

    let huge = "a".repeat(1024 * 1024);
    let r = save(app, &s.owner, &s.agent_a, 2, &huge).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.message(),
        "A Description is at most 100 KB; this one is 1024 KB."
    );

    // NUL is refused before any server function reads the request (PostgreSQL cannot store it).
    let r = save(app, &s.owner, &s.agent_a, 2, "Escalate\u{0}refunds").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.message(),
        "The request contained a NUL character, which text cannot hold; nothing was saved."
    );
    let r = save(app, &s.owner, &s.agent_a, 2, "Escalate\u{7}refunds").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.message(),
        "A Description cannot contain control characters (only text, tabs and line breaks)."
    );

    let r = save(app, &s.owner, &s.agent_a, 99, "Escalate refunds.").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "Revision 99 does not exist; the latest is 2.");

    let r = app
        .call(
            &s.owner,
            "save_description",
            &[
                ("agent_id", &s.agent_a),
                ("base_revision", "two"),
                ("description", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Invalid UTF-8 on the wire.
    let res = s
        .owner
        .post(app.url("/api/save_description"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "agent_id={}&base_revision=2&description=%FF%FE",
            s.agent_a
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["message"],
        "The request contained text that is not valid UTF-8; nothing was saved."
    );

    let r = app
        .send(
            &s.owner,
            SaveDescription {
                agent_id: "no-such".into(),
                base_revision: 1,
                description: "x".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        description(app, &s.agent_a).await,
        before,
        "nothing changed"
    );

    // A deleted agent says so, and keeps its last text.
    let r = app
        .send(
            &s.owner,
            DeleteAgent {
                agent_id: s.agent_a.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = save(app, &s.owner, &s.agent_a, 2, "late keystrokes").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.message(),
        "This agent was deleted. Your text was not saved."
    );
    assert_eq!(description(app, &s.agent_a).await, before);
    s.app.stop().await;
}

#[tokio::test]
async fn rename_and_delete_are_audited_and_scoped() {
    let s = setup().await;
    let app = &s.app;
    let r = app
        .send(
            &s.owner,
            RenameAgent {
                agent_id: s.agent_a.to_string(),
                name: "Helpdesk".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .send(
            &s.owner,
            RenameAgent {
                agent_id: s.agent_a.to_string(),
                name: " ".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .send(
            &s.owner,
            DeleteAgent {
                agent_id: s.agent_b.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let list = app.send(&s.owner, ListAgents {}).await;
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Helpdesk"]);
    for action in ["agent.created", "agent.renamed", "agent.deleted"] {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
            ))
            .await;
        assert!(n >= 1, "{action}");
    }
    s.app.stop().await;
}

/// The agent page is rendered on the server with its Description and what Flare understood.
#[tokio::test]
async fn agent_page_renders_server_side_for_its_team_only() {
    let s = setup().await;
    let app = &s.app;
    save(app, &s.owner, &s.agent_a, 1, "Always escalate refunds.").await;
    let html = app
        .page(&s.owner, &format!("/app/settings/agents/{}", s.agent_a))
        .await;
    assert!(html.contains("Always escalate refunds."), "{html}");
    assert!(html.contains("Flare will escalate when:"));
    app.create_user(&s.owner, "alice@example.com", "member")
        .await;
    let alice_c = app.sign_in("alice@example.com", "password-123").await;
    let html = app
        .page(&alice_c, &format!("/app/settings/agents/{}", s.agent_a))
        .await;
    assert!(html.contains("No such agent."));
    assert!(
        !html.contains("Always escalate refunds."),
        "nothing of another team's agent"
    );
    s.app.stop().await;
}

/// The agent page's live "What Flare understood": read on the server, for anyone signed in,
/// from this site only, with the Description's own limits.
#[tokio::test]
async fn the_live_reading_of_a_description_checks_session_origin_and_size() {
    use flare::agents::ReadDescription;
    use flare::rules::understood::Understood;
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let args = |text: &str| ReadDescription {
        description: text.into(),
    };
    let rule = "Always escalate any request involving refunds or threats of legal action.";
    let said: Understood = app.call_fn(&owner, args(rule)).await.unwrap();
    assert_eq!(said.rules.len(), 1, "{said:?}");
    assert!(
        said.rules[0].contains("\u{201c}refunds\u{201d}"),
        "{said:?}"
    );
    let vague: Understood = app
        .call_fn(&owner, args("When in doubt, escalate."))
        .await
        .unwrap();
    assert!(!vague.lints.is_empty(), "{vague:?}");

    assert_eq!(
        app.send(&client(), args(rule)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let forged = app.send_from_another_site(&owner, args(rule)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let too_long = "a".repeat(flare::agents::MAX_DESCRIPTION_BYTES + 1);
    let r = app.send(&owner, args(&too_long)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(r.message().contains("at most"), "{:?}", r.body);
    // A member reads too: it is what the page shows, and nothing stored is read.
    app.create_user(&owner, "member@example.com", "member")
        .await;
    let member = app.sign_in("member@example.com", "password-123").await;
    let said: Understood = app.call_fn(&member, args(rule)).await.unwrap();
    assert_eq!(said.rules.len(), 1, "{said:?}");
    app.stop().await;
}
