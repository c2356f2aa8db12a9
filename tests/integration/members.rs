use crate::common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn admin_manages_people_teams_and_roles_with_audit_entries() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let ann = app.create_user(&owner, "ann@example.com", "member").await;
    let support = app.create_team(&owner, "Support").await;
    app.add_member(&owner, &support, &ann).await;

    let dir = app.send(&owner, LoadDirectory {}).await;
    assert_eq!(dir.status, StatusCode::OK);
    let team = &dir.body["teams"][0];
    assert_eq!(team["name"], "Support");
    assert_eq!(team["members"][0]["email"], "ann@example.com");

    let r = app
        .send(
            &owner,
            ChangeRole {
                user_id: ann.to_string(),
                role: "admin".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let ann_client = app.sign_in("ann@example.com", "password-123").await;
    let me = app.send(&ann_client, SignedInUser {}).await;
    assert_eq!(me.body["role"], "admin");

    let r = app
        .send(
            &owner,
            RemoveMember {
                team_id: support.to_string(),
                user_id: ann.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let again = app
        .send(
            &owner,
            RemoveMember {
                team_id: support.to_string(),
                user_id: ann.to_string(),
            },
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.message(), "ann is not a member of Support.");

    let actions: Vec<String> = flare::server::db::audit::recent(&app.db, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    for expected in [
        "user.created",
        "team.created",
        "team.member_added",
        "user.role_changed",
        "team.member_removed",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "missing audit {expected} in {actions:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn duplicates_are_refused_and_change_nothing() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    app.create_user(&owner, "bob@example.com", "member").await;
    let dup = app
        .send(
            &owner,
            CreateUser {
                name: "Bob 2".into(),
                email: "BOB@example.com".into(),
                password: "password-123".into(),
                role: "member".into(),
            },
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(
        dup.message(),
        "A user with the email bob@example.com already exists."
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 2);

    let team = app.create_team(&owner, "Sales").await;
    let dup = app
        .send(
            &owner,
            CreateTeam {
                name: "Sales".into(),
            },
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM teams").await, 1);

    let bob = app.create_user(&owner, "bob2@example.com", "member").await;
    app.add_member(&owner, &team, &bob).await;
    let twice = app
        .send(
            &owner,
            AddMember {
                team_id: team.to_string(),
                user_id: bob.to_string(),
            },
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM team_members").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_message_and_creates_nothing() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let long_name = "n".repeat(101);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("name", ""),
                ("email", "a@example.com"),
                ("password", "password-123"),
                ("role", "member"),
            ],
            "Enter a name.",
        ),
        (
            vec![
                ("name", long_name.as_str()),
                ("email", "a@example.com"),
                ("password", "password-123"),
                ("role", "member"),
            ],
            "A name is at most 100 characters.",
        ),
        (
            vec![
                ("name", "A"),
                ("email", "not-an-email"),
                ("password", "password-123"),
                ("role", "member"),
            ],
            "\u{201c}not-an-email\u{201d} is not an email address.",
        ),
        (
            vec![
                ("name", "A"),
                ("email", "a@example.com"),
                ("password", "short"),
                ("role", "member"),
            ],
            "Passwords are at least 8 characters.",
        ),
        (
            vec![
                ("name", "A"),
                ("email", "a@example.com"),
                ("password", "password-123"),
                ("role", "king"),
            ],
            "\u{201c}king\u{201d} is not a role; use owner, admin or member.",
        ),
    ];
    for (form, message) in cases {
        let r = app.call(&owner, "create_user", &form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(r.message(), message);
    }
    let r = app.send(&owner, CreateTeam { name: "   ".into() }).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "Enter a team name.");
    let r = app
        .send(
            &owner,
            AddMember {
                team_id: "nope".into(),
                user_id: "nope".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM teams").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let me = app.send(&owner, SignedInUser {}).await;
    let owner_id = me.body["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            &owner,
            ChangeRole {
                user_id: owner_id.to_string(),
                role: "admin".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.message(),
        "Flare needs at least one owner. Make someone else an owner first."
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'owner'")
            .await,
        1
    );
    // With a second owner, stepping down works.
    let other = app.create_user(&owner, "second@example.com", "owner").await;
    let r = app
        .send(
            &owner,
            ChangeRole {
                user_id: owner_id.to_string(),
                role: "admin".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'owner'")
            .await,
        1
    );
    let _ = other;
    app.stop().await;
}

#[tokio::test]
async fn admins_cannot_make_or_unmake_owners() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    app.create_user(&owner, "adam@example.com", "admin").await;
    let adam = app.sign_in("adam@example.com", "password-123").await;
    let r = app
        .send(
            &adam,
            CreateUser {
                name: "X".into(),
                email: "x@example.com".into(),
                password: "password-123".into(),
                role: "owner".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let owner_id = app.send(&owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .send(
            &adam,
            ChangeRole {
                user_id: owner_id.to_string(),
                role: "member".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'owner'")
            .await,
        1
    );
    // Admins do manage members.
    app.create_user(&adam, "mia@example.com", "member").await;
    app.stop().await;
}

#[tokio::test]
async fn a_member_calling_admin_functions_directly_is_refused_and_nothing_changes() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let mem = app.create_user(&owner, "mem@example.com", "member").await;
    let team = app.create_team(&owner, "Support").await;
    let member = app.sign_in("mem@example.com", "password-123").await;
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("load_directory", vec![]),
        (
            "create_user",
            vec![
                ("name", "E"),
                ("email", "e@example.com"),
                ("password", "password-123"),
                ("role", "admin"),
            ],
        ),
        ("create_team", vec![("name", "Shadow")]),
        (
            "add_member",
            vec![("team_id", team.as_str()), ("user_id", mem.as_str())],
        ),
        (
            "remove_member",
            vec![("team_id", team.as_str()), ("user_id", mem.as_str())],
        ),
        (
            "change_role",
            vec![("user_id", mem.as_str()), ("role", "owner")],
        ),
    ];
    for (endpoint, form) in calls {
        let r = app.call(&member, endpoint, &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint}");
        assert_eq!(
            r.message(),
            "Only owners and admins can manage members and teams."
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM teams").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM team_members").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'member'")
            .await,
        1
    );
    app.stop().await;
}
