use crate::common::*;
use reqwest::StatusCode;

/// A member of team A sees team A's data and gets 404 for team B's, however they ask.
#[tokio::test]
async fn a_member_sees_only_their_own_teams() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let a = app.create_team(&owner, "Team A").await;
    let b = app.create_team(&owner, "Team B").await;
    let alice = app.create_user(&owner, "alice@example.com", "member").await;
    let bert = app.create_user(&owner, "bert@example.com", "member").await;
    app.add_member(&owner, &a, &alice).await;
    app.add_member(&owner, &b, &bert).await;

    let alice_c = app.sign_in("alice@example.com", "password-123").await;
    let own = app
        .send(
            &alice_c,
            TeamDetails {
                team_id: a.to_string(),
            },
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["members"][0]["email"], "alice@example.com");
    let other = app
        .send(
            &alice_c,
            TeamDetails {
                team_id: b.to_string(),
            },
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.message(), "No such team.");
    assert!(
        !other.body.to_string().contains("bert"),
        "nothing of team B leaks"
    );
    let mine = app.send(&alice_c, MyTeams {}).await;
    let names: Vec<&str> = mine
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Team A"]);

    // Even an admin sees team-scoped data only of teams they belong to.
    let admin = app.create_user(&owner, "adm@example.com", "admin").await;
    let _ = admin;
    let adm_c = app.sign_in("adm@example.com", "password-123").await;
    assert_eq!(
        app.send(
            &adm_c,
            TeamDetails {
                team_id: a.to_string()
            }
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Removal takes effect on the very next request.
    let r = app
        .send(
            &owner,
            RemoveMember {
                team_id: a.to_string(),
                user_id: alice.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.send(
            &alice_c,
            TeamDetails {
                team_id: a.to_string()
            }
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn signed_out_requests_are_refused() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let team = app.create_team(&owner, "Team A").await;
    let anon = client();
    for (endpoint, form) in [
        ("team_details", vec![("team_id", team.as_str())]),
        ("my_teams", vec![]),
        ("load_directory", vec![]),
        ("create_team", vec![("name", "Sneaky")]),
    ] {
        let r = app.call(&anon, endpoint, &form).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{endpoint}");
        assert_eq!(r.message(), "Please sign in.");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM teams").await, 1);
    // A forged session cookie is no better.
    let forged = reqwest::Client::builder().build().unwrap();
    let res = forged
        .post(app.url("/api/my_teams"))
        .header("cookie", "flare_session=AAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
