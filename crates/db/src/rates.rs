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
pub async fn set(tx: &mut Tx, user_id: i64, video_id: i64, rating: Option<&str>, now: i64) -> Result<()> {
    let old = get(&mut *tx, user_id, video_id).await?;
    if old.as_deref() == rating {
        return Ok(());
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
    let delta = |which: &str| i64::from(rating == Some(which)) - i64::from(old.as_deref() == Some(which));
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

/// The local accounts (names) that gave `video_id` the `rating`, newest first, and how many did.
pub async fn raters(
    e: impl Into<Exec<'_>>,
    video_id: i64,
    rating: &str,
    offset: i64,
    limit: i64,
) -> Result<(Vec<String>, i64)> {
    let mut x: Exec<'_> = e.into();
    let rows: Vec<(String,)> = run!(&mut x, |x| sqlx::query_as(
        "SELECT ac.name FROM video_rates r JOIN accounts a ON a.user_id = r.user_id \
         JOIN actors ac ON ac.id = a.actor_id WHERE r.video_id = $1 AND r.rating = $2 \
         ORDER BY r.created_at DESC, ac.name LIMIT $3 OFFSET $4"
    )
    .bind(video_id)
    .bind(rating)
    .bind(limit)
    .bind(offset)
    .fetch_all(x)
    .await)?;
    let (total,): (i64,) = run!(&mut x, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM video_rates r JOIN accounts a ON a.user_id = r.user_id \
         WHERE r.video_id = $1 AND r.rating = $2"
    )
    .bind(video_id)
    .bind(rating)
    .fetch_one(x)
    .await)?;
    Ok((rows.into_iter().map(|(n,)| n).collect(), total))
}
