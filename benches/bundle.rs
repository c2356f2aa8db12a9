//! The browser bundle's size, and what a browser downloads: each file raw (no compression),
//! and as Flare serves it precompressed (Brotli, or gzip for browsers without it). The `.br`
//! and `.gz` files are the ones the release build wrote (`--precompress`); when absent, the
//! Brotli figure is computed here at quality 11 and gzip is not shown.
//!
//! With the bundle split by page (`--split`), it also prints what each page loads before it
//! is live: the main module and the page's own pieces, as listed in the split manifest, which
//! a full load fetches as one pack (`scripts/lib/pack-split.mjs`; the packs repeat the pieces,
//! so they are left out of the totals).
//! Targets: the embed widget page at most 150 KB of Brotli wasm, any `/app` page at most 300 KB.
//!
//! Rerun: `bash -c 'source scripts/lib/tools.sh && build_release' && cargo bench --features ssr --bench bundle`
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
        "bundle transfer sizes ({dir}; rerun: bash -c 'source scripts/lib/tools.sh && build_release' && cargo bench --features ssr --bench bundle)"
    );
    let (mut raw_total, mut br_total, mut pieces) = (0, 0, 0);
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy();
        let (raw, br) = sizes(path.parent().unwrap(), &name);
        let gz = std::fs::metadata(format!("{}.gz", path.display()))
            .ok()
            .map(|m| kb(m.len() as usize));
        raw_total += raw;
        br_total += br;
        if name.starts_with("chunk_") || name.starts_with("split___") {
            // The pieces of a split build: counted in the totals, shown per page below.
            pieces += 1;
            continue;
        }
        println!(
            "  {:<40} without compression {:>9}, Brotli {:>8}, gzip {:>8}",
            name,
            kb(raw),
            kb(br),
            gz.unwrap_or_else(|| "-".into())
        );
    }
    println!(
        "  total ({pieces} split pieces included): without compression {}, with Brotli {}",
        kb(raw_total),
        kb(br_total)
    );
    per_page(std::path::Path::new(&dir));
}

/// (raw, Brotli) bytes of one file in the folder: the precompressed `.br` when there is one.
fn sizes(dir: &std::path::Path, name: &str) -> (usize, usize) {
    let path = dir.join(name);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let br = std::fs::metadata(format!("{}.br", path.display()))
        .map_or_else(|_| brotli_len(&raw), |m| m.len() as usize);
    (raw.len(), br)
}

/// What each page downloads before it is live: the main module, the split loader, and the
/// page's pieces from the split manifest (`__<page>_view_<hash>` → its pieces).
fn per_page(dir: &std::path::Path) {
    let files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    // Kept beside the served folder by scripts/lib/fix-split-manifest.mjs.
    let Ok(text) = std::fs::read_to_string(dir.join("../split-manifest.json")) else {
        println!("  (not a split build: every page loads the whole bundle)");
        return;
    };
    let manifest: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&text).expect("the split manifest");
    let named = |prefix: &str, ext: &str| {
        files
            .iter()
            .find(|f| f.starts_with(prefix) && f.ends_with(ext) && !f.contains("split"))
            .cloned()
            .unwrap_or_else(|| panic!("no {prefix}*{ext} in {}", dir.display()))
    };
    let main_wasm = sizes(dir, &named("flare", ".wasm"));
    let main_js = sizes(dir, &named("flare", ".js"));
    let loader = files
        .iter()
        .find(|f| f.starts_with("__wasm_split") && f.ends_with(".js"))
        .map_or((0, 0), |f| sizes(dir, f));
    println!(
        "  per page, before it is live (main wasm {} raw / {} Brotli; JS {} Brotli with the split loader):",
        kb(main_wasm.0),
        kb(main_wasm.1),
        kb(main_js.1 + loader.1)
    );
    // Written by scripts/lib/pack-split.mjs: the one file a page's pieces come in on a full load.
    let packs: std::collections::BTreeMap<String, String> =
        std::fs::read_to_string(dir.join("../split-packs.json"))
            .map(|t| serde_json::from_str(&t).expect("the split packs"))
            .unwrap_or_default();
    let mut rows: Vec<(String, usize, usize, usize, usize)> = manifest
        .iter()
        .filter_map(|(key, chunks)| {
            let page = key.strip_prefix("__")?.rsplit_once("_view_")?.0.to_string();
            let raw: usize = chunks
                .iter()
                .map(|c| sizes(dir, &format!("{c}.wasm")).0)
                .sum();
            let apart: usize = chunks
                .iter()
                .map(|c| sizes(dir, &format!("{c}.wasm")).1)
                .sum();
            // As served: the pack on a full load; without one, each piece on its own.
            let served = packs.get(key).map_or(apart, |pack| sizes(dir, pack).1);
            Some((
                page,
                main_wasm.0 + raw,
                main_wasm.1 + served,
                chunks.len(),
                apart.saturating_sub(served),
            ))
        })
        .collect();
    rows.sort_by_key(|r| r.2);
    // The embed widget page is not hydrated: server-rendered HTML that a few lines of JS keep
    // live (the browser test widget.spec.ts checks it requests no wasm). Should it become a
    // split page again, its row below counts its wasm against the 150 KB target instead.
    if !rows.iter().any(|r| r.0 == "embed_widget") {
        let widget_js = include_str!("../src/server/http/embed-widget.js").as_bytes();
        let br = brotli_len(widget_js);
        println!(
            "    {:<14} wasm 0 KB (not hydrated; /embed-widget.js {} raw, {} Brotli) (target 150 KB: {})",
            "embed_widget",
            kb(widget_js.len()),
            kb(br),
            if br <= 150 * 1024 { "met" } else { "NOT met" }
        );
    }
    for (page, raw, br, pieces, split_cost) in rows {
        let target = if page == "embed_widget" { 150 } else { 300 };
        println!(
            "    {page:<14} wasm {:>9} raw, {:>8} Brotli (target {target} KB: {}); {pieces} pieces in one pack, {} less than one by one",
            kb(raw),
            kb(br),
            if br <= target * 1024 {
                "met"
            } else {
                "NOT met"
            },
            kb(split_cost)
        );
    }
}
