//! Abuse reports and the messages between a reporter and the moderators (migration 0027).

use crate::{Arg, Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Abuse {
    pub id: i64,
    pub reporter_account_id: Option<i64>,
    /// The server a received `Flag` came from (`''`: reported here).
    pub reporter_host: String,
    /// The actor that sent a received `Flag`.
    pub reporter_actor_id: Option<i64>,
    pub flagged_account_id: Option<i64>,
    pub video_id: Option<i64>,
    pub comment_id: Option<i64>,
    /// `video`, `comment` or `account`.
    pub kind: String,
    pub video_name: Option<String>,
    pub video_uuid: Option<String>,
    pub comment_text: Option<String>,
    pub start_at: Option<i64>,
    pub end_at: Option<i64>,
    pub reason: String,
    /// PeerTube's predefined reasons, comma-separated.
    pub predefined_reasons: String,
    /// 1 pending, 2 rejected, 3 accepted (PeerTube's).
    pub state: i64,
    pub moderation_comment: Option<String>,
    pub url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, reporter_account_id, reporter_host, reporter_actor_id, flagged_account_id, video_id, comment_id, kind, \
    video_name, video_uuid, comment_text, start_at, end_at, reason, predefined_reasons, state, moderation_comment, url, \
    created_at, updated_at";

pub struct NewAbuse<'a> {
    pub reporter_account_id: Option<i64>,
    pub reporter_host: &'a str,
    pub reporter_actor_id: Option<i64>,
    pub flagged_account_id: Option<i64>,
    pub video_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub kind: &'a str,
    pub video_name: Option<&'a str>,
    pub video_uuid: Option<&'a str>,
    pub comment_text: Option<&'a str>,
    pub start_at: Option<i64>,
    pub end_at: Option<i64>,
    pub reason: &'a str,
    pub predefined_reasons: &'a str,
    pub url: Option<&'a str>,
    pub now: i64,
}

/// Stores a report; `None` when one with the same `url` (a `Flag` received twice) exists.
pub async fn insert(e: impl Into<Exec<'_>>, a: &NewAbuse<'_>) -> Result<Option<i64>> {
    let row: Option<(i64,)> = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO abuses (reporter_account_id, reporter_host, flagged_account_id, video_id, comment_id, kind, \
         video_name, video_uuid, comment_text, start_at, end_at, reason, predefined_reasons, state, url, created_at, \
         updated_at, reporter_actor_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $15, $16) \
         ON CONFLICT DO NOTHING RETURNING id"
    )
    .bind(a.reporter_account_id)
    .bind(a.reporter_host)
    .bind(a.flagged_account_id)
    .bind(a.video_id)
    .bind(a.comment_id)
    .bind(a.kind)
    .bind(a.video_name)
    .bind(a.video_uuid)
    .bind(a.comment_text)
    .bind(a.start_at)
    .bind(a.end_at)
    .bind(a.reason)
    .bind(a.predefined_reasons)
    .bind(a.url)
    .bind(a.now)
    .bind(a.reporter_actor_id)
    .fetch_optional(x)
    .await
    })?;
    Ok(row.map(|(id,)| id))
}

pub async fn set_url(e: impl Into<Exec<'_>>, id: i64, url: &str) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE abuses SET url = $2 WHERE id = $1")
        .bind(id)
        .bind(url)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Abuse>> {
    let sql = format!("SELECT {COLUMNS} FROM abuses WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Abuse>(&sql).bind(id).fetch_optional(x).await)?)
}

pub async fn get_by_url(e: impl Into<Exec<'_>>, url: &str) -> Result<Option<Abuse>> {
    let sql = format!("SELECT {COLUMNS} FROM abuses WHERE url = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Abuse>(&sql).bind(url).fetch_optional(x).await)?)
}

/// Which reports a list shows.
#[derive(Debug, Default)]
pub struct AbuseFilter {
    /// Only those of this reporter (an account id): a user's own list.
    pub reporter: Option<i64>,
    pub id: Option<i64>,
    pub state: Option<i64>,
    /// `video`, `comment` or `account`.
    pub kind: Option<String>,
    pub predefined_reason: Option<String>,
    /// Words of the reason, the video's name or the comment's text.
    pub search: Option<String>,
}

/// A page of reports, `order` an allow-listed ORDER BY, and how many match.
pub async fn list(
    e: impl Into<Exec<'_>> + Copy,
    f: &AbuseFilter,
    order: &str,
    start: i64,
    count: i64,
) -> Result<(Vec<Abuse>, i64)> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    let push = |args: &mut Vec<Arg>, a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    if let Some(r) = f.reporter {
        let p = push(&mut args, Arg::I(r));
        clauses.push(format!("reporter_account_id = {p}"));
    }
    if let Some(i) = f.id {
        let p = push(&mut args, Arg::I(i));
        clauses.push(format!("id = {p}"));
    }
    if let Some(s) = f.state {
        let p = push(&mut args, Arg::I(s));
        clauses.push(format!("state = {p}"));
    }
    if let Some(k) = &f.kind {
        let p = push(&mut args, Arg::S(k.clone()));
        clauses.push(format!("kind = {p}"));
    }
    if let Some(r) = &f.predefined_reason {
        let p = push(&mut args, Arg::S(format!("%,{r},%")));
        clauses.push(format!("(',' || predefined_reasons || ',') LIKE {p}"));
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let like: String = s.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).collect();
        let p = push(&mut args, Arg::S(format!("%{}%", like.to_lowercase())));
        clauses.push(format!(
            "(lower(reason) LIKE {p} OR lower(COALESCE(video_name, '')) LIKE {p} OR lower(COALESCE(comment_text, '')) LIKE {p})"
        ));
    }
    let filter = if clauses.is_empty() { "TRUE".to_string() } else { clauses.join(" AND ") };
    let sql = format!(
        "SELECT {COLUMNS} FROM abuses WHERE {filter} ORDER BY {order}, id DESC LIMIT {count} OFFSET {start}",
        count = count.clamp(1, 100),
        start = start.max(0)
    );
    let count_sql = format!("SELECT COUNT(*) FROM abuses WHERE {filter}");
    let rows = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as::<_, Abuse>(&sql), &args);
        q.fetch_all(x).await
    })?;
    let (total,): (i64,) = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as(&count_sql), &args);
        q.fetch_one(x).await
    })?;
    Ok((rows, total))
}

/// Sets the state and, when given, the moderators' comment (`Some(None)` clears it).
pub async fn update(
    e: impl Into<Exec<'_>>,
    id: i64,
    state: Option<i64>,
    comment: Option<Option<&str>>,
    now: i64,
) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE abuses SET state = COALESCE($2, state), \
         moderation_comment = CASE WHEN $3 THEN $4 ELSE moderation_comment END, updated_at = $5 WHERE id = $1"
    )
    .bind(id)
    .bind(state)
    .bind(comment.is_some())
    .bind(comment.flatten())
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM abuses WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Reports made by an account, and about an account.
pub async fn counts_for_accounts(e: impl Into<Exec<'_>> + Copy, reporter: i64, reportee: i64) -> Result<(i64, i64)> {
    let (a,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM abuses WHERE reporter_account_id = $1")
        .bind(reporter)
        .fetch_one(x)
        .await)?;
    let (b,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM abuses WHERE flagged_account_id = $1")
        .bind(reportee)
        .fetch_one(x)
        .await)?;
    Ok((a, b))
}

/// How many reports a video has, and the rank of report `id` among them (1 for the first).
pub async fn video_rank(e: impl Into<Exec<'_>> + Copy, video: i64, id: i64) -> Result<(i64, i64)> {
    let (n, nth): (i64, i64) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN id <= $2 THEN 1 ELSE 0 END), 0) FROM abuses WHERE video_id = $1"
    )
    .bind(video)
    .bind(id)
    .fetch_one(x)
    .await)?;
    Ok((n, nth))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Message {
    pub id: i64,
    pub abuse_id: i64,
    pub account_id: Option<i64>,
    pub by_moderator: bool,
    pub message: String,
    pub created_at: i64,
}

pub async fn add_message(
    e: impl Into<Exec<'_>>,
    abuse: i64,
    account: i64,
    by_moderator: bool,
    text: &str,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO abuse_messages (abuse_id, account_id, by_moderator, message, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id"
    )
    .bind(abuse)
    .bind(account)
    .bind(by_moderator)
    .bind(text)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

/// The messages of a report, oldest first (at most 1,000).
pub async fn messages(e: impl Into<Exec<'_>>, abuse: i64) -> Result<Vec<Message>> {
    Ok(run!(e, |x| sqlx::query_as::<_, Message>(
        "SELECT id, abuse_id, account_id, by_moderator, message, created_at FROM abuse_messages \
         WHERE abuse_id = $1 ORDER BY id LIMIT 1000"
    )
    .bind(abuse)
    .fetch_all(x)
    .await)?)
}

pub async fn count_messages(e: impl Into<Exec<'_>>, abuse: i64) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM abuse_messages WHERE abuse_id = $1")
        .bind(abuse)
        .fetch_one(x)
        .await)?;
    Ok(n)
}

pub async fn get_message(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Message>> {
    Ok(run!(e, |x| sqlx::query_as::<_, Message>(
        "SELECT id, abuse_id, account_id, by_moderator, message, created_at FROM abuse_messages WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(x)
    .await)?)
}

pub async fn delete_message(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM abuse_messages WHERE id = $1").bind(id).execute(x).await.map(|_| ()))?;
    Ok(())
}
