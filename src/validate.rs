//! Input limits shared by the browser (to explain) and the server (to enforce).

use crate::error::AppError;

pub const MAX_EMAIL: usize = 254;
pub const MAX_NAME: usize = 100;
pub const MAX_TEAM_NAME: usize = 80;
pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 1024;

/// Trims and lower-cases an email address; one address, one account, whatever the case.
pub fn email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(AppError::invalid("Enter an email address."));
    }
    if email.chars().count() > MAX_EMAIL {
        return Err(AppError::invalid(format!(
            "Email addresses are at most {MAX_EMAIL} characters."
        )));
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !valid {
        return Err(AppError::invalid(format!(
            "\u{201c}{email}\u{201d} is not an email address."
        )));
    }
    Ok(email)
}

/// A display name: trimmed, non-empty, no control characters.
pub fn name(raw: &str, what: &str, max: usize) -> Result<String, AppError> {
    let name = raw.trim().to_string();
    if name.is_empty() {
        return Err(AppError::invalid(format!("Enter a {what}.")));
    }
    if name.chars().count() > max {
        return Err(AppError::invalid(format!(
            "A {what} is at most {max} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid(format!(
            "A {what} cannot contain control characters."
        )));
    }
    Ok(name)
}

pub fn person_name(raw: &str) -> Result<String, AppError> {
    name(raw, "name", MAX_NAME)
}

pub fn team_name(raw: &str) -> Result<String, AppError> {
    name(raw, "team name", MAX_TEAM_NAME)
}

pub fn new_password(raw: &str) -> Result<(), AppError> {
    let len = raw.chars().count();
    if len < MIN_PASSWORD {
        return Err(AppError::invalid(format!(
            "Passwords are at least {MIN_PASSWORD} characters."
        )));
    }
    if len > MAX_PASSWORD {
        return Err(AppError::invalid(format!(
            "Passwords are at most {MAX_PASSWORD} characters."
        )));
    }
    // Control characters cannot be typed into a password box; one here is a broken paste
    // or a forged request, and would make the password impossible to type again.
    if raw.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "Passwords cannot contain control characters (tabs, line breaks and the like).",
        ));
    }
    Ok(())
}

/// Where to go after signing in: only a path on this site, never another origin.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if is_local_path(p) => p.to_string(),
        _ => DEFAULT_PAGE.to_string(),
    }
}

pub const DEFAULT_PAGE: &str = "/app/escalations";
const MAX_NEXT: usize = 2048;

/// A same-site path: printable ASCII with no spaces, one leading `/` (never `//` or `/\`, which
/// browsers read as another host), no backslash at all (browsers read it as `/`), and not
/// overlong. Control characters would also break the `Location` header.
pub fn is_local_path(p: &str) -> bool {
    p.len() <= MAX_NEXT
        && p.starts_with('/')
        && !p.starts_with("//")
        && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

/// A message or a reply typed by a person: trimmed, non-empty, at most `max_bytes` (UTF-8),
/// only text, tabs and line breaks.
pub fn long_text(raw: &str, what: &str, max_bytes: usize) -> Result<String, AppError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(AppError::invalid(format!("Write a {what} first.")));
    }
    if text.len() > max_bytes {
        return Err(AppError::invalid(format!(
            "A {what} is at most {} KB; this one is {} KB. Nothing was sent.",
            max_bytes / 1024,
            text.len().div_ceil(1024)
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(format!(
            "A {what} cannot contain control characters (only text, tabs and line breaks)."
        )));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        assert!(email("").is_err());
        assert!(email("no-at-sign").is_err());
        assert!(email("a@b@c").is_err());
        assert!(email("@example.com").is_err());
        assert!(email("a b@example.com").is_err());
        assert!(email(&format!("{}@example.com", "a".repeat(260))).is_err());
    }

    #[test]
    fn names_reject_empty_long_and_control() {
        assert_eq!(person_name("  Ann ").unwrap(), "Ann");
        assert!(person_name("   ").is_err());
        assert!(person_name(&"x".repeat(MAX_NAME + 1)).is_err());
        assert!(person_name("a\u{0007}b").is_err());
        assert!(team_name(&"x".repeat(MAX_TEAM_NAME)).is_ok());
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(new_password("short").is_err());
        assert!(new_password("long enough").is_ok());
        assert!(new_password(&"p".repeat(MAX_PASSWORD + 1)).is_err());
    }

    #[test]
    fn next_is_always_local() {
        assert_eq!(local_path(Some("/app/chat")), "/app/chat");
        assert_eq!(local_path(Some("//evil.example")), "/app/escalations");
        assert_eq!(local_path(Some("https://evil.example")), "/app/escalations");
        assert_eq!(local_path(Some("/\\evil.example")), "/app/escalations");
        assert_eq!(local_path(None), "/app/escalations");
    }
}
