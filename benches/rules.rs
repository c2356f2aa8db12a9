//! Rule-compiler throughput, printed at three sizes to show it stays linear.
//! Rerun: `cargo bench --bench rules`

use flare::rules::compile;
use std::hint::black_box;
use std::time::Instant;

const TUTORIAL: &str = "Always escalate any request involving refunds, account deletions, or threats of legal action. \
Always escalate refund requests over $100. Before escalating, confirm the order details and check whether the customer has had refunds in the past 90 days. \
Escalate any contract clause that deviates from our standard terms by more than 10%. Include a one-sentence summary of the deviation. \
Escalate any customer reply that mentions a lawyer, attorney, legal action, or compliance officer. Don't draft a reply yourself — just flag it. \
Escalate any reply you'd be uncomfortable sending without a human checking it first. \
Treat refund requests as Critical; treat unusual phrasing as Info. \
Questions about shipping times are fine to answer on your own.\n";

fn description(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + TUTORIAL.len());
    while s.len() < bytes {
        s.push_str(TUTORIAL);
    }
    s
}

fn main() {
    println!("rule compiler throughput (rerun: cargo bench --bench rules)");
    println!("{:>10} {:>12} {:>12}", "size", "per compile", "MB/s");
    for kb in [10, 50, 100] {
        let text = description(kb * 1024);
        let runs = 20;
        let start = Instant::now();
        for _ in 0..runs {
            black_box(compile(black_box(&text)));
        }
        let per = start.elapsed() / runs;
        let mbps = text.len() as f64 / per.as_secs_f64() / 1e6;
        println!(
            "{:>8}KB {:>10.2}ms {:>12.1}",
            kb,
            per.as_secs_f64() * 1e3,
            mbps
        );
    }
}
