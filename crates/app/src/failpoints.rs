//! Failpoints: named places where a test makes this process fail on purpose — panic there, or
//! abort as a `kill -9` would — to prove that a crash at that point loses nothing and doubles
//! nothing. Compiled in only with the `failpoints` feature, which only test builds enable (the
//! `flotilla` crate's dev-dependencies); without it [`Failpoints::hit`] does nothing and is
//! inlined away, and nothing reads `FLOTILLA_FAILPOINTS`.
//!
//! Armed from a test ([`Failpoints::arm`]) or, for a test that runs the binary, from
//! `FLOTILLA_FAILPOINTS=name=abort,other=panic`.
//!
//! A gate ([`Failpoints::gate`]) is the other kind: a place where a test holds one task still, to
//! make something happen at exactly that point of its work (a race made certain), and hears what
//! the task says there.

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
pub struct Failpoints(
    std::sync::Mutex<std::collections::HashMap<String, Action>>,
    std::sync::Mutex<Vec<std::sync::Arc<Gate>>>,
);

/// A gate armed by a test ([`Failpoints::arm_gate`]): the first task that reaches `name` as `who`
/// stops there, tells the test what it has to say, and goes on when the test opens the gate.
#[cfg(feature = "failpoints")]
pub struct Gate {
    name: String,
    who: String,
    reached: tokio::sync::Notify,
    said: std::sync::Mutex<Option<String>>,
    open: tokio::sync::Notify,
}

#[cfg(feature = "failpoints")]
impl Gate {
    /// Waits until a task stops at the gate; what it said there.
    pub async fn reached(&self) -> String {
        loop {
            if let Some(said) = self.said.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                return said;
            }
            // `notify_one` keeps its permit: a task that stopped since the look above is not missed.
            self.reached.notified().await;
        }
    }

    /// Lets the task stopped at the gate go on (or the next one to reach it, if none has yet).
    pub fn open(&self) {
        // `notify_one` keeps its permit for a task not waiting yet.
        self.open.notify_one();
    }
}

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

    /// Arms a gate at `name` for the first task reaching it as `who` (see [`Gate`]).
    pub fn arm_gate(&self, name: &str, who: &str) -> std::sync::Arc<Gate> {
        let gate = std::sync::Arc::new(Gate {
            name: name.to_string(),
            who: who.to_string(),
            reached: tokio::sync::Notify::new(),
            said: std::sync::Mutex::new(None),
            open: tokio::sync::Notify::new(),
        });
        self.1.lock().unwrap_or_else(|p| p.into_inner()).push(gate.clone());
        gate
    }

    /// Stops here, as `who`, if a test armed a gate at `name` for `who`, saying `said`; goes on
    /// once the test opens it. Each gate stops one task, once.
    pub async fn gate(&self, name: &str, who: &str, said: impl std::fmt::Display) {
        let gate = {
            let mut gates = self.1.lock().unwrap_or_else(|p| p.into_inner());
            match gates.iter().position(|g| g.name == name && g.who == who) {
                Some(i) => gates.swap_remove(i),
                None => return,
            }
        };
        *gate.said.lock().unwrap_or_else(|p| p.into_inner()) = Some(said.to_string());
        gate.reached.notify_one();
        gate.open.notified().await;
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

    #[inline(always)]
    pub async fn gate(&self, _name: &str, _who: &str, _said: impl std::fmt::Display) {}
}
