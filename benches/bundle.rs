//! The browser bundle's size, and what a browser downloads: each file raw (no compression),
//! and as Flare serves it precompressed (Brotli, or gzip for browsers without it). The `.br`
//! and `.gz` files are the ones the release build wrote (`--precompress`); when absent, the
//! Brotli figure is computed here at quality 11 and gzip is not shown.
//!
//! Rerun: `cargo leptos build --release --precompress && cargo bench --features ssr --bench bundle`
//! (reads `target/site/pkg`, or the folder in FLARE_SITE_PKG).

use std::io::Write;

fn brotli_len(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(bytes).unwrap();
    }
    out.len()
}

fn kb(n: usize) -> String {
    format!("{:.1} KB", n as f64 / 1024.0)
}

fn main() {
    let dir = std::env::var("FLARE_SITE_PKG").unwrap_or_else(|_| "target/site/pkg".into());
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!("{dir}: {e}; build the site first (cargo leptos build --release --precompress)")
        })
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "wasm" || x == "js" || x == "css")
        })
        .collect();
    entries.sort();
    println!(
        "bundle transfer sizes ({dir}; rerun: cargo leptos build --release --precompress && cargo bench --features ssr --bench bundle)"
    );
    let (mut raw_total, mut br_total) = (0, 0);
    for path in entries {
        let raw = std::fs::read(&path).unwrap();
        let side = |ext: &str| std::fs::metadata(format!("{}.{ext}", path.display())).ok();
        let br = side("br").map_or_else(|| brotli_len(&raw), |m| m.len() as usize);
        let gz = side("gz").map(|m| kb(m.len() as usize));
        raw_total += raw.len();
        br_total += br;
        println!(
            "  {:<40} without compression {:>9}, Brotli {:>8}, gzip {:>8}",
            path.file_name().unwrap().to_string_lossy(),
            kb(raw.len()),
            kb(br),
            gz.unwrap_or_else(|| "-".into())
        );
    }
    println!(
        "  total: without compression {}, with Brotli {}",
        kb(raw_total),
        kb(br_total)
    );
}
