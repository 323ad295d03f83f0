//! Likes and dislikes: one rating per user and video, and the counts on `videos` kept in step in
//! the same transaction (deltas, so the counts a remote video arrived with are kept).

use crate::{Exec, Result, Tx, run};

/// The user's rating of a video: `like`, `dislike`, or `None`.
pub async fn get(e: impl Into<Exec<'_>>, user_id: i64, video_id: i64) -> Result<Option<String>> {
    let row: Option<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT rating FROM video_rates WHERE user_id = $1 AND video_id = $2")
            .bind(user_id)
            .bind(video_id)
            .fetch_optional(x)
            .await)?;
    Ok(row.map(|(r,)| r))
}

/// Sets (or with `None` removes) a rating and moves the video's counts by the difference.
/// Returns the rating it replaced, with when it was given, or `None` when nothing changed.
pub async fn set(
    tx: &mut Tx,
    user_id: i64,
    video_id: i64,
    rating: Option<&str>,
    now: i64,
) -> Result<Option<Option<(String, i64)>>> {
    let before: Option<(String, i64)> = run!(&mut *tx, |x| sqlx::query_as(
        "SELECT rating, created_at FROM video_rates WHERE user_id = $1 AND video_id = $2"
    )
    .bind(user_id)
    .bind(video_id)
    .fetch_optional(x)
    .await)?;
    let old = before.as_ref().map(|(r, _)| r.clone());
    if old.as_deref() == rating {
        return Ok(None);
    }
    run!(&mut *tx, |x| sqlx::query("DELETE FROM video_rates WHERE user_id = $1 AND video_id = $2")
        .bind(user_id)
        .bind(video_id)
        .execute(x)
        .await
        .map(|_| ()))?;
    if let Some(r) = rating {
        run!(&mut *tx, |x| sqlx::query(
            "INSERT INTO video_rates (user_id, video_id, rating, created_at) VALUES ($1, $2, $3, $4)"
        )
        .bind(user_id)
        .bind(video_id)
        .bind(r)
        .bind(now)
        .execute(x)
        .await
        .map(|_| ()))?;
    }
    move_counts(tx, video_id, old.as_deref(), rating).await?;
    Ok(Some(before))
}

/// Moves a video's counts from the `old` rating to the `new` one.
async fn move_counts(tx: &mut Tx, video_id: i64, old: Option<&str>, new: Option<&str>) -> Result<()> {
    let delta = |which: &str| i64::from(new == Some(which)) - i64::from(old == Some(which));
    let (likes, dislikes) = (delta("like"), delta("dislike"));
    run!(&mut *tx, |x| sqlx::query(
        "UPDATE videos SET likes = CASE WHEN likes + $2 < 0 THEN 0 ELSE likes + $2 END, \
         dislikes = CASE WHEN dislikes + $3 < 0 THEN 0 ELSE dislikes + $3 END WHERE id = $1"
    )
    .bind(video_id)
    .bind(likes)
    .bind(dislikes)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Who gave `video_id` the `rating`, newest first: a local account's name, or the id of a remote
/// actor's activity; and how many did, local and remote.
pub async fn raters(
    e: impl Into<Exec<'_>>,
    video_id: i64,
    rating: &str,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Rater>, i64)> {
    let mut x: Exec<'_> = e.into();
    let rows: Vec<(Option<String>, Option<String>)> = run!(&mut x, |x| sqlx::query_as(
        "SELECT name, url FROM (\
           SELECT ac.name AS name, CAST(NULL AS TEXT) AS url, r.created_at AS at FROM video_rates r \
           JOIN accounts a ON a.user_id = r.user_id JOIN actors ac ON ac.id = a.actor_id \
           WHERE r.video_id = $1 AND r.rating = $2 \
           UNION ALL SELECT CAST(NULL AS TEXT), rr.url, rr.created_at FROM remote_rates rr \
           WHERE rr.video_id = $1 AND rr.rating = $2\
         ) AS t ORDER BY at DESC, name, url LIMIT $3 OFFSET $4"
    )
    .bind(video_id)
    .bind(rating)
    .bind(limit)
    .bind(offset)
    .fetch_all(x)
    .await)?;
    let (total,): (i64,) = run!(&mut x, |x| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM video_rates r JOIN accounts a ON a.user_id = r.user_id \
         WHERE r.video_id = $1 AND r.rating = $2) + \
         (SELECT COUNT(*) FROM remote_rates WHERE video_id = $1 AND rating = $2)"
    )
    .bind(video_id)
    .bind(rating)
    .fetch_one(x)
    .await)?;
    let raters = rows
        .into_iter()
        .filter_map(|(name, url)| match (name, url) {
            (Some(n), _) => Some(Rater::Local(n)),
            (None, Some(u)) => Some(Rater::Remote(u)),
            (None, None) => None,
        })
        .collect();
    Ok((raters, total))
}

/// One who rated a video: a local account (by name) or a remote actor (by its activity's id).
#[derive(Debug, Clone, PartialEq)]
pub enum Rater {
    Local(String),
    Remote(String),
}

/// Sets (or with `None` removes) the rating another server's actor gave a local video, known by
/// its activity's `url`, and moves the video's counts. Returns whether the counts changed. The
/// rating replaced is the one the statement deleted (not one read before it), so two activities
/// of one actor applied at once cannot both move the counts for the same rating.
pub async fn set_remote(
    tx: &mut Tx,
    actor_id: i64,
    video_id: i64,
    rating: Option<(&str, &str)>,
    now: i64,
) -> Result<bool> {
    let old: Option<(String,)> = run!(&mut *tx, |x| sqlx::query_as(
        "DELETE FROM remote_rates WHERE actor_id = $1 AND video_id = $2 RETURNING rating"
    )
    .bind(actor_id)
    .bind(video_id)
    .fetch_optional(x)
    .await)?;
    let old = old.map(|(r,)| r);
    let new = rating.map(|(r, _)| r);
    if let Some((r, url)) = rating {
        run!(&mut *tx, |x| sqlx::query(
            "INSERT INTO remote_rates (actor_id, video_id, rating, url, created_at) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(actor_id)
        .bind(video_id)
        .bind(r)
        .bind(url)
        .bind(now)
        .execute(x)
        .await
        .map(|_| ()))?;
    }
    if old.as_deref() == new {
        return Ok(false);
    }
    move_counts(tx, video_id, old.as_deref(), new).await?;
    Ok(true)
}

/// Removes the rating an actor gave by the activity `url` (its `Undo`), if it is still there, and
/// moves the counts; returns the video whose counts changed.
pub async fn remove_remote_by_url(tx: &mut Tx, actor_id: i64, url: &str) -> Result<Option<i64>> {
    let gone: Option<(i64, String)> = run!(&mut *tx, |x| sqlx::query_as(
        "DELETE FROM remote_rates WHERE actor_id = $1 AND url = $2 RETURNING video_id, rating"
    )
    .bind(actor_id)
    .bind(url)
    .fetch_optional(x)
    .await)?;
    let Some((video_id, rating)) = gone else { return Ok(None) };
    move_counts(tx, video_id, Some(&rating), None).await?;
    Ok(Some(video_id))
}

/// The rating a remote actor gave a local video, if any.
pub async fn remote_get(e: impl Into<Exec<'_>>, actor_id: i64, video_id: i64) -> Result<Option<String>> {
    let row: Option<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT rating FROM remote_rates WHERE actor_id = $1 AND video_id = $2")
            .bind(actor_id)
            .bind(video_id)
            .fetch_optional(x)
            .await)?;
    Ok(row.map(|(r,)| r))
}

/// Takes a local user's likes and dislikes off the counts of the videos they rated (their rows go
/// with the user, by cascade), in the deleting transaction.
pub async fn forget_user(e: impl Into<Exec<'_>>, user_id: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET \
         likes = likes - (SELECT COUNT(*) FROM video_rates r WHERE r.video_id = videos.id AND r.user_id = $1 \
           AND r.rating = 'like'), \
         dislikes = dislikes - (SELECT COUNT(*) FROM video_rates r WHERE r.video_id = videos.id \
           AND r.user_id = $1 AND r.rating = 'dislike') \
         WHERE id IN (SELECT video_id FROM video_rates WHERE user_id = $1)"
    )
    .bind(user_id)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The inboxes of the servers of the remote videos a local user rated or whose account commented
/// (at most `limit`, shared inboxes where known): they hold what the user left there.
pub async fn remote_origins_of(
    e: impl Into<Exec<'_>>,
    user_id: i64,
    account_id: i64,
    limit: i64,
) -> Result<Vec<String>> {
    Ok(run!(e, |x| {
        sqlx::query_scalar(
        "SELECT DISTINCT COALESCE(ac.shared_inbox, ac.inbox) FROM videos v \
         JOIN channels ch ON ch.id = v.channel_id JOIN accounts a ON a.id = ch.account_id \
         JOIN actors ac ON ac.id = a.actor_id \
         WHERE v.remote_url IS NOT NULL AND ac.inbox IS NOT NULL AND (v.id IN (SELECT video_id FROM video_rates WHERE user_id = $1) \
           OR v.id IN (SELECT video_id FROM video_comments WHERE account_id = $2)) LIMIT $3"
    )
    .bind(user_id)
    .bind(account_id)
    .bind(limit)
    .fetch_all(x)
    .await
    })?)
}
