//! Flotilla's vocabulary: ids, roles, policies, the validation rules of names and texts, and the
//! clock format the API speaks. Plain Rust with no I/O; every other crate depends on it and it
//! depends on no other flotilla crate.

pub mod id;
pub mod rules;
pub mod time;
pub mod user;

pub use id::{AccountId, ChannelId, UserId};
pub use rules::{FieldError, Validation};
pub use user::{NsfwPolicy, Role, SignupMode};
