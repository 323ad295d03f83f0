//! Video channels: create, change, delete, and the views the API returns.

use flotilla_db::channels::{self, Channel, ChannelPatch};
use flotilla_db::{Page, accounts, images};
use flotilla_domain::{ChannelId, Role, Validation, rules, time::now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result, account, convert, local_name};

pub async fn view_with_owner(app: &App, c: &Channel, owner: Value) -> Result<Value> {
    let imgs = images::list_for(&app.db, &[c.actor_id]).await?;
    let mut out = convert::channel_to_api(app, c, &imgs, owner);
    out["followersCount"] = json!(flotilla_db::follows::count_followers(&app.db, c.actor_id).await?);
    Ok(out)
}

pub async fn view(app: &App, c: &Channel) -> Result<Value> {
    let owner = accounts::get(&app.db, c.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let owner = account::view(app, &owner).await?;
    view_with_owner(app, c, owner).await
}

/// A channel by handle (`name` or `name@our-host`).
/// A channel by handle (`name`, `name@our-host`, or `name@other-host`); a remote one is found when
/// this instance knows it (followed, subscribed, searched).
pub async fn get_by_handle(app: &App, handle: &str) -> Result<Channel> {
    let not_found = || Error::not_found("video channel");
    match local_name(app, handle) {
        Some(name) => channels::get_local_by_name(&app.db, name).await?.ok_or_else(not_found),
        None => {
            let (name, host) = handle.split_once('@').ok_or_else(not_found)?;
            let actor = flotilla_db::actors::list_by_host(&app.db, &host.to_ascii_lowercase())
                .await?
                .into_iter()
                .find(|a| a.kind == "Group" && a.name == name)
                .ok_or_else(not_found)?;
            crate::events::seen(app, crate::events::Seen::Actor(&actor)).await;
            channels::get_by_actor(&app.db, actor.id).await?.ok_or_else(not_found)
        }
    }
}

pub async fn list(app: &App, page: Page, sort: Option<&str>) -> Result<Value> {
    let order = flotilla_db::order_by(sort, &[("createdAt", "c.created_at"), ("name", "ac.name")], "c.id ASC");
    let (rows, total) = channels::list(&app.db, page, &order).await?;
    let mut data = Vec::with_capacity(rows.len());
    for c in &rows {
        data.push(view(app, c).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateChannel {
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub support: Option<String>,
}

/// `POST /api/v1/video-channels`.
pub async fn create(app: &App, who: &AuthUser, req: CreateChannel) -> Result<ChannelId> {
    let mut v = Validation::new();
    v.check("name", rules::channel_name(&req.name)).check("displayName", rules::display_name(&req.display_name));
    if let Some(d) = &req.description {
        v.check("description", rules::description(d));
    }
    if let Some(s) = &req.support {
        v.check("support", rules::support(s));
    }
    if req.name == who.user.username {
        v.fail("name", "the channel name cannot be the same as your username");
    }
    v.finish()?;
    let acc = accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))?;
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    if channels::count_by_account(&mut tx, acc.account_id()).await? >= app.config.user.max_channels {
        return Err(Error::Forbidden(format!("you cannot own more than {} channels", app.config.user.max_channels)));
    }
    if accounts::local_name_taken(&mut tx, &req.name).await? {
        return Err(Error::Conflict(format!("an account or channel named '{}' already exists", req.name)));
    }
    let actor = accounts::insert_actor(&mut tx, "Group", &req.name, now).await?;
    let id = channels::insert(
        &mut tx,
        actor,
        acc.account_id(),
        &req.display_name,
        req.description.as_deref(),
        req.support.as_deref(),
        now,
    )
    .await?;
    tx.commit().await.map_err(|e| match e {
        flotilla_db::Error::Conflict(_) => {
            Error::Conflict(format!("an account or channel named '{}' already exists", req.name))
        }
        other => other.into(),
    })?;
    Ok(id)
}

/// The channel behind `handle`, if `who` may change it: its owner, or a moderator or admin.
pub async fn editable(app: &App, who: &AuthUser, handle: &str) -> Result<Channel> {
    let c = get_by_handle(app, handle).await?;
    if !c.host.is_empty() {
        return Err(Error::Forbidden("a channel of another instance is managed on its instance".into()));
    }
    let owner = accounts::get(&app.db, c.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    if owner.user_id == Some(who.user.id) || matches!(who.role(), Role::Admin | Role::Moderator) {
        Ok(c)
    } else {
        Err(Error::Forbidden("you cannot manage a channel that is not yours".into()))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateChannel {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub support: Option<Option<String>>,
}

/// `PUT /api/v1/video-channels/:handle`.
pub async fn update(app: &App, who: &AuthUser, handle: &str, req: UpdateChannel) -> Result<()> {
    let c = editable(app, who, handle).await?;
    let mut v = Validation::new();
    if let Some(d) = &req.display_name {
        v.check("displayName", rules::display_name(d));
    }
    if let Some(Some(d)) = &req.description {
        v.check("description", rules::description(d));
    }
    if let Some(Some(s)) = &req.support {
        v.check("support", rules::support(s));
    }
    v.finish()?;
    let patch = ChannelPatch {
        display_name: req.display_name.as_deref(),
        description: req.description.as_ref().map(|d| d.as_deref()),
        support: req.support.as_ref().map(|s| s.as_deref()),
    };
    let mut tx = app.db.begin().await?;
    channels::update(&mut tx, c.channel_id(), &patch, now_ms()).await?;
    crate::events::record(&mut tx, crate::events::Event::ActorUpdated { actor_id: c.actor_id }).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `DELETE /api/v1/video-channels/:handle`. A user keeps at least one channel.
pub async fn delete(app: &App, who: &AuthUser, handle: &str) -> Result<()> {
    let c = editable(app, who, handle).await?;
    if channels::count_by_account(&app.db, c.owner()).await? <= 1 {
        return Err(Error::Conflict("cannot remove the last channel of this user".into()));
    }
    let mut tx = app.db.begin().await?;
    if channels::count_by_account(&mut tx, c.owner()).await? <= 1 {
        return Err(Error::Conflict("cannot remove the last channel of this user".into()));
    }
    let files = images::filenames_for(&mut tx, &[c.actor_id]).await?;
    let videos = flotilla_db::videos::list_for_channels(&mut tx, &[c.id]).await?;
    for v in &videos {
        crate::video::deleting(&mut tx, app, v, false).await?;
    }
    let ids: Vec<i64> = videos.iter().map(|v| v.id).collect();
    flotilla_db::videos::delete_search_rows(&mut tx, &ids).await?;
    let thumbnails = crate::playlist::channel_deleting(&mut tx, app, c.id).await?;
    accounts::delete_actor(&mut tx, c.actor_id).await?;
    tx.commit().await?;
    app.wake_jobs();
    crate::image::remove_files(app, &files).await;
    crate::playlist::remove_thumbnails(app, &thumbnails).await;
    for v in &videos {
        crate::video::remove_files(app, v).await;
    }
    Ok(())
}
