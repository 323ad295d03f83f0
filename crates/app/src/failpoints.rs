//! Failpoints: named places where a test makes this process fail on purpose — panic there, or
//! abort as a `kill -9` would — to prove that a crash at that point loses nothing and doubles
//! nothing. Compiled in only with the `failpoints` feature, which only test builds enable (the
//! `flotilla` crate's dev-dependencies); without it [`Failpoints::hit`] does nothing and is
//! inlined away, and nothing reads `FLOTILLA_FAILPOINTS`.
//!
//! Armed from a test ([`Failpoints::arm`]) or, for a test that runs the binary, from
//! `FLOTILLA_FAILPOINTS=name=abort,other=panic`.

/// What an armed failpoint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Panic,
    /// Panics the first time it is hit, then disarms itself.
    PanicOnce,
    /// Makes [`Failpoints::fail`] return an error (a passing failure, such as a busy database).
    Error,
    /// Ends the process at once, without unwinding or cleaning up: a crash.
    Abort,
}

#[cfg(feature = "failpoints")]
#[derive(Default)]
pub struct Failpoints(std::sync::Mutex<std::collections::HashMap<String, Action>>);

#[cfg(feature = "failpoints")]
impl Failpoints {
    /// Failpoints armed by `FLOTILLA_FAILPOINTS` (`name=panic|abort`, comma-separated).
    pub fn from_env() -> Failpoints {
        let f = Failpoints::default();
        for item in std::env::var("FLOTILLA_FAILPOINTS").unwrap_or_default().split(',') {
            match item.trim().split_once('=') {
                Some((name, "panic")) => f.arm(name.trim(), Action::Panic),
                Some((name, "abort")) => f.arm(name.trim(), Action::Abort),
                Some((name, "error")) => f.arm(name.trim(), Action::Error),
                _ if item.trim().is_empty() => {}
                _ => tracing::error!(item, "FLOTILLA_FAILPOINTS: expected name=panic or name=abort"),
            }
        }
        f
    }

    pub fn arm(&self, name: &str, action: Action) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), action);
    }

    pub fn disarm(&self, name: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
    }

    /// Whether `name` is armed.
    pub fn armed(&self, name: &str) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).contains_key(name)
    }

    /// Fails here when `name` is armed.
    pub fn hit(&self, name: &str) {
        let action = {
            let mut armed = self.0.lock().unwrap_or_else(|p| p.into_inner());
            match armed.get(name).copied() {
                Some(Action::PanicOnce) => armed.remove(name),
                other => other,
            }
        };
        match action {
            Some(Action::Panic | Action::PanicOnce) => panic!("failpoint {name}"),
            Some(Action::Abort) => {
                tracing::error!(failpoint = name, "failpoint: aborting the process");
                std::process::abort()
            }
            Some(Action::Error) | None => {}
        }
    }

    /// An error here when `name` is armed with [`Action::Error`] (other actions as [`hit`]).
    ///
    /// [`hit`]: Failpoints::hit
    pub fn fail(&self, name: &str) -> Result<(), String> {
        self.hit(name);
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            Some(Action::Error) => Err(format!("failpoint {name}")),
            _ => Ok(()),
        }
    }
}

#[cfg(not(feature = "failpoints"))]
#[derive(Default)]
pub struct Failpoints;

#[cfg(not(feature = "failpoints"))]
impl Failpoints {
    pub fn from_env() -> Failpoints {
        Failpoints
    }

    #[inline(always)]
    pub fn hit(&self, _name: &str) {}

    #[inline(always)]
    pub fn fail(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }
}
