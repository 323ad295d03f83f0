//! Local users: creation (with their account and default channel), the user's own settings, and
//! what admins and moderators do to users.

use flotilla_db::{Page, accounts, channels, images, tokens, users};
use flotilla_domain::{NsfwPolicy, Role, UserId, Validation, rules, time::now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result, account, channel, convert};

/// A user to create. The password arrives already hashed (registrations store the hash while
/// they wait for approval).
pub struct NewLocalUser {
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub video_quota: i64,
    pub video_quota_daily: i64,
    pub email_verified: bool,
    pub display_name: Option<String>,
    pub channel_name: Option<String>,
    pub channel_display_name: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Created {
    pub user: UserId,
    pub account: flotilla_domain::AccountId,
    pub channel: flotilla_domain::ChannelId,
}

/// Checks the fields every kind of user creation shares.
pub fn validate_new(
    username: &str,
    email: &str,
    password: Option<&str>,
    channel: Option<&str>,
    display: Option<&str>,
) -> Result<()> {
    let mut v = Validation::new();
    v.check("username", rules::username(username)).check("email", rules::email(email));
    if let Some(p) = password {
        v.check("password", rules::password(p));
    }
    if let Some(c) = channel {
        v.check("channel.name", rules::channel_name(c));
        if c == username {
            v.fail("channel.name", "the channel name cannot be the same as the username");
        }
    }
    if let Some(d) = display {
        v.check("displayName", rules::display_name(d));
    }
    Ok(v.finish()?)
}

/// Creates the user, their account (`Person`) and their first channel (`Group`) in one
/// transaction: either all three exist afterwards or none does.
pub async fn create(app: &App, n: NewLocalUser) -> Result<Created> {
    let mut tx = app.db.begin().await?;
    let created = create_in(&mut tx, app, n).await?;
    tx.commit().await.map_err(conflict_as_taken)?;
    Ok(created)
}

/// [`create`] inside the caller's transaction (the caller commits).
pub async fn create_in(tx: &mut flotilla_db::Tx, app: &App, n: NewLocalUser) -> Result<Created> {
    let now = now_ms();
    if accounts::local_name_taken(&mut *tx, &n.username).await? {
        return Err(Error::Conflict(format!("the name '{}' is already taken", n.username)));
    }
    if users::email_taken(&mut *tx, &n.email, None).await? {
        return Err(Error::Conflict("a user with this email already exists".into()));
    }
    let user = users::insert(
        &mut *tx,
        &users::NewUser {
            username: &n.username,
            email: &n.email,
            password_hash: &n.password_hash,
            role: n.role.id(),
            video_quota: n.video_quota,
            video_quota_daily: n.video_quota_daily,
            email_verified: n.email_verified,
            nsfw_policy: &app.config.instance.default_nsfw_policy,
            now,
        },
    )
    .await?;
    let actor = accounts::insert_actor(&mut *tx, "Person", &n.username, now).await?;
    let display = n.display_name.as_deref().unwrap_or(&n.username);
    let account = accounts::insert(&mut *tx, actor, Some(user), display, now).await?;

    let channel_name = match n.channel_name {
        Some(name) => {
            if accounts::local_name_taken(&mut *tx, &name).await? {
                return Err(Error::Conflict(format!("the channel name '{name}' is already taken")));
            }
            name
        }
        None => free_channel_name(&mut *tx, &n.username).await?,
    };
    let channel_display = n.channel_display_name.unwrap_or_else(|| format!("Main {} channel", n.username));
    let channel_actor = accounts::insert_actor(&mut *tx, "Group", &channel_name, now).await?;
    let channel = channels::insert(&mut *tx, channel_actor, account, &channel_display, None, None, now)
        .await
        .map_err(conflict_as_taken)?;
    tracing::info!(user = %n.username, channel = %channel_name, "user created");
    Ok(Created { user, account, channel })
}

/// `<username>_channel`, or with a number after it when someone already took that name.
async fn free_channel_name(tx: &mut flotilla_db::Tx, username: &str) -> Result<String> {
    let base = format!("{username}_channel");
    if !accounts::local_name_taken(&mut *tx, &base).await? {
        return Ok(base);
    }
    for i in 1..1000 {
        let name = format!("{base}-{i}");
        if !accounts::local_name_taken(&mut *tx, &name).await? {
            return Ok(name);
        }
    }
    Err(Error::Conflict(format!("no free channel name for '{username}'")))
}

pub(crate) fn conflict_as_taken(e: flotilla_db::Error) -> Error {
    match e {
        flotilla_db::Error::Conflict(_) => {
            Error::Conflict("the username, channel name or email is already taken".into())
        }
        other => other.into(),
    }
}

/// The full view of a user: `GET /users/me`, admin `GET /users/:id`.
/// `GET /api/v1/users/me`: the user, with their notification settings (PeerTube has no other
/// way to read them).
pub async fn me(app: &App, who: &AuthUser) -> Result<Value> {
    let mut out = view(app, &who.user).await?;
    out["notificationSettings"] = crate::notification::settings(app, who.user.id).await?;
    Ok(out)
}

pub async fn view(app: &App, u: &users::User) -> Result<Value> {
    let acc = accounts::get_by_user(&app.db, u.user_id()).await?.ok_or_else(|| Error::not_found("account"))?;
    let account_json = account::view(app, &acc).await?;
    let mut chans = Vec::new();
    for c in channels::list_by_account(&app.db, acc.account_id()).await? {
        chans.push(channel::view_with_owner(app, &c, account_json.clone()).await?);
    }
    Ok(convert::user_to_api(u, account_json, chans))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateMe {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub description: Option<Option<String>>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub current_password: Option<String>,
    pub nsfw_policy: Option<String>,
    pub p2p_enabled: Option<bool>,
    pub auto_play_video: Option<bool>,
    pub videos_history_enabled: Option<bool>,
}

/// `PUT /api/v1/users/me`. Changing the email or password needs the current password.
pub async fn update_me(app: &App, who: &AuthUser, req: UpdateMe) -> Result<()> {
    let mut v = Validation::new();
    if let Some(d) = &req.display_name {
        v.check("displayName", rules::display_name(d));
    }
    if let Some(Some(d)) = &req.description {
        v.check("description", rules::description(d));
    }
    if let Some(e) = &req.email {
        v.check("email", rules::email(e));
    }
    if let Some(p) = &req.password {
        v.check("password", rules::password(p));
    }
    if let Some(n) = &req.nsfw_policy
        && NsfwPolicy::parse(n).is_none()
    {
        v.fail("nsfwPolicy", "must be display, blur or do_not_list");
    }
    v.finish()?;

    if req.email.is_some() || req.password.is_some() {
        let current = req.current_password.as_deref().unwrap_or_default();
        if !app.passwords.verify(current, &who.user.password_hash).await {
            return Err(Error::Unauthorized {
                code: "invalid_current_password",
                msg: "currentPassword is missing or wrong".into(),
            });
        }
    }
    if let Some(e) = &req.email
        && users::email_taken(&app.db, e, Some(who.id())).await?
    {
        return Err(Error::Conflict("a user with this email already exists".into()));
    }
    let password_hash = match &req.password {
        Some(p) => Some(app.passwords.hash(p).await?),
        None => None,
    };
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    // With e-mail on, a new address counts once its owner follows the link mailed to it.
    let confirm = crate::mail::enabled(app) && req.email.as_ref().is_some_and(|e| *e != who.user.email);
    if confirm && let Some(e) = &req.email {
        crate::verification::change_email(&mut tx, app, &who.user, e).await?;
    }
    let patch = users::UserPatch {
        email: if confirm { None } else { req.email.clone() },
        password_hash,
        nsfw_policy: req.nsfw_policy.clone(),
        p2p_enabled: req.p2p_enabled,
        auto_play_video: req.auto_play_video,
        videos_history_enabled: req.videos_history_enabled,
        ..Default::default()
    };
    users::update(&mut tx, who.id(), &patch, now).await.map_err(conflict_as_taken)?;
    // A new password ends every other session: whoever knew the old one is logged out.
    if req.password.is_some() {
        tokens::delete_for_user_except(&mut tx, who.id(), who.token_id).await?;
    }
    if req.display_name.is_some() || req.description.is_some() {
        let acc = accounts::get_by_user(&mut tx, who.id()).await?.ok_or_else(|| Error::not_found("account"))?;
        let description = req.description.as_ref().map(|d| d.as_deref());
        accounts::update(&mut tx, acc.account_id(), req.display_name.as_deref(), description, now).await?;
        crate::events::record(&mut tx, crate::events::Event::ActorUpdated { actor_id: acc.actor_id }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `GET /api/v1/users/me/video-quota-used`: bytes of uploads, in total and over the last 24 hours.
pub async fn quota_used(app: &App, who: &AuthUser) -> Result<Value> {
    let (total, daily) = flotilla_db::videos::quota_used(&app.db, who.user.id, now_ms() - 24 * 3600 * 1000).await?;
    Ok(json!({ "videoQuotaUsed": total, "videoQuotaUsedDaily": daily }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddUser {
    pub username: String,
    pub password: String,
    pub email: String,
    pub role: Role,
    pub video_quota: Option<i64>,
    pub video_quota_daily: Option<i64>,
    pub channel_name: Option<String>,
}

/// `POST /api/v1/users` (admins and moderators; moderators create plain users only).
pub async fn add(app: &App, who: &AuthUser, req: AddUser) -> Result<Created> {
    who.require_moderator()?;
    if !who.role().can_manage(req.role) {
        return Err(Error::Forbidden("you cannot create a user with this role".into()));
    }
    validate_new(&req.username, &req.email, Some(&req.password), req.channel_name.as_deref(), None)?;
    let mut v = Validation::new();
    if let Some(q) = req.video_quota {
        v.check("videoQuota", rules::quota(q));
    }
    if let Some(q) = req.video_quota_daily {
        v.check("videoQuotaDaily", rules::quota(q));
    }
    v.finish()?;
    let settings = app.settings();
    create(
        app,
        NewLocalUser {
            username: req.username,
            email: req.email,
            password_hash: app.passwords.hash(&req.password).await?,
            role: req.role,
            video_quota: req.video_quota.unwrap_or(settings.video_quota),
            video_quota_daily: req.video_quota_daily.unwrap_or(settings.video_quota_daily),
            email_verified: true,
            display_name: None,
            channel_name: req.channel_name,
            channel_display_name: None,
        },
    )
    .await
}

/// The target of an admin action, after checking the caller may act on it.
async fn managed(app: &App, who: &AuthUser, id: UserId) -> Result<users::User> {
    who.require_moderator()?;
    let target = users::get(&app.db, id).await?.ok_or_else(|| Error::not_found("user"))?;
    let role = Role::try_from(target.role).unwrap_or(Role::User);
    if target.id != who.user.id && !who.role().can_manage(role) {
        return Err(Error::Forbidden("you cannot manage a user with this role".into()));
    }
    Ok(target)
}

pub async fn get(app: &App, who: &AuthUser, id: UserId) -> Result<Value> {
    who.require_moderator()?;
    let u = users::get(&app.db, id).await?.ok_or_else(|| Error::not_found("user"))?;
    view(app, &u).await
}

pub async fn list(
    app: &App,
    who: &AuthUser,
    page: Page,
    sort: Option<&str>,
    search: Option<&str>,
    blocked: Option<bool>,
) -> Result<Value> {
    who.require_moderator()?;
    let order = flotilla_db::order_by(
        sort,
        &[
            ("id", "id"),
            ("username", "username"),
            ("createdAt", "created_at"),
            ("lastLoginDate", "last_login_at"),
            ("role", "role"),
        ],
        "id ASC",
    );
    let (rows, total) = users::list(&app.db, page, &order, search, blocked).await?;
    let mut data = Vec::with_capacity(rows.len());
    for u in &rows {
        data.push(view(app, u).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUser {
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub video_quota: Option<i64>,
    pub video_quota_daily: Option<i64>,
    pub role: Option<Role>,
    pub password: Option<String>,
}

/// `PUT /api/v1/users/:id`.
pub async fn update(app: &App, who: &AuthUser, id: UserId, req: UpdateUser) -> Result<()> {
    let target = managed(app, who, id).await?;
    let mut v = Validation::new();
    if let Some(e) = &req.email {
        v.check("email", rules::email(e));
    }
    if let Some(p) = &req.password {
        v.check("password", rules::password(p));
    }
    if let Some(q) = req.video_quota {
        v.check("videoQuota", rules::quota(q));
    }
    if let Some(q) = req.video_quota_daily {
        v.check("videoQuotaDaily", rules::quota(q));
    }
    v.finish()?;
    // Nobody raises their own rights: a moderator changing their own quota or role through the
    // admin route is refused (admins have every right already).
    let own = target.id == who.user.id;
    if own && who.role() != Role::Admin && (req.video_quota.is_some() || req.video_quota_daily.is_some()) {
        return Err(Error::Forbidden("you cannot change your own video quota".into()));
    }
    if let Some(role) = req.role {
        if own && role != who.role() {
            return Err(Error::Forbidden("you cannot change your own role".into()));
        }
        if !who.role().can_manage(role) {
            return Err(Error::Forbidden("you cannot give this role".into()));
        }
    }
    if let Some(e) = &req.email
        && users::email_taken(&app.db, e, Some(id)).await?
    {
        return Err(Error::Conflict("a user with this email already exists".into()));
    }
    let password_hash = match &req.password {
        Some(p) => Some(app.passwords.hash(p).await?),
        None => None,
    };
    let patch = users::UserPatch {
        email: req.email,
        password_hash: password_hash.clone(),
        role: req.role.map(Role::id),
        video_quota: req.video_quota,
        video_quota_daily: req.video_quota_daily,
        email_verified: req.email_verified,
        ..Default::default()
    };
    let mut tx = app.db.begin().await?;
    users::update(&mut tx, id, &patch, now_ms()).await.map_err(conflict_as_taken)?;
    // A password set by an admin ends the user's sessions, as a reset would.
    if password_hash.is_some() {
        tokens::delete_for_user(&mut tx, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `POST /api/v1/users/:id/block` and `/unblock`. Blocking ends every session of the user.
pub async fn set_blocked(app: &App, who: &AuthUser, id: UserId, blocked: bool, reason: Option<&str>) -> Result<()> {
    let target = managed(app, who, id).await?;
    if target.id == who.user.id {
        return Err(Error::Forbidden("you cannot block yourself".into()));
    }
    let mut tx = app.db.begin().await?;
    users::set_blocked(&mut tx, id, blocked, reason.filter(|_| blocked), now_ms()).await?;
    if blocked {
        tokens::delete_for_user(&mut tx, id).await?;
    }
    tx.commit().await?;
    tracing::info!(user = %target.username, blocked, by = %who.user.username, "user block state changed");
    Ok(())
}

/// `DELETE /api/v1/users/:id`: the user, their account, channels, tokens and images.
pub async fn delete(app: &App, who: &AuthUser, id: UserId) -> Result<()> {
    let target = managed(app, who, id).await?;
    if target.id == who.user.id {
        return Err(Error::Forbidden("you cannot delete yourself".into()));
    }
    delete_user(app, &target).await?;
    tracing::info!(user = %target.username, by = %who.user.username, "user deleted");
    Ok(())
}

/// Removes a user and everything that hangs off them, files last (after the commit, so a failed
/// transaction never leaves rows pointing at deleted files).
pub async fn delete_user(app: &App, target: &users::User) -> Result<()> {
    let mut tx = app.db.begin().await?;
    let mut actors = Vec::new();
    let mut channel_ids = Vec::new();
    if let Some(acc) = accounts::get_by_user(&mut tx, target.user_id()).await? {
        actors.push(acc.actor_id);
        for c in channels::list_by_account(&mut tx, acc.account_id()).await? {
            actors.push(c.actor_id);
            channel_ids.push(c.id);
        }
    }
    let videos = flotilla_db::videos::list_for_channels(&mut tx, &channel_ids).await?;
    // Its videos' followers hear of their deletion from the instance actor, whose key outlives the
    // account.
    for v in &videos {
        crate::video::deleting(&mut tx, app, v, true).await?;
    }
    let ids: Vec<i64> = videos.iter().map(|v| v.id).collect();
    flotilla_db::videos::delete_search_rows(&mut tx, &ids).await?;
    // The servers that know the account and its channels hear each is gone (its own `Delete`):
    // the followers of each; for the account also the servers that follow this instance (they
    // hold its comments on our videos) and those of the videos its user rated or commented on.
    if !actors.is_empty() {
        let instance = accounts::local_actor_id(&mut tx, "Application", crate::ap::INSTANCE_ACTOR).await?;
        let mut also =
            flotilla_db::follows::follower_inboxes(&mut tx, &instance.into_iter().collect::<Vec<_>>()).await?;
        if let Some(acc) = accounts::get_by_user(&mut tx, target.user_id()).await? {
            also.extend(flotilla_db::rates::remote_origins_of(&mut tx, target.user_id().0, acc.id, 1000).await?);
        }
        for (i, a) in actors.iter().enumerate() {
            // The first is the account's.
            let extra: &[String] = if i == 0 { &also } else { &[] };
            if let Some(event) = crate::events::actor_deleted(&mut tx, app, *a, extra).await? {
                crate::events::record(&mut tx, event).await?;
            }
        }
    }
    flotilla_db::rates::forget_user(&mut tx, target.user_id().0).await?;
    let files = images::filenames_for(&mut tx, &actors).await?;
    for a in &actors {
        accounts::delete_actor(&mut tx, *a).await?;
    }
    users::delete(&mut tx, target.user_id()).await?;
    tx.commit().await?;
    app.wake_jobs();
    crate::image::remove_files(app, &files).await;
    for v in &videos {
        crate::video::remove_files(app, v).await;
    }
    Ok(())
}

/// `flotilla admin reset-password`: sets a new password and ends the user's sessions.
pub async fn reset_password(app: &App, username: &str, password: &str) -> Result<()> {
    rules::password(password).map_err(|m| Error::invalid("password", m))?;
    let u = users::get_by_username(&app.db, username).await?.ok_or_else(|| Error::not_found("user"))?;
    let patch = users::UserPatch { password_hash: Some(app.passwords.hash(password).await?), ..Default::default() };
    let mut tx = app.db.begin().await?;
    users::update(&mut tx, u.user_id(), &patch, now_ms()).await?;
    tokens::delete_for_user(&mut tx, u.user_id()).await?;
    tx.commit().await?;
    Ok(())
}

/// `flotilla admin set-role`.
pub async fn set_role(app: &App, username: &str, role: Role) -> Result<()> {
    let u = users::get_by_username(&app.db, username).await?.ok_or_else(|| Error::not_found("user"))?;
    let patch = users::UserPatch { role: Some(role.id()), ..Default::default() };
    users::update(&app.db, u.user_id(), &patch, now_ms()).await?;
    Ok(())
}

/// `flotilla admin create-user`: no caller to check, the operator is the authority.
pub async fn create_by_operator(app: &App, username: &str, email: &str, password: &str, role: Role) -> Result<Created> {
    validate_new(username, email, Some(password), None, None)?;
    let s = app.settings();
    create(
        app,
        NewLocalUser {
            username: username.into(),
            email: email.into(),
            password_hash: app.passwords.hash(password).await?,
            role,
            video_quota: s.video_quota,
            video_quota_daily: s.video_quota_daily,
            email_verified: true,
            display_name: None,
            channel_name: None,
            channel_display_name: None,
        },
    )
    .await
}
