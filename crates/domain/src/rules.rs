//! Validation rules for what users type, with PeerTube's limits so a request PeerTube accepts
//! we accept too. A failed rule names its field; the API turns the list into `invalid-params`.

use serde::Serialize;

/// One field that failed validation, and why (in words a user can act on).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub msg: String,
}

/// Collects every failing field of a request, so the user sees all of them at once.
#[derive(Debug, Default)]
pub struct Validation(pub Vec<FieldError>);

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, field: &str, result: Result<(), String>) -> &mut Self {
        if let Err(msg) = result {
            self.0.push(FieldError { field: field.to_string(), msg });
        }
        self
    }

    pub fn fail(&mut self, field: &str, msg: impl Into<String>) -> &mut Self {
        self.0.push(FieldError { field: field.to_string(), msg: msg.into() });
        self
    }

    /// `Ok` when nothing failed, otherwise every failure.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}

fn length(s: &str, min: usize, max: usize, what: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n < min || n > max { Err(format!("{what} must be between {min} and {max} characters long")) } else { Ok(()) }
}

/// PeerTube: 1–50 characters of lowercase letters, digits, `.` and `_`.
pub fn username(s: &str) -> Result<(), String> {
    length(s, 1, 50, "username")?;
    if s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_') {
        Ok(())
    } else {
        Err("username may only contain lowercase letters, digits, '.' and '_'".into())
    }
}

/// PeerTube: 1–50 characters of letters, digits, `-`, `_`, `.` and `:`.
pub fn channel_name(s: &str) -> Result<(), String> {
    length(s, 1, 50, "channel name")?;
    if s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')) {
        Ok(())
    } else {
        Err("channel name may only contain letters, digits, '-', '_', '.' and ':'".into())
    }
}

pub fn password(s: &str) -> Result<(), String> {
    length(s, 6, 255, "password")
}

pub fn display_name(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("display name must not be empty".into());
    }
    length(s, 1, 120, "display name")
}

pub fn description(s: &str) -> Result<(), String> {
    length(s, 0, 1000, "description")
}

pub fn support(s: &str) -> Result<(), String> {
    length(s, 0, 1000, "support text")
}

/// A deliberately loose check: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn email(s: &str) -> Result<(), String> {
    let bad = || Err(format!("'{s}' is not a valid email address"));
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad();
    }
    match s.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => bad(),
    }
}

/// Quotas are bytes, or -1 for unlimited (PeerTube's convention).
pub fn quota(v: i64) -> Result<(), String> {
    if v < -1 { Err("quota must be -1 (unlimited) or a number of bytes".into()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_peertube() {
        assert!(username("alice_1.x").is_ok());
        assert!(username("Alice").is_err());
        assert!(username("").is_err());
        assert!(username(&"a".repeat(51)).is_err());
        assert!(username("al ice").is_err());
    }

    #[test]
    fn channel_names_allow_dashes_and_capitals() {
        assert!(channel_name("My-Channel_2").is_ok());
        assert!(channel_name("my channel").is_err());
        assert!(channel_name("../etc").is_err());
    }

    #[test]
    fn emails_are_checked_loosely() {
        assert!(email("a@example.org").is_ok());
        assert!(email("a@localhost").is_err());
        assert!(email("no-at.example").is_err());
        assert!(email("a b@example.org").is_err());
    }

    #[test]
    fn validation_collects_every_failure() {
        let mut v = Validation::new();
        v.check("username", username("BAD")).check("password", password("123")).check("email", email("a@b.c"));
        let errs = v.finish().unwrap_err();
        assert_eq!(errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["username", "password"]);
    }
}
