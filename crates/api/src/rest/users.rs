//! Users: sign-up, the user's own settings, and user management for admins and moderators.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flotilla_app::limits::Kind;
use flotilla_app::registration::{self, Moderation, Outcome, Register};
use flotilla_app::{App, image, page, user};
use flotilla_domain::UserId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{Auth, Body, ClientIp, OptionalBody, id};
use crate::rest::{ListQuery, read_image};

/// `POST /api/v1/users/register` — 204 when the account exists, 200 with the request when it
/// waits for a moderator.
pub async fn register_user(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Body(req): Body<Register>,
) -> Result<Response, ApiError> {
    app.limits.check_ip(Kind::Registration, ip)?;
    Ok(match registration::register(&app, req, false).await? {
        Outcome::Created(_) => StatusCode::NO_CONTENT.into_response(),
        Outcome::Pending(r) => Json(r).into_response(),
    })
}

/// `POST /api/v1/users/registrations/request` — only when the instance requires approval.
pub async fn request_registration(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Body(req): Body<Register>,
) -> Result<Response, ApiError> {
    app.limits.check_ip(Kind::Registration, ip)?;
    if app.settings().signup != flotilla_domain::SignupMode::Approval {
        return Err(flotilla_app::Error::Forbidden(
            "this instance does not take registration requests: use POST /api/v1/users/register".into(),
        )
        .into());
    }
    Ok(match registration::register(&app, req, true).await? {
        Outcome::Created(_) => StatusCode::NO_CONTENT.into_response(),
        Outcome::Pending(r) => Json(r).into_response(),
    })
}

/// `GET /api/v1/users/registrations`
pub async fn list_registrations(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(registration::list(&app, &who, page(q.start, q.count)).await?))
}

/// `POST /api/v1/users/registrations/{id}/accept`
pub async fn accept_registration(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(rid): Path<String>,
    OptionalBody(body): OptionalBody<Moderation>,
) -> Result<StatusCode, ApiError> {
    registration::accept(&app, &who, id(&rid)?, body.unwrap_or_default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/registrations/{id}/reject`
pub async fn reject_registration(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(rid): Path<String>,
    OptionalBody(body): OptionalBody<Moderation>,
) -> Result<StatusCode, ApiError> {
    registration::reject(&app, &who, id(&rid)?, body.unwrap_or_default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/registrations/{id}`
pub async fn delete_registration(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(rid): Path<String>,
) -> Result<StatusCode, ApiError> {
    registration::delete(&app, &who, id(&rid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me`
pub async fn get_me(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(user::me(&app, &who).await?))
}

/// `PUT /api/v1/users/me`
pub async fn update_me(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    Body(req): Body<user::UpdateMe>,
) -> Result<StatusCode, ApiError> {
    // A password or email change checks the current password: a guess, limited like logins.
    if req.password.is_some() || req.email.is_some() {
        app.limits.check_ip(Kind::Password, ip)?;
    }
    user::update_me(&app, &who, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/video-quota-used`
pub async fn get_my_quota_used(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(user::quota_used(&app, &who).await?))
}

async fn my_actor(app: &App, who: &flotilla_app::auth::AuthUser) -> Result<i64, ApiError> {
    let acc = flotilla_app::account::get_local(app, &who.user.username).await?;
    Ok(acc.actor_id)
}

/// `POST /api/v1/users/me/avatar/pick` (multipart field `avatarfile`)
pub async fn pick_my_avatar(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    form: Multipart,
) -> Result<Json<Value>, ApiError> {
    let bytes = read_image(form, "avatarfile").await?;
    let actor = my_actor(&app, &who).await?;
    Ok(Json(json!({ "avatars": image::set(&app, actor, image::Kind::Avatar, bytes).await? })))
}

/// `DELETE /api/v1/users/me/avatar`
pub async fn delete_my_avatar(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<StatusCode, ApiError> {
    let actor = my_actor(&app, &who).await?;
    image::delete(&app, actor, image::Kind::Avatar).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct UserListQuery {
    start: Option<i64>,
    count: Option<i64>,
    sort: Option<String>,
    search: Option<String>,
    blocked: Option<bool>,
}

/// `GET /api/v1/users`
pub async fn list_users(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<UserListQuery>,
) -> Result<Json<Value>, ApiError> {
    let p = page(q.start, q.count);
    Ok(Json(user::list(&app, &who, p, q.sort.as_deref(), q.search.as_deref(), q.blocked).await?))
}

/// `POST /api/v1/users` → `{"user": {"id", "account": {"id"}}}`
pub async fn add_user(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(req): Body<user::AddUser>,
) -> Result<Json<Value>, ApiError> {
    let created = user::add(&app, &who, req).await?;
    Ok(Json(json!({ "user": { "id": created.user.0, "account": { "id": created.account.0 } } })))
}

/// `GET /api/v1/users/{id}`
pub async fn get_user(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(user::get(&app, &who, UserId(id(&uid)?)).await?))
}

/// `PUT /api/v1/users/{id}`
pub async fn update_user(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
    Body(req): Body<user::UpdateUser>,
) -> Result<StatusCode, ApiError> {
    user::update(&app, &who, UserId(id(&uid)?), req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/{id}`
pub async fn delete_user(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    user::delete(&app, &who, UserId(id(&uid)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct BlockBody {
    reason: Option<String>,
}

/// `POST /api/v1/users/{id}/block`
pub async fn block_user(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
    OptionalBody(body): OptionalBody<BlockBody>,
) -> Result<StatusCode, ApiError> {
    let reason = body.and_then(|b| b.reason);
    user::set_blocked(&app, &who, UserId(id(&uid)?), true, reason.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/unblock`
pub async fn unblock_user(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    user::set_blocked(&app, &who, UserId(id(&uid)?), false, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/feed-token`: `{"feedToken"}` for `/feeds/subscriptions.*`.
pub async fn get_feed_token(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::feed::feed_token(&app, &who).await?))
}

/// `POST /api/v1/users/me/feed-token`: a new token; feed URLs with the old one stop working.
pub async fn renew_feed_token(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::feed::renew_feed_token(&app, &who).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorBody {
    current_password: Option<String>,
    request_token: Option<String>,
    otp_token: Option<String>,
}

/// `POST /api/v1/users/{id}/two-factor/request` (`currentPassword`)
pub async fn two_factor_request(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
    Body(b): Body<TwoFactorBody>,
) -> Result<Json<Value>, ApiError> {
    let uid = id(&uid)?;
    Ok(Json(flotilla_app::two_factor::request(&app, &who, uid, b.current_password.as_deref()).await?))
}

/// `POST /api/v1/users/{id}/two-factor/confirm-request` (`requestToken`, `otpToken`)
pub async fn two_factor_confirm(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
    Body(b): Body<TwoFactorBody>,
) -> Result<StatusCode, ApiError> {
    let uid = id(&uid)?;
    flotilla_app::two_factor::confirm(&app, &who, uid, b.request_token.as_deref(), b.otp_token.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/two-factor/disable` (`currentPassword`: the caller's)
pub async fn two_factor_disable(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
    Body(b): Body<TwoFactorBody>,
) -> Result<StatusCode, ApiError> {
    let uid = id(&uid)?;
    flotilla_app::two_factor::disable(&app, &who, uid, b.current_password.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailBody {
    email: Option<String>,
    verification_string: Option<String>,
    password: Option<String>,
    #[serde(default)]
    is_pending_email: bool,
}

/// `POST /api/v1/users/ask-reset-password` (`email`): 204 whether or not it is a user's.
pub async fn ask_reset_password(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Body(b): Body<EmailBody>,
) -> Result<StatusCode, ApiError> {
    app.limits.check_ip(Kind::Password, ip)?;
    flotilla_app::verification::ask_reset(&app, b.email.as_deref().unwrap_or_default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/reset-password` (`verificationString`, `password`)
pub async fn reset_password(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Path(uid): Path<String>,
    Body(b): Body<EmailBody>,
) -> Result<StatusCode, ApiError> {
    app.limits.check_ip(Kind::Password, ip)?;
    let uid = id(&uid)?;
    flotilla_app::verification::reset(&app, uid, b.verification_string.as_deref(), b.password.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/ask-send-verify-email` (`email`): 204 whether or not one was sent.
pub async fn ask_send_verify_email(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Body(b): Body<EmailBody>,
) -> Result<StatusCode, ApiError> {
    app.limits.check_ip(Kind::Password, ip)?;
    flotilla_app::verification::ask_verify(&app, b.email.as_deref().unwrap_or_default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/verify-email` (`verificationString`, `isPendingEmail`)
pub async fn verify_email(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Path(uid): Path<String>,
    Body(b): Body<EmailBody>,
) -> Result<StatusCode, ApiError> {
    app.limits.check_ip(Kind::Password, ip)?;
    let uid = id(&uid)?;
    flotilla_app::verification::verify(&app, uid, b.verification_string.as_deref(), b.is_pending_email).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoveBody {
    #[serde(default)]
    aliases: Vec<String>,
    target: Option<String>,
    current_password: Option<String>,
}

/// My account's actor id and name.
async fn my_account(app: &App, who: &flotilla_app::auth::AuthUser) -> Result<(i64, String), ApiError> {
    let a = flotilla_app::account::get_local(app, &who.user.username).await?;
    Ok((a.actor_id, a.name))
}

/// `GET /api/v1/users/me/aliases`: my account's other addresses (where it moves from).
pub async fn get_my_aliases(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    let (actor, _) = my_account(&app, &who).await?;
    Ok(Json(flotilla_app::federation::moves::aliases(&app, actor).await?))
}

/// `PUT /api/v1/users/me/aliases` (`aliases`: `name@host` or actor URLs)
pub async fn set_my_aliases(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    let (actor, _) = my_account(&app, &who).await?;
    Ok(Json(flotilla_app::federation::moves::set_aliases(&app, actor, "Person", &b.aliases).await?))
}

/// `POST /api/v1/users/me/move` (`target`, `currentPassword`): my account moves there, with its
/// followers.
pub async fn move_me(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    if !app.passwords.verify(b.current_password.as_deref().unwrap_or_default(), &who.user.password_hash).await {
        return Err(flotilla_app::Error::Unauthorized {
            code: "invalid_current_password",
            msg: "currentPassword is missing or wrong".into(),
        }
        .into());
    }
    let target =
        b.target.filter(|t| !t.trim().is_empty()).ok_or_else(|| ApiError::invalid("target", "target is required"))?;
    let (actor, name) = my_account(&app, &who).await?;
    let url = flotilla_app::uris::account(&app, &name);
    Ok(Json(flotilla_app::federation::moves::move_to(&app, actor, "Person", &url, &target).await?))
}

/// `GET /api/v1/video-channels/{handle}/aliases`
pub async fn get_channel_aliases(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = flotilla_app::channel::editable(&app, &who, &handle).await?;
    Ok(Json(flotilla_app::federation::moves::aliases(&app, c.actor_id).await?))
}

/// `PUT /api/v1/video-channels/{handle}/aliases` (`aliases`)
pub async fn set_channel_aliases(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
    Body(b): Body<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    let c = flotilla_app::channel::editable(&app, &who, &handle).await?;
    Ok(Json(flotilla_app::federation::moves::set_aliases(&app, c.actor_id, "Group", &b.aliases).await?))
}

/// `POST /api/v1/video-channels/{handle}/move` (`target`): the channel moves there, with its
/// followers.
pub async fn move_channel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
    Body(b): Body<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    let c = flotilla_app::channel::editable(&app, &who, &handle).await?;
    let target =
        b.target.filter(|t| !t.trim().is_empty()).ok_or_else(|| ApiError::invalid("target", "target is required"))?;
    let url = flotilla_app::uris::channel(&app, &c.name);
    Ok(Json(flotilla_app::federation::moves::move_to(&app, c.actor_id, "Group", &url, &target).await?))
}
