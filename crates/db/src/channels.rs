//! Video channels (ActivityPub `Group`), owned by an account.

use flotilla_domain::{AccountId, ChannelId};

use crate::{Exec, Page, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Channel {
    pub id: i64,
    pub actor_id: i64,
    pub account_id: i64,
    pub name: String,
    pub host: String,
    /// The ActivityPub id of a remote channel (`None` for ours).
    pub url: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    pub support: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Channel {
    pub fn channel_id(&self) -> ChannelId {
        ChannelId(self.id)
    }
    pub fn owner(&self) -> AccountId {
        AccountId(self.account_id)
    }
}

/// Changes to a channel; `Some(None)` clears an optional text.
#[derive(Default)]
pub struct ChannelPatch<'a> {
    pub display_name: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub support: Option<Option<&'a str>>,
}

const SELECT: &str = "SELECT c.id, c.actor_id, c.account_id, ac.name, ac.host, ac.url, c.display_name, c.description, \
    c.support, c.created_at, c.updated_at FROM channels c JOIN actors ac ON ac.id = c.actor_id";

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    e: impl Into<Exec<'_>>,
    actor_id: i64,
    account: AccountId,
    display_name: &str,
    description: Option<&str>,
    support: Option<&str>,
    now: i64,
) -> Result<ChannelId> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO channels (actor_id, account_id, display_name, description, support, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id"
    )
    .bind(actor_id)
    .bind(account.0)
    .bind(display_name)
    .bind(description)
    .bind(support)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(ChannelId(id))
}

pub async fn get(e: impl Into<Exec<'_>>, id: ChannelId) -> Result<Option<Channel>> {
    let sql = format!("{SELECT} WHERE c.id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Channel>(&sql).bind(id.0).fetch_optional(x).await)?)
}

/// Several channels at once (lists build their JSON without a query per row).
pub async fn get_many(e: impl Into<Exec<'_>>, ids: &[i64]) -> Result<Vec<Channel>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let e: Exec<'_> = e.into();
    let (set, ids) = crate::id_set(e.backend(), 1, ids);
    let sql = format!("{SELECT} WHERE c.id {set}");
    Ok(run!(e, |x| sqlx::query_as::<_, Channel>(&sql).bind(&ids).fetch_all(x).await)?)
}

/// Channels by id with their accounts and both actors' images (smallest first), in one query:
/// what a page of videos shows of each video's owner. Rows of two shapes, one per channel (its
/// account beside it) and one per image, made one list by `UNION ALL`; on PostgreSQL every query
/// is a round trip to another process, which cost a page more than the rows themselves (three
/// queries before).
pub async fn owners(
    e: impl Into<Exec<'_>>,
    ids: &[i64],
) -> Result<(Vec<Channel>, Vec<crate::accounts::Account>, Vec<crate::images::Image>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        part: i64,
        c_id: Option<i64>,
        c_actor_id: Option<i64>,
        c_name: Option<String>,
        c_host: Option<String>,
        c_url: Option<String>,
        c_display_name: Option<String>,
        c_description: Option<String>,
        c_support: Option<String>,
        c_created_at: Option<i64>,
        c_updated_at: Option<i64>,
        a_id: Option<i64>,
        a_actor_id: Option<i64>,
        a_user_id: Option<i64>,
        a_name: Option<String>,
        a_host: Option<String>,
        a_url: Option<String>,
        a_display_name: Option<String>,
        a_description: Option<String>,
        a_created_at: Option<i64>,
        a_updated_at: Option<i64>,
        i_id: Option<i64>,
        i_actor_id: Option<i64>,
        i_kind: Option<String>,
        i_filename: Option<String>,
        i_width: Option<i64>,
        i_height: Option<i64>,
        i_created_at: Option<i64>,
    }
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new(), Vec::new()));
    }
    let e: Exec<'_> = e.into();
    // The ids are written into the statement. Bound as one parameter (`id_set`, 2e3e4e4), the
    // first list page at 100k answered ~30 % fewer requests on SQLite and ~40 % fewer on
    // PostgreSQL (release builds alternated), though the statement alone planned faster on
    // PostgreSQL: measure a page, not a statement.
    let list = crate::id_list(ids);
    // The owner branch names the types of the image columns it leaves empty (PostgreSQL would
    // otherwise take them as text); the image branch's NULLs take the owner branch's types.
    let sql = format!(
        "SELECT CAST(0 AS BIGINT) AS part, c.id AS c_id, c.actor_id AS c_actor_id, cac.name AS c_name, cac.host AS c_host, \
         cac.url AS c_url, c.display_name AS c_display_name, c.description AS c_description, \
         c.support AS c_support, c.created_at AS c_created_at, c.updated_at AS c_updated_at, \
         a.id AS a_id, a.actor_id AS a_actor_id, a.user_id AS a_user_id, aac.name AS a_name, aac.host AS a_host, \
         aac.url AS a_url, a.display_name AS a_display_name, a.description AS a_description, \
         a.created_at AS a_created_at, a.updated_at AS a_updated_at, \
         CAST(NULL AS BIGINT) AS i_id, CAST(NULL AS BIGINT) AS i_actor_id, CAST(NULL AS TEXT) AS i_kind, \
         CAST(NULL AS TEXT) AS i_filename, CAST(NULL AS BIGINT) AS i_width, CAST(NULL AS BIGINT) AS i_height, \
         CAST(NULL AS BIGINT) AS i_created_at \
         FROM channels c JOIN actors cac ON cac.id = c.actor_id \
         JOIN accounts a ON a.id = c.account_id JOIN actors aac ON aac.id = a.actor_id \
         WHERE c.id IN ({list}) \
         UNION ALL \
         SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
         i.id, i.actor_id, i.kind, i.filename, i.width, i.height, i.created_at \
         FROM actor_images i WHERE i.actor_id IN (SELECT actor_id FROM channels WHERE id IN ({list}) \
         UNION SELECT a.actor_id FROM channels c JOIN accounts a ON a.id = c.account_id WHERE c.id IN ({list})) \
         ORDER BY part, i_width, i_id"
    );
    let rows = run!(e, |x| sqlx::query_as::<_, Row>(&sql).fetch_all(x).await)?;
    let (mut chans, mut accounts, mut images) = (Vec::new(), Vec::<crate::accounts::Account>::new(), Vec::new());
    let broken = || crate::Error::Other("a channel's owner row lacks a column".into());
    for r in rows {
        if r.part == 0 {
            let account_id = r.a_id.ok_or_else(broken)?;
            chans.push(Channel {
                id: r.c_id.ok_or_else(broken)?,
                actor_id: r.c_actor_id.ok_or_else(broken)?,
                account_id,
                name: r.c_name.ok_or_else(broken)?,
                host: r.c_host.ok_or_else(broken)?,
                url: r.c_url,
                display_name: r.c_display_name.ok_or_else(broken)?,
                description: r.c_description,
                support: r.c_support,
                created_at: r.c_created_at.ok_or_else(broken)?,
                updated_at: r.c_updated_at.ok_or_else(broken)?,
            });
            if !accounts.iter().any(|a| a.id == account_id) {
                accounts.push(crate::accounts::Account {
                    id: account_id,
                    actor_id: r.a_actor_id.ok_or_else(broken)?,
                    user_id: r.a_user_id,
                    name: r.a_name.ok_or_else(broken)?,
                    host: r.a_host.ok_or_else(broken)?,
                    url: r.a_url,
                    display_name: r.a_display_name.ok_or_else(broken)?,
                    description: r.a_description,
                    created_at: r.a_created_at.ok_or_else(broken)?,
                    updated_at: r.a_updated_at.ok_or_else(broken)?,
                });
            }
        } else {
            images.push(crate::images::Image {
                id: r.i_id.ok_or_else(broken)?,
                actor_id: r.i_actor_id.ok_or_else(broken)?,
                kind: r.i_kind.ok_or_else(broken)?,
                filename: r.i_filename.ok_or_else(broken)?,
                width: r.i_width.ok_or_else(broken)?,
                height: r.i_height.ok_or_else(broken)?,
                created_at: r.i_created_at.ok_or_else(broken)?,
            });
        }
    }
    Ok((chans, accounts, images))
}

pub async fn get_local_by_name(e: impl Into<Exec<'_>>, name: &str) -> Result<Option<Channel>> {
    let sql = format!("{SELECT} WHERE ac.host = '' AND ac.name = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Channel>(&sql).bind(name).fetch_optional(x).await)?)
}

pub async fn list_by_account(e: impl Into<Exec<'_>>, account: AccountId) -> Result<Vec<Channel>> {
    let sql = format!("{SELECT} WHERE c.account_id = $1 ORDER BY c.id");
    Ok(run!(e, |x| sqlx::query_as::<_, Channel>(&sql).bind(account.0).fetch_all(x).await)?)
}

pub async fn count_by_account(e: impl Into<Exec<'_>>, account: AccountId) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM channels WHERE account_id = $1")
        .bind(account.0)
        .fetch_one(x)
        .await)?;
    Ok(n)
}

pub async fn count(e: impl Into<Exec<'_>>) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM channels").fetch_one(x).await)?;
    Ok(n)
}

pub async fn list(e: impl Into<Exec<'_>> + Copy, page: Page, order: &str) -> Result<(Vec<Channel>, i64)> {
    let sql = format!("{SELECT} ORDER BY {order}, c.id LIMIT $1 OFFSET $2");
    let rows = run!(e, |x| sqlx::query_as::<_, Channel>(&sql).bind(page.count).bind(page.start).fetch_all(x).await)?;
    Ok((rows, count(e).await?))
}

pub async fn update(e: impl Into<Exec<'_>>, id: ChannelId, p: &ChannelPatch<'_>, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE channels SET display_name = COALESCE($2, display_name), \
         description = CASE WHEN $3 THEN $4 ELSE description END, \
         support = CASE WHEN $5 THEN $6 ELSE support END, updated_at = $7 WHERE id = $1"
    )
    .bind(id.0)
    .bind(p.display_name)
    .bind(p.description.is_some())
    .bind(p.description.flatten())
    .bind(p.support.is_some())
    .bind(p.support.flatten())
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The channel row of a (remote) actor, if it has one.
pub async fn get_by_actor(e: impl Into<Exec<'_>>, actor_id: i64) -> Result<Option<Channel>> {
    let sql = format!("{SELECT} WHERE c.actor_id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Channel>(&sql).bind(actor_id).fetch_optional(x).await)?)
}

/// Channels an actor follows (accepted or pending), newest follow first.
pub async fn list_followed_by(
    e: impl Into<Exec<'_>> + Copy,
    actor: i64,
    start: i64,
    count: i64,
) -> Result<(Vec<Channel>, i64)> {
    let sql = format!(
        "{SELECT} JOIN follows f ON f.target_id = c.actor_id WHERE f.follower_id = $1 ORDER BY f.id DESC LIMIT $2 OFFSET $3"
    );
    let rows = run!(e, |x| sqlx::query_as::<_, Channel>(&sql).bind(actor).bind(count).bind(start).fetch_all(x).await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM follows f JOIN channels c ON c.actor_id = f.target_id WHERE f.follower_id = $1"
    )
    .bind(actor)
    .fetch_one(x)
    .await)?;
    Ok((rows, total))
}

/// Channels whose name or display name contains `text` (case-insensitive).
pub async fn search(e: impl Into<Exec<'_>> + Copy, text: &str, start: i64, count: i64) -> Result<(Vec<Channel>, i64)> {
    let pattern = format!("%{}%", text.to_lowercase().replace('%', "\\%").replace('_', "\\_"));
    let filter = "(lower(ac.name) LIKE $1 ESCAPE '\\' OR lower(c.display_name) LIKE $1 ESCAPE '\\')";
    let sql = format!("{SELECT} WHERE {filter} ORDER BY c.id LIMIT $2 OFFSET $3");
    let rows =
        run!(e, |x| sqlx::query_as::<_, Channel>(&sql).bind(&pattern).bind(count).bind(start).fetch_all(x).await)?;
    let count_sql = format!("SELECT COUNT(*) FROM channels c JOIN actors ac ON ac.id = c.actor_id WHERE {filter}");
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(&count_sql).bind(&pattern).fetch_one(x).await)?;
    Ok((rows, total))
}
