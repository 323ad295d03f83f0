//! Follows between actors, local or remote: `pending` until the followed side accepts.

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Follow {
    pub id: i64,
    pub follower_id: i64,
    pub target_id: i64,
    pub state: String,
    pub activity_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, follower_id, target_id, state, activity_id, created_at, updated_at";

/// Records a follow (or refreshes the activity id and state of an existing one); returns its id.
pub async fn upsert(
    e: impl Into<Exec<'_>>,
    follower: i64,
    target: i64,
    state: &str,
    activity_id: Option<&str>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO follows (follower_id, target_id, state, activity_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (follower_id, target_id) DO UPDATE SET \
         activity_id = COALESCE(excluded.activity_id, follows.activity_id), \
         state = CASE WHEN follows.state = 'accepted' THEN follows.state ELSE excluded.state END, \
         updated_at = excluded.updated_at RETURNING id"
    )
    .bind(follower)
    .bind(target)
    .bind(state)
    .bind(activity_id)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Follow>> {
    let sql = format!("SELECT {COLUMNS} FROM follows WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Follow>(&sql).bind(id).fetch_optional(x).await)?)
}

/// The users whose accounts follow `target` (a channel's local subscribers), accepted.
pub async fn local_follower_users(e: impl Into<Exec<'_>>, target: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = run!(e, |x| sqlx::query_as(
        "SELECT a.user_id FROM follows f JOIN accounts a ON a.actor_id = f.follower_id \
         WHERE f.target_id = $1 AND f.state = 'accepted' AND a.user_id IS NOT NULL"
    )
    .bind(target)
    .fetch_all(x)
    .await)?;
    Ok(rows.into_iter().map(|(u,)| u).collect())
}

/// The follows of `target` by our own actors (accounts, the instance), any state.
pub async fn local_followers(e: impl Into<Exec<'_>>, target: i64) -> Result<Vec<Follow>> {
    let columns = COLUMNS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {columns} FROM follows f JOIN actors a ON a.id = f.follower_id WHERE f.target_id = $1 AND a.host = ''"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, Follow>(&sql).bind(target).fetch_all(x).await)?)
}

pub async fn get_pair(e: impl Into<Exec<'_>>, follower: i64, target: i64) -> Result<Option<Follow>> {
    let sql = format!("SELECT {COLUMNS} FROM follows WHERE follower_id = $1 AND target_id = $2");
    Ok(run!(e, |x| sqlx::query_as::<_, Follow>(&sql).bind(follower).bind(target).fetch_optional(x).await)?)
}

pub async fn set_state(e: impl Into<Exec<'_>>, id: i64, state: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE follows SET state = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(state)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete_pair(e: impl Into<Exec<'_>>, follower: i64, target: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND target_id = $2")
        .bind(follower)
        .bind(target)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Accepted followers of any of `targets`, as `(actor id, inbox to use)`: the shared inbox when
/// the follower's server has one, so each server gets one copy.
pub async fn follower_inboxes(e: impl Into<Exec<'_>>, targets: &[i64]) -> Result<Vec<String>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::id_list(targets);
    let sql = format!(
        "SELECT DISTINCT COALESCE(a.shared_inbox, a.inbox) FROM follows f JOIN actors a ON a.id = f.follower_id \
         WHERE f.target_id IN ({list}) AND f.state = 'accepted' AND a.host <> '' AND a.inbox IS NOT NULL"
    );
    let rows: Vec<(String,)> = run!(e, |x| sqlx::query_as(&sql).fetch_all(x).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Follows where `actor` is the follower (`following`) or the target (`followers`), with the other side.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FollowView {
    pub id: i64,
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub follower_url: Option<String>,
    pub follower_name: String,
    pub follower_host: String,
    pub target_url: Option<String>,
    pub target_name: String,
    pub target_host: String,
}

pub async fn list_for(
    e: impl Into<Exec<'_>> + Copy,
    actor: i64,
    as_follower: bool,
    state: Option<&str>,
    start: i64,
    count: i64,
) -> Result<(Vec<FollowView>, i64)> {
    let side = if as_follower { "f.follower_id" } else { "f.target_id" };
    let filter = format!("{side} = $1 AND ($2 IS NULL OR f.state = $2)");
    let sql = format!(
        "SELECT f.id, f.state, f.created_at, f.updated_at, fa.url AS follower_url, fa.name AS follower_name, \
         fa.host AS follower_host, ta.url AS target_url, ta.name AS target_name, ta.host AS target_host \
         FROM follows f JOIN actors fa ON fa.id = f.follower_id JOIN actors ta ON ta.id = f.target_id \
         WHERE {filter} ORDER BY f.id DESC LIMIT $3 OFFSET $4"
    );
    let rows = run!(e, |x| sqlx::query_as::<_, FollowView>(&sql)
        .bind(actor)
        .bind(state)
        .bind(count)
        .bind(start)
        .fetch_all(x)
        .await)?;
    let count_sql = format!("SELECT COUNT(*) FROM follows f WHERE {filter}");
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(&count_sql).bind(actor).bind(state).fetch_one(x).await)?;
    Ok((rows, total))
}

pub async fn count_followers(e: impl Into<Exec<'_>>, target: i64) -> Result<i64> {
    let (n,): (i64,) =
        run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM follows WHERE target_id = $1 AND state = 'accepted'")
            .bind(target)
            .fetch_one(x)
            .await)?;
    Ok(n)
}

/// Marks an incoming activity id as processed; false when it already was (a duplicate).
pub async fn first_time_seen(e: impl Into<Exec<'_>>, activity_id: &str, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "INSERT INTO inbox_seen (activity_id, received_at) VALUES ($1, $2) ON CONFLICT (activity_id) DO NOTHING"
    )
    .bind(activity_id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Forgets that `activity_id` was seen (it was not applied; a retry must be looked at).
pub async fn forget_seen(e: impl Into<Exec<'_>>, activity_id: &str) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM inbox_seen WHERE activity_id = $1")
        .bind(activity_id)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Forgets the activity ids first seen before `before` (ms since the epoch); how many.
pub async fn prune_seen(e: impl Into<Exec<'_>>, before: i64) -> Result<u64> {
    let n = run!(e, |x| sqlx::query("DELETE FROM inbox_seen WHERE received_at < $1")
        .bind(before)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n)
}

pub async fn get_by_activity(e: impl Into<Exec<'_>>, activity_id: &str) -> Result<Option<Follow>> {
    let sql = format!("SELECT {COLUMNS} FROM follows WHERE activity_id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Follow>(&sql).bind(activity_id).fetch_optional(x).await)?)
}
