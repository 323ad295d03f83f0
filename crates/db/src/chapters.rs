//! Chapters of videos (migration 0041).

use crate::{Exec, Result, Tx, run};

/// A video's chapters as `(timecode in seconds, title)`, in order.
pub async fn of_video(e: impl Into<Exec<'_>>, video: i64) -> Result<Vec<(i64, String)>> {
    Ok(run!(e, |x| sqlx::query_as::<_, (i64, String)>(
        "SELECT timecode, title FROM video_chapters WHERE video_id = $1 ORDER BY timecode"
    )
    .bind(video)
    .fetch_all(x)
    .await)?)
}

/// Replaces a video's chapters (the caller checked them: timecodes distinct).
pub async fn replace(tx: &mut Tx, video: i64, chapters: &[(i64, String)]) -> Result<()> {
    run!(&mut *tx, |x| sqlx::query("DELETE FROM video_chapters WHERE video_id = $1")
        .bind(video)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    for (timecode, title) in chapters {
        run!(&mut *tx, |x| sqlx::query("INSERT INTO video_chapters (video_id, timecode, title) VALUES ($1, $2, $3)")
            .bind(video)
            .bind(timecode)
            .bind(title)
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}
