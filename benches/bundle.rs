//! The browser bundle's size: the wasm (and its JS glue) raw and Brotli-compressed (quality 11,
//! as a server or CDN would precompress it). Target: under 200 KB Brotli for the whole app.
//!
//! Rerun: `cargo leptos build --release && cargo bench --bench bundle`
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

fn main() {
    let dir = std::env::var("FLARE_SITE_PKG").unwrap_or_else(|_| "target/site/pkg".into());
    let mut total = (0usize, 0usize);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!("{dir}: {e}; build the site first (cargo leptos build --release)")
        })
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.ends_with(".wasm") || n.ends_with(".js") || n.ends_with(".css")
        })
        .collect();
    entries.sort_by_key(|e| e.file_name());
    println!(
        "bundle size ({dir}; rerun: cargo leptos build --release && cargo bench --bench bundle)"
    );
    for e in entries {
        let bytes = std::fs::read(e.path()).unwrap();
        let b = brotli_len(&bytes);
        total.0 += bytes.len();
        total.1 += b;
        println!(
            "  {:<24} {:>8.1} KB raw, {:>7.1} KB Brotli",
            e.file_name().to_string_lossy(),
            bytes.len() as f64 / 1024.0,
            b as f64 / 1024.0
        );
    }
    println!(
        "  total {:>8.1} KB raw, {:>7.1} KB Brotli (target < 200 KB)",
        total.0 as f64 / 1024.0,
        total.1 as f64 / 1024.0
    );
}
