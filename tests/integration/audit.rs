//! The audit page's data: owners and admins only, team entries scoped, filters, pages.

use crate::common::*;
use reqwest::StatusCode;

fn actions(r: &Reply) -> Vec<String> {
    r.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn who_did_what_filtered_and_scoped() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (_, esc) = escalated(&c).await;
    c.app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "approve the refund".into(),
            },
        )
        .await;
    let all = c.app.send(&c.owner, all_audit()).await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let a = actions(&all);
    assert_eq!(
        &a[..2],
        ["escalation.resolved", "escalation.raised"],
        "newest first: {a:?}"
    );
    assert!(a.contains(&"agent.created".to_string()));
    let resolved = &all.body["rows"][0];
    assert_eq!(resolved["actor"], OWNER_EMAIL);
    assert_eq!(resolved["subject"], esc.as_str());
    assert_eq!(resolved["detail"], "approve the refund");
    let only = c
        .app
        .send(
            &c.owner,
            ListAudit {
                action: Some("escalation.raised".into()),
                ..all_audit()
            },
        )
        .await;
    assert_eq!(actions(&only), ["escalation.raised"]);
    assert_eq!(
        only.body["rows"][0]["actor"],
        "agent: Customer Support Agent"
    );
    let by_agent = c
        .app
        .send(
            &c.owner,
            ListAudit {
                actor: Some("agent: Customer Support Agent".into()),
                ..all_audit()
            },
        )
        .await;
    assert_eq!(actions(&by_agent), ["escalation.raised"]);
    assert!(
        all.body["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "escalation.resolved")
    );
    // Dates: today holds everything, tomorrow nothing.
    let today = flare::components::time::format_time(flare::server::db::now_ms())[..10].to_string();
    let day = c
        .app
        .send(
            &c.owner,
            ListAudit {
                from: Some(today.to_string()),
                to: Some(today.to_string()),
                ..all_audit()
            },
        )
        .await;
    assert_eq!(actions(&day), a);
    let later = c
        .app
        .send(
            &c.owner,
            ListAudit {
                from: Some("9999-12-31".into()),
                ..all_audit()
            },
        )
        .await;
    assert!(actions(&later).is_empty());

    // An admin outside the team sees account entries only; a member sees nothing.
    let adm = c
        .app
        .create_user(&c.owner, "adm@example.com", "admin")
        .await;
    let _ = adm;
    let adm = c.app.sign_in("adm@example.com", "password-123").await;
    let theirs = actions(&c.app.send(&adm, all_audit()).await);
    assert!(theirs.contains(&"user.created".to_string()), "{theirs:?}");
    assert!(
        !theirs
            .iter()
            .any(|x| x.starts_with("escalation.") || x.starts_with("agent.")),
        "{theirs:?}"
    );
    let theirs_actors = c.app.send(&adm, all_audit()).await.body["actors"].clone();
    assert!(
        !theirs_actors
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "agent: Customer Support Agent")
    );
    c.app
        .create_user(&c.owner, "mem@example.com", "member")
        .await;
    let mem = c.app.sign_in("mem@example.com", "password-123").await;
    assert_eq!(
        c.app.send(&mem, all_audit()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.app.send(&client(), all_audit()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let html = c
        .app
        .page(&c.owner, "/app/audit?action=escalation.resolved")
        .await;
    assert!(html.contains("approve the refund"), "{html}");
    assert!(html.contains("<code>escalation.resolved</code>"));
    assert!(!html.contains("<code>agent.created</code>"), "filtered out");
    c.app.stop().await;
}

#[tokio::test]
async fn bad_filters_are_refused_clearly() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    for (form, msg) in [
        (vec![("from", "2026-02-30")], "is not a date"),
        (vec![("to", "tomorrow")], "is not a date"),
        (
            vec![("from", "2026-11-27"), ("to", "2026-11-26")],
            "start date is after the end date",
        ),
        (vec![("after", "nope")], "page link is damaged"),
        (
            vec![("after", "1_../../etc/passwd")],
            "page link is damaged",
        ),
    ] {
        let r = app.call(&owner, "list_audit", &form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{form:?}");
        assert!(r.message().contains(msg), "{form:?}: {}", r.message());
    }
    app.stop().await;
}

#[tokio::test]
async fn pages_cover_the_trail_once() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    for i in 0..120 {
        sqlx::query("INSERT INTO audit_log (id, at, actor_id, actor, action, subject, detail) VALUES ($1, $2, NULL, 'system', 'test.entry', $3, '')")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(1_000 + (i / 3) as i64) // ties on time: the id breaks them
            .bind(format!("entry {i}"))
            .execute(&app.db)
            .await
            .unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let r = app
            .send(
                &owner,
                ListAudit {
                    action: Some("test.entry".into()),
                    after: Some(after.to_string()),
                    ..all_audit()
                },
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        for row in r.body["rows"].as_array().unwrap() {
            assert!(
                seen.insert(row["subject"].as_str().unwrap().to_string()),
                "twice: {row}"
            );
        }
        pages += 1;
        match r.body["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (120, 3));
    app.stop().await;
}
