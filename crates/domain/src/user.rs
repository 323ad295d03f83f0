//! Roles, NSFW policies and signup modes, with the numbers and strings PeerTube's API uses.

use serde::{Deserialize, Serialize};

/// A local user's role. The numbers are PeerTube's (`UserRole`), and are what the API carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum Role {
    Admin = 0,
    Moderator = 1,
    User = 2,
}

impl Role {
    pub fn id(self) -> i64 {
        self as i64
    }

    /// The English label PeerTube returns beside the id.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Moderator => "Moderator",
            Role::User => "User",
        }
    }

    /// The name used on the command line (`flotilla admin set-role`).
    pub fn parse_name(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "admin" | "administrator" | "0" => Some(Role::Admin),
            "moderator" | "mod" | "1" => Some(Role::Moderator),
            "user" | "2" => Some(Role::User),
            _ => None,
        }
    }

    /// Moderators and admins manage other users; only admins manage admins and moderators.
    pub fn can_manage(self, other: Role) -> bool {
        match self {
            Role::Admin => true,
            Role::Moderator => other == Role::User,
            Role::User => false,
        }
    }
}

impl TryFrom<i64> for Role {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        match v {
            0 => Ok(Role::Admin),
            1 => Ok(Role::Moderator),
            2 => Ok(Role::User),
            _ => Err(format!("unknown role {v}: expected 0 (admin), 1 (moderator) or 2 (user)")),
        }
    }
}

impl From<Role> for i64 {
    fn from(r: Role) -> i64 {
        r as i64
    }
}

/// How a user wants videos marked NSFW to be shown. PeerTube's strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NsfwPolicy {
    #[serde(rename = "display")]
    Display,
    #[serde(rename = "blur")]
    Blur,
    #[serde(rename = "do_not_list")]
    DoNotList,
}

impl NsfwPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            NsfwPolicy::Display => "display",
            NsfwPolicy::Blur => "blur",
            NsfwPolicy::DoNotList => "do_not_list",
        }
    }

    pub fn parse(s: &str) -> Option<NsfwPolicy> {
        match s {
            "display" => Some(NsfwPolicy::Display),
            "blur" => Some(NsfwPolicy::Blur),
            "do_not_list" => Some(NsfwPolicy::DoNotList),
            _ => None,
        }
    }
}

/// Who may create an account (`FLOTILLA_SIGNUP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignupMode {
    /// Anyone may register and log in at once.
    Open,
    /// Anyone may register; a moderator approves the account before it can log in.
    Approval,
    /// Only admins create accounts.
    Closed,
}

impl SignupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupMode::Open => "open",
            SignupMode::Approval => "approval",
            SignupMode::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<SignupMode> {
        match s {
            "open" => Some(SignupMode::Open),
            "approval" => Some(SignupMode::Approval),
            "closed" => Some(SignupMode::Closed),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moderators_manage_users_but_not_admins() {
        assert!(Role::Moderator.can_manage(Role::User));
        assert!(!Role::Moderator.can_manage(Role::Admin));
        assert!(!Role::Moderator.can_manage(Role::Moderator));
        assert!(Role::Admin.can_manage(Role::Admin));
        assert!(!Role::User.can_manage(Role::User));
    }

    #[test]
    fn role_numbers_are_peertubes() {
        assert_eq!(Role::try_from(0).unwrap(), Role::Admin);
        assert_eq!(Role::try_from(2).unwrap(), Role::User);
        assert!(Role::try_from(3).is_err());
        assert_eq!(Role::parse_name("Moderator"), Some(Role::Moderator));
    }
}
