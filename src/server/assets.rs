//! The browser bundle's file names. With cargo-leptos' `hash-files`, the JS, wasm and CSS are
//! named after their content (`flare.<hash>.wasm`) and the hashes are written to `hash.txt`
//! beside the server binary, where Leptos' hydration scripts read them too.

use std::sync::LazyLock;

/// The hash file's name (cargo-leptos sets LEPTOS_HASH_FILE_NAME; `hash.txt` by default).
pub fn hash_file_name() -> String {
    std::env::var("LEPTOS_HASH_FILE_NAME").unwrap_or_else(|_| "hash.txt".into())
}

/// The hash file's content, when this binary was built with hashed names.
pub fn hash_file() -> Option<&'static str> {
    static CONTENT: LazyLock<Option<String>> = LazyLock::new(|| {
        let exe = std::env::current_exe().ok()?;
        std::fs::read_to_string(exe.parent()?.join(hash_file_name())).ok()
    });
    CONTENT.as_deref()
}

/// The hash of one kind of file (`css`, `js`, `wasm`) in a hash file.
pub fn hash_of<'a>(hash_file: &'a str, kind: &str) -> Option<&'a str> {
    hash_file.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == kind).then(|| v.trim())
    })
}

/// The stylesheet's URL: hashed when the build hashed it.
pub fn stylesheet_href() -> String {
    match hash_file().and_then(|f| hash_of(f, "css")) {
        Some(h) => format!("/pkg/flare.{h}.css"),
        None => "/pkg/flare.css".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_each_kind_of_hash() {
        let f = "js: AbC\nwasm: dEf-_\ncss: xyz\n";
        assert_eq!(super::hash_of(f, "wasm"), Some("dEf-_"));
        assert_eq!(super::hash_of(f, "css"), Some("xyz"));
        assert_eq!(super::hash_of(f, "manifest"), None);
    }
}
