//! Shared channels: a channel's owner invites other local users as editors; an editor who
//! accepts uploads to the channel and manages its videos and playlists (`video::manages`,
//! `upload::check_channel`, `playlist`), but neither deletes the channel nor changes its
//! settings or editors (`channel::editable` stays the owner's). Removing an editor takes effect
//! on their next request: every check reads the table.

use flotilla_db::collaborators::{self, ACCEPTED, Collaborator, INVITED};
use flotilla_db::{accounts, channels};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result, convert};

/// Editors (and invitations) of one channel at most.
pub const MAX_PER_CHANNEL: usize = 100;

async fn my_account(app: &App, who: &AuthUser) -> Result<accounts::Account> {
    accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))
}

/// A local channel by handle, and whether `who` owns it.
async fn channel(app: &App, who: &AuthUser, handle: &str) -> Result<(channels::Channel, accounts::Account, bool)> {
    let c = crate::channel::get_by_handle(app, handle).await?;
    if !c.host.is_empty() {
        return Err(Error::Forbidden("a channel of another instance is managed on its instance".into()));
    }
    let me = my_account(app, who).await?;
    let owns = c.account_id == me.id;
    Ok((c, me, owns))
}

async fn view(app: &App, c: &Collaborator) -> Result<Value> {
    let a = accounts::get(&app.db, flotilla_domain::AccountId(c.account_id))
        .await?
        .ok_or_else(|| Error::not_found("account"))?;
    let imgs = flotilla_db::images::list_for(&app.db, &[a.actor_id]).await?;
    Ok(json!({
        "id": c.id,
        "account": convert::account_to_api(app, &a, &imgs),
        "state": { "id": c.state, "label": if c.state == ACCEPTED { "Accepted" } else { "Pending" } },
        "createdAt": iso8601(c.created_at),
        "updatedAt": iso8601(c.updated_at),
    }))
}

/// `GET /video-channels/{handle}/collaborators`: its owner, its editors and moderators.
pub async fn list(app: &App, who: &AuthUser, handle: &str) -> Result<Value> {
    let (c, me, owns) = channel(app, who, handle).await?;
    let rows = collaborators::of_channel(&app.db, c.id).await?;
    let member = rows.iter().any(|r| r.account_id == me.id);
    if !owns && !member && who.require_moderator().is_err() {
        return Err(Error::Forbidden("only the channel's owner and editors see its editors".into()));
    }
    let mut data = Vec::with_capacity(rows.len());
    for r in &rows {
        data.push(view(app, r).await?);
    }
    Ok(json!({ "total": data.len(), "data": data }))
}

/// `POST /video-channels/{handle}/collaborators/invite` (`accountHandle`: a local user's name).
pub async fn invite(app: &App, who: &AuthUser, handle: &str, account: Option<&str>) -> Result<Value> {
    let (c, me, owns) = channel(app, who, handle).await?;
    if !owns {
        return Err(Error::Forbidden("only the channel's owner invites editors".into()));
    }
    let name = account
        .map(|a| a.trim().trim_start_matches('@'))
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::invalid("accountHandle", "accountHandle (a user of this instance) is required"))?;
    let name = crate::local_name(app, name)
        .ok_or_else(|| Error::invalid("accountHandle", "only users of this instance can edit its channels"))?;
    let target = crate::account::get_local(app, name).await?;
    if target.user_id.is_none() {
        return Err(Error::invalid("accountHandle", "that account is not a user's"));
    }
    if target.id == me.id {
        return Err(Error::invalid("accountHandle", "you own this channel already"));
    }
    if collaborators::of_channel(&app.db, c.id).await?.len() >= MAX_PER_CHANNEL {
        return Err(Error::bad_request(
            "too_many_collaborators",
            format!("a channel has at most {MAX_PER_CHANNEL} editors"),
        ));
    }
    let id = collaborators::insert(&app.db, c.id, target.id, now_ms()).await.map_err(|e| match e {
        flotilla_db::Error::Conflict(_) => Error::Conflict(format!("{name} is already invited to this channel")),
        other => other.into(),
    })?;
    tracing::info!(channel = %c.name, editor = name, "channel editor invited");
    Ok(json!({ "collaborator": { "id": id } }))
}

/// The invitation `id` of `handle`'s channel, if it is `who`'s.
async fn mine(app: &App, who: &AuthUser, handle: &str, id: i64) -> Result<Collaborator> {
    let (c, me, _) = channel(app, who, handle).await?;
    let row = collaborators::get(&app.db, c.id, id).await?.ok_or_else(|| Error::not_found("invitation"))?;
    if row.account_id != me.id {
        return Err(Error::Forbidden("this invitation is someone else's".into()));
    }
    Ok(row)
}

/// `POST /video-channels/{handle}/collaborators/{id}/accept`: the invited user.
pub async fn accept(app: &App, who: &AuthUser, handle: &str, id: i64) -> Result<()> {
    let row = mine(app, who, handle, id).await?;
    if row.state != INVITED || !collaborators::accept(&app.db, row.id, now_ms()).await? {
        return Err(Error::Conflict("this invitation was answered already".into()));
    }
    Ok(())
}

/// `POST /video-channels/{handle}/collaborators/{id}/reject`: the invited user declines.
pub async fn reject(app: &App, who: &AuthUser, handle: &str, id: i64) -> Result<()> {
    let row = mine(app, who, handle, id).await?;
    if row.state != INVITED {
        return Err(Error::Conflict("this invitation was answered already".into()));
    }
    collaborators::delete(&app.db, row.id).await?;
    Ok(())
}

/// `DELETE /video-channels/{handle}/collaborators/{id}`: the owner removes an editor (or takes
/// back an invitation), or an editor leaves.
pub async fn remove(app: &App, who: &AuthUser, handle: &str, id: i64) -> Result<()> {
    let (c, me, owns) = channel(app, who, handle).await?;
    let row = collaborators::get(&app.db, c.id, id).await?.ok_or_else(|| Error::not_found("editor"))?;
    if !owns && row.account_id != me.id {
        return Err(Error::Forbidden("only the channel's owner removes its editors".into()));
    }
    collaborators::delete(&app.db, row.id).await?;
    tracing::info!(channel = %c.name, editor = row.account_id, "channel editor removed");
    Ok(())
}

/// `GET /users/me/video-channels/collaborations` (the channels I edit) and `…/invitations`
/// (those I am invited to, each with the invitation's id).
pub async fn of_mine(app: &App, who: &AuthUser, accepted: bool) -> Result<Value> {
    let me = my_account(app, who).await?;
    let rows = collaborators::of_account(&app.db, me.id, if accepted { ACCEPTED } else { INVITED }).await?;
    let mut data = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(c) = channels::get(&app.db, flotilla_domain::ChannelId(r.channel_id)).await? else { continue };
        let view = crate::channel::view(app, &c).await?;
        data.push(if accepted {
            view
        } else {
            json!({ "id": r.id, "channel": view, "createdAt": iso8601(r.created_at) })
        });
    }
    Ok(json!({ "total": data.len(), "data": data }))
}
