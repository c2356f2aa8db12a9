use crate::common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn healthz_reports_the_database() {
    let app = TestApp::with_owner().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    // With the database gone, the check says so instead of pretending.
    app.db.close().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    app.stop().await;
}

#[tokio::test]
async fn owner_from_environment_signs_in_and_out() {
    let app = TestApp::with_owner().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'owner'")
            .await,
        1
    );
    let c = app.owner().await;
    let me = app.send(&c, SignedInUser {}).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], OWNER_EMAIL);
    assert_eq!(me.body["role"], "owner");
    let out = app.send(&c, Logout {}).await;
    assert_eq!(out.status, StatusCode::OK);
    let me = app.send(&c, SignedInUser {}).await;
    assert_eq!(me.body, serde_json::Value::Null, "signed out after logout");
    let dir = app.send(&c, LoadDirectory {}).await;
    assert_eq!(dir.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn email_is_matched_whatever_its_case() {
    let app = TestApp::with_owner().await;
    app.sign_in(" Owner@Example.COM ", OWNER_PASSWORD).await;
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_unknown_email_and_empty_fields_are_refused_clearly() {
    let app = TestApp::with_owner().await;
    let c = client();
    let wrong = app.login_attempt(&c, OWNER_EMAIL, "nope nope").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.message(), "Wrong email or password.");
    let unknown = app
        .login_attempt(&c, "nobody@example.com", "whatever1")
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.message(),
        "Wrong email or password.",
        "same answer: no account probing"
    );
    let empty = app.login_attempt(&c, "", "").await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.message(), "Enter your email and password.");
    let long = "x".repeat(5000);
    let over = app
        .send(
            &c,
            Login {
                email: long.to_string(),
                password: long.to_string(),
                next: None,
            },
        )
        .await;
    assert_eq!(over.status, StatusCode::UNAUTHORIZED);
    let missing = app.call(&c, "login", &[("email", OWNER_EMAIL)]).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    // None of it signed anyone in.
    let me = app.send(&c, SignedInUser {}).await;
    assert_eq!(me.body, serde_json::Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_lock_the_account_with_a_clear_message() {
    let app = TestApp::with_owner().await;
    let c = client();
    for _ in 0..5 {
        let r = app.login_attempt(&c, OWNER_EMAIL, "wrong password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused while locked.
    let r = app.login_attempt(&c, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.message()
            .starts_with("Too many failed sign-in attempts. Try again in"),
        "{}",
        r.message()
    );
    app.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_lock_the_address_across_accounts() {
    let app = TestApp::with_owner().await;
    let c = client();
    for i in 0..20 {
        let email = format!("guess{i}@example.com");
        let r = app
            .send(
                &c,
                Login {
                    email: email.to_string(),
                    password: "wrong password".into(),
                    next: None,
                },
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = app.login_attempt(&c, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site() {
    let app = TestApp::with_owner().await;
    let cookie = owner_session_cookie(&app).await;
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    app.stop().await;
}

#[tokio::test]
async fn first_visit_creates_the_first_admin_once() {
    let app = TestApp::empty().await;
    let res = app
        .client
        .get(app.url("/app/escalations"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/setup");
    let page = app.client.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Create admin account"));

    let code = app
        .setup_code
        .clone()
        .expect("a setup code while no admin exists");
    let code = code.as_str();

    // Bad input first: nothing is created.
    let c = client();
    let bad = app
        .send(
            &c,
            CreateFirstAdmin {
                name: "Ada".into(),
                email: "ada".into(),
                password: "password-1".into(),
                setup_code: code.to_string(),
            },
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let short = app
        .send(
            &c,
            CreateFirstAdmin {
                name: "Ada".into(),
                email: "ada@example.com".into(),
                password: "short".into(),
                setup_code: code.to_string(),
            },
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);

    // Ten visitors race for the first account: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let c = client();
        let url = app.url("/api/create_first_admin");
        let code = code.to_string();
        tasks.push(tokio::spawn(async move {
            let email = format!("admin{i}@example.com");
            c.post(url)
                .form(&[
                    ("name", "Admin"),
                    ("email", email.as_str()),
                    ("password", "password-123"),
                    ("setup_code", code.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    let mut conflict = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => conflict += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, conflict), (1, 9));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'owner'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    // Once an account exists, /setup sends people to sign in.
    let res = client().get(app.url("/setup")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login");
    app.stop().await;
}

#[tokio::test]
async fn the_first_admin_is_signed_in_and_joins_every_team() {
    let mut config = flare::server::config::Config::for_database(fresh_database_url().await);
    config.demo = true;
    let app = TestApp::start(config).await;
    let c = client();
    let r = app
        .send(
            &c,
            CreateFirstAdmin {
                name: "Ada".into(),
                email: "ada@example.com".into(),
                password: "password-123".into(),
                setup_code: app.setup_code.clone().unwrap(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let me = app.send(&c, SignedInUser {}).await;
    assert_eq!(me.body["email"], "ada@example.com");
    let teams = app.send(&c, MyTeams {}).await;
    let names: Vec<&str> = teams
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Sales", "Support"]);
    app.stop().await;
}

/// Issue 11: anyone who reached the port could claim an empty (or demo) Flare.
#[tokio::test]
async fn the_first_admin_needs_the_setup_code_from_the_log() {
    let mut config = flare::server::config::Config::for_database(fresh_database_url().await);
    config.demo = true;
    let app = TestApp::start(config).await;
    let code = app
        .setup_code
        .clone()
        .expect("no admin: a setup code is printed");
    // Demo members exist but no admin: the setup page is offered, sign-in still works.
    let res = client().get(app.url("/")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/setup");
    let res = client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let form = |code: &str| {
        vec![
            ("name".to_string(), "Mallory".to_string()),
            ("email".to_string(), "mallory@evil.test".to_string()),
            ("password".to_string(), "12345678".to_string()),
            ("setup_code".to_string(), code.to_string()),
        ]
    };
    let c = client();
    for wrong in ["", "AAAA-BBBB-CCCC", &"X".repeat(100), "' OR 1=1 --"] {
        let r = c
            .post(app.url("/api/create_first_admin"))
            .form(&form(wrong))
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == StatusCode::FORBIDDEN || r.status() == StatusCode::BAD_REQUEST,
            "{wrong:?}: {}",
            r.status()
        );
        assert!(
            !r.headers()
                .get_all("set-cookie")
                .iter()
                .any(|v| v.to_str().unwrap().starts_with("flare_session=")),
            "no session for a refused setup"
        );
    }
    let missing = c
        .post(app.url("/api/create_first_admin"))
        .form(&form("")[..3])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role <> 'member'")
            .await,
        0
    );
    // The code as a person types it: lower case, spaces instead of dashes.
    let typed = code.to_lowercase().replace('-', " ");
    let r = app
        .send(
            &c,
            CreateFirstAdmin {
                name: "Ada".into(),
                email: "ada@example.com".into(),
                password: "password-123".into(),
                setup_code: typed.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Spent: the same code again is refused, and the setup page is gone.
    let again = app
        .send(
            &client(),
            CreateFirstAdmin {
                name: "Eve".into(),
                email: "eve@example.com".into(),
                password: "password-123".into(),
                setup_code: code.to_string(),
            },
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM setup_codes").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'owner'")
            .await,
        1
    );
    let res = client().get(app.url("/setup")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login");
    app.stop().await;
}

/// With FLARE_ADMIN_* set, the owner exists from the start and no code is printed.
#[tokio::test]
async fn no_setup_code_once_an_admin_exists() {
    let app = TestApp::with_owner().await;
    assert!(app.setup_code.is_none());
    assert_eq!(app.count("SELECT COUNT(*) FROM setup_codes").await, 0);
    let r = app
        .send(
            &client(),
            CreateFirstAdmin {
                name: "Eve".into(),
                email: "eve@example.com".into(),
                password: "password-123".into(),
                setup_code: "AAAA-BBBB-CCCC".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    app.stop().await;
}

/// Issue 11: concurrent wrong passwords get no more checks than the limit (each attempt is
/// reserved before the password is verified).
#[tokio::test]
async fn concurrent_guesses_get_no_more_tries_than_the_limit() {
    let app = TestApp::with_owner().await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let c = client();
        let url = app.url("/api/login");
        tasks.push(tokio::spawn(async move {
            let guess = format!("wrong guess {i}");
            c.post(url)
                .form(&[("email", OWNER_EMAIL), ("password", guess.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut checked = 0;
    let mut locked = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => locked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(checked, 5, "exactly the limit of guesses were checked");
    assert_eq!(locked, 25);
    app.stop().await;
}

/// Behind a trusted proxy the address is the right-most X-Forwarded-For entry (the one the
/// proxy added): a client cannot dodge the per-address limit by sending its own entries.
#[tokio::test]
async fn the_proxy_added_address_is_the_one_limited() {
    let mut config = TestApp::owner_config().await;
    config.trust_proxy = true;
    let app = TestApp::start(config).await;
    for i in 0..20 {
        let spoof = format!("10.9.{i}.1, 203.0.113.7");
        let email = format!("guess{i}@example.com");
        let r = client()
            .post(app.url("/api/login"))
            .header("x-forwarded-for", spoof)
            .form(&[("email", email.as_str()), ("password", "wrong password")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = client()
        .post(app.url("/api/login"))
        .header("x-forwarded-for", "198.51.100.1, 203.0.113.7")
        .form(&[("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not locked out.
    app.sign_in_from("198.51.100.2").await;
    app.stop().await;
}

#[test]
fn forwarded_for_is_read_from_the_right_and_parsed() {
    use flare::server::auth::forwarded_client;
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("x-forwarded-for", "1.1.1.1, 2.2.2.2".parse().unwrap());
    assert_eq!(forwarded_client(&h), Some("2.2.2.2".parse().unwrap()));
    h.insert("x-forwarded-for", "1.1.1.1, not-an-ip".parse().unwrap());
    assert_eq!(forwarded_client(&h), None);
    h.insert("x-forwarded-for", " 2001:db8::1 ".parse().unwrap());
    assert_eq!(forwarded_client(&h), Some("2001:db8::1".parse().unwrap()));
}

/// Old failure counts are swept; fresh ones stay. (On a database of its own: a server's
/// sweeper would race this test's.)
#[tokio::test]
async fn old_failure_counts_are_swept() {
    use flare::server::db::{self, login_failures};
    let url = fresh_database_url().await;
    let pool = db::connect(&url).await.unwrap();
    let now = db::now_ms();
    login_failures::reserve(&pool, "addr:old", 20, now - login_failures::WINDOW_MS - 1)
        .await
        .unwrap();
    login_failures::reserve(&pool, "addr:new", 20, now)
        .await
        .unwrap();
    assert_eq!(login_failures::sweep(&pool, now).await.unwrap(), 1);
    let (left,): (String,) = sqlx::query_as("SELECT key FROM login_failures")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, "addr:new");
    pool.close().await;
    drop_database(&url).await;
}

/// A flood of sign-ins queues for password hashing (Argon2 takes ~19 MB each) instead of
/// running them all at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_hashes_a_few_at_a_time() {
    let app = TestApp::with_owner().await;
    let calls = (0..60).map(|i| {
        let url = app.url("/api/login");
        async move {
            let email = format!("flood{i}@example.com");
            client()
                .post(url)
                .form(&[("email", email.as_str()), ("password", "wrong password")])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(calls).await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let (peak, limit) = flare::server::auth::hashing_peak();
    assert!(peak >= 1 && peak <= limit, "peak {peak}, limit {limit}");
    app.stop().await;
}
