//! Keystroke to durably saved: the editor waits DEBOUNCE_MS after the last keystroke, then the
//! save round trip commits the revision (SQLite WAL or PostgreSQL) before answering. This
//! measures that round trip over real HTTP for 200 successive edits and prints p50/p99, plus
//! the total with the debounce.
//! Rerun: `cargo bench --features ssr --bench autosave`
//! (set FLARE_BENCH_DATABASE_URL=postgres://... to measure on PostgreSQL; it must be empty).

use flare::components::description_editor::DEBOUNCE_MS;
use flare::server::config::{Config, Secret};
use std::time::{Duration, Instant};

const EDITS: usize = 200;

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("flare-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = std::env::var("FLARE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.display()));
    let mut config = Config::for_database(&url);
    config.admin_email = Some("bench@example.com".into());
    config.admin_password = Some(Secret::new("bench-password-1"));
    let state = flare::server::prepare(config).await.expect("prepare");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(flare::server::serve(
        state,
        listener,
        std::future::pending(),
    ));

    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let call = |name: &str, form: Vec<(&str, String)>| {
        c.post(format!("{base}/api/{name}")).form(&form).send()
    };
    call(
        "login",
        vec![
            ("email", "bench@example.com".into()),
            ("password", "bench-password-1".into()),
        ],
    )
    .await
    .unwrap();
    let team: serde_json::Value = call("create_team", vec![("name", "Bench".into())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let team_id = team["id"].as_str().unwrap().to_string();
    let me: serde_json::Value = call("signed_in_user", vec![])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    call(
        "add_member",
        vec![
            ("team_id", team_id.clone()),
            ("user_id", me["id"].as_str().unwrap().into()),
        ],
    )
    .await
    .unwrap();
    let agent: serde_json::Value = call(
        "create_agent",
        vec![("name", "Bench Agent".into()), ("team_id", team_id)],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let agent_id = agent["id"].as_str().unwrap().to_string();

    let mut text = String::from("Always escalate any request involving refunds. ");
    let mut times = Vec::with_capacity(EDITS);
    for i in 0..EDITS {
        text.push_str(&format!("Escalate refund requests over ${i}. "));
        let start = Instant::now();
        let res: serde_json::Value = call(
            "save_description",
            vec![
                ("agent_id", agent_id.clone()),
                ("base_revision", (i + 1).to_string()),
                ("description", text.clone()),
            ],
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        times.push(start.elapsed());
        assert_eq!(res["outcome"], "Saved", "edit {i}: {res}");
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).min(times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "autosave over {EDITS} edits on {} (rerun: cargo bench --features ssr --bench autosave)",
        if url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "  save round trip (durable when answered): p50 {:.2} ms, p99 {:.2} ms",
        ms(pct(0.50)),
        ms(pct(0.99))
    );
    println!(
        "  keystroke to durably saved (+{DEBOUNCE_MS} ms debounce): p50 {:.0} ms, p99 {:.0} ms",
        DEBOUNCE_MS as f64 + ms(pct(0.50)),
        DEBOUNCE_MS as f64 + ms(pct(0.99))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
