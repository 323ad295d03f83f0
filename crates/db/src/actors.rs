//! Actors of other servers, as fetched: where to deliver to them and how to check their signatures.

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RemoteActor {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub host: String,
    pub url: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub followers_url: Option<String>,
    pub display_name: Option<String>,
    pub public_key_pem: Option<String>,
    pub fetched_at: i64,
}

const COLUMNS: &str =
    "id, kind, name, host, url, inbox, shared_inbox, followers_url, display_name, public_key_pem, fetched_at";

pub struct NewRemote<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub host: &'a str,
    pub url: &'a str,
    pub inbox: &'a str,
    pub shared_inbox: Option<&'a str>,
    pub followers_url: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub public_key_pem: &'a str,
    pub now: i64,
}

pub async fn get_by_url(e: impl Into<Exec<'_>>, url: &str) -> Result<Option<RemoteActor>> {
    let sql = format!("SELECT {COLUMNS} FROM actors WHERE url = $1 AND host <> ''");
    Ok(run!(e, |x| sqlx::query_as::<_, RemoteActor>(&sql).bind(url).fetch_optional(x).await)?)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<RemoteActor>> {
    let sql = format!("SELECT {COLUMNS} FROM actors WHERE id = $1 AND host <> ''");
    Ok(run!(e, |x| sqlx::query_as::<_, RemoteActor>(&sql).bind(id).fetch_optional(x).await)?)
}

/// Marks a remote actor as looked at now (a refresh that cannot succeed is not retried at once).
pub async fn set_fetched_at(e: impl Into<Exec<'_>>, id: i64, at: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE actors SET fetched_at = $2 WHERE id = $1 AND host <> ''")
        .bind(id)
        .bind(at)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Inserts or refreshes a remote actor, keyed by its URL; returns its id.
pub async fn upsert(e: impl Into<Exec<'_>>, a: &NewRemote<'_>) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO actors (kind, name, host, url, inbox, shared_inbox, followers_url, display_name, public_key_pem, \
         fetched_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         ON CONFLICT (url) DO UPDATE SET kind = excluded.kind, inbox = excluded.inbox, \
         shared_inbox = excluded.shared_inbox, followers_url = excluded.followers_url, \
         display_name = excluded.display_name, public_key_pem = excluded.public_key_pem, fetched_at = excluded.fetched_at \
         RETURNING id"
    )
    .bind(a.kind)
    .bind(a.name)
    .bind(a.host)
    .bind(a.url)
    .bind(a.inbox)
    .bind(a.shared_inbox)
    .bind(a.followers_url)
    .bind(a.display_name)
    .bind(a.public_key_pem)
    .bind(a.now)
    .fetch_one(x)
    .await
    })?;
    Ok(id)
}

/// The remote instance actor we follow or that follows us, by host.
pub async fn list_by_host(e: impl Into<Exec<'_>>, host: &str) -> Result<Vec<RemoteActor>> {
    let sql = format!("SELECT {COLUMNS} FROM actors WHERE host = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, RemoteActor>(&sql).bind(host).fetch_all(x).await)?)
}

/// An actor's other addresses (`alsoKnownAs`) and where it moved, if it did.
pub async fn move_info(e: impl Into<Exec<'_>>, id: i64) -> Result<(Vec<String>, Option<String>)> {
    let row: Option<(Option<String>, Option<String>)> =
        run!(e, |x| sqlx::query_as("SELECT also_known_as, moved_to FROM actors WHERE id = $1")
            .bind(id)
            .fetch_optional(x)
            .await)?;
    let (aka, moved) = row.unwrap_or_default();
    Ok((aka.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default(), moved))
}

pub async fn set_aliases(e: impl Into<Exec<'_>>, id: i64, urls: &[String]) -> Result<()> {
    let json = serde_json::to_string(urls).unwrap_or_else(|_| "[]".into());
    Ok(run!(e, |x| sqlx::query("UPDATE actors SET also_known_as = $2 WHERE id = $1")
        .bind(id)
        .bind(&json)
        .execute(x)
        .await
        .map(|_| ()))?)
}

pub async fn set_moved_to(e: impl Into<Exec<'_>>, id: i64, url: &str) -> Result<()> {
    Ok(run!(e, |x| sqlx::query("UPDATE actors SET moved_to = $2 WHERE id = $1")
        .bind(id)
        .bind(url)
        .execute(x)
        .await
        .map(|_| ()))?)
}
