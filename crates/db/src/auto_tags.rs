//! Watched words, the automatic tags of comments and the review policies (migration 0029).
//! `account` `None` is the instance's.

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct WordList {
    pub id: i64,
    pub account_id: Option<i64>,
    pub list_name: String,
    /// A JSON array of strings.
    pub words: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, account_id, list_name, words, created_at, updated_at";

/// The lists of a scope, by name.
pub async fn lists(e: impl Into<Exec<'_>>, account: Option<i64>) -> Result<Vec<WordList>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM watched_word_lists WHERE account_id = $1 OR ($1 IS NULL AND account_id IS NULL) \
         ORDER BY list_name, id"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, WordList>(&sql).bind(account).fetch_all(x).await)?)
}

/// The lists of an account and the instance's, in one read (what a new comment is checked against).
pub async fn lists_for(e: impl Into<Exec<'_>>, account: Option<i64>) -> Result<Vec<WordList>> {
    let sql = format!("SELECT {COLUMNS} FROM watched_word_lists WHERE account_id IS NULL OR account_id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, WordList>(&sql).bind(account.unwrap_or(-1)).fetch_all(x).await)?)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<WordList>> {
    let sql = format!("SELECT {COLUMNS} FROM watched_word_lists WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, WordList>(&sql).bind(id).fetch_optional(x).await)?)
}

/// A new list; `None` when the scope has one of that name.
pub async fn insert(
    e: impl Into<Exec<'_>>,
    account: Option<i64>,
    name: &str,
    words: &str,
    now: i64,
) -> Result<Option<i64>> {
    let row: Option<(i64,)> = run!(e, |x| sqlx::query_as(
        "INSERT INTO watched_word_lists (account_id, list_name, words, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING RETURNING id"
    )
    .bind(account)
    .bind(name)
    .bind(words)
    .bind(now)
    .fetch_optional(x)
    .await)?;
    Ok(row.map(|(id,)| id))
}

pub async fn update(e: impl Into<Exec<'_>>, id: i64, name: &str, words: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE watched_word_lists SET list_name = $2, words = $3, updated_at = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(name)
    .bind(words)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM watched_word_lists WHERE id = $1").bind(id).execute(x).await.map(|_| ()))?;
    Ok(())
}

pub async fn count_lists(e: impl Into<Exec<'_>>, account: Option<i64>) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM watched_word_lists WHERE account_id = $1 OR ($1 IS NULL AND account_id IS NULL)"
    )
    .bind(account)
    .fetch_one(x)
    .await)?;
    Ok(n)
}

/// Tags a comment for `account` (or the instance).
pub async fn tag(tx: &mut crate::Tx, comment: i64, account: Option<i64>, tag: &str) -> Result<()> {
    run!(&mut *tx, |x| sqlx::query("INSERT INTO comment_auto_tags (comment_id, account_id, tag) VALUES ($1, $2, $3)")
        .bind(comment)
        .bind(account)
        .bind(tag)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The tags of comments for `account` (or the instance), as `(comment, tag)`.
pub async fn tags_of(e: impl Into<Exec<'_>>, comments: &[i64], account: Option<i64>) -> Result<Vec<(i64, String)>> {
    if comments.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::id_list(comments);
    let sql = format!(
        "SELECT comment_id, tag FROM comment_auto_tags WHERE comment_id IN ({list}) \
         AND (account_id = $1 OR ($1 IS NULL AND account_id IS NULL)) ORDER BY tag"
    );
    Ok(run!(e, |x| sqlx::query_as(&sql).bind(account).fetch_all(x).await)?)
}

/// The tags an account's policy holds comments for.
pub async fn review_tags(e: impl Into<Exec<'_>>, account: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT tag FROM auto_tag_policies WHERE account_id = $1 ORDER BY tag")
            .bind(account)
            .fetch_all(x)
            .await)?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

pub async fn set_review_tags(tx: &mut crate::Tx, account: i64, tags: &[String]) -> Result<()> {
    run!(&mut *tx, |x| sqlx::query("DELETE FROM auto_tag_policies WHERE account_id = $1")
        .bind(account)
        .execute(x)
        .await
        .map(|_| ()))?;
    for t in tags {
        run!(&mut *tx, |x| sqlx::query("INSERT INTO auto_tag_policies (account_id, tag) VALUES ($1, $2)")
            .bind(account)
            .bind(t.as_str())
            .execute(x)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}
