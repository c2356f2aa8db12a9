//! The repository layer on its own, against the real backend under test.

use crate::common::*;
use flare::auth::Role;
use flare::server::db::{self, login_failures, teams, users};
use flare::server::sessions::SqlSessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, SessionStore};

#[tokio::test]
async fn migrations_apply_once_and_reopen_cleanly() {
    let url = fresh_database_url().await;
    let first = db::connect(&url).await.expect("first open");
    users::insert(&first, "a@example.com", "A", Role::Member, "h")
        .await
        .unwrap();
    first.close().await;
    let again = db::connect(&url)
        .await
        .expect("reopen applies nothing twice");
    assert!(
        users::by_email(&again, "a@example.com")
            .await
            .unwrap()
            .is_some(),
        "data kept across restarts"
    );
    again.close().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn constraints_hold_on_both_backends() {
    let url = fresh_database_url().await;
    let pool = db::connect(&url).await.unwrap();
    let u = users::insert(&pool, "a@example.com", "A", Role::Member, "h")
        .await
        .unwrap();
    let dup = users::insert(&pool, "a@example.com", "B", Role::Member, "h")
        .await
        .unwrap_err();
    assert!(db::is_unique_violation(&dup));
    let bad_role = sqlx::query("UPDATE users SET role = 'king' WHERE id = $1")
        .bind(&u.id)
        .execute(&pool)
        .await;
    assert!(bad_role.is_err(), "role CHECK constraint");
    let t = teams::insert(&pool, "T").await.unwrap();
    assert!(teams::add_member(&pool, &t.id, &u.id).await.unwrap());
    assert!(
        !teams::add_member(&pool, &t.id, &u.id).await.unwrap(),
        "second add is a no-op"
    );
    let orphan = teams::add_member(&pool, &t.id, "no-such-user").await;
    assert!(orphan.is_err(), "foreign keys enforced");
    let t2 = teams::insert(&pool, "T2").await.unwrap();
    assert!(teams::add_member(&pool, &t2.id, &u.id).await.unwrap());
    let seen = teams::user_with_teams(&pool, &u.id).await.unwrap().unwrap();
    let mut both = vec![t.id.clone(), t2.id.clone()];
    both.sort();
    assert_eq!(seen.team_ids, both, "every team, in order");
    assert!(teams::remove_member(&pool, &t.id, &u.id).await.unwrap());
    assert!(teams::remove_member(&pool, &t2.id, &u.id).await.unwrap());
    let alone = teams::user_with_teams(&pool, &u.id).await.unwrap().unwrap();
    assert_eq!(
        (alone.email.as_str(), alone.team_ids.len()),
        ("a@example.com", 0)
    );
    assert!(
        teams::user_with_teams(&pool, "no-such-user")
            .await
            .unwrap()
            .is_none()
    );
    pool.close().await;
    drop_database(&url).await;
}

/// A row whose stored name Flare doesn't know (written by a newer version, or by hand) fails
/// the read, naming the value, instead of passing for a default: an unknown role must never
/// read as "member", nor an unknown status as anything.
#[tokio::test]
async fn an_unknown_stored_name_fails_the_read_instead_of_defaulting() {
    let url = fresh_database_url().await;
    let pool = db::connect(&url).await.unwrap();
    let u = users::insert(&pool, "a@example.com", "A", Role::Admin, "h")
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    // Step around the CHECK constraint, as a newer schema would.
    if backend_is_postgres() {
        sqlx::query("ALTER TABLE users DROP CONSTRAINT users_role_check")
            .execute(&mut *conn)
            .await
            .unwrap();
    } else {
        sqlx::query("PRAGMA ignore_check_constraints = ON")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE users SET role = 'superuser' WHERE id = $1")
        .bind(&u.id)
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let err = users::by_email(&pool, "a@example.com")
        .await
        .map(|found| found.map(|u| u.id))
        .expect_err("an unknown role is an error")
        .to_string();
    assert!(err.contains("unknown role \"superuser\""), "{err}");
    let err = teams::user_with_teams(&pool, &u.id)
        .await
        .map(|found| found.map(|u| u.id))
        .expect_err("the session's read fails too")
        .to_string();
    assert!(err.contains("unknown role \"superuser\""), "{err}");
    pool.close().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn failure_windows_lock_and_expire() {
    let url = fresh_database_url().await;
    let pool = db::connect(&url).await.unwrap();
    let t0 = 1_000_000_000;
    // Each attempt is reserved before the password is checked: the first five go through.
    for i in 0..login_failures::MAX_PER_ACCOUNT {
        assert_eq!(
            login_failures::reserve(&pool, "k", 5, t0 + i)
                .await
                .unwrap(),
            None,
            "attempt {i}"
        );
    }
    let wait = login_failures::reserve(&pool, "k", 5, t0 + 10)
        .await
        .unwrap();
    assert_eq!(wait, Some(login_failures::WINDOW_MS - 10));
    // A right password gives its reservation back.
    login_failures::release(&pool, "k").await.unwrap();
    let later = t0 + login_failures::WINDOW_MS + 1;
    // After the window, counting starts afresh.
    assert_eq!(
        login_failures::reserve(&pool, "k", 5, later).await.unwrap(),
        None
    );
    let (n,): (i64,) = sqlx::query_as("SELECT failures FROM login_failures WHERE key = 'k'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    pool.close().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn session_store_round_trips_and_expires() {
    let url = fresh_database_url().await;
    let pool = db::connect(&url).await.unwrap();
    let store = SqlSessionStore::new(pool.clone());
    let mut data = std::collections::HashMap::new();
    data.insert("user_id".to_string(), serde_json::json!("u1"));
    let live = Record {
        id: Id::default(),
        data: data.clone(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.save(&live).await.unwrap();
    let loaded = store
        .load(&live.id)
        .await
        .unwrap()
        .expect("saved session loads");
    assert_eq!(loaded.data, data);
    let stale = Record {
        id: Id::default(),
        data,
        expiry_date: time::OffsetDateTime::now_utc() - time::Duration::seconds(1),
    };
    store.save(&stale).await.unwrap();
    assert!(
        store.load(&stale.id).await.unwrap().is_none(),
        "expired never loads"
    );
    store.delete_expired().await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Creating a session with a taken id draws a new one instead of overwriting.
    let mut clash = Record {
        id: live.id,
        data: std::collections::HashMap::new(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut clash).await.unwrap();
    assert_ne!(clash.id, live.id);
    assert_eq!(store.load(&live.id).await.unwrap().unwrap().data.len(), 1);
    store.delete(&live.id).await.unwrap();
    assert!(store.load(&live.id).await.unwrap().is_none());
    pool.close().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn demo_seed_is_the_tutorial_and_runs_once() {
    let mut config = flare::server::config::Config::for_database(fresh_database_url().await);
    config.admin_email = Some(OWNER_EMAIL.into());
    config.admin_password = Some(flare::server::config::Secret::new(OWNER_PASSWORD));
    config.demo = true;
    let app = TestApp::start(config.clone()).await;
    let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM agents ORDER BY name")
        .fetch_all(&app.db)
        .await
        .unwrap();
    let names: Vec<String> = names.into_iter().map(|(n,)| n).collect();
    assert_eq!(
        names,
        [
            "Contract Reviewer Agent",
            "Customer Support Agent",
            "Sales Outreach Agent"
        ]
    );
    let (desc,): (String,) =
        sqlx::query_as("SELECT description FROM agents WHERE name = 'Customer Support Agent'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(desc.contains("Always escalate any request involving refunds, account deletions, or threats of legal action."));
    assert!(desc.contains("Treat refund requests as Critical; treat unusual phrasing as Info."));
    // The owner is in both demo teams; each demo member in one.
    let owner = app.owner().await;
    let mine = app.send(&owner, MyTeams {}).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 2);
    let sam = app
        .sign_in(
            flare::server::demo::SUPPORT_MEMBER,
            flare::server::config::DEFAULT_DEMO_PASSWORD,
        )
        .await;
    let sams = app.send(&sam, MyTeams {}).await;
    assert_eq!(sams.body[0]["name"], "Support");
    assert_eq!(sams.body.as_array().unwrap().len(), 1);
    // Starting again with the demo flag seeds nothing twice.
    let state = flare::server::prepare(config).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM agents")
        .fetch_one(&state.db)
        .await
        .unwrap();
    assert_eq!(n, 3);
    state.db.close().await;
    app.stop().await;
}
