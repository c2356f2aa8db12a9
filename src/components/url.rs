//! URL pieces built by pages (on the server and in the browser alike).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters: safe as one query value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, keeping `/`: a path as a query value (`/login?next=/app/chat%3Fx%3D1`).
const PATH_IN_QUERY: &AsciiSet = &COMPONENT.remove(b'/');

/// Percent-encodes `s` for use as one query value: only unreserved characters stay as they are.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// Percent-encodes a path for use as a query value, keeping its slashes readable.
pub fn encode_path_in_query(s: &str) -> String {
    utf8_percent_encode(s, PATH_IN_QUERY).to_string()
}

/// Where this Flare is reached from, for snippets shown right after an action (the value only
/// exists in the browser; the server renders nothing that depends on it).
pub fn page_origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        leptos::prelude::window()
            .location()
            .origin()
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_all_but_unreserved_characters() {
        assert_eq!(
            super::encode_component("a b&c=d/é~"),
            "a%20b%26c%3Dd%2F%C3%A9~"
        );
        assert_eq!(
            super::encode_path_in_query("/app/x?y=1 2"),
            "/app/x%3Fy%3D1%202"
        );
    }
}
