//! Issue 11: every server function and endpoint, called by people who must not see or change
//! a team's data (signed out, a member of another team, an admin of another team, a
//! deactivated user, and a plain member asking for what only owners and admins may do):
//! nothing leaks and nothing changes. And a catalogue of bad input across every endpoint
//! family: a clear 4xx each, nothing stored, no panic.

use crate::common::*;
use reqwest::StatusCode;

/// Words only team A's data holds: an answer containing one leaked it.
const SECRETS: [&str; 4] = ["ZEBRA", "PLUM", "Vault Agent", "Wallboard"];

struct World {
    app: TestApp,
    owner: reqwest::Client,
    team_a: String,
    team_b: String,
    agent: String,
    thread: String,
    run: String,
    escalation: String,
    token: String,
    api_token: String,
    trigger: String,
    channel: String,
    member_a: String,
    bert: String,
}

async fn world() -> World {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let (team_a, agent) = team_with_agent(
        &app,
        &owner,
        "Team A",
        "Vault Agent",
        &format!("{TUTORIAL_RULE} ZEBRA stripes."),
    )
    .await;
    let team_b = app.create_team(&owner, "Team B").await;
    let thread = start(&app, &owner, &agent).await;
    send(&app, &owner, &thread, &format!("{TUTORIAL_MESSAGE} PLUM")).await;
    let t = wait_for(&app, &owner, &thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    let escalation = card(&t).unwrap()["id"].as_str().unwrap().to_string();
    let run = t["last_run"]["id"].as_str().unwrap().to_string();
    let token = app
        .send(
            &owner,
            CreateToken {
                kind: "embed".into(),
                team_id: team_a.to_string(),
                name: "Wallboard".into(),
            },
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let api_token = app
        .send(
            &owner,
            CreateToken {
                kind: "api".into(),
                team_id: team_a.to_string(),
                name: "Wallboard API".into(),
            },
        )
        .await
        .body["value"]
        .as_str()
        .unwrap()
        .to_string();
    // A webhook of team A (stored directly: the matrix's app has no secret key on PostgreSQL).
    let trigger = "3f0c9b9e-0000-4000-8000-00000000abcd".to_string();
    sqlx::query(
        "INSERT INTO triggers (id, team_id, agent_id, kind, name, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, 'webhook', 'PLUM hook', 1, 0, 0)",
    )
    .bind(&trigger)
    .bind(&team_a)
    .bind(&agent)
    .execute(&app.db)
    .await
    .unwrap();
    // A notification channel of team A, stored directly for the same reason (its deliveries
    // would go to a port nothing listens on).
    let channel = "3f0c9b9e-0000-4000-8000-00000000cdef".to_string();
    sqlx::query(
        "INSERT INTO channels (id, team_id, kind, name, min_severity_rank, muted, target, \
         created_at, updated_at) VALUES ($1, $2, 'webhook', 'PLUM channel', 0, 0, \
         'http://127.0.0.1:9/PLUM', 0, 0)",
    )
    .bind(&channel)
    .bind(&team_a)
    .execute(&app.db)
    .await
    .unwrap();
    let member_a = app.create_user(&owner, "mia@example.com", "member").await;
    app.add_member(&owner, &team_a, &member_a).await;
    let bert = app.create_user(&owner, "bert@example.com", "member").await;
    app.add_member(&owner, &team_b, &bert).await;
    World {
        app,
        owner,
        team_a,
        team_b,
        agent,
        thread,
        run,
        escalation,
        token,
        api_token,
        trigger,
        channel,
        member_a,
        bert,
    }
}

/// What must not change: team A's data, and everyone's account.
async fn snapshot(app: &TestApp) -> String {
    let queries = [
        "SELECT id || role || COALESCE(deactivated_at, 0) || password_hash FROM users ORDER BY id",
        "SELECT id || name FROM teams ORDER BY id",
        "SELECT team_id || user_id FROM team_members ORDER BY team_id, user_id",
        "SELECT id || name || description || revision || COALESCE(deleted_at, 0) FROM agents ORDER BY id",
        "SELECT id || status FROM runs ORDER BY id",
        "SELECT CAST(COUNT(*) AS TEXT) FROM messages",
        "SELECT CAST(COUNT(*) AS TEXT) FROM threads",
        "SELECT id || status || COALESCE(snoozed_until, 0) FROM escalations ORDER BY id",
        "SELECT team_id || COALESCE(warning_minutes, 0) FROM team_slas ORDER BY team_id",
        "SELECT id || COALESCE(revoked_at, 0) FROM tokens ORDER BY id",
        "SELECT id || name || enabled || COALESCE(deleted_at, 0) FROM triggers ORDER BY id",
        "SELECT id || name || muted || min_severity_rank || target || COALESCE(deleted_at, 0) \
         FROM channels ORDER BY id",
        "SELECT CAST(COUNT(*) AS TEXT) FROM outbox",
    ];
    let mut out = String::new();
    for q in queries {
        let rows: Vec<(String,)> = sqlx::query_as(q)
            .fetch_all(&app.db)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        for (r,) in rows {
            out.push_str(&r);
            out.push('\n');
        }
        out.push_str("--\n");
    }
    out
}

/// Every server function, aimed at team A's data.
fn calls(w: &World) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let s = |v: &str| v.to_string();
    vec![
        ("list_agents", vec![]),
        (
            "create_agent",
            vec![("name", s("Intruder")), ("team_id", w.team_a.clone())],
        ),
        (
            "rename_agent",
            vec![("agent_id", w.agent.clone()), ("name", s("Renamed"))],
        ),
        ("delete_agent", vec![("agent_id", w.agent.clone())]),
        ("load_agent", vec![("agent_id", w.agent.clone())]),
        ("agent_revisions", vec![("agent_id", w.agent.clone())]),
        (
            "save_description",
            vec![
                ("agent_id", w.agent.clone()),
                ("base_revision", s("2")),
                ("description", s("Never escalate.")),
            ],
        ),
        (
            "restore_revision",
            vec![
                ("agent_id", w.agent.clone()),
                ("revision", s("1")),
                ("base_revision", s("2")),
            ],
        ),
        ("list_audit", vec![]),
        ("list_threads", vec![]),
        ("start_thread", vec![("agent_id", w.agent.clone())]),
        ("load_thread", vec![("thread_id", w.thread.clone())]),
        (
            "send_message",
            vec![("thread_id", w.thread.clone()), ("body", s("hi"))],
        ),
        ("retry_run", vec![("run_id", w.run.clone())]),
        ("load_directory", vec![]),
        ("my_teams", vec![]),
        ("team_details", vec![("team_id", w.team_a.clone())]),
        (
            "create_user",
            vec![
                ("name", s("Eve")),
                ("email", s("eve@example.com")),
                ("password", s("password-123")),
                ("role", s("owner")),
            ],
        ),
        (
            "add_member",
            vec![("team_id", w.team_a.clone()), ("user_id", w.bert.clone())],
        ),
        (
            "remove_member",
            vec![
                ("team_id", w.team_a.clone()),
                ("user_id", w.member_a.clone()),
            ],
        ),
        (
            "change_role",
            vec![("user_id", w.member_a.clone()), ("role", s("owner"))],
        ),
        ("deactivate_user", vec![("user_id", w.member_a.clone())]),
        ("reactivate_user", vec![("user_id", w.member_a.clone())]),
        ("list_tokens", vec![]),
        (
            "create_token",
            vec![
                ("kind", s("api")),
                ("team_id", w.team_a.clone()),
                ("name", s("Mine")),
            ],
        ),
        ("revoke_token", vec![("token_id", w.token.clone())]),
        ("open_counts", vec![]),
        (
            "respond_escalation",
            vec![
                ("escalation_id", w.escalation.clone()),
                ("guidance", s("approve")),
            ],
        ),
        (
            "dismiss_escalation",
            vec![("escalation_id", w.escalation.clone())],
        ),
        ("list_escalations", vec![]),
        ("open_escalation_count", vec![]),
        ("list_triggers", vec![("agent_id", w.agent.clone())]),
        (
            "add_webhook",
            vec![("agent_id", w.agent.clone()), ("name", s("Mine"))],
        ),
        (
            "set_trigger_enabled",
            vec![("trigger_id", w.trigger.clone()), ("enabled", s("false"))],
        ),
        ("delete_trigger", vec![("trigger_id", w.trigger.clone())]),
        (
            "add_schedule",
            vec![
                ("agent_id", w.agent.clone()),
                ("name", s("Nightly")),
                ("cron", s("0 9 * * *")),
                ("time_zone", s("UTC")),
                ("message", s("hi")),
            ],
        ),
        (
            "add_event_trigger",
            vec![
                ("agent_id", w.agent.clone()),
                ("name", s("Follow")),
                ("source_agent_id", w.agent.clone()),
                ("on_event", s("run_completed")),
                ("message", s("hi")),
            ],
        ),
        (
            "preview_schedule",
            vec![("cron", s("0 9 * * *")), ("time_zone", s("UTC"))],
        ),
        ("list_channels", vec![]),
        (
            "add_webhook_channel",
            vec![
                ("team_id", w.team_a.clone()),
                ("name", s("Mine")),
                ("url", s("http://127.0.0.1:9/mine")),
                ("min_severity", s("info")),
            ],
        ),
        (
            "add_chat_channel",
            vec![
                ("kind", s("slack")),
                ("team_id", w.team_a.clone()),
                ("name", s("Mine")),
                ("bot_token", s("xoxb-1111-2222-abcdefghijkl")),
                ("channel_id", s("C0123ABCD")),
                ("min_severity", s("info")),
            ],
        ),
        (
            "set_channel_muted",
            vec![("channel_id", w.channel.clone()), ("muted", s("true"))],
        ),
        (
            "set_channel_min_severity",
            vec![
                ("channel_id", w.channel.clone()),
                ("min_severity", s("critical")),
            ],
        ),
        ("delete_channel", vec![("channel_id", w.channel.clone())]),
        ("test_channel", vec![("channel_id", w.channel.clone())]),
        ("load_slas", vec![]),
        (
            "save_sla",
            vec![
                ("team_id", w.team_a.clone()),
                ("info_minutes", s("")),
                ("warning_minutes", s("5")),
                ("critical_minutes", s("")),
                ("fallback_channel_id", s("")),
            ],
        ),
        (
            "snooze_escalation",
            vec![
                ("escalation_id", w.escalation.clone()),
                ("minutes", s("60")),
            ],
        ),
    ]
}

/// Calls that change the account, which an admin of another team may rightly make (they are
/// not about team A); for the others they must fail.
const ACCOUNT_WIDE: [&str; 5] = [
    "create_user",
    "change_role",
    "deactivate_user",
    "reactivate_user",
    "load_directory",
];

/// What only owners and admins may do: a plain member of team A asking must change nothing.
const MANAGERS_ONLY: [&str; 28] = [
    "create_agent",
    "rename_agent",
    "delete_agent",
    "save_description",
    "restore_revision",
    "list_audit",
    "load_directory",
    "create_user",
    "add_member",
    "remove_member",
    "change_role",
    "deactivate_user",
    "list_tokens",
    "create_token",
    "add_webhook",
    "set_trigger_enabled",
    "delete_trigger",
    "add_schedule",
    "add_event_trigger",
    "list_channels",
    "add_webhook_channel",
    "add_chat_channel",
    "set_channel_muted",
    "set_channel_min_severity",
    "delete_channel",
    "test_channel",
    "load_slas",
    "save_sla",
];

#[tokio::test]
async fn nobody_outside_a_team_sees_or_changes_its_data() {
    let w = world().await;
    let app = &w.app;
    let other_member = app.sign_in("bert@example.com", "password-123").await;
    let other_admin_id = app.create_user(&w.owner, "ada@example.com", "admin").await;
    app.add_member(&w.owner, &w.team_b, &other_admin_id).await;
    let other_admin = app.sign_in("ada@example.com", "password-123").await;
    let member = app.sign_in("mia@example.com", "password-123").await;
    let gone_id = app.create_user(&w.owner, "gus@example.com", "admin").await;
    app.add_member(&w.owner, &w.team_a, &gone_id).await;
    let gone = app.sign_in("gus@example.com", "password-123").await;
    let r = app
        .send(
            &w.owner,
            DeactivateUser {
                user_id: gone_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let callers: [(&str, &reqwest::Client); 5] = [
        ("signed out", &client()),
        ("member of another team", &other_member),
        ("admin of another team", &other_admin),
        ("deactivated admin of the team", &gone),
        ("member of the team", &member),
    ];
    let mut checked = 0;
    for (who, c) in callers {
        for (endpoint, args) in calls(&w) {
            let team_member = who == "member of the team";
            if team_member && !MANAGERS_ONLY.contains(&endpoint) {
                continue; // a member may read and work in their own team
            }
            let account_wide = ACCOUNT_WIDE.contains(&endpoint);
            if who == "admin of another team" && account_wide {
                continue; // an admin's own right, account-wide
            }
            let before = snapshot(app).await;
            let form: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = app.call(c, endpoint, &form).await;
            assert!(
                r.status.as_u16() < 500,
                "{who} {endpoint}: {} {:?}",
                r.status,
                r.body
            );
            let text = r.body.to_string();
            for secret in SECRETS {
                assert!(
                    !text.contains(secret),
                    "{who} {endpoint} leaked {secret:?}: {text}"
                );
            }
            assert_eq!(before, snapshot(app).await, "{who} {endpoint} changed data");
            if who == "signed out" || who.starts_with("deactivated") {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who} {endpoint}");
            }
            checked += 1;
        }
        // The HTTP endpoints: the API and the widget need their tokens, not a session.
        let api = c.get(app.url("/api/v1/escalations")).send().await.unwrap();
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED, "{who} /api/v1");
        let embed = c
            .get(app.url("/embed/live?token=flr_embed_x"))
            .send()
            .await
            .unwrap();
        assert_eq!(embed.status(), StatusCode::FORBIDDEN, "{who} /embed/live");
    }
    assert!(checked >= 100, "{checked} calls checked");
    // The real tokens still work, and only for team A.
    let api = client()
        .get(app.url("/api/v1/escalations"))
        .bearer_auth(&w.api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    assert!(api.text().await.unwrap().contains("Vault Agent"));
    w.app.stop().await;
}

/// A bad input: what it is, the server function, the form.
type BadForm<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

/// Bad input across every endpoint family: a clear 4xx, nothing stored, the server unharmed.
#[tokio::test]
async fn a_catalogue_of_bad_input_gets_clear_refusals() {
    let w = world().await;
    let app = &w.app;
    let c = &w.owner;
    let long = "x".repeat(200_000);
    let huge = "y".repeat(3 * 1024 * 1024);
    // (what, endpoint, form)
    let forms: Vec<BadForm> = vec![
        (
            "sign-in: empty",
            "login",
            vec![("email", ""), ("password", "")],
        ),
        (
            "sign-in: no password field",
            "login",
            vec![("email", OWNER_EMAIL)],
        ),
        (
            "sign-in: overlong email",
            "login",
            vec![("email", &long), ("password", "x")],
        ),
        (
            "sign-in: control chars",
            "login",
            vec![("email", "a\u{7}@b.c"), ("password", "x")],
        ),
        (
            "setup: after the owner exists",
            "create_first_admin",
            vec![
                ("name", "E"),
                ("email", "e@e.e"),
                ("password", "password-123"),
                ("setup_code", "AAAA"),
            ],
        ),
        (
            "setup: missing fields",
            "create_first_admin",
            vec![("name", "E")],
        ),
        (
            "agent: empty name",
            "create_agent",
            vec![("name", ""), ("team_id", &w.team_a)],
        ),
        (
            "agent: name of control chars",
            "create_agent",
            vec![("name", "a\u{1b}[31m"), ("team_id", &w.team_a)],
        ),
        (
            "agent: overlong name",
            "create_agent",
            vec![("name", &long), ("team_id", &w.team_a)],
        ),
        (
            "agent: unknown team",
            "create_agent",
            vec![("name", "A"), ("team_id", "nope")],
        ),
        (
            "description: not a number",
            "save_description",
            vec![
                ("agent_id", &w.agent),
                ("base_revision", "two"),
                ("description", "x"),
            ],
        ),
        (
            "description: unknown agent",
            "save_description",
            vec![
                ("agent_id", "nope"),
                ("base_revision", "2"),
                ("description", "x"),
            ],
        ),
        (
            "description: over 100 KB",
            "save_description",
            vec![
                ("agent_id", &w.agent),
                ("base_revision", "2"),
                ("description", &long),
            ],
        ),
        (
            "description: bell character",
            "save_description",
            vec![
                ("agent_id", &w.agent),
                ("base_revision", "2"),
                ("description", "a\u{7}b"),
            ],
        ),
        (
            "restore: no such revision",
            "restore_revision",
            vec![
                ("agent_id", &w.agent),
                ("revision", "99"),
                ("base_revision", "2"),
            ],
        ),
        (
            "restore: negative revision",
            "restore_revision",
            vec![
                ("agent_id", &w.agent),
                ("revision", "-1"),
                ("base_revision", "2"),
            ],
        ),
        (
            "thread: unknown agent",
            "start_thread",
            vec![("agent_id", "nope")],
        ),
        (
            "message: empty",
            "send_message",
            vec![("thread_id", &w.thread), ("body", "   ")],
        ),
        (
            "message: over 32 KB",
            "send_message",
            vec![("thread_id", &w.thread), ("body", &long)],
        ),
        (
            "message: unknown thread",
            "send_message",
            vec![("thread_id", "nope"), ("body", "hi")],
        ),
        (
            "message: while waiting",
            "send_message",
            vec![("thread_id", &w.thread), ("body", "again")],
        ),
        ("retry: unknown run", "retry_run", vec![("run_id", "nope")]),
        (
            "guidance: empty",
            "respond_escalation",
            vec![("escalation_id", &w.escalation), ("guidance", "")],
        ),
        (
            "guidance: over 8 KB",
            "respond_escalation",
            vec![("escalation_id", &w.escalation), ("guidance", &long)],
        ),
        (
            "escalation: unknown",
            "dismiss_escalation",
            vec![("escalation_id", "nope")],
        ),
        (
            "escalations: bad view",
            "list_escalations",
            vec![("view", "everything")],
        ),
        (
            "escalations: bad severity",
            "list_escalations",
            vec![("severity", "extreme")],
        ),
        (
            "escalations: forged cursor",
            "list_escalations",
            vec![("after", "%%%not-a-cursor")],
        ),
        ("audit: bad date", "list_audit", vec![("from", "yesterday")]),
        ("audit: forged cursor", "list_audit", vec![("after", "zzz")]),
        (
            "user: bad email",
            "create_user",
            vec![
                ("name", "A"),
                ("email", "not-an-email"),
                ("password", "password-123"),
                ("role", "member"),
            ],
        ),
        (
            "user: bad role",
            "create_user",
            vec![
                ("name", "A"),
                ("email", "a@example.com"),
                ("password", "password-123"),
                ("role", "god"),
            ],
        ),
        (
            "user: short password",
            "create_user",
            vec![
                ("name", "A"),
                ("email", "a@example.com"),
                ("password", "short"),
                ("role", "member"),
            ],
        ),
        (
            "user: duplicate email",
            "create_user",
            vec![
                ("name", "A"),
                ("email", "mia@example.com"),
                ("password", "password-123"),
                ("role", "member"),
            ],
        ),
        ("team: empty name", "create_team", vec![("name", "")]),
        (
            "team: duplicate name",
            "create_team",
            vec![("name", "Team A")],
        ),
        (
            "member: unknown user",
            "add_member",
            vec![("team_id", &w.team_a), ("user_id", "nope")],
        ),
        (
            "member: already in",
            "add_member",
            vec![("team_id", &w.team_a), ("user_id", &w.member_a)],
        ),
        (
            "role: unknown",
            "change_role",
            vec![("user_id", &w.member_a), ("role", "root")],
        ),
        (
            "token: bad kind",
            "create_token",
            vec![("kind", "admin"), ("team_id", &w.team_a), ("name", "x")],
        ),
        (
            "token: empty name",
            "create_token",
            vec![("kind", "api"), ("team_id", &w.team_a), ("name", "")],
        ),
        ("token: unknown", "revoke_token", vec![("token_id", "nope")]),
        (
            "channel: not a URL",
            "add_webhook_channel",
            vec![
                ("team_id", &w.team_a),
                ("name", "x"),
                ("url", "example.com/hook"),
                ("min_severity", "info"),
            ],
        ),
        (
            "channel: a password in the URL",
            "add_webhook_channel",
            vec![
                ("team_id", &w.team_a),
                ("name", "x"),
                ("url", "https://u:p@example.com/hook"),
                ("min_severity", "info"),
            ],
        ),
        (
            "channel: unknown severity",
            "add_webhook_channel",
            vec![
                ("team_id", &w.team_a),
                ("name", "x"),
                ("url", "https://example.com/hook"),
                ("min_severity", "urgent"),
            ],
        ),
        (
            "channel: empty name",
            "add_webhook_channel",
            vec![
                ("team_id", &w.team_a),
                ("name", ""),
                ("url", "https://example.com/hook"),
                ("min_severity", "info"),
            ],
        ),
        (
            "channel: unknown",
            "test_channel",
            vec![("channel_id", "nope")],
        ),
        (
            "channel: unknown severity on change",
            "set_channel_min_severity",
            vec![("channel_id", &w.channel), ("min_severity", "loud")],
        ),
        (
            "embed counts: forged token",
            "embed_counts",
            vec![("token", "flr_embed_forged")],
        ),
        (
            "password: wrong current",
            "change_password",
            vec![("current", "nope nope"), ("new", "password-456")],
        ),
        (
            "password: too short",
            "change_password",
            vec![("current", OWNER_PASSWORD), ("new", "x")],
        ),
    ];
    let before = snapshot(app).await;
    let mut refused = 0;
    for (what, endpoint, form) in &forms {
        let r = app.call(c, endpoint, form).await;
        assert!(
            r.status.is_client_error(),
            "{what}: {} {:?}",
            r.status,
            r.body
        );
        let message = r.message();
        assert!(
            !message.starts_with("not an AppError") && !message.is_empty(),
            "{what}: no clear message: {:?}",
            r.body
        );
        refused += 1;
    }
    // Raw requests no form can make.
    let raw: Vec<(&str, reqwest::RequestBuilder, StatusCode)> = vec![
        (
            "body over 2 MB",
            c.post(app.url("/api/send_message"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("thread_id={}&body={huge}", w.thread)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "invalid UTF-8",
            c.post(app.url("/api/create_team"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b"name=%FF%FE".to_vec()),
            StatusCode::BAD_REQUEST,
        ),
        (
            "NUL in a form",
            c.post(app.url("/api/create_team"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("name=a%00b"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "NUL in a query",
            c.get(app.url("/app/escalations?agent=%00")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "cross-site form post",
            c.post(app.url("/api/create_team"))
                .header("origin", "https://evil.example")
                .form(&[("name", "Evil")]),
            StatusCode::FORBIDDEN,
        ),
        (
            "API: no token",
            client().get(app.url("/api/v1/escalations")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "API: forged token",
            client()
                .get(app.url("/api/v1/escalations"))
                .bearer_auth("flr_api_0000"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "API: embed token as API token",
            client()
                .get(app.url("/api/v1/escalations"))
                .bearer_auth(&w.token),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "API: bad status",
            client()
                .get(app.url("/api/v1/escalations?status=all"))
                .bearer_auth(&w.api_token),
            StatusCode::BAD_REQUEST,
        ),
        (
            "API: limit 0",
            client()
                .get(app.url("/api/v1/escalations?limit=0"))
                .bearer_auth(&w.api_token),
            StatusCode::BAD_REQUEST,
        ),
        (
            "API: limit huge",
            client()
                .get(app.url("/api/v1/escalations?limit=99999999999999999999"))
                .bearer_auth(&w.api_token),
            StatusCode::BAD_REQUEST,
        ),
        (
            "embed stream: no token",
            client().get(app.url("/embed/live")),
            StatusCode::FORBIDDEN,
        ),
        (
            "embed stream: forged token",
            client().get(app.url("/embed/live?token=flr_embed_zz")),
            StatusCode::FORBIDDEN,
        ),
        (
            "live stream: signed out",
            client().get(app.url("/api/live")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown server function",
            c.post(app.url("/api/no_such_function")).form(&[("a", "b")]),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, req, expected) in raw {
        let res = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = res.status();
        assert!(status.is_client_error(), "{what}: {status}");
        if expected != StatusCode::BAD_REQUEST || status == StatusCode::BAD_REQUEST {
            assert_eq!(status, expected, "{what}");
        }
        refused += 1;
    }
    assert!(refused >= 40, "{refused} bad inputs");
    assert_eq!(
        before,
        snapshot(app).await,
        "a refused request changed data"
    );
    let health = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    w.app.stop().await;
}
