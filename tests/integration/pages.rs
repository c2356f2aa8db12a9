use crate::common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn signed_out_app_pages_redirect_to_login_and_back() {
    let app = TestApp::with_owner().await;
    let res = client()
        .get(app.url("/app/settings/members?x=1"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(
        res.headers()["location"],
        "/login?next=/app/settings/members%3Fx%3D1"
    );

    let login = client()
        .get(app.url("/login?next=/app/settings/members"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.unwrap();
    assert!(
        html.contains(r#"<label for="email">Email</label>"#),
        "{html}"
    );
    assert!(html.contains(r#"<label for="password">Password</label>"#));
    assert!(html.contains("Sign in</button>"));
    assert!(
        html.contains(r#"value="/app/settings/members""#),
        "next kept in the form"
    );
    app.stop().await;
}

/// Without JavaScript the sign-in form is a plain POST: success redirects to `next`.
#[tokio::test]
async fn sign_in_form_works_without_javascript() {
    let app = TestApp::with_owner().await;
    let c = client();
    let res = c
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .header("referer", app.url("/login?next=/app/chat"))
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", OWNER_PASSWORD),
            ("next", "/app/chat"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/app/chat");
    let page = c.get(app.url("/app/chat")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign out"));

    // A failed plain POST goes back to the form, carrying the error for it to show.
    let res = client()
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .header("referer", app.url("/login"))
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", "wrong password"),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        back.contains("/login?") && back.contains("__err="),
        "{back}"
    );
    let html = client()
        .get(&back)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Wrong email or password."),
        "error shown after redirect"
    );
    app.stop().await;
}

#[tokio::test]
async fn next_never_leaves_the_site() {
    let app = TestApp::with_owner().await;
    let res = client()
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", OWNER_PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/app/escalations");
    app.stop().await;
}

#[tokio::test]
async fn members_page_renders_for_admins_and_refuses_members() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    app.create_user(&owner, "mem@example.com", "member").await;
    let html = app.page(&owner, "/app/settings/members").await;
    assert!(html.contains("Members &amp; Teams") || html.contains("Members & Teams"));
    assert!(
        html.contains("mem@example.com"),
        "server-rendered with data"
    );
    let member = app.sign_in("mem@example.com", "password-123").await;
    let html = app.page(&member, "/app/settings/members").await;
    assert!(html.contains("Only owners and admins can manage members and teams."));
    assert!(
        !html.contains("owner@example.com"),
        "no directory data for members"
    );
    app.stop().await;
}

#[tokio::test]
async fn placeholder_pages_and_not_found() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    for (path, text) in [
        (
            "/app/escalations",
            "When an agent asks for a person, open items show here.",
        ),
        ("/app/chat", "Start a chat"),
        (
            "/app/settings/agents",
            "Each agent's Description is its job description",
        ),
    ] {
        let res = owner.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(res.text().await.unwrap().contains(text), "{path}");
    }
    let res = owner.get(app.url("/app/nowhere")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn oversized_requests_are_refused_before_they_are_read_whole() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let body = format!("name={}", "x".repeat(3 * 1024 * 1024));
    let res = owner
        .post(app.url("/api/create_team"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count("SELECT COUNT(*) FROM teams").await, 0);
    app.stop().await;
}

/// leptos-rs/leptos#4773: listing the app's routes sets a process-wide flag that keeps
/// resources from loading, so a page rendered meanwhile never finished. The in-process tests
/// build one router per test, in parallel: this builds routers without pause while pages are
/// asked for, and every page must still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_other_routers_are_built() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    let app = TestApp::with_owner().await;
    let c = app.owner().await;
    let state = app.state.clone().expect("in-process server");
    let stop = Arc::new(AtomicBool::new(false));
    let builder = tokio::task::spawn_blocking({
        let stop = stop.clone();
        move || {
            let mut built = 0;
            while !stop.load(Ordering::Relaxed) && built < 5_000 {
                drop(flare::server::http::router(state.clone()));
                built += 1;
            }
            built
        }
    });
    for i in 0..60 {
        let page = tokio::time::timeout(Duration::from_secs(10), async {
            let res = c.get(app.url("/app/escalations")).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.text().await.unwrap()
        })
        .await
        .unwrap_or_else(|_| panic!("page {i} hung while routers were being built"));
        assert!(page.contains("Open escalations") || page.contains("No escalations yet"));
    }
    stop.store(true, Ordering::Relaxed);
    let built = builder.await.unwrap();
    assert!(built > 0, "no router was built meanwhile");
    app.stop().await;
}

/// The watchdog itself (run by `a_stuck_test_fails_with_its_name`, never on its own).
#[tokio::test]
#[ignore = "hangs on purpose; run by a_stuck_test_fails_with_its_name"]
async fn hangs_on_purpose() {
    watch_this_test();
    std::future::pending::<()>().await;
}

/// A stuck test fails the run with its name instead of hanging it.
#[tokio::test]
async fn a_stuck_test_fails_with_its_name() {
    watch_this_test();
    let exe = std::env::current_exe().unwrap();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new(exe)
            .args(["--ignored", "--exact", "pages::hangs_on_purpose"])
            .env("FLARE_TEST_TIMEOUT_SECS", "2")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the watchdog did not end the stuck test")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("test pages::hangs_on_purpose ... TIMED OUT"),
        "{stderr}"
    );
}

/// A test that panics still drops its database (PostgreSQL) or file (SQLite).
#[test]
fn a_panicking_test_leaves_no_database_behind() {
    let url = std::thread::Builder::new()
        .name("a test that panics".into())
        .spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let url = rt.block_on(fresh_database_url());
            rt.block_on(async {
                flare::server::db::connect(&url)
                    .await
                    .unwrap()
                    .close()
                    .await
            });
            std::panic::panic_any(url);
        })
        .unwrap()
        .join()
        .expect_err("the thread panicked")
        .downcast::<String>()
        .map(|u| *u)
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(path) = url.strip_prefix("sqlite://") {
        assert!(!std::path::Path::new(path).exists(), "{path} left behind");
    } else {
        let name = url.rsplit('/').next().unwrap().to_string();
        let left: i64 = rt.block_on(async {
            use sqlx::Connection;
            let admin = std::env::var("FLARE_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                    .bind(&name)
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
            n
        });
        assert_eq!(left, 0, "{name} left behind");
    }
}
