//! ActivityPub on the wire: HTTP signatures (draft-cavage, rsa-sha256) with their digests and
//! dates, actor keys, and (as federation grows) the AP object shapes and the guarded fetcher.
//! No database, no app logic: pure functions over requests and keys.

pub mod blocklist;
pub mod fetch;
pub mod keys;
pub mod ld_signature;
pub mod proxy;
pub mod signature;
