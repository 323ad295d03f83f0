//! PostgreSQL's `LISTEN`/`NOTIFY`, for the caches several processes on one database must keep in
//! agreement (`app::changes`). SQLite is one process: nothing to tell, nobody to listen.

use crate::{Db, Result};

/// The one channel every Flotilla process listens on.
pub const CHANNEL: &str = "flotilla_changes";

/// Tells every process listening (this one included) of `payload`; nothing on SQLite.
pub async fn notify(db: &Db, payload: &str) -> Result<()> {
    if let Db::Postgres { read, .. } = db {
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(read).await?;
    }
    Ok(())
}

/// A connection listening on [`CHANNEL`]: `None` on SQLite.
pub struct Listener(sqlx::postgres::PgListener);

impl Listener {
    pub async fn connect(db: &Db) -> Result<Option<Listener>> {
        // Holds one of the writing pool's connections for good (the readers stay whole for pages).
        let Db::Postgres { write, .. } = db else { return Ok(None) };
        let mut l = sqlx::postgres::PgListener::connect_with(write).await?;
        l.listen(CHANNEL).await?;
        Ok(Some(Listener(l)))
    }

    /// The next payload. An error means the connection broke (notifications meanwhile are lost:
    /// the caller forgets what it cached, then connects again).
    pub async fn recv(&mut self) -> Result<String> {
        Ok(self.0.recv().await?.payload().to_string())
    }
}
