//! The Escalations page's data: open and answered lists, filters, order, keyset pages, scoping
//! and forged input.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn list(c: &Chat, form: &[(&str, &str)]) -> Reply {
    c.app.call(&c.owner, "list_escalations", form).await
}

/// One page of a list in `view` and `sort` order, after the cursor `after`; must succeed.
async fn page(c: &Chat, view: &str, sort: &str, after: Option<&str>) -> Reply {
    let mut form = vec![("view", view), ("sort", sort)];
    if let Some(a) = after {
        form.push(("after", a));
    }
    let r = list(c, &form).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r
}

fn reasons(r: &Reply) -> Vec<String> {
    r.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect()
}

/// Adds `n` open escalations to the chat's thread directly, `created_at` 1 ms apart, with the
/// given severity; returns their ids in creation order.
async fn seed(c: &Chat, n: usize, severity: &str, start: i64) -> Vec<String> {
    let (run, agent, team): (String, String, String) =
        sqlx::query_as("SELECT id, agent_id, team_id FROM runs LIMIT 1")
            .fetch_one(&c.app.db)
            .await
            .unwrap();
    let rank = match severity {
        "info" => 0,
        "critical" => 2,
        _ => 1,
    };
    let mut ids = Vec::new();
    for i in 0..n {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO escalations (id, team_id, agent_id, thread_id, run_id, trigger, reason, severity, \
             severity_rank, blocking, status, created_at) VALUES ($1, $2, $3, $4, $5, 'chat', $6, $7, $8, 0, 'open', $9)",
        )
        .bind(&id).bind(&team).bind(&agent).bind(&c.thread).bind(&run)
        .bind(format!("{severity} {i}")).bind(severity).bind(rank as i64).bind(start + i as i64)
        .execute(&c.app.db).await.unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn open_then_answered_with_who_and_what() {
    let c = chat_with(TUTORIAL_RULE).await;
    let none = list(&c, &[]).await;
    assert_eq!(none.status, StatusCode::OK, "{:?}", none.body);
    assert_eq!(none.body["any_ever"], false);
    assert_eq!(none.body["open_count"], 0);
    let (_, esc) = escalated(&c).await;
    let open = list(&c, &[]).await;
    assert_eq!(open.body["any_ever"], true);
    assert_eq!(open.body["open_count"], 1);
    let row = &open.body["rows"][0];
    assert_eq!(row["id"], esc.as_str());
    assert_eq!(row["agent_name"], "Customer Support Agent");
    assert_eq!(row["trigger"], "chat");
    assert_eq!(row["thread_id"], c.thread.as_str());
    assert_eq!(c.app.send(&c.owner, OpenEscalationCount {}).await.body, 1);
    c.app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "approve the refund".into(),
            },
        )
        .await;
    let open = list(&c, &[]).await;
    assert_eq!(
        open.body["rows"],
        Value::Array(vec![]),
        "it left the open list"
    );
    assert_eq!(open.body["open_count"], 0);
    let answered = list(&c, &[("view", "answered")]).await;
    let row = &answered.body["rows"][0];
    assert_eq!(row["status"], "resolved");
    assert_eq!(row["responder"], "owner");
    assert_eq!(row["guidance"], "approve the refund");
    assert!(row["answered_at_ms"].as_i64().is_some());
    c.app.stop().await;
}

#[tokio::test]
async fn filters_and_orders_follow_the_url() {
    let c = chat_with(TUTORIAL_RULE).await;
    escalated(&c).await; // warning, the tutorial's
    seed(&c, 2, "critical", 1_000).await;
    seed(&c, 2, "info", 2_000).await;
    let all = list(&c, &[]).await;
    assert_eq!(all.body["rows"].as_array().unwrap().len(), 5);
    let crit = list(&c, &[("severity", "critical")]).await;
    assert_eq!(reasons(&crit), ["critical 1", "critical 0"], "newest first");
    let oldest = list(&c, &[("severity", "critical"), ("sort", "oldest")]).await;
    assert_eq!(reasons(&oldest), ["critical 0", "critical 1"]);
    let by_sev = list(&c, &[("sort", "severity")]).await;
    let sevs: Vec<&str> = by_sev.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["severity"].as_str().unwrap())
        .collect();
    assert_eq!(sevs, ["critical", "critical", "warning", "info", "info"]);
    assert_eq!(
        list(&c, &[("trigger", "slack")]).await.body["rows"],
        Value::Array(vec![])
    );
    assert_eq!(
        list(&c, &[("trigger", "chat")]).await.body["rows"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        list(&c, &[("agent", &c.agent)]).await.body["rows"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let other_agent = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        list(&c, &[("agent", &other_agent)]).await.body["rows"],
        Value::Array(vec![])
    );
    // The page itself keeps the choice in its links.
    let html = c
        .app
        .page(&c.owner, "/app/escalations?severity=critical&sort=oldest")
        .await;
    assert!(html.contains("critical 0"), "{html}");
    assert!(!html.contains("info 0"), "filtered out");
    assert!(
        html.contains(r#"<option value="critical" selected"#),
        "the filter shows what is applied"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn keyset_pages_cover_everything_once_even_while_new_rows_arrive() {
    let c = chat_with(TUTORIAL_RULE).await;
    escalated(&c).await;
    let now = flare::server::db::now_ms();
    seed(&c, 119, "warning", now - 1_000_000).await;
    for sort in ["newest", "oldest", "severity"] {
        let mut seen = std::collections::HashSet::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let r = page(&c, "open", sort, after.as_deref()).await;
            for row in r.body["rows"].as_array().unwrap() {
                assert!(
                    seen.insert(row["id"].as_str().unwrap().to_string()),
                    "a row twice ({sort})"
                );
            }
            pages += 1;
            if pages == 1 {
                // A new escalation between pages must not shift what the next page shows.
                seed(&c, 1, "critical", now + pages).await;
            }
            match r.body["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        assert!(seen.len() >= 120, "{sort}: saw {}", seen.len());
        assert_eq!(pages, 3, "{sort}: 50 + 50 + the rest");
    }
    c.app.stop().await;
}

#[tokio::test]
async fn forged_filters_and_cursors_get_clear_errors() {
    let c = chat_with(TUTORIAL_RULE).await;
    escalated(&c).await;
    for (form, msg) in [
        (vec![("severity", "urgent")], "Unknown severity"),
        (vec![("sort", "random")], "Unknown order"),
        (vec![("view", "all")], "Unknown view"),
        (vec![("trigger", "telepathy")], "Unknown trigger"),
        (
            vec![("agent", "'; DROP TABLE escalations; --")],
            "Unknown agent filter",
        ),
        (vec![("after", "garbage")], "page link is damaged"),
        (vec![("after", "1_2_3")], "page link is damaged"),
        (
            vec![
                ("sort", "severity"),
                ("after", "123_00000000-0000-0000-0000-000000000000"),
            ],
            "page link is damaged",
        ),
        (
            vec![
                ("sort", "severity"),
                ("after", "9_1_00000000-0000-0000-0000-000000000000"),
            ],
            "page link is damaged",
        ),
    ] {
        let r = list(&c, &form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{form:?}");
        assert!(r.message().contains(msg), "{form:?}: {}", r.message());
    }
    let html = c
        .app
        .page(&c.owner, "/app/escalations?severity=urgent")
        .await;
    assert!(html.contains("Unknown severity"), "the page explains too");
    assert_eq!(c.app.count("SELECT COUNT(*) FROM escalations").await, 1);
    c.app.stop().await;
}

#[tokio::test]
async fn another_team_sees_no_escalation_and_no_count() {
    let c = chat_with(TUTORIAL_RULE).await;
    escalated(&c).await;
    let sales = c.app.create_team(&c.owner, "Sales").await;
    let bob = c
        .app
        .create_user(&c.owner, "bob@example.com", "admin")
        .await;
    c.app.add_member(&c.owner, &sales, &bob).await;
    let bob = c.app.sign_in("bob@example.com", "password-123").await;
    let r = c.app.send(&bob, all_escalations()).await;
    assert_eq!(r.body["any_ever"], false);
    assert_eq!(r.body["rows"], Value::Array(vec![]));
    assert_eq!(r.body["agents"], Value::Array(vec![]));
    let r = c
        .app
        .send(
            &bob,
            ListEscalations {
                agent: Some(c.agent.to_string()),
                ..all_escalations()
            },
        )
        .await;
    assert_eq!(r.body["rows"], Value::Array(vec![]));
    assert_eq!(c.app.send(&bob, OpenEscalationCount {}).await.body, 0);
    let html = c.app.page(&bob, "/app/escalations").await;
    assert!(html.contains("No escalations yet. All agents are running smoothly."));
    assert_eq!(
        c.app.send(&client(), all_escalations()).await.status,
        StatusCode::UNAUTHORIZED
    );
    c.app.stop().await;
}

#[tokio::test]
async fn the_page_shows_the_tutorials_table_and_states() {
    let c = chat_with(TUTORIAL_RULE).await;
    let html = c.app.page(&c.owner, "/app/escalations").await;
    assert!(html.contains("When an agent asks for a person, open items show here. Open the thread to reply, or dismiss if it&#x27;s handled elsewhere.") || html.contains("When an agent asks for a person, open items show here. Open the thread to reply, or dismiss if it's handled elsewhere."));
    assert!(html.contains("No escalations yet. All agents are running smoothly."));
    assert!(html.contains("Escalations appear here when an agent needs human help."));
    let (_, esc) = escalated(&c).await;
    let html = c.app.page(&c.owner, "/app/escalations").await;
    assert!(html.contains("Open escalations"), "{html}");
    assert!(html.contains("Severity: warning"));
    assert!(html.contains("trigger: chat"));
    assert!(
        html.contains(&format!("href=\"/app/chat/{}\"", c.thread)),
        "Open thread"
    );
    assert!(html.contains(">Dismiss<"));
    assert!(html.contains("1 open"), "the menu's count");
    c.app
        .send(
            &c.owner,
            DismissEscalation {
                escalation_id: esc.to_string(),
            },
        )
        .await;
    let html = c.app.page(&c.owner, "/app/escalations").await;
    assert!(html.contains("All agents are running smoothly"));
    assert!(!html.contains("No escalations yet"));
    let answered = c.app.page(&c.owner, "/app/escalations?view=answered").await;
    assert!(answered.contains("Dismissed by owner"), "{answered}");
    c.app.stop().await;
}

#[tokio::test]
async fn old_critical_escalations_are_marked_overdue() {
    let c = chat_with(TUTORIAL_RULE).await;
    escalated(&c).await;
    seed(
        &c,
        1,
        "critical",
        flare::server::db::now_ms() - 2 * 3_600_000,
    )
    .await;
    seed(&c, 1, "info", flare::server::db::now_ms() - 2 * 3_600_000).await;
    let html = c.app.page(&c.owner, "/app/escalations").await;
    assert_eq!(
        html.matches("Overdue").count(),
        1,
        "only the old critical one"
    );
    assert!(html.contains("2 h"));
    c.app.stop().await;
}

/// A person in two teams sees both teams' escalations in one list, merged in the chosen order,
/// and keyset pages still show every row exactly once, in that order, in every view.
#[tokio::test]
async fn pages_merge_the_teams_of_someone_in_several() {
    let c = chat_with(TUTORIAL_RULE).await;
    escalated(&c).await;
    let me = c.app.send(&c.owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = c.app.create_team(&c.owner, "Billing").await;
    c.app.add_member(&c.owner, &second, &me).await;
    let now = flare::server::db::now_ms();
    let ids = seed(&c, 130, "warning", now - 1_000_000).await;
    // Every third row moves to the second team, every fourth becomes critical, and half are
    // answered (at times that interleave across teams), so each order mixes both teams.
    for (i, id) in ids.iter().enumerate() {
        let team_clause = if i % 3 == 0 { "team_id = $2, " } else { "" };
        let sql = format!(
            "UPDATE escalations SET {team_clause}severity = $3, severity_rank = $4, status = $5, \
             answered_at = $6 WHERE id = $1"
        );
        let (sev, rank) = if i % 4 == 0 {
            ("critical", 2)
        } else {
            ("warning", 1)
        };
        let answered = i % 2 == 0;
        sqlx::query(&sql)
            .bind(id)
            .bind(&second)
            .bind(sev)
            .bind(rank as i64)
            .bind(if answered { "resolved" } else { "open" })
            .bind(answered.then_some(now - 500_000 + (i as i64 * 7919) % 1000))
            .execute(&c.app.db)
            .await
            .unwrap();
    }
    let keys: Vec<(String, i64, i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, created_at, severity_rank, status, answered_at FROM escalations",
    )
    .fetch_all(&c.app.db)
    .await
    .unwrap();
    for (view, sort) in [
        ("open", "newest"),
        ("open", "oldest"),
        ("open", "severity"),
        ("answered", "newest"),
    ] {
        let mut expected: Vec<_> = keys
            .iter()
            .filter(|k| (k.3 == "open") == (view == "open"))
            .collect();
        match (view, sort) {
            ("answered", _) => expected.sort_by(|a, b| (b.4, &b.0).cmp(&(a.4, &a.0))),
            (_, "oldest") => expected.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0))),
            (_, "severity") => expected.sort_by(|a, b| (b.2, b.1, &b.0).cmp(&(a.2, a.1, &a.0))),
            _ => expected.sort_by(|a, b| (b.1, &b.0).cmp(&(a.1, &a.0))),
        }
        let expected: Vec<String> = expected.into_iter().map(|k| k.0.clone()).collect();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let r = page(&c, view, sort, after.as_deref()).await;
            for row in r.body["rows"].as_array().unwrap() {
                seen.push(row["id"].as_str().unwrap().to_string());
            }
            match r.body["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{view}/{sort}: every row once, in order");
    }
    c.app.stop().await;
}
