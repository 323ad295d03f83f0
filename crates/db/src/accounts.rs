//! Accounts (ActivityPub `Person`) and the actor rows that hold their names.

use flotilla_domain::{AccountId, UserId};

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub actor_id: i64,
    pub user_id: Option<i64>,
    pub name: String,
    pub host: String,
    /// The ActivityPub id of a remote account (`None` for ours).
    pub url: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Account {
    pub fn account_id(&self) -> AccountId {
        AccountId(self.id)
    }
}

const SELECT: &str = "SELECT a.id, a.actor_id, a.user_id, ac.name, ac.host, ac.url, a.display_name, a.description, \
    a.created_at, a.updated_at FROM accounts a JOIN actors ac ON ac.id = a.actor_id";

/// Claims a local actor name. Fails with `Conflict` when an account or channel already has it.
pub async fn insert_actor(e: impl Into<Exec<'_>>, kind: &str, name: &str, now: i64) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO actors (kind, name, host, created_at) VALUES ($1, $2, '', $3) RETURNING id"
    )
    .bind(kind)
    .bind(name)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn local_name_taken(e: impl Into<Exec<'_>>, name: &str) -> Result<bool> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM actors WHERE host = '' AND name = $1")
        .bind(name)
        .fetch_one(x)
        .await)?;
    Ok(n > 0)
}

/// Deletes an actor and what hangs off it; the likes and dislikes it gave our videos (which go
/// with it) are taken off the videos' counts first.
pub async fn delete_actor(e: impl Into<Exec<'_>>, actor_id: i64) -> Result<()> {
    let mut e: Exec<'_> = e.into();
    run!(&mut e, |x| sqlx::query(
        "UPDATE videos SET \
         likes = likes - (SELECT COUNT(*) FROM remote_rates r WHERE r.video_id = videos.id AND r.actor_id = $1 \
           AND r.rating = 'like'), \
         dislikes = dislikes - (SELECT COUNT(*) FROM remote_rates r WHERE r.video_id = videos.id \
           AND r.actor_id = $1 AND r.rating = 'dislike') \
         WHERE id IN (SELECT video_id FROM remote_rates WHERE actor_id = $1)"
    )
    .bind(actor_id)
    .execute(x)
    .await
    .map(|_| ()))?;
    // Its comments go with its account (and their replies with them): the videos they were under
    // are counted again after.
    let touched: Vec<(i64,)> = run!(&mut e, |x| sqlx::query_as(
        "SELECT DISTINCT c.video_id FROM video_comments c JOIN accounts a ON a.id = c.account_id \
         WHERE a.actor_id = $1"
    )
    .bind(actor_id)
    .fetch_all(x)
    .await)?;
    run!(&mut e, |x| sqlx::query("DELETE FROM actors WHERE id = $1")
        .bind(actor_id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    for (video,) in touched {
        crate::comments::recount(&mut e, video).await?;
    }
    Ok(())
}

pub async fn insert(
    e: impl Into<Exec<'_>>,
    actor_id: i64,
    user_id: Option<UserId>,
    display_name: &str,
    now: i64,
) -> Result<AccountId> {
    let (id,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO accounts (actor_id, user_id, display_name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id"
    )
    .bind(actor_id)
    .bind(user_id.map(|u| u.0))
    .bind(display_name)
    .bind(now)
    .fetch_one(x)
    .await
    })?;
    Ok(AccountId(id))
}

pub async fn get(e: impl Into<Exec<'_>>, id: AccountId) -> Result<Option<Account>> {
    let sql = format!("{SELECT} WHERE a.id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Account>(&sql).bind(id.0).fetch_optional(x).await)?)
}

/// Several accounts at once.
pub async fn get_many(e: impl Into<Exec<'_>>, ids: &[i64]) -> Result<Vec<Account>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let e: Exec<'_> = e.into();
    let (set, ids) = crate::id_set(e.backend(), 1, ids);
    let sql = format!("{SELECT} WHERE a.id {set}");
    Ok(run!(e, |x| sqlx::query_as::<_, Account>(&sql).bind(&ids).fetch_all(x).await)?)
}

/// Accounts by id with their actors' images (smallest first), in one query: a page of comments
/// shows each author with an avatar.
pub async fn get_many_with_images(
    e: impl Into<Exec<'_>>,
    ids: &[i64],
) -> Result<(Vec<Account>, Vec<crate::images::Image>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        account: Account,
        image_id: Option<i64>,
        image_kind: Option<String>,
        image_filename: Option<String>,
        image_width: Option<i64>,
        image_height: Option<i64>,
        image_created_at: Option<i64>,
    }
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let e: Exec<'_> = e.into();
    let (set, ids) = crate::id_set(e.backend(), 1, ids);
    let sql = format!(
        "SELECT a.id, a.actor_id, a.user_id, ac.name, ac.host, ac.url, a.display_name, a.description, \
         a.created_at, a.updated_at, i.id AS image_id, i.kind AS image_kind, i.filename AS image_filename, \
         i.width AS image_width, i.height AS image_height, i.created_at AS image_created_at \
         FROM accounts a JOIN actors ac ON ac.id = a.actor_id LEFT JOIN actor_images i ON i.actor_id = a.actor_id \
         WHERE a.id {set} ORDER BY i.width, i.id"
    );
    let rows = run!(e, |x| sqlx::query_as::<_, Row>(&sql).bind(&ids).fetch_all(x).await)?;
    let mut accounts: Vec<Account> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut images = Vec::new();
    for r in rows {
        if let (Some(id), Some(kind), Some(filename), Some(width), Some(height), Some(created_at)) =
            (r.image_id, r.image_kind, r.image_filename, r.image_width, r.image_height, r.image_created_at)
        {
            images.push(crate::images::Image {
                id,
                actor_id: r.account.actor_id,
                kind,
                filename,
                width,
                height,
                created_at,
            });
        }
        if seen.insert(r.account.id) {
            accounts.push(r.account);
        }
    }
    Ok((accounts, images))
}

pub async fn get_by_user(e: impl Into<Exec<'_>>, user: UserId) -> Result<Option<Account>> {
    let sql = format!("{SELECT} WHERE a.user_id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Account>(&sql).bind(user.0).fetch_optional(x).await)?)
}

pub async fn get_local_by_name(e: impl Into<Exec<'_>>, name: &str) -> Result<Option<Account>> {
    let sql = format!("{SELECT} WHERE ac.host = '' AND ac.name = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Account>(&sql).bind(name).fetch_optional(x).await)?)
}

pub async fn update(
    e: impl Into<Exec<'_>>,
    id: AccountId,
    display_name: Option<&str>,
    description: Option<Option<&str>>,
    now: i64,
) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE accounts SET display_name = COALESCE($2, display_name), \
         description = CASE WHEN $3 THEN $4 ELSE description END, updated_at = $5 WHERE id = $1"
    )
    .bind(id.0)
    .bind(display_name)
    .bind(description.is_some())
    .bind(description.flatten())
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// An actor's key pair, if it has one yet: `(private PEM, public PEM)`.
/// Keeps a deleted local actor's private key to sign its `Delete` (see the migration).
pub async fn retire_key(e: impl Into<Exec<'_>>, actor_url: &str, private_key_pem: &str, now: i64) -> Result<()> {
    run!(e, |x| {
        sqlx::query(
        "INSERT INTO retired_keys (actor_url, private_key_pem, retired_at) VALUES ($1, $2, $3) \
         ON CONFLICT (actor_url) DO UPDATE SET private_key_pem = excluded.private_key_pem, retired_at = excluded.retired_at"
    )
    .bind(actor_url)
    .bind(private_key_pem)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ())
    })?;
    Ok(())
}

/// The key kept by [`retire_key`] for this actor URL, if any.
pub async fn retired_key(e: impl Into<Exec<'_>>, actor_url: &str) -> Result<Option<String>> {
    Ok(run!(e, |x| sqlx::query_scalar("SELECT private_key_pem FROM retired_keys WHERE actor_url = $1")
        .bind(actor_url)
        .fetch_optional(x)
        .await)?)
}

/// Forgets the keys retired before `before`; how many.
pub async fn prune_retired_keys(e: impl Into<Exec<'_>>, before: i64) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query("DELETE FROM retired_keys WHERE retired_at < $1")
        .bind(before)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?)
}

pub async fn keys(e: impl Into<Exec<'_>>, actor_id: i64) -> Result<Option<(String, String)>> {
    let row: Option<(Option<String>, Option<String>)> =
        run!(e, |x| sqlx::query_as("SELECT private_key_pem, public_key_pem FROM actors WHERE id = $1")
            .bind(actor_id)
            .fetch_optional(x)
            .await)?;
    Ok(row.and_then(|(a, b)| a.zip(b)))
}

/// Stores a key pair unless the actor got one meanwhile (the first writer wins).
pub async fn set_keys_once(e: impl Into<Exec<'_>>, actor_id: i64, private: &str, public: &str) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE actors SET private_key_pem = $2, public_key_pem = $3 WHERE id = $1 AND private_key_pem IS NULL"
    )
    .bind(actor_id)
    .bind(private)
    .bind(public)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The id of the local actor `name` of `kind` (`Application` for the instance actor).
pub async fn local_actor_id(e: impl Into<Exec<'_>>, kind: &str, name: &str) -> Result<Option<i64>> {
    let row: Option<(i64,)> =
        run!(e, |x| sqlx::query_as("SELECT id FROM actors WHERE host = '' AND kind = $1 AND name = $2")
            .bind(kind)
            .bind(name)
            .fetch_optional(x)
            .await)?;
    Ok(row.map(|r| r.0))
}

/// When an actor was created (its `published` date); `None` for an unknown id.
pub async fn actor_created_at(e: impl Into<Exec<'_>>, actor_id: i64) -> Result<Option<i64>> {
    let row: Option<(i64,)> = run!(e, |x| sqlx::query_as("SELECT created_at FROM actors WHERE id = $1")
        .bind(actor_id)
        .fetch_optional(x)
        .await)?;
    Ok(row.map(|r| r.0))
}

/// `(kind, name)` of a local actor.
pub async fn local_actor(e: impl Into<Exec<'_>>, actor_id: i64) -> Result<Option<(String, String)>> {
    Ok(run!(e, |x| sqlx::query_as("SELECT kind, name FROM actors WHERE id = $1 AND host = ''")
        .bind(actor_id)
        .fetch_optional(x)
        .await)?)
}

/// The account row of a (remote) actor, if it has one.
pub async fn get_by_actor(e: impl Into<Exec<'_>>, actor_id: i64) -> Result<Option<Account>> {
    let sql = format!("{SELECT} WHERE a.actor_id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Account>(&sql).bind(actor_id).fetch_optional(x).await)?)
}
