//! Secrets Flare must store to use later (a model connection's API key, a channel's bot
//! token) are sealed before they reach the database: XChaCha20-Poly1305 under the deployment's
//! secret key (`FLARE_SECRET_KEY`), with a fresh random nonce each time. Each sealed value is
//! bound to where it belongs (its `context`, e.g. "model-connection:<id>"), so a value copied
//! into another row does not open there. The key never leaves the server; what the browser sees
//! of a secret is its [`hint`].

use super::config::Secret;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::OsRng;

/// The format's version, first in every sealed value (a later key or cipher gets `v2:`).
const VERSION: &str = "v1:";
const NONCE_LEN: usize = 24;

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SealError {
    #[error("the stored secret is not in a format Flare reads")]
    Format,
    #[error(
        "the stored secret cannot be opened: it was sealed under another FLARE_SECRET_KEY, or changed"
    )]
    Opening,
}

/// The deployment's secret key, ready to seal and open.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// From `FLARE_SECRET_KEY`'s value: 64 hexadecimal digits (32 random bytes, e.g. from
    /// `openssl rand -hex 32`).
    pub fn from_hex(key: &Secret) -> Result<Self, String> {
        let hex = key.expose().trim();
        let bytes = decode_hex(hex)
            .filter(|b| b.len() == 32)
            .ok_or("FLARE_SECRET_KEY must be 64 hexadecimal digits (run: openssl rand -hex 32)")?;
        Ok(Self {
            cipher: XChaCha20Poly1305::new_from_slice(&bytes).map_err(|e| e.to_string())?,
        })
    }

    /// Seals `secret` for the place `context` names.
    pub fn seal(&self, secret: &Secret, context: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            // Only fails for messages of gigabytes.
            .expect("sealing a secret");
        let mut out = String::with_capacity(VERSION.len() + 2 * (NONCE_LEN + sealed.len()));
        out.push_str(VERSION);
        for b in nonce.iter().chain(&sealed) {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// Opens a value [`SecretBox::seal`] made for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Secret, SealError> {
        let bytes = sealed
            .strip_prefix(VERSION)
            .and_then(decode_hex)
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or(SealError::Format)?;
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Opening)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SealError::Format)
    }
}

/// What people are shown of a key: its kind prefix and last four characters ("sk-…abcd"),
/// enough to tell two keys apart, never enough to use one.
pub fn hint(key: &Secret) -> String {
    let k = key.expose().trim();
    let chars: Vec<char> = k.chars().collect();
    if chars.len() < 12 {
        return "…".into();
    }
    let prefix: String = k
        .split_inclusive('-')
        .next()
        .unwrap_or("")
        .chars()
        .take(8)
        .collect();
    let prefix = if prefix.ends_with('-') {
        prefix
    } else {
        String::new()
    };
    let last: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{last}")
}

/// The deployment's secret key: `FLARE_SECRET_KEY` when set. Without it, a SQLite deployment
/// (one machine) keeps a generated key in `secret.key` beside its database file, readable by
/// its owner only, so keys can be stored out of the box; back it up with the database. A
/// PostgreSQL deployment may run on several machines that must share one key, so it gets none:
/// storing a key then asks for FLARE_SECRET_KEY.
pub fn load(config: &super::config::Config) -> anyhow::Result<Option<SecretBox>> {
    use anyhow::Context;
    if let Some(key) = &config.secret_key {
        return SecretBox::from_hex(key)
            .map(Some)
            .map_err(anyhow::Error::msg);
    }
    let Some(path) = key_file_beside(&config.database_url) else {
        return Ok(None);
    };
    let hex = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hex = random_hex();
            match create_private(&path, &hex) {
                Ok(()) => {
                    tracing::info!(
                        "made a secret key for stored model keys in {} (back it up with the database, or set FLARE_SECRET_KEY)",
                        path.display()
                    );
                    hex
                }
                // Another process made it first: that one is the key.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot create the secret key file {}", path.display())
                    });
                }
            }
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    SecretBox::from_hex(&Secret::new(hex))
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `secret.key` in a SQLite database file's folder; `None` for PostgreSQL and in-memory files.
fn key_file_beside(database_url: &str) -> Option<std::path::PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite:")?
        .trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || rest.contains("mode=memory") {
        return None;
    }
    let dir = std::path::Path::new(path).parent()?;
    Some(dir.join("secret.key"))
}

/// Writes the whole file under a temporary name, then links it into place: a process that
/// starts at the same moment finds either no file or a complete one, never half of one.
fn create_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()));
    let linked = written.and_then(|_| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked
}

/// 32 random bytes from the operating system, as 64 hexadecimal digits: a key, a token's or
/// a signing secret's value.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut bytes);
    hex::encode(bytes)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretBox {
        SecretBox::from_hex(&Secret::new(format!("{byte:02x}").repeat(32))).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_in_its_place() {
        let b = key(7);
        let api_key = Secret::new("sk-ant-api03-abcdefghijklmnop");
        let sealed = b.seal(&api_key, "model-connection:1");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("abcdefghijklmnop"), "{sealed}");
        assert_eq!(
            b.open(&sealed, "model-connection:1").unwrap().expose(),
            api_key.expose()
        );
        // A fresh nonce each time: the same secret never seals to the same text.
        assert_ne!(sealed, b.seal(&api_key, "model-connection:1"));
        // Another row, another key, a changed byte, garbage: refused, never garbage out.
        assert_eq!(
            b.open(&sealed, "model-connection:2").unwrap_err(),
            SealError::Opening
        );
        assert_eq!(
            key(8).open(&sealed, "model-connection:1").unwrap_err(),
            SealError::Opening
        );
        let mut changed = sealed.clone().into_bytes();
        let last = changed.len() - 1;
        changed[last] = if changed[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            b.open(&String::from_utf8(changed).unwrap(), "model-connection:1")
                .unwrap_err(),
            SealError::Opening
        );
        for bad in ["", "v1:", "v1:zz", "v2:00", "sk-plain-text", "v1:0011"] {
            assert_eq!(b.open(bad, "x").unwrap_err(), SealError::Format, "{bad:?}");
        }
    }

    #[test]
    fn a_bad_key_is_refused_with_how_to_make_one() {
        for bad in [
            "",
            "abc",
            &"0".repeat(62),
            &"g".repeat(64),
            &"00".repeat(33),
        ] {
            let e = SecretBox::from_hex(&Secret::new(bad)).unwrap_err();
            assert!(e.contains("openssl rand -hex 32"), "{bad:?}: {e}");
        }
        assert!(SecretBox::from_hex(&Secret::new(format!(" {} ", "ab".repeat(32)))).is_ok());
        assert_eq!(format!("{:?}", key(1)), "SecretBox(..)");
    }

    #[test]
    fn a_key_file_sits_beside_a_sqlite_file_only() {
        assert_eq!(
            key_file_beside("sqlite://data/flare.db"),
            Some(std::path::PathBuf::from("data/secret.key"))
        );
        assert_eq!(
            key_file_beside("sqlite:///var/lib/flare/f.db?mode=rwc"),
            Some(std::path::PathBuf::from("/var/lib/flare/secret.key"))
        );
        assert_eq!(key_file_beside("sqlite::memory:"), None);
        assert_eq!(key_file_beside("postgres://u@h/db"), None);
    }

    #[test]
    fn a_hint_tells_keys_apart_without_giving_them_away() {
        assert_eq!(hint(&Secret::new("sk-proj-1234567890abcd")), "sk-…abcd");
        assert_eq!(hint(&Secret::new("0123456789abcdefwxyz")), "…wxyz");
        assert_eq!(hint(&Secret::new("short-key")), "…");
    }
}
