//! Issue 11: access follows people. Live streams end or narrow when access changes, streams
//! are capped, users can be deactivated and change their password, admins stay inside their
//! teams, and the last owner cannot be raced away.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Reads a live stream until it ends (true) or `within` passes (false); data frames seen on
/// the way are returned too.
async fn ends_within(res: reqwest::Response, within: Duration) -> (bool, Vec<Value>) {
    let mut res = res;
    ends_within_ref(&mut res, within).await
}

async fn ends_within_ref(res: &mut reqwest::Response, within: Duration) -> (bool, Vec<Value>) {
    let until = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, res.chunk()).await {
            Err(_) => return (false, seen),
            Ok(Err(_)) | Ok(Ok(None)) => return (true, seen),
            Ok(Ok(Some(bytes))) => {
                for line in String::from_utf8_lossy(&bytes).lines() {
                    if let Some(data) = line.strip_prefix("data: ") {
                        seen.push(serde_json::from_str(data).unwrap_or(Value::Null));
                    }
                }
            }
        }
    }
}

/// A member of the chat's team, signed in, with an open live stream.
async fn member_with_stream(c: &Chat, email: &str) -> (String, reqwest::Client, reqwest::Response) {
    let id = c.app.create_user(&c.owner, email, "member").await;
    let team = team_of(c).await;
    c.app.add_member(&c.owner, &team, &id).await;
    let client = c.app.sign_in(email, "password-123").await;
    let live = client.get(c.app.url("/api/live")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    (id, client, live)
}

async fn team_of(c: &Chat) -> String {
    let teams = c.app.send(&c.owner, MyTeams {}).await;
    teams.body[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn removal_from_the_team_stops_its_events_at_once() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (bob, _client, live) = member_with_stream(&c, "bob@example.com").await;
    let team = team_of(&c).await;
    let r = c
        .app
        .send(
            &c.owner,
            RemoveMember {
                team_id: team.to_string(),
                user_id: bob.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // The team's next events (a whole escalation) do not reach Bob's stream.
    send(&c.app, &c.owner, &c.thread, TUTORIAL_MESSAGE).await;
    wait_for(&c.app, &c.owner, &c.thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    let (_, seen) = ends_within(live, Duration::from_secs(2)).await;
    assert!(
        seen.iter().all(|e| e["team_id"] != team.as_str()),
        "a removed member still got the team's events: {seen:?}"
    );
    c.app.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_sessions_streams_within_seconds() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (_, bob, live) = member_with_stream(&c, "bob@example.com").await;
    // Bob's other browser keeps its own stream.
    let other = c.app.sign_in("bob@example.com", "password-123").await;
    let other_live = other.get(c.app.url("/api/live")).send().await.unwrap();
    let started = Instant::now();
    assert_eq!(c.app.send(&bob, Logout {}).await.status, StatusCode::OK);
    let (ended, _) = ends_within(live, Duration::from_secs(5)).await;
    assert!(ended, "the signed-out session's stream is still open");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (ended, _) = ends_within(other_live, Duration::from_secs(1)).await;
    assert!(!ended, "the other session's stream goes on");
    c.app.stop().await;
}

#[tokio::test]
async fn deactivation_ends_every_session_and_stream_and_sign_in() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (bob_id, bob, live) = member_with_stream(&c, "bob@example.com").await;
    let r = c
        .app
        .send(
            &c.owner,
            DeactivateUser {
                user_id: bob_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (ended, _) = ends_within(live, Duration::from_secs(5)).await;
    assert!(ended, "a deactivated user's stream is still open");
    // Signed out everywhere, and cannot sign in again.
    let me = c.app.send(&bob, SignedInUser {}).await;
    assert_eq!(me.body, Value::Null);
    let again = c
        .app
        .login_attempt(&client(), "bob@example.com", "password-123")
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(
        again.message().contains("deactivated"),
        "{}",
        again.message()
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL AND user_id <> (SELECT id FROM users WHERE role = 'owner')")
            .await,
        0
    );
    // A second click changes nothing; reactivation lets Bob back in.
    let twice = c
        .app
        .send(
            &c.owner,
            DeactivateUser {
                user_id: bob_id.to_string(),
            },
        )
        .await;
    assert_eq!(twice.status, StatusCode::OK);
    let r = c
        .app
        .send(
            &c.owner,
            ReactivateUser {
                user_id: bob_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    c.app.sign_in("bob@example.com", "password-123").await;
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM audit_log WHERE action IN ('user.deactivated', 'user.reactivated')")
            .await,
        2
    );
    c.app.stop().await;
}

#[tokio::test]
async fn who_may_deactivate_whom() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let admin_id = app.create_user(&owner, "ada@example.com", "admin").await;
    let member_id = app.create_user(&owner, "mel@example.com", "member").await;
    let owner_id = app.send(&owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = app.sign_in("ada@example.com", "password-123").await;
    let member = app.sign_in("mel@example.com", "password-123").await;
    // A member cannot; an admin cannot touch an owner; nobody deactivates themselves.
    let r = app
        .send(
            &member,
            DeactivateUser {
                user_id: admin_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .send(
            &admin,
            DeactivateUser {
                user_id: owner_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .send(
            &owner,
            DeactivateUser {
                user_id: owner_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = client_call(&app, "deactivate_user", &member_id).await;
    assert_eq!(r, StatusCode::UNAUTHORIZED);
    let r = app
        .send(
            &admin,
            DeactivateUser {
                user_id: "nope".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // An admin may deactivate a member.
    let r = app
        .send(
            &admin,
            DeactivateUser {
                user_id: member_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE deactivated_at IS NOT NULL")
            .await,
        1
    );
    app.stop().await;
}

async fn client_call(app: &TestApp, endpoint: &str, user_id: &str) -> StatusCode {
    app.call(&client(), endpoint, &[("user_id", user_id)])
        .await
        .status
}

#[tokio::test]
async fn a_new_password_signs_out_the_other_sessions_only() {
    let c = chat_with(TUTORIAL_RULE).await;
    let (_, here, _) = member_with_stream(&c, "bob@example.com").await;
    let there = c.app.sign_in("bob@example.com", "password-123").await;
    let there_live = there.get(c.app.url("/api/live")).send().await.unwrap();
    // The current password is asked again, and a bad new one is refused.
    let change = |current: &'static str, new: &'static str| {
        let (app, here) = (&c.app, &here);
        async move {
            app.send(
                here,
                ChangePassword {
                    current: current.to_string(),
                    new: new.to_string(),
                },
            )
            .await
        }
    };
    let wrong = change("not my password", "a-new-password-1").await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let short = change("password-123", "short").await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let ok = change("password-123", "a-new-password-1").await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    // This browser stays signed in; the other is signed out, its stream ended.
    let me = c.app.send(&here, SignedInUser {}).await;
    assert_eq!(me.body["email"], "bob@example.com");
    let them = c.app.send(&there, SignedInUser {}).await;
    assert_eq!(them.body, Value::Null);
    let (ended, _) = ends_within(there_live, Duration::from_secs(5)).await;
    assert!(ended);
    // Only the new password works now.
    let old = c
        .app
        .login_attempt(&client(), "bob@example.com", "password-123")
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    c.app.sign_in("bob@example.com", "a-new-password-1").await;
    let signed_out = c
        .app
        .send(
            &client(),
            ChangePassword {
                current: "a-new-password-1".into(),
                new: "another-one-2".into(),
            },
        )
        .await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
    c.app.stop().await;
}

#[tokio::test]
async fn sessions_are_stored_hashed() {
    let app = TestApp::with_owner().await;
    let cookie = owner_session_cookie(&app).await;
    let value = cookie["flare_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (stored,): (String,) = sqlx::query_as("SELECT id FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_ne!(stored, value);
    assert!(!stored.contains(&value));
    assert_eq!(stored.len(), 64, "a SHA-256 in hex: {stored}");
    app.stop().await;
}

#[tokio::test]
async fn open_streams_are_capped_per_user_oldest_first() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let mut streams = Vec::new();
    for _ in 0..flare::server::streams::MAX_PER_USER {
        let r = owner.get(app.url("/api/live")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        streams.push(r);
    }
    let newest = owner.get(app.url("/api/live")).send().await.unwrap();
    assert_eq!(newest.status(), StatusCode::OK);
    let mut oldest = streams.remove(0);
    let (ended, _) = ends_within_ref(&mut oldest, Duration::from_secs(5)).await;
    assert!(ended, "the oldest stream was closed to make room");
    let (ended, _) = ends_within_ref(&mut streams[0], Duration::from_millis(500)).await;
    assert!(!ended, "only the oldest was closed");
    let state = app.state.clone().unwrap();
    let owner_id = app.send(&owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        state.streams.count(&format!("user:{owner_id}")),
        flare::server::streams::MAX_PER_USER
    );
    drop(newest);
    app.stop().await;
}

#[tokio::test]
async fn admins_manage_the_members_of_their_own_teams_only() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let mine = app.create_team(&owner, "Mine").await;
    let theirs = app.create_team(&owner, "Theirs").await;
    let admin_id = app.create_user(&owner, "ada@example.com", "admin").await;
    let bob_id = app.create_user(&owner, "bob@example.com", "member").await;
    app.add_member(&owner, &mine, &admin_id).await;
    let admin = app.sign_in("ada@example.com", "password-123").await;
    let r = app
        .send(
            &admin,
            AddMember {
                team_id: theirs.to_string(),
                user_id: bob_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nor can the admin add themselves to another team.
    let r = app
        .send(
            &admin,
            AddMember {
                team_id: theirs.to_string(),
                user_id: admin_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.add_member(&owner, &theirs, &bob_id).await;
    let r = app
        .send(
            &admin,
            RemoveMember {
                team_id: theirs.to_string(),
                user_id: bob_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM team_members").await,
        2,
        "nothing changed"
    );
    // Their own team: allowed. The owner: anywhere.
    app.add_member(&admin, &mine, &bob_id).await;
    let r = app
        .send(
            &owner,
            RemoveMember {
                team_id: theirs.to_string(),
                user_id: bob_id.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.stop().await;
}

/// Two owners demote each other at the same moment, five rounds: exactly one wins and one
/// owner always remains (on PostgreSQL the owners' rows are locked; SQLite writes one
/// transaction at a time).
#[tokio::test]
async fn the_last_owner_cannot_be_raced_away() {
    let app = TestApp::with_owner().await;
    let id_of = |c: reqwest::Client| {
        let app = &app;
        async move {
            app.send(&c, SignedInUser {}).await.body["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let mut x = app.owner().await;
    for round in 0..5 {
        let email = format!("owner{round}@example.com");
        app.create_user(&x, &email, "owner").await;
        let y = app.sign_in(&email, "password-123").await;
        let (x_id, y_id) = (id_of(x.clone()).await, id_of(y.clone()).await);
        let demote = |who: reqwest::Client, whom: String| {
            let url = app.url("/api/change_role");
            async move {
                who.post(url)
                    .form(&[("user_id", whom.as_str()), ("role", "admin")])
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        let (a, b) = tokio::join!(demote(x.clone(), y_id), demote(y.clone(), x_id));
        let statuses = [a, b];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| [StatusCode::OK, StatusCode::CONFLICT, StatusCode::FORBIDDEN].contains(s)),
            "round {round}: {statuses:?}"
        );
        assert_eq!(
            app.count("SELECT COUNT(*) FROM users WHERE role = 'owner'")
                .await,
            1,
            "round {round}"
        );
        // The one still an owner goes on to the next round.
        if a != StatusCode::OK {
            x = y;
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn open_widget_streams_are_capped_per_token() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let team = app.create_team(&owner, "Wall").await;
    let me = app.send(&owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.add_member(&owner, &team, &me).await;
    let token = app
        .send(
            &owner,
            CreateToken {
                kind: "embed".into(),
                team_id: team.to_string(),
                name: "Wall".into(),
            },
        )
        .await
        .body["value"]
        .as_str()
        .unwrap()
        .to_string();
    let url = app.url(&format!("/embed/live?token={token}"));
    let mut streams = Vec::new();
    for _ in 0..flare::server::streams::MAX_PER_EMBED_TOKEN {
        let r = client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        streams.push(r);
    }
    let _newest = client().get(&url).send().await.unwrap();
    let (ended, _) = ends_within_ref(&mut streams[0], Duration::from_secs(5)).await;
    assert!(ended, "the oldest widget stream made room");
    let (ended, _) = ends_within_ref(&mut streams[1], Duration::from_millis(300)).await;
    assert!(!ended);
    app.stop().await;
}
