//! Embed and API tokens: created by managers of the team, stored hashed, scoped to one team,
//! refused once revoked; the JSON API and the embedded widget with its live stream.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

async fn token(c: &Chat, kind: &str, team: &str) -> (String, String) {
    let r = c
        .app
        .send(
            &c.owner,
            CreateToken {
                kind: kind.to_string(),
                team_id: team.to_string(),
                name: "Wallboard".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["value"].as_str().unwrap().to_string(),
    )
}

async fn team_of(c: &Chat) -> String {
    let (t,): (String,) = sqlx::query_as("SELECT team_id FROM threads WHERE id = $1")
        .bind(&c.thread)
        .fetch_one(&c.app.db)
        .await
        .unwrap();
    t
}

async fn api(c: &Chat, auth: Option<&str>, query: &str) -> (StatusCode, Value, Option<String>) {
    let mut req = client().get(c.app.url(&format!("/api/v1/escalations{query}")));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, res.json().await.unwrap_or(Value::Null), www)
}

#[tokio::test]
async fn the_api_reads_one_teams_escalations_with_a_live_token_only() {
    let c = chat_with(TUTORIAL_RULE).await;
    let team = team_of(&c).await;
    let (_, esc) = escalated(&c).await;
    let (api_id, api_token) = token(&c, "api", &team).await;
    let (_, embed_token) = token(&c, "embed", &team).await;
    assert!(api_token.starts_with("flr_api_") && embed_token.starts_with("flr_embed_"));
    assert_eq!(
        c.app
            .count(&format!(
                "SELECT COUNT(*) FROM tokens WHERE token_hash = '{api_token}'"
            ))
            .await,
        0,
        "stored hashed"
    );
    let listed = c.app.send(&c.owner, ListTokens {}).await;
    assert!(
        !listed.body.to_string().contains(&api_token),
        "the value is never listed"
    );

    // Another team with its own escalation: never in this token's answers.
    let other = chat_on_team(&c, "Sales").await;
    let bearer = format!("Bearer {api_token}");
    let (status, body, _) = api(&c, Some(&bearer), "?status=open").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["open_count"], 1);
    let items = body["escalations"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], esc.as_str());
    assert_eq!(items[0]["severity"], "warning");
    assert_eq!(items[0]["trigger"], "chat");
    assert!(
        !body.to_string().contains(&other),
        "another team's escalation leaked"
    );
    assert_eq!(
        api(&c, Some(&bearer), "?status=answered").await.1["escalations"],
        Value::Array(vec![])
    );
    assert_eq!(
        api(&c, Some(&bearer), "?status=everything").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api(&c, Some(&bearer), "?limit=0").await.0,
        StatusCode::BAD_REQUEST
    );

    for bad in [
        None,
        Some("Bearer"),
        Some("Bearer flr_api_123"),
        Some(format!("Bearer {embed_token}").as_str()),
        Some("Basic b3duZXI6cGFzcw=="),
    ] {
        let (status, body, www) = api(&c, bad, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(www.as_deref(), Some("Bearer"));
        assert!(body["error"].as_str().unwrap().contains("API token"));
    }
    let r = c
        .app
        .send(
            &c.owner,
            RevokeToken {
                token_id: api_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        api(&c, Some(&bearer), "").await.0,
        StatusCode::UNAUTHORIZED,
        "revoked"
    );
    assert_eq!(
        c.app
            .send(
                &c.owner,
                RevokeToken {
                    token_id: api_id.to_string()
                }
            )
            .await
            .status,
        StatusCode::CONFLICT
    );
    c.app.stop().await;
}

/// A second team with the owner, an agent and an escalation; returns the escalation id.
async fn chat_on_team(c: &Chat, name: &str) -> String {
    let team = c.app.create_team(&c.owner, name).await;
    let me = c.app.send(&c.owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.app.add_member(&c.owner, &team, &me).await;
    let agent = c
        .app
        .send(
            &c.owner,
            CreateAgent {
                name: "Other".into(),
                team_id: team.to_string(),
            },
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.app
        .send(
            &c.owner,
            SaveDescription {
                agent_id: agent.to_string(),
                base_revision: 1,
                description: TUTORIAL_RULE.to_string(),
            },
        )
        .await;
    let thread = start(&c.app, &c.owner, &agent).await;
    send(&c.app, &c.owner, &thread, TUTORIAL_MESSAGE).await;
    let t = wait_for(&c.app, &c.owner, &thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    card(&t).unwrap()["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_embedded_widget_counts_live_and_stops_when_revoked() {
    let c = chat_with(TUTORIAL_RULE).await;
    let team = team_of(&c).await;
    let (id, value) = token(&c, "embed", &team).await;
    let anon = client();
    let counts = c
        .app
        .send(
            &anon,
            EmbedCounts {
                token: value.to_string(),
            },
        )
        .await;
    assert_eq!(counts.status, StatusCode::OK, "no session needed");
    assert_eq!(counts.body["total"], 0);
    let live = anon
        .get(c.app.url(&format!("/embed/live?token={value}")))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    escalated(&c).await;
    let seen = read_live(live, |e| e["type"] == "escalation").await;
    assert_eq!(
        seen.last().unwrap(),
        &serde_json::json!({"type": "escalation", "team_id": "", "thread_id": "", "escalation_id": "", "status": "open"}),
        "no ids or content beyond 'changed'"
    );
    let counts = c
        .app
        .send(
            &anon,
            EmbedCounts {
                token: value.to_string(),
            },
        )
        .await;
    assert_eq!(
        (counts.body["total"].clone(), counts.body["warning"].clone()),
        (1.into(), 1.into())
    );
    let html = c
        .app
        .page(&anon, &format!("/embed/widget?token={value}"))
        .await;
    assert!(html.contains("Open escalations"), "{html}");
    assert!(html.contains("Warning: 1"), "{html}");
    // Another site's page gets no app bundle: the server's HTML and a few lines of JS.
    assert!(
        html.contains(r#"<script src="/embed-widget.js" defer"#),
        "{html}"
    );
    assert!(!html.contains("mod.hydrate()"), "{html}");
    let dashboard = c.app.page(&c.owner, "/app/dashboard").await;
    assert!(
        dashboard.contains("mod.hydrate()"),
        "the app's pages hydrate"
    );
    let script = anon
        .get(c.app.url("/embed-widget.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);

    // Revoking ends open streams and refuses the token everywhere.
    let mut live = anon
        .get(c.app.url(&format!("/embed/live?token={value}")))
        .send()
        .await
        .unwrap();
    c.app
        .send(
            &c.owner,
            RevokeToken {
                token_id: id.to_string(),
            },
        )
        .await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        let mut text = String::new();
        while let Ok(Some(chunk)) = live.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text
    })
    .await;
    let text = ended.expect("the stream ends on revocation");
    // Its last words say why (so the widget shows the refusal instead of a stale count).
    let last = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .map(|d| serde_json::from_str::<Value>(d).unwrap());
    assert_eq!(last.unwrap()["type"], "token_revoked", "{text}");
    let refused = c
        .app
        .send(
            &anon,
            EmbedCounts {
                token: value.to_string(),
            },
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.message().contains("revoked or mistyped"));
    let html = c
        .app
        .page(&anon, &format!("/embed/widget?token={value}"))
        .await;
    assert!(html.contains("revoked or mistyped"));
    for forged in [
        "",
        "flr_embed_nothex",
        &value.replace("flr_embed_", "flr_api_"),
    ] {
        assert_eq!(
            c.app
                .send(
                    &anon,
                    EmbedCounts {
                        token: forged.to_string()
                    }
                )
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            anon.get(c.app.url(&format!("/embed/live?token={forged}")))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::FORBIDDEN
        );
    }
    c.app.stop().await;
}

#[tokio::test]
async fn only_the_teams_managers_handle_its_tokens() {
    let c = chat_with(TUTORIAL_RULE).await;
    let team = team_of(&c).await;
    let (id, _) = token(&c, "embed", &team).await;
    let mem = c
        .app
        .create_user(&c.owner, "mem@example.com", "member")
        .await;
    c.app.add_member(&c.owner, &team, &mem).await;
    let mem = c.app.sign_in("mem@example.com", "password-123").await;
    assert_eq!(
        c.app
            .send(
                &mem,
                CreateToken {
                    kind: "api".into(),
                    team_id: team.to_string(),
                    name: "x".into()
                }
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.app
            .send(
                &mem,
                RevokeToken {
                    token_id: id.to_string()
                }
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.app.send(&mem, ListTokens {}).await.status,
        StatusCode::FORBIDDEN
    );
    c.app
        .create_user(&c.owner, "adm@example.com", "admin")
        .await;
    let adm = c.app.sign_in("adm@example.com", "password-123").await;
    assert_eq!(
        c.app
            .send(
                &adm,
                CreateToken {
                    kind: "api".into(),
                    team_id: team.to_string(),
                    name: "x".into()
                }
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.app
            .send(
                &adm,
                RevokeToken {
                    token_id: id.to_string()
                }
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.app.send(&adm, ListTokens {}).await.body,
        serde_json::json!([])
    );
    let bad = c
        .app
        .send(
            &c.owner,
            CreateToken {
                kind: "root".into(),
                team_id: team.to_string(),
                name: "x".into(),
            },
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.app.count("SELECT COUNT(*) FROM tokens").await, 1);
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM audit_log WHERE action = 'token.created'")
            .await,
        1
    );
    c.app.stop().await;
}
