//! Comments under videos (`video_comments`): threads and their replies, local and from other
//! servers, tombstones of deleted ones, and those held for the owner's approval.

use crate::{Arg, Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Comment {
    pub id: i64,
    pub video_id: i64,
    /// The thread's first comment; `None` for that comment itself.
    pub thread_id: Option<i64>,
    pub in_reply_to: Option<i64>,
    /// The author's account; `None` once deleted.
    pub account_id: Option<i64>,
    /// The ActivityPub id of a comment from another server (`None` for ours).
    pub url: Option<String>,
    pub text: String,
    pub held: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    /// Of a thread's first comment: its replies that are neither deleted nor held.
    pub total_replies: i64,
}

impl Comment {
    /// The id of its thread (its own when it starts one).
    pub fn thread(&self) -> i64 {
        self.thread_id.unwrap_or(self.id)
    }
}

const COLUMNS: &str = "id, video_id, thread_id, in_reply_to, account_id, url, text, held, created_at, updated_at, \
    deleted_at, total_replies";

pub struct NewComment<'a> {
    pub video_id: i64,
    pub thread_id: Option<i64>,
    pub in_reply_to: Option<i64>,
    pub account_id: i64,
    pub url: Option<&'a str>,
    pub text: &'a str,
    pub held: bool,
    pub created_at: i64,
    pub now: i64,
}

/// The newest comments everyone may read (not deleted nor held, on published public videos
/// nobody blocked), of one video or of all, leaving out `hide`'s accounts: for the feeds.
pub async fn recent_public(
    e: impl Into<Exec<'_>>,
    video: Option<i64>,
    hide: &[i64],
    count: i64,
) -> Result<Vec<Comment>> {
    // Ids start at 1: 0 keeps `NOT IN` well-formed when nobody is hidden.
    let hidden: Vec<i64> = if hide.is_empty() { vec![0] } else { hide.to_vec() };
    let list = crate::id_list(&hidden);
    let columns = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {columns} FROM video_comments c JOIN videos v ON v.id = c.video_id \
         WHERE c.deleted_at IS NULL AND c.held = FALSE AND v.state = 1 AND v.privacy = 1 AND v.blocked = 0 \
         AND ($1 < 0 OR c.video_id = $1) AND c.account_id NOT IN ({list}) \
         ORDER BY c.created_at DESC, c.id DESC LIMIT $2"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, Comment>(&sql)
        .bind(video.unwrap_or(-1))
        .bind(count.clamp(1, 100))
        .fetch_all(x)
        .await)?)
}

/// Adds a comment, and counts it (in the caller's transaction) unless it is held.
pub async fn insert(tx: &mut crate::Tx, c: &NewComment<'_>) -> Result<i64> {
    let (id,): (i64,) = run!(&mut *tx, |x| sqlx::query_as(
        "INSERT INTO video_comments (video_id, thread_id, in_reply_to, account_id, url, text, held, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
    )
    .bind(c.video_id)
    .bind(c.thread_id)
    .bind(c.in_reply_to)
    .bind(c.account_id)
    .bind(c.url)
    .bind(c.text)
    .bind(c.held)
    .bind(c.created_at)
    .bind(c.now)
    .fetch_one(x)
    .await)?;
    if !c.held {
        counted(tx, c.video_id, c.thread_id, 1, c.thread_id.is_none()).await?;
    }
    Ok(id)
}

/// Moves the counts of a video (its comments by `delta`, its threads by one when `new_thread`)
/// and of the thread a reply is in (`thread`).
async fn counted(tx: &mut crate::Tx, video_id: i64, thread: Option<i64>, delta: i64, new_thread: bool) -> Result<()> {
    run!(&mut *tx, |x| sqlx::query(
        "UPDATE videos SET comments_count = comments_count + $2, \
         comment_threads = comment_threads + CASE WHEN $3 THEN 1 ELSE 0 END WHERE id = $1"
    )
    .bind(video_id)
    .bind(delta)
    .bind(new_thread)
    .execute(x)
    .await
    .map(|_| ()))?;
    if let Some(t) = thread {
        run!(&mut *tx, |x| sqlx::query("UPDATE video_comments SET total_replies = total_replies + $2 WHERE id = $1")
            .bind(t)
            .bind(delta)
            .execute(x)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// Counts a video's comments again from the rows (after some went by cascade).
pub async fn recount(e: impl Into<Exec<'_>>, video_id: i64) -> Result<()> {
    let mut e: Exec<'_> = e.into();
    run!(&mut e, |x| sqlx::query(
        "UPDATE videos SET comments_count = (SELECT COUNT(*) FROM video_comments c WHERE c.video_id = videos.id \
         AND c.deleted_at IS NULL AND c.held = FALSE), comment_threads = (SELECT COUNT(*) FROM video_comments c \
         WHERE c.video_id = videos.id AND c.thread_id IS NULL AND c.held = FALSE) WHERE id = $1"
    )
    .bind(video_id)
    .execute(x)
    .await
    .map(|_| ()))?;
    run!(&mut e, |x| sqlx::query(
        "UPDATE video_comments SET total_replies = (SELECT COUNT(*) FROM video_comments r \
         WHERE r.thread_id = video_comments.id AND r.deleted_at IS NULL AND r.held = FALSE) \
         WHERE video_id = $1 AND thread_id IS NULL"
    )
    .bind(video_id)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Comment>> {
    let sql = format!("SELECT {COLUMNS} FROM video_comments WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Comment>(&sql).bind(id).fetch_optional(x).await)?)
}

pub async fn get_by_url(e: impl Into<Exec<'_>>, url: &str) -> Result<Option<Comment>> {
    let sql = format!("SELECT {COLUMNS} FROM video_comments WHERE url = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Comment>(&sql).bind(url).fetch_optional(x).await)?)
}

/// Who sees held comments in a list: nobody (everyone else), their author, or everyone (the
/// video's owner and moderators).
#[derive(Clone, Copy, Debug)]
pub enum Held {
    Hidden,
    OfAuthor(i64),
    Shown,
}

impl Held {
    /// `(show all, author whose held ones show)`, as bound parameters.
    fn binds(self) -> (bool, i64) {
        match self {
            Held::Hidden => (false, -1),
            Held::OfAuthor(a) => (false, a),
            Held::Shown => (true, -1),
        }
    }
}

/// The accounts to leave out of a list as SQL's `NOT IN` wants them (never empty: no account
/// has id -1).
fn hidden(hide: &[i64]) -> &[i64] {
    if hide.is_empty() { &[-1] } else { hide }
}

/// The threads of a video (first comments, deleted ones included as tombstones), a page of them
/// in `order` (one of [`THREAD_ORDERS`]), each with its replies the viewer sees (`held`) that are
/// not deleted, and how many of those are by the account of the video's channel `channel_id`
/// ([`reply_counts`]: a second query, which PostgreSQL runs faster than one with the page as a
/// common table expression, measured by benchmark 10).
#[allow(clippy::too_many_arguments)] // a page's query: each argument is one of its binds
pub async fn threads(
    e: impl Into<Exec<'_>>,
    video_id: i64,
    channel_id: i64,
    held: Held,
    hide: &[i64],
    order: &str,
    start: i64,
    count: i64,
) -> Result<Vec<(Comment, i64, i64)>> {
    let mut x: Exec<'_> = e.into();
    let (all, author) = held.binds();
    let columns = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
    let list = crate::id_list(hidden(hide));
    let sql = format!(
        "SELECT {columns} FROM video_comments c WHERE c.video_id = $1 AND c.thread_id IS NULL \
         AND (c.held = FALSE OR $2 OR c.account_id = $3) AND (c.account_id IS NULL OR c.account_id NOT IN ({list})) \
         ORDER BY {order}, c.id DESC LIMIT $4 OFFSET $5"
    );
    let rows = run!(&mut x, |x| sqlx::query_as::<_, Comment>(&sql)
        .bind(video_id)
        .bind(all)
        .bind(author)
        .bind(count)
        .bind(start)
        .fetch_all(x)
        .await)?;
    let thread_ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
    let counts: std::collections::HashMap<i64, (i64, i64)> = reply_counts(&mut x, &thread_ids, channel_id, held, hide)
        .await?
        .into_iter()
        .map(|(t, n, a)| (t, (n, a)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|c| {
            let (n, a) = counts.get(&c.id).copied().unwrap_or((0, 0));
            (c, n, a)
        })
        .collect())
}

/// How many threads of a video the viewer sees (`held`), and how many of its comments are not
/// deleted. What everyone sees is kept in the video's row (`comment_threads`, `comments_count`):
/// the caller reads it there; this counts what an owner or an author sees besides.
pub async fn count_seen(e: impl Into<Exec<'_>>, video_id: i64, held: Held, hide: &[i64]) -> Result<(i64, i64)> {
    let (all, author) = held.binds();
    let list = crate::id_list(hidden(hide));
    let sql = format!(
        "SELECT COALESCE(SUM(CASE WHEN thread_id IS NULL THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END), 0) \
         FROM video_comments WHERE video_id = $1 AND (held = FALSE OR $2 OR account_id = $3) \
         AND (account_id IS NULL OR account_id NOT IN ({list}))"
    );
    Ok(run!(e, |x| sqlx::query_as(&sql).bind(video_id).bind(all).bind(author).fetch_one(x).await)?)
}

/// The orders a list of threads may take: PeerTube's sort keys onto SQL.
pub const THREAD_ORDERS: &[(&str, &str)] = &[("createdAt", "c.created_at"), ("totalReplies", "c.total_replies")];

/// The comments of a thread after its first, oldest first, at most `limit`, and how many there
/// are (a thread of ten thousand replies is answered in part).
pub async fn replies(
    e: impl Into<Exec<'_>>,
    thread_id: i64,
    held: Held,
    hide: &[i64],
    limit: i64,
) -> Result<(Vec<Comment>, i64)> {
    let mut x: Exec<'_> = e.into();
    let (all, author) = held.binds();
    let list = crate::id_list(hidden(hide));
    let sql = format!(
        "SELECT {COLUMNS} FROM video_comments WHERE thread_id = $1 AND (held = FALSE OR $2 OR account_id = $3) \
         AND (account_id IS NULL OR account_id NOT IN ({list})) ORDER BY created_at, id LIMIT $4"
    );
    let count_sql = format!(
        "SELECT COUNT(*) FROM video_comments WHERE thread_id = $1 AND (held = FALSE OR $2 OR account_id = $3) \
         AND (account_id IS NULL OR account_id NOT IN ({list}))"
    );
    let rows = run!(&mut x, |x| sqlx::query_as::<_, Comment>(&sql)
        .bind(thread_id)
        .bind(all)
        .bind(author)
        .bind(limit)
        .fetch_all(x)
        .await)?;
    let (total,): (i64,) =
        run!(&mut x, |x| sqlx::query_as(&count_sql).bind(thread_id).bind(all).bind(author).fetch_one(x).await)?;
    Ok((rows, total))
}

/// Per thread of `ids`: its replies that are not deleted and that the viewer sees (`held`), and
/// those of them by `video_author` (an account id).
pub async fn reply_counts(
    e: impl Into<Exec<'_>>,
    ids: &[i64],
    channel_id: i64,
    held: Held,
    hide: &[i64],
) -> Result<Vec<(i64, i64, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let e: Exec<'_> = e.into();
    let (set, ids) = crate::id_set(e.backend(), 4, ids);
    let list = crate::id_list(hidden(hide));
    // By the thread index: the author sits inside the CASE, so no plan reads all of the author's
    // comments (SQLite did, with `account_id = $1` in a subquery's WHERE).
    let (all, author) = held.binds();
    let sql = format!(
        "SELECT thread_id, COUNT(*), \
                SUM(CASE WHEN account_id = (SELECT account_id FROM channels WHERE id = $1) THEN 1 ELSE 0 END) \
         FROM video_comments \
         WHERE thread_id {set} AND deleted_at IS NULL AND (held = FALSE OR $2 OR account_id = $3) \
         AND (account_id IS NULL OR account_id NOT IN ({list})) GROUP BY thread_id"
    );
    let rows: Vec<(i64, i64, Option<i64>)> =
        run!(e, |x| sqlx::query_as(&sql).bind(channel_id).bind(all).bind(author).bind(&ids).fetch_all(x).await)?;
    Ok(rows.into_iter().map(|(t, n, a)| (t, n, a.unwrap_or(0))).collect())
}

/// A page of a video's comments that are not held (tombstones included), oldest first, and how
/// many there are: its ActivityPub `comments` collection.
pub async fn of_video(e: impl Into<Exec<'_>>, video_id: i64, start: i64, count: i64) -> Result<(Vec<Comment>, i64)> {
    let mut x: Exec<'_> = e.into();
    let sql = format!(
        "SELECT {COLUMNS} FROM video_comments WHERE video_id = $1 AND held = FALSE ORDER BY created_at, id \
         LIMIT $2 OFFSET $3"
    );
    let rows =
        run!(&mut x, |x| sqlx::query_as::<_, Comment>(&sql).bind(video_id).bind(count).bind(start).fetch_all(x).await)?;
    let (total,): (i64,) =
        run!(&mut x, |x| sqlx::query_as("SELECT COUNT(*) FROM video_comments WHERE video_id = $1 AND held = FALSE")
            .bind(video_id)
            .fetch_one(x)
            .await)?;
    Ok((rows, total))
}

/// The comments on the videos of the channels of `owner` (an account id), newest first, only the
/// held ones when `held_only`, of one video when `video_id`, and how many there are.
pub async fn on_videos_of(
    e: impl Into<Exec<'_>>,
    owner: i64,
    held_only: bool,
    video_id: Option<i64>,
    start: i64,
    count: i64,
) -> Result<(Vec<Comment>, i64)> {
    let mut x: Exec<'_> = e.into();
    let columns = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {columns} FROM video_comments c JOIN videos v ON v.id = c.video_id \
         JOIN channels ch ON ch.id = v.channel_id WHERE ch.account_id = $1 AND c.deleted_at IS NULL \
         AND (c.held OR NOT $2) AND ($3 < 0 OR c.video_id = $3) ORDER BY c.created_at DESC, c.id DESC \
         LIMIT $4 OFFSET $5"
    );
    let rows = run!(&mut x, |x| sqlx::query_as::<_, Comment>(&sql)
        .bind(owner)
        .bind(held_only)
        .bind(video_id.unwrap_or(-1))
        .bind(count)
        .bind(start)
        .fetch_all(x)
        .await)?;
    let (total,): (i64,) = run!(&mut x, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM video_comments c JOIN videos v ON v.id = c.video_id \
         JOIN channels ch ON ch.id = v.channel_id WHERE ch.account_id = $1 AND c.deleted_at IS NULL \
         AND (c.held OR NOT $2) AND ($3 < 0 OR c.video_id = $3)"
    )
    .bind(owner)
    .bind(held_only)
    .bind(video_id.unwrap_or(-1))
    .fetch_one(x)
    .await)?;
    Ok((rows, total))
}

/// Makes a comment a tombstone: no author, no text, its place in the thread kept; the counts
/// move with it (a held one was not counted; as a tombstone, a held thread is listed from now on).
pub async fn mark_deleted(tx: &mut crate::Tx, id: i64, now: i64) -> Result<()> {
    let Some(c) = get(&mut *tx, id).await?.filter(|c| c.deleted_at.is_none()) else { return Ok(()) };
    run!(&mut *tx, |x| sqlx::query(
        "UPDATE video_comments SET text = '', account_id = NULL, held = FALSE, deleted_at = $2, updated_at = $2 \
         WHERE id = $1 AND deleted_at IS NULL"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?;
    if c.held {
        if c.thread_id.is_none() {
            counted(tx, c.video_id, None, 0, true).await?;
        }
    } else {
        counted(tx, c.video_id, c.thread_id, -1, false).await?;
    }
    Ok(())
}

/// Releases a held comment, and counts it; whether it was held.
pub async fn approve(tx: &mut crate::Tx, id: i64, now: i64) -> Result<bool> {
    let n = run!(&mut *tx, |x| sqlx::query(
        "UPDATE video_comments SET held = FALSE, updated_at = $2 WHERE id = $1 AND held AND deleted_at IS NULL"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    if n > 0
        && let Some(c) = get(&mut *tx, id).await?
    {
        counted(tx, c.video_id, c.thread_id, 1, c.thread_id.is_none()).await?;
    }
    Ok(n > 0)
}

/// Keeps the activity a held remote comment came in, to pass on when it is approved.
pub async fn set_held_activity(e: impl Into<Exec<'_>>, id: i64, activity: &str) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE video_comments SET held_activity = $2 WHERE id = $1")
        .bind(id)
        .bind(activity)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The activity kept by [`set_held_activity`], emptied: read once.
pub async fn take_held_activity(tx: &mut crate::Tx, id: i64) -> Result<Option<String>> {
    let (activity,): (Option<String>,) =
        run!(&mut *tx, |x| sqlx::query_as("SELECT held_activity FROM video_comments WHERE id = $1")
            .bind(id)
            .fetch_optional(x)
            .await)?
        .unwrap_or((None,));
    if activity.is_some() {
        run!(&mut *tx, |x| sqlx::query("UPDATE video_comments SET held_activity = NULL WHERE id = $1")
            .bind(id)
            .execute(x)
            .await
            .map(|_| ()))?;
    }
    Ok(activity)
}

/// A remote comment's new text (an `Update(Note)` from its author).
pub async fn set_text(e: impl Into<Exec<'_>>, id: i64, text: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE video_comments SET text = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL"
    )
    .bind(id)
    .bind(text)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The comments from the root of a thread down to `id` (ids and authors), at most `limit`
/// levels: whom a reply concerns.
pub async fn ancestors(e: impl Into<Exec<'_>>, id: i64, limit: usize) -> Result<Vec<Comment>> {
    let mut x: Exec<'_> = e.into();
    let mut out = Vec::new();
    let mut next = Some(id);
    while let Some(n) = next {
        if out.len() >= limit {
            break;
        }
        let Some(c) = get(&mut x, n).await? else { break };
        next = c.in_reply_to;
        out.push(c);
    }
    Ok(out)
}

/// Which comments the moderators' list shows (`GET /api/v1/videos/comments`).
#[derive(Debug, Default)]
pub struct AdminFilter {
    /// Words of the text.
    pub search: Option<String>,
    /// Part of the author's name.
    pub search_account: Option<String>,
    /// Part of the video's name.
    pub search_video: Option<String>,
    /// Written here (`Some(true)`) or on other servers.
    pub is_local: Option<bool>,
    /// Under our videos (`Some(true)`) or other servers'.
    pub on_local_video: Option<bool>,
    /// Carrying one of these instance tags.
    pub auto_tag_one_of: Vec<String>,
    /// Only those of this account (bulk removal).
    pub account_id: Option<i64>,
    /// Only those under the videos of this account (bulk removal on one's videos).
    pub video_owner: Option<i64>,
}

fn like(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).take(100).collect();
    format!("%{}%", clean.to_lowercase())
}

/// A page of comments that are not deleted, newest first unless `order` (an allow-listed ORDER
/// BY) says otherwise, and how many match.
pub async fn admin_list(
    e: impl Into<Exec<'_>> + Copy,
    f: &AdminFilter,
    order: &str,
    start: i64,
    count: i64,
) -> Result<(Vec<Comment>, i64)> {
    let mut clauses: Vec<String> = vec!["c.deleted_at IS NULL".into()];
    let mut args: Vec<Arg> = Vec::new();
    let push = |args: &mut Vec<Arg>, a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let p = push(&mut args, Arg::S(like(s)));
        clauses.push(format!("lower(c.text) LIKE {p}"));
    }
    if let Some(s) = f.search_account.as_deref().filter(|s| !s.trim().is_empty()) {
        let p = push(&mut args, Arg::S(like(s)));
        clauses.push(format!(
            "c.account_id IN (SELECT a.id FROM accounts a JOIN actors ac ON ac.id = a.actor_id \
             WHERE lower(ac.name) LIKE {p} OR lower(a.display_name) LIKE {p})"
        ));
    }
    if let Some(s) = f.search_video.as_deref().filter(|s| !s.trim().is_empty()) {
        let p = push(&mut args, Arg::S(like(s)));
        clauses.push(format!("lower(v.name) LIKE {p}"));
    }
    match f.is_local {
        Some(true) => clauses.push("c.url IS NULL".into()),
        Some(false) => clauses.push("c.url IS NOT NULL".into()),
        None => {}
    }
    match f.on_local_video {
        Some(true) => clauses.push("v.remote_url IS NULL".into()),
        Some(false) => clauses.push("v.remote_url IS NOT NULL".into()),
        None => {}
    }
    if !f.auto_tag_one_of.is_empty() {
        let ps: Vec<String> = f.auto_tag_one_of.iter().map(|t| push(&mut args, Arg::S(t.clone()))).collect();
        clauses.push(format!(
            "c.id IN (SELECT comment_id FROM comment_auto_tags WHERE account_id IS NULL AND tag IN ({}))",
            ps.join(",")
        ));
    }
    if let Some(a) = f.account_id {
        let p = push(&mut args, Arg::I(a));
        clauses.push(format!("c.account_id = {p}"));
    }
    if let Some(o) = f.video_owner {
        let p = push(&mut args, Arg::I(o));
        clauses.push(format!("v.channel_id IN (SELECT id FROM channels WHERE account_id = {p})"));
    }
    let filter = if clauses.is_empty() { "TRUE".to_string() } else { clauses.join(" AND ") };
    let columns = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {columns} FROM video_comments c JOIN videos v ON v.id = c.video_id WHERE {filter} \
         ORDER BY {order}, c.id DESC LIMIT {count} OFFSET {start}",
        count = count.clamp(1, 100),
        start = start.max(0)
    );
    let count_sql = format!("SELECT COUNT(*) FROM video_comments c JOIN videos v ON v.id = c.video_id WHERE {filter}");
    let rows = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as::<_, Comment>(&sql), &args);
        q.fetch_all(x).await
    })?;
    let (total,): (i64,) = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as(&count_sql), &args);
        q.fetch_one(x).await
    })?;
    Ok((rows, total))
}
