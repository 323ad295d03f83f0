//! Sign-up: direct registration when the instance is open, requests that a moderator accepts or
//! rejects when it requires approval, nothing when it is closed.

use flotilla_db::registrations::{self, ACCEPTED, PENDING, REJECTED};
use flotilla_db::{Page, accounts, users};
use flotilla_domain::{Role, SignupMode, rules, time::now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::user::{self, NewLocalUser, validate_new};
use crate::{App, Error, Result, convert};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelInput {
    pub name: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Register {
    pub username: String,
    pub password: String,
    pub email: String,
    pub display_name: Option<String>,
    pub channel: Option<ChannelInput>,
    /// Required by `/users/registrations/request`; optional on `/users/register`.
    pub registration_reason: Option<String>,
}

/// What a sign-up led to.
pub enum Outcome {
    Created(user::Created),
    Pending(Value),
}

/// `POST /api/v1/users/register` and `POST /api/v1/users/registrations/request`.
pub async fn register(app: &App, req: Register, require_reason: bool) -> Result<Outcome> {
    let mode = app.settings().signup;
    if mode == SignupMode::Closed {
        return Err(Error::Forbidden("registration is not enabled on this instance".into()));
    }
    validate_new(
        &req.username,
        &req.email,
        Some(&req.password),
        req.channel.as_ref().map(|c| c.name.as_str()),
        req.display_name.as_deref(),
    )?;
    if let Some(d) = req.channel.as_ref().and_then(|c| c.display_name.as_deref()) {
        rules::display_name(d).map_err(|m| Error::invalid("channel.displayName", m))?;
    }
    let reason = req.registration_reason.as_deref().unwrap_or_default().trim();
    if require_reason && mode == SignupMode::Approval && reason.is_empty() {
        return Err(Error::invalid("registrationReason", "tell the moderators why you want an account"));
    }
    if reason.chars().count() > 3000 {
        return Err(Error::invalid("registrationReason", "must be at most 3000 characters long"));
    }
    if accounts::local_name_taken(&app.db, &req.username).await?
        || users::email_taken(&app.db, &req.email, None).await?
        || registrations::pending_claims(&app.db, &req.username, &req.email).await?
    {
        return Err(Error::Conflict("a user with this username or email already exists".into()));
    }
    if let Some(c) = &req.channel
        && accounts::local_name_taken(&app.db, &c.name).await?
    {
        return Err(Error::Conflict(format!("the channel name '{}' is already taken", c.name)));
    }
    let hash = app.passwords.hash(&req.password).await?;
    match mode {
        SignupMode::Open => {
            let s = app.settings();
            let (username, email) = (req.username.clone(), req.email.clone());
            let mut tx = app.db.begin().await?;
            let created = user::create_in(
                &mut tx,
                app,
                NewLocalUser {
                    username: req.username,
                    email: req.email,
                    password_hash: hash,
                    role: Role::User,
                    video_quota: s.video_quota,
                    video_quota_daily: s.video_quota_daily,
                    email_verified: false,
                    display_name: req.display_name,
                    channel_name: req.channel.as_ref().map(|c| c.name.clone()),
                    channel_display_name: req.channel.and_then(|c| c.display_name),
                },
            )
            .await?;
            // The confirmation link goes with the account (nothing lost if we crash after).
            crate::verification::signup(&mut tx, app, created.user, &username, &email).await?;
            tx.commit().await.map_err(user::conflict_as_taken)?;
            app.wake_jobs();
            Ok(Outcome::Created(created))
        }
        _ => {
            let id = registrations::insert(
                &app.db,
                &registrations::NewRegistration {
                    username: &req.username,
                    email: &req.email,
                    password_hash: &hash,
                    display_name: req.display_name.as_deref(),
                    channel_name: req.channel.as_ref().map(|c| c.name.as_str()),
                    channel_display_name: req.channel.as_ref().and_then(|c| c.display_name.as_deref()),
                    reason,
                    now: now_ms(),
                },
            )
            .await?;
            let r = registrations::get(&app.db, id).await?.ok_or_else(|| Error::not_found("registration"))?;
            tracing::info!(username = %r.username, "registration request waiting for approval");
            Ok(Outcome::Pending(convert::registration_to_api(&r)))
        }
    }
}

/// For a login that matches no user: whether it matches a registration request (by username, with
/// the right password), so the person learns their request is pending or was rejected.
pub(crate) async fn login_state(app: &App, login: &str, password: &str) -> Result<Option<Error>> {
    let Some(r) = registrations::latest_for_login(&app.db, login).await? else {
        return Ok(None);
    };
    if r.state == ACCEPTED || !app.passwords.verify(password, &r.password_hash).await {
        return Ok(None);
    }
    Ok(Some(if r.state == PENDING {
        Error::bad_request("account_waiting_for_approval", "Your registration is waiting for a moderator's approval")
    } else {
        Error::bad_request("account_approval_rejected", "Your registration was rejected")
    }))
}

pub async fn list(app: &App, who: &AuthUser, page: Page) -> Result<Value> {
    who.require_moderator()?;
    let (rows, total) = registrations::list(&app.db, page).await?;
    Ok(json!({ "total": total, "data": rows.iter().map(convert::registration_to_api).collect::<Vec<_>>() }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Moderation {
    pub moderation_response: Option<String>,
}

async fn pending(app: &App, who: &AuthUser, id: i64) -> Result<registrations::Registration> {
    who.require_moderator()?;
    let r = registrations::get(&app.db, id).await?.ok_or_else(|| Error::not_found("registration"))?;
    if r.state != PENDING {
        return Err(Error::Conflict("this registration has already been processed".into()));
    }
    Ok(r)
}

/// `POST /api/v1/users/registrations/:id/accept`: creates the user as they asked.
pub async fn accept(app: &App, who: &AuthUser, id: i64, m: Moderation) -> Result<()> {
    let r = pending(app, who, id).await?;
    let s = app.settings();
    // The user and the request's new state together: a crash between them would leave a user whose
    // request still waits (and could be accepted twice).
    let mut tx = app.db.begin().await?;
    let created = user::create_in(
        &mut tx,
        app,
        NewLocalUser {
            username: r.username.clone(),
            email: r.email.clone(),
            password_hash: r.password_hash.clone(),
            role: Role::User,
            video_quota: s.video_quota,
            video_quota_daily: s.video_quota_daily,
            email_verified: false,
            display_name: r.display_name.clone(),
            channel_name: r.channel_name.clone(),
            channel_display_name: r.channel_display_name.clone(),
        },
    )
    .await?;
    registrations::set_state(&mut tx, id, ACCEPTED, m.moderation_response.as_deref(), Some(created.user.0), now_ms())
        .await?;
    crate::verification::signup(&mut tx, app, created.user, &r.username, &r.email).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `POST /api/v1/users/registrations/:id/reject`.
pub async fn reject(app: &App, who: &AuthUser, id: i64, m: Moderation) -> Result<()> {
    pending(app, who, id).await?;
    registrations::set_state(&app.db, id, REJECTED, m.moderation_response.as_deref(), None, now_ms()).await?;
    Ok(())
}

/// `DELETE /api/v1/users/registrations/:id`.
pub async fn delete(app: &App, who: &AuthUser, id: i64) -> Result<()> {
    who.require_moderator()?;
    registrations::get(&app.db, id).await?.ok_or_else(|| Error::not_found("registration"))?;
    registrations::delete(&app.db, id).await?;
    Ok(())
}
