//! Issue 11, the front door: headers on every response, cross-site writes refused, redirects
//! only to this site, and no input that panics a request.

use crate::common::*;
use reqwest::StatusCode;

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn pages_send_a_strict_policy_whose_nonce_their_scripts_carry() {
    let app = TestApp::with_owner().await;
    let c = app.owner().await;
    let signed_out = client();
    for path in [
        "/login",
        "/app/escalations",
        "/app/settings/agents",
        "/app/nope",
    ] {
        let who = if path == "/login" { &signed_out } else { &c };
        let res = who.get(app.url(path)).send().await.unwrap();
        let expected = if path == "/app/nope" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        assert_eq!(res.status(), expected, "{path}");
        let csp = header(&res, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff");
        assert_eq!(header(&res, "referrer-policy"), "same-origin");
        assert_eq!(header(&res, "x-frame-options"), "DENY");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {csp}"))
            .to_string();
        let html = res.text().await.unwrap();
        // Every inline script carries this response's nonce, or the browser would block it.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path}");
        for tag in html.split("<script").skip(1) {
            let tag = tag.split('>').next().unwrap_or_default();
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: a script without this response's nonce: <script{tag}>"
            );
        }
    }
    // A new nonce for every response.
    let a = header(
        &c.get(app.url("/app/chat")).send().await.unwrap(),
        "content-security-policy",
    );
    let b = header(
        &c.get(app.url("/app/chat")).send().await.unwrap(),
        "content-security-policy",
    );
    assert_ne!(a, b);
    app.stop().await;
}

#[tokio::test]
async fn only_the_embed_page_may_be_framed_and_every_response_is_hardened() {
    let app = TestApp::with_owner().await;
    let res = client()
        .get(app.url("/embed/widget?token=flr_embed_x"))
        .send()
        .await
        .unwrap();
    let csp = header(&res, "content-security-policy");
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    assert!(header(&res, "x-frame-options").is_empty());
    for path in [
        "/healthz",
        "/api/v1/escalations",
        "/favicon.svg",
        "/api/live",
    ] {
        let res = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&res, "referrer-policy"), "same-origin", "{path}");
        assert!(
            header(&res, "content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn writes_from_another_site_are_refused_and_change_nothing() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let form = [("name", "Cross-site team")];
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let res = owner
            .post(app.url("/api/create_team"))
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        // A cross-site sign-in (login CSRF) sets no session either.
        let res = client()
            .post(app.url("/api/login"))
            .header(name, value)
            .form(&[("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(res.headers().get("set-cookie").is_none());
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM teams WHERE name = 'Cross-site team'")
            .await,
        0
    );
    // The same request from Flare's own pages, and from a script with no browser headers.
    let own = app.base.clone();
    let res = owner
        .post(app.url("/api/create_team"))
        .header("origin", own)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = owner
        .post(app.url("/api/create_team"))
        .form(&[("name", "Scripted team")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await;
}

/// `next` after sign-in: only a path on this site; anything else goes to the default page.
#[tokio::test]
async fn sign_in_redirects_only_to_this_site() {
    let app = TestApp::with_owner().await;
    let cases: Vec<(&str, &str)> = vec![
        ("/app/chat", "/app/chat"),
        (
            "/app/escalations?view=answered&sort=oldest",
            "/app/escalations?view=answered&sort=oldest",
        ),
        ("//evil.example", "/app/escalations"),
        ("/\\evil.example", "/app/escalations"),
        ("/\t/evil.example", "/app/escalations"),
        ("/\r\nX: 1", "/app/escalations"),
        ("/\n/evil.example", "/app/escalations"),
        ("https://evil.example/", "/app/escalations"),
        ("evil.example", "/app/escalations"),
        ("/ spaced", "/app/escalations"),
        ("/caf\u{e9}", "/app/escalations"),
        ("", "/app/escalations"),
    ];
    let overlong = format!("/{}", "a".repeat(5000));
    let mut cases = cases;
    cases.push((overlong.as_str(), "/app/escalations"));
    for (next, expected) in cases {
        let res = client()
            .post(app.url("/api/login"))
            .header("accept", "text/html")
            .form(&[
                ("email", OWNER_EMAIL),
                ("password", OWNER_PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FOUND, "{next:?}");
        assert_eq!(header(&res, "location"), expected, "{next:?}");
    }
    app.stop().await;
}

/// Control characters, overlong and non-UTF-8 values in every field of sign-in and setup:
/// a clear 4xx, no session, nothing stored, and the server still answers.
#[tokio::test]
async fn hostile_values_in_sign_in_and_setup_never_panic() {
    let app = TestApp::empty().await;
    let code = app.setup_code.clone().unwrap();
    let overlong = "x".repeat(100_000);
    let values: Vec<&[u8]> = vec![
        b"a\rb",
        b"a\nb",
        b"a\tb",
        b"a\0b",
        b"x\r\nSet-Cookie: x=1",
        overlong.as_bytes(),
        b"\xff\xfe",
        b"caf\xc3",
    ];
    let login_fields = ["email", "password", "next"];
    let setup_fields = ["name", "email", "password", "setup_code"];
    for (endpoint, fields) in [
        ("login", &login_fields[..]),
        ("create_first_admin", &setup_fields[..]),
    ] {
        for field in fields {
            for value in &values {
                let mut body = String::new();
                for f in fields.iter() {
                    let v: Vec<u8> = if f == field {
                        value.to_vec()
                    } else {
                        match *f {
                            "email" => b"someone@example.com".to_vec(),
                            "setup_code" => code.as_bytes().to_vec(),
                            "next" => b"/app/chat".to_vec(),
                            _ => b"password-123".to_vec(),
                        }
                    };
                    if !body.is_empty() {
                        body.push('&');
                    }
                    body.push_str(f);
                    body.push('=');
                    body.push_str(&percent_encode(&v));
                }
                let res = client()
                    .post(app.url(&format!("/api/{endpoint}")))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{endpoint}.{field}={value:?}: {e}"));
                let status = res.status();
                assert!(
                    status.is_client_error(),
                    "{endpoint}.{field}={:?}: {status}",
                    String::from_utf8_lossy(&value[..value.len().min(20)])
                );
                assert!(res.headers().get("set-cookie").is_none());
            }
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    let ok = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    app.stop().await;
}

fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                (*b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The bundle is served precompressed as the browser accepts, and cached for good only under a
/// content-hashed name; pages are never stored.
#[tokio::test]
async fn the_bundle_is_served_compressed_and_cached_by_content() {
    let site = std::env::temp_dir().join(format!("flare-site-{}", uuid::Uuid::new_v4()));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let hashed = "flare.Ab3dEf6hIj9kLm2nOp5qRs.wasm";
    std::fs::write(pkg.join(hashed), b"raw wasm bytes").unwrap();
    std::fs::write(pkg.join(format!("{hashed}.br")), b"brotli bytes").unwrap();
    std::fs::write(pkg.join(format!("{hashed}.gz")), b"gzip bytes").unwrap();
    std::fs::write(pkg.join("flare.css"), b"body{}").unwrap();
    let mut config = TestApp::owner_config().await;
    config.site_root = site.display().to_string();
    let app = TestApp::start(config).await;
    let plain = reqwest::Client::builder().build().unwrap();
    for (accept, body, encoding) in [
        ("br, gzip", "brotli bytes", "br"),
        ("gzip", "gzip bytes", "gzip"),
        ("identity", "raw wasm bytes", ""),
    ] {
        let res = plain
            .get(app.url(&format!("/pkg/{hashed}")))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{accept}");
        assert_eq!(header(&res, "content-encoding"), encoding, "{accept}");
        assert_eq!(header(&res, "content-type"), "application/wasm", "{accept}");
        assert_eq!(
            header(&res, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert!(
            header(&res, "vary")
                .to_lowercase()
                .contains("accept-encoding")
        );
        assert_eq!(res.text().await.unwrap(), body, "{accept}");
    }
    // A name reused across builds is checked again each time.
    let res = plain.get(app.url("/pkg/flare.css")).send().await.unwrap();
    assert_eq!(header(&res, "cache-control"), "no-cache");
    // Pages: never stored, by the browser or anything in between.
    let res = plain.get(app.url("/login")).send().await.unwrap();
    assert_eq!(header(&res, "cache-control"), "private, no-store");
    let missing = plain.get(app.url("/pkg/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.stop().await;
    let _ = std::fs::remove_dir_all(site);
}

#[test]
fn content_hashed_names_are_recognised() {
    use flare::server::http::is_content_hashed;
    assert!(is_content_hashed("flare.Ab3dEf6hIj9kLm2nOp5qRs.wasm"));
    assert!(is_content_hashed("flare.Ab3dEf6h-j9kLm2n_p5qRs.js"));
    assert!(!is_content_hashed("flare.wasm"));
    assert!(!is_content_hashed("flare_bg.wasm"));
    assert!(!is_content_hashed("flare.css"));
}

/// A secret key that cannot seal anything stops the start, saying how to make a good one;
/// a good one starts.
#[tokio::test]
async fn a_bad_secret_key_stops_the_start_with_how_to_make_one() {
    let bin = env!("CARGO_BIN_EXE_flare");
    let said = Process::refused_start(
        bin,
        &[
            ("FLARE_SECRET_KEY", "not-a-key"),
            ("DATABASE_URL", "sqlite::memory:"),
        ],
    )
    .await;
    assert!(said.contains("openssl rand -hex 32"), "{said}");
    assert!(
        !said.contains("not-a-key"),
        "the bad key is not echoed: {said}"
    );

    let url = fresh_database_url().await;
    let good = "0f".repeat(32);
    let p = Process::launch(bin, &url, &[("FLARE_SECRET_KEY", &good)]).await;
    p.kill().await;
    drop_database(&url).await;
}
