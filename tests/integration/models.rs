//! Settings → Models: connections made in the app, each agent's choice of connection and model,
//! keys sealed at rest and never sent back, "Test connection" in plain words, a deleted
//! connection that agents fall back from visibly, and who may do what.

use crate::common::*;
use crate::fake_anthropic::{Fake, Script};
use flare::error::AppError;
use flare::models::{
    AddConnection, DeleteConnection, ListConnections, LoadAgentModel, MakeDefaultConnection,
    SetAgentModel, TestConnection, UpdateConnection, choice_value,
};
use flare::server::config::{ProviderConfig, Secret};
use reqwest::StatusCode;
use std::time::Duration;

const KEY: &str = "sk-ant-api03-VERYSECRETVALUE-wxyz";
const SECRET_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Flare with a secret key and a short provider timeout; the owner with an agent and a thread.
async fn models_chat(timeout_ms: u64) -> Chat {
    let mut config = TestApp::owner_config().await;
    config.secret_key = Some(Secret::new(SECRET_KEY));
    config.provider_timeout_ms = timeout_ms;
    chat_on(
        TestApp::start(config).await,
        "Answer questions about opening hours.",
    )
    .await
}

fn add(name: &str, kind: &str, url: &str, key: &str, models: &str) -> AddConnection {
    AddConnection {
        name: name.into(),
        kind: kind.into(),
        base_url: url.into(),
        api_key: key.into(),
        models: models.into(),
    }
}

/// Adds a connection as the owner; it must succeed.
async fn connect(c: &Chat, form: AddConnection) -> flare::models::ConnectionInfo {
    c.app
        .call_fn(&c.owner, form)
        .await
        .unwrap_or_else(|e| panic!("add_connection: {e}"))
}

async fn reply_when_done(c: &Chat) -> serde_json::Value {
    wait_for(&c.app, &c.owner, &c.thread, "the run's end", |t| {
        matches!(run_status(t), "completed" | "failed" | "waiting")
    })
    .await
}

#[tokio::test]
async fn a_key_is_sealed_at_rest_and_only_its_hint_leaves_the_server() {
    let c = models_chat(5000).await;
    let (_fake, url) = Fake::start(vec![]).await;
    let added = connect(
        &c,
        add(
            "Anthropic prod",
            "anthropic",
            &url,
            KEY,
            "claude-test, claude-other",
        ),
    )
    .await;
    assert_eq!(added.key_hint, "sk-…wxyz");
    assert_eq!(added.models, ["claude-test", "claude-other"]);
    // Not in what the browser gets, not in the database, not in the audit.
    let listed = c.app.send(&c.owner, ListConnections {}).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        listed.body.to_string().contains("sk-…wxyz"),
        "{}",
        listed.body
    );
    let page = c.app.page(&c.owner, "/app/settings/models").await;
    assert!(
        page.contains("Anthropic prod") && page.contains("sk-…wxyz"),
        "{page}"
    );
    let agent_page = c
        .app
        .page(&c.owner, &format!("/app/settings/agents/{}", c.agent))
        .await;
    let (stored,): (String,) = sqlx::query_as("SELECT api_key FROM model_connections")
        .fetch_one(&c.app.db)
        .await
        .unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");
    let audit: Vec<(String,)> = sqlx::query_as("SELECT detail FROM audit_log")
        .fetch_all(&c.app.db)
        .await
        .unwrap();
    for (what, text) in [
        ("list", listed.body.to_string()),
        ("models page", page),
        ("agent page", agent_page),
        ("database", stored),
        ("audit", format!("{audit:?}")),
    ] {
        assert!(
            !text.contains("VERYSECRETVALUE"),
            "the key leaks through the {what}"
        );
    }
    c.app.stop().await;
}

/// The tutorial's promise for the Description holds for the model too: a change applies to
/// the agent's next message, and the request carries the connection's key and chosen model.
#[tokio::test]
async fn an_agent_answers_with_its_chosen_model_from_its_next_message() {
    let c = models_chat(5000).await;
    let (fake, url) = Fake::start(vec![Script::Text(vec!["We open ", "at nine."])]).await;
    let conn = connect(
        &c,
        add(
            "Anthropic prod",
            "anthropic",
            &url,
            KEY,
            "claude-test, claude-other",
        ),
    )
    .await;
    // Before: the default (no connection is the default, the environment sets none): rules.
    let before = c
        .app
        .call_fn(
            &c.owner,
            LoadAgentModel {
                agent_id: c.agent.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(before.in_use, "Flare rules (offline)");
    assert_eq!(before.selected, "");
    send(&c.app, &c.owner, &c.thread, "When do you open?").await;
    let t = reply_when_done(&c).await;
    assert!(messages_of(&t, "agent")[0].contains("Offline reply"), "{t}");
    assert!(fake.received().is_empty());

    let choice = choice_value(&conn.id, "claude-other");
    c.app
        .call_fn(
            &c.owner,
            SetAgentModel {
                agent_id: c.agent.clone(),
                choice: choice.clone(),
            },
        )
        .await
        .unwrap();
    let after = c
        .app
        .call_fn(
            &c.owner,
            LoadAgentModel {
                agent_id: c.agent.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (after.selected.as_str(), after.in_use.as_str()),
        (choice.as_str(), "Anthropic prod · claude-other")
    );
    assert_eq!(after.notice, None);
    send(&c.app, &c.owner, &c.thread, "And on Sundays?").await;
    let t = wait_for(&c.app, &c.owner, &c.thread, "the model's reply", |t| {
        messages_of(t, "agent").len() == 2 && run_status(t) != "running"
    })
    .await;
    assert_eq!(run_status(&t), "completed", "{t}");
    assert_eq!(messages_of(&t, "agent")[1], "<p>We open at nine.</p>\n");
    let got = fake.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body["model"], "claude-other");
    assert_eq!(got[0].headers["x-api-key"], KEY);
    // Who changed it is in the audit.
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM audit_log WHERE action = 'agent.model'")
            .await,
        1
    );
    c.app.stop().await;
}

/// "Test connection": one small call, and the provider's trouble in plain words.
#[tokio::test]
async fn test_connection_tells_what_is_wrong_in_plain_words() {
    let c = models_chat(1500).await;
    let (fake, url) = Fake::start(vec![
        Script::Text(vec!["OK"]),
        Script::Status(401, "authentication_error", None),
        Script::Status(404, "not_found_error", None),
        Script::Html(200),
        Script::Hang,
    ])
    .await;
    let conn = connect(&c, add("Anthropic", "anthropic", &url, KEY, "claude-test")).await;
    let said = test_connection_times(&c, &conn.id, 5).await;
    assert!(
        said[0].0 && said[0].1.starts_with("Connected: claude-test answered in"),
        "{said:?}"
    );
    for (i, expected) in [
        (1, "the API key was refused"),
        (2, "no such model or address"),
        (3, "answered text/html, not Anthropic's event stream"),
        (4, "no answer from claude-test within 1 seconds"),
    ] {
        assert!(
            !said[i].0 && said[i].1.contains(expected),
            "{i}: {:?}",
            said[i]
        );
        assert!(said[i].1.starts_with("Not connected: "), "{:?}", said[i]);
    }
    // One small call each: no tools, the first model.
    let first = &fake.received()[0].body;
    assert_eq!(first["model"], "claude-test");
    assert!(
        first
            .get("tools")
            .is_none_or(|t| t.as_array().is_some_and(|a| a.is_empty())),
        "{first}"
    );
    c.app.stop().await;
}

/// Presses "Test connection" `times` times as the owner: (connected, what it said) each time.
async fn test_connection_times(c: &Chat, id: &str, times: usize) -> Vec<(bool, String)> {
    let mut said = Vec::new();
    for _ in 0..times {
        let r = c
            .app
            .call_fn(
                &c.owner,
                TestConnection {
                    connection_id: id.to_string(),
                },
            )
            .await
            .unwrap();
        said.push((r.ok, r.message));
    }
    said
}

/// The same for an OpenAI-compatible server that answers garbage or refuses the key.
#[tokio::test]
async fn test_connection_reports_an_openai_compatible_servers_refusal_and_garbage() {
    use crate::fake_openai::{Fake as OpenAi, Script as O};
    let c = models_chat(5000).await;
    let (_fake, url) = OpenAi::start(vec![O::Status(401), O::Garbage, O::Text(vec!["OK"])]).await;
    let conn = connect(&c, add("Local", "openai", &url, "", "llama3")).await;
    assert_eq!(conn.key_hint, "none");
    let said = test_connection_times(&c, &conn.id, 3).await;
    assert!(!said[0].0 && said[0].1.contains("fake 401"), "{said:?}");
    assert!(
        !said[1].0 && said[1].1.contains("could not be read"),
        "{said:?}"
    );
    assert!(said[2].0, "{said:?}");
    c.app.stop().await;
}

/// A connection deleted while an agent uses it: the agent falls back to the default and its
/// page says so; its next message is answered, not lost. The key is wiped with it.
#[tokio::test]
async fn a_deleted_connection_leaves_its_agents_on_the_default_visibly() {
    let c = models_chat(5000).await;
    let (fake, url) = Fake::start(vec![]).await;
    let conn = connect(
        &c,
        add("Anthropic prod", "anthropic", &url, KEY, "claude-test"),
    )
    .await;
    c.app
        .call_fn(
            &c.owner,
            SetAgentModel {
                agent_id: c.agent.clone(),
                choice: choice_value(&conn.id, "claude-test"),
            },
        )
        .await
        .unwrap();
    let listed = c.app.call_fn(&c.owner, ListConnections {}).await.unwrap();
    assert_eq!(listed.connections[0].agents, ["Customer Support Agent"]);
    c.app
        .call_fn(
            &c.owner,
            DeleteConnection {
                connection_id: conn.id.clone(),
            },
        )
        .await
        .unwrap();
    // A second delete (a double click, another admin) changes nothing and says why.
    let again = c
        .app
        .call_fn(
            &c.owner,
            DeleteConnection {
                connection_id: conn.id.clone(),
            },
        )
        .await;
    assert!(matches!(again, Err(AppError::NotFound(_))), "{again:?}");
    let m = c
        .app
        .call_fn(
            &c.owner,
            LoadAgentModel {
                agent_id: c.agent.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(m.in_use, "Flare rules (offline)");
    assert_eq!(m.selected, "");
    let notice = m.notice.expect("a notice");
    assert!(
        notice.contains("“Anthropic prod” was deleted")
            && notice.contains("default (Flare rules (offline))"),
        "{notice}"
    );
    let page = c
        .app
        .page(&c.owner, &format!("/app/settings/agents/{}", c.agent))
        .await;
    assert!(
        page.contains("was deleted"),
        "the agent page shows the fallback"
    );
    send(&c.app, &c.owner, &c.thread, "When do you open?").await;
    let t = reply_when_done(&c).await;
    assert_eq!(run_status(&t), "completed", "{t}");
    assert!(
        fake.received().is_empty(),
        "nothing went to the deleted connection"
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM model_connections WHERE api_key <> ''")
            .await,
        0,
        "the deleted connection's key is gone"
    );
    c.app.stop().await;
}

/// A run that failed on a wrong key is retried with the key fixed: nothing typed is lost.
#[tokio::test]
async fn a_run_that_failed_on_a_wrong_key_succeeds_on_retry_after_the_key_is_fixed() {
    let c = models_chat(5000).await;
    let (fake, url) = Fake::start(vec![
        Script::Status(401, "authentication_error", None),
        Script::Text(vec!["Fixed."]),
    ])
    .await;
    let conn = connect(
        &c,
        add(
            "Anthropic",
            "anthropic",
            &url,
            "sk-ant-wrong-key-0000",
            "claude-test",
        ),
    )
    .await;
    c.app
        .call_fn(
            &c.owner,
            MakeDefaultConnection {
                connection_id: conn.id.clone(),
            },
        )
        .await
        .unwrap();
    send(&c.app, &c.owner, &c.thread, "Hello").await;
    let t = reply_when_done(&c).await;
    assert_eq!(run_status(&t), "failed", "{t}");
    c.app
        .call_fn(
            &c.owner,
            UpdateConnection {
                connection_id: conn.id.clone(),
                models: "claude-test".into(),
                api_key: KEY.into(),
            },
        )
        .await
        .unwrap();
    let run = t["last_run"]["id"].as_str().expect("run id").to_string();
    c.app
        .call_fn(&c.owner, RetryRun { run_id: run })
        .await
        .unwrap();
    let t = wait_for(&c.app, &c.owner, &c.thread, "the retried reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert!(
        messages_of(&t, "agent")
            .iter()
            .any(|m| m.contains("Fixed.")),
        "{t}"
    );
    let got = fake.received();
    assert_eq!(got[0].headers["x-api-key"], "sk-ant-wrong-key-0000");
    assert_eq!(got[1].headers["x-api-key"], KEY);
    c.app.stop().await;
}

/// Bad input: each refused with a message that says what to fix, and nothing stored.
#[tokio::test]
async fn bad_connections_are_refused_with_what_to_fix() {
    let c = models_chat(5000).await;
    for (form, says) in [
        (add("", "openai", "", "", "m"), "Enter a connection name"),
        (
            add("X", "gemini", "", "", "m"),
            "Choose OpenAI-compatible or Anthropic",
        ),
        (
            add("X", "openai", "ftp://host", "", "m"),
            "must start with https://",
        ),
        (
            add("X", "openai", "not a url", "", "m"),
            "must be a web address",
        ),
        (
            add("X", "openai", "https://u:p@host/v1", "", "m"),
            "not in the base URL",
        ),
        (
            add("X", "anthropic", "", "", "claude"),
            "Anthropic needs an API key",
        ),
        (
            add("X", "openai", "", "sk-with space", "m"),
            "not an API key",
        ),
        (add("X", "openai", "", "", " , "), "List at least one model"),
        (add("X", "openai", "", "", "gpt 4"), "not a model name"),
        (
            add("From environment", "openai", "", "", "m"),
            "exists already",
        ),
    ] {
        let e = c.app.call_fn(&c.owner, form).await.unwrap_err();
        assert!(e.to_string().contains(says), "{e} (wanted {says})");
    }
    assert_eq!(
        c.app.count("SELECT COUNT(*) FROM model_connections").await,
        0
    );
    // A model the connection does not list, a connection that does not exist.
    let conn = connect(
        &c,
        add("Local", "openai", "http://127.0.0.1:9/v1", "", "llama3"),
    )
    .await;
    for (choice, says) in [
        (
            choice_value(&conn.id, "gpt-9"),
            "does not list the model “gpt-9”",
        ),
        (choice_value("no-such-id", "llama3"), "No such connection"),
        (conn.id.clone(), "Choose one of the connection's models"),
    ] {
        let e = c
            .app
            .call_fn(
                &c.owner,
                SetAgentModel {
                    agent_id: c.agent.clone(),
                    choice,
                },
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains(says), "{e} (wanted {says})");
    }
    let e = c
        .app
        .call_fn(&c.owner, add("local", "openai", "", "", "m"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    c.app.stop().await;
}

/// Only owners and admins manage connections; a member of the team reads the agent's model and
/// cannot change it; an admin of another team cannot see or change this team's agent; a
/// request from another site is refused. Each attempt changes nothing.
#[tokio::test]
async fn members_other_teams_and_other_sites_cannot_get_past_the_checks() {
    let c = models_chat(5000).await;
    let conn = connect(
        &c,
        add("Local", "openai", "http://127.0.0.1:9/v1", "", "llama3"),
    )
    .await;
    let team = c.app.call_fn(&c.owner, MyTeams {}).await.unwrap()[0]
        .id
        .clone();
    let member_id = c
        .app
        .create_user(&c.owner, "member@example.com", "member")
        .await;
    c.app.add_member(&c.owner, &team, &member_id).await;
    let member = c.app.sign_in("member@example.com", "password-123").await;
    for r in [
        c.app.send(&member, ListConnections {}).await,
        c.app
            .send(&member, add("Mine", "openai", "", "", "m"))
            .await,
        c.app
            .send(
                &member,
                DeleteConnection {
                    connection_id: conn.id.clone(),
                },
            )
            .await,
        c.app
            .send(
                &member,
                MakeDefaultConnection {
                    connection_id: conn.id.clone(),
                },
            )
            .await,
        c.app
            .send(
                &member,
                TestConnection {
                    connection_id: conn.id.clone(),
                },
            )
            .await,
        c.app
            .send(
                &member,
                UpdateConnection {
                    connection_id: conn.id.clone(),
                    models: "x".into(),
                    api_key: "".into(),
                },
            )
            .await,
        c.app
            .send(
                &member,
                SetAgentModel {
                    agent_id: c.agent.clone(),
                    choice: choice_value(&conn.id, "llama3"),
                },
            )
            .await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    let seen = c
        .app
        .call_fn(
            &member,
            LoadAgentModel {
                agent_id: c.agent.clone(),
            },
        )
        .await
        .unwrap();
    assert!(!seen.can_edit);
    // An admin who is not in the agent's team: the agent does not exist for them, and the
    // Models page does not name it among the connection's users.
    c.app
        .call_fn(
            &c.owner,
            SetAgentModel {
                agent_id: c.agent.clone(),
                choice: choice_value(&conn.id, "llama3"),
            },
        )
        .await
        .unwrap();
    c.app
        .create_user(&c.owner, "admin2@example.com", "admin")
        .await;
    let outsider = c.app.sign_in("admin2@example.com", "password-123").await;
    let seen = c.app.call_fn(&outsider, ListConnections {}).await.unwrap();
    assert_eq!(seen.connections[0].agents, Vec::<String>::new());
    let mine = c.app.call_fn(&c.owner, ListConnections {}).await.unwrap();
    assert_eq!(mine.connections[0].agents, ["Customer Support Agent"]);
    c.app
        .call_fn(
            &c.owner,
            SetAgentModel {
                agent_id: c.agent.clone(),
                choice: String::new(),
            },
        )
        .await
        .unwrap();
    for r in [
        c.app
            .send(
                &outsider,
                LoadAgentModel {
                    agent_id: c.agent.clone(),
                },
            )
            .await,
        c.app
            .send(
                &outsider,
                SetAgentModel {
                    agent_id: c.agent.clone(),
                    choice: "rules".into(),
                },
            )
            .await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    }
    // Signed out.
    let r = c.app.send(&client(), ListConnections {}).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The owner's own session, from another site.
    let res = c
        .owner
        .post(c.app.url("/api/add_connection"))
        .header("origin", "http://evil.example")
        .form(&add("Evil", "openai", "https://evil.example/v1", "", "m"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        c.app.count("SELECT COUNT(*) FROM model_connections").await,
        1
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM model_connections WHERE is_default = 1")
            .await,
        0
    );
    let (chosen,): (Option<String>,) =
        sqlx::query_as("SELECT connection_id FROM agents WHERE id = $1")
            .bind(&c.agent)
            .fetch_one(&c.app.db)
            .await
            .unwrap();
    assert_eq!(chosen, None);
    c.app.stop().await;
}

/// The environment's provider shows as a read-only connection and stays the default until a
/// stored one is made the default; it cannot be edited or deleted in the app.
#[tokio::test]
async fn the_environments_connection_is_shown_read_only() {
    let (_fake, url) = Fake::start(vec![]).await;
    let mut config = TestApp::owner_config().await;
    config.secret_key = Some(Secret::new(SECRET_KEY));
    config.provider = ProviderConfig::Anthropic {
        base_url: url.clone(),
        api_key: Secret::new("sk-ant-from-env-abcd"),
        model: "claude-env".into(),
    };
    let app = TestApp::start(config).await;
    let owner = app.owner().await;
    let o = app.call_fn(&owner, ListConnections {}).await.unwrap();
    assert_eq!(o.default_label, "From environment (Anthropic) · claude-env");
    let env = &o.connections[0];
    assert!(env.from_environment && env.is_default, "{env:?}");
    assert_eq!(
        (env.key_hint.as_str(), env.models.as_slice()),
        ("sk-…abcd", &["claude-env".to_string()][..])
    );
    for r in [
        app.send(
            &owner,
            DeleteConnection {
                connection_id: "environment".into(),
            },
        )
        .await,
        app.send(
            &owner,
            UpdateConnection {
                connection_id: "environment".into(),
                models: "x".into(),
                api_key: "".into(),
            },
        )
        .await,
    ] {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert!(r.message().contains("FLARE_PROVIDER"), "{}", r.message());
    }
    let stored = app
        .call_fn(
            &owner,
            add("Stored", "anthropic", &url, KEY, "claude-stored"),
        )
        .await
        .unwrap();
    app.call_fn(
        &owner,
        MakeDefaultConnection {
            connection_id: stored.id.clone(),
        },
    )
    .await
    .unwrap();
    let o = app.call_fn(&owner, ListConnections {}).await.unwrap();
    assert_eq!(o.default_label, "Stored · claude-stored");
    let defaults: Vec<_> = o
        .connections
        .iter()
        .filter(|c| c.is_default)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(defaults, ["Stored"]);
    app.call_fn(
        &owner,
        MakeDefaultConnection {
            connection_id: "environment".into(),
        },
    )
    .await
    .unwrap();
    let o = app.call_fn(&owner, ListConnections {}).await.unwrap();
    assert_eq!(o.default_label, "From environment (Anthropic) · claude-env");
    app.stop().await;
}

/// Without FLARE_SECRET_KEY: a SQLite deployment makes its own key file beside the database
/// (owner-only, the same key after a restart, so stored keys still open); a PostgreSQL one,
/// which may span machines, refuses to store a key and says what to set.
#[tokio::test]
async fn without_a_secret_key_sqlite_keeps_one_beside_its_file_and_postgresql_asks_for_one() {
    let config = TestApp::owner_config().await;
    let url = config.database_url.clone();
    let app = TestApp::start(config).await;
    let owner = app.owner().await;
    let tried = app
        .send(
            &owner,
            add("Anthropic", "anthropic", "", KEY, "claude-test"),
        )
        .await;
    if backend_is_postgres() {
        assert_eq!(tried.status, StatusCode::BAD_REQUEST);
        assert!(
            tried.message().contains("set FLARE_SECRET_KEY"),
            "{}",
            tried.message()
        );
        app.stop().await;
        return;
    }
    assert_eq!(tried.status, StatusCode::OK, "{:?}", tried.body);
    let db_file = url.trim_start_matches("sqlite://");
    let key_file = std::path::Path::new(db_file).with_file_name("secret.key");
    let meta = std::fs::metadata(&key_file).expect("a key file beside the database");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // The same key on the next start: the stored key opens (the connection is usable).
    let again = flare::server::secret_box::load(&flare::server::config::Config::for_database(&url))
        .unwrap()
        .expect("a key");
    let (sealed, id): (String, String) =
        sqlx::query_as("SELECT api_key, id FROM model_connections")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let opened = again
        .open(
            &sealed,
            &flare::server::runtime::connections::seal_context(&id),
        )
        .unwrap();
    assert_eq!(opened.expose(), KEY);
    tokio::time::sleep(Duration::from_millis(1)).await;
    app.stop().await;
}
