//! First start: the `root` admin, created once with the configured or a generated password.

use base64::Engine;
use flotilla_db::users;
use flotilla_domain::Role;
use rand::RngCore;

use crate::user::{self, NewLocalUser};
use crate::{App, Result};

/// Creates `root` when the instance has no user yet. A generated password is logged once, at
/// warning level so it shows whatever the log filter; it is not stored anywhere in clear.
pub async fn ensure_root(app: &App) -> Result<()> {
    if users::count(&app.db).await? > 0 {
        return Ok(());
    }
    let (password, generated) = if app.config.admin_password.is_empty() {
        let mut buf = [0u8; 15];
        rand::rngs::OsRng.fill_bytes(&mut buf);
        (base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf), true)
    } else {
        (app.config.admin_password.clone(), false)
    };
    let host = app.public.host.split(':').next().unwrap_or("localhost").to_string();
    user::create(
        app,
        NewLocalUser {
            username: "root".into(),
            email: format!("admin@{host}.invalid").replace("..", "."),
            password_hash: app.passwords.hash(&password).await?,
            role: Role::Admin,
            video_quota: -1,
            video_quota_daily: -1,
            email_verified: true,
            display_name: None,
            channel_name: None,
            channel_display_name: None,
        },
    )
    .await?;
    if generated {
        tracing::warn!(
            "created the admin user 'root' with the password {password}. It is shown only this once: log in and change it, or set one with `flotilla admin reset-password root`"
        );
    } else {
        tracing::info!("created the admin user 'root' with the password from FLOTILLA_ADMIN_PASSWORD");
    }
    Ok(())
}
