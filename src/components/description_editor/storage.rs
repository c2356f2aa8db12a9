//! A copy of unsaved text in localStorage, so a closed tab or a failed save loses nothing.
//! Signing out forgets every copy.

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

#[cfg(feature = "hydrate")]
fn key(agent_id: &str) -> String {
    format!("flare.description.{agent_id}")
}

pub fn store(agent_id: &str, base: i64, text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(s) = storage() {
        let _ = s.set_item(&key(agent_id), &format!("{base}\n{text}"));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (agent_id, base, text);
}

pub fn clear(agent_id: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(s) = storage() {
        let _ = s.remove_item(&key(agent_id));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = agent_id;
}

/// Forgets every unsaved copy in this browser (signing out: the next person at this
/// browser must not find them).
pub fn clear_all() {
    #[cfg(feature = "hydrate")]
    if let Some(s) = storage() {
        let keys: Vec<String> = (0..s.length().unwrap_or(0))
            .filter_map(|i| s.key(i).ok().flatten())
            .filter(|k| k.starts_with("flare.description."))
            .collect();
        for k in keys {
            let _ = s.remove_item(&k);
        }
    }
}

/// The unsaved copy: the revision it was typed on, and the text.
#[cfg(feature = "hydrate")]
pub fn load(agent_id: &str) -> Option<(i64, String)> {
    let raw = storage()?.get_item(&key(agent_id)).ok()??;
    let (base, text) = raw.split_once('\n')?;
    Some((base.parse().ok()?, text.to_string()))
}
