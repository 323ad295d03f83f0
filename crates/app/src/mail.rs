//! E-mail: a message is a `send-email` job queued in the transaction of the change that causes
//! it (a reset link stored and its mail queued together; nothing lost on a crash, the job retried
//! while the SMTP server is down), and sent by `lettre` through `[smtp]`. No `[smtp] host`: nothing
//! is queued, and the features that need mail say so.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::SmtpConfig;
use crate::jobs::{self, Failure, Job};
use crate::{App, Result};

/// Whether e-mail can be sent.
pub fn enabled(app: &App) -> bool {
    !app.config.smtp.host.trim().is_empty()
}

/// Queues a plain-text message to `to` in the caller's transaction (nothing when e-mail is off).
pub async fn queue(tx: &mut flotilla_db::Tx, app: &App, to: &str, subject: &str, text: &str) -> Result<()> {
    if !enabled(app) {
        return Ok(());
    }
    jobs::enqueue(&mut *tx, &Job::SendEmail { to: to.into(), subject: subject.into(), text: text.into() }).await?;
    Ok(())
}

fn transport(cfg: &SmtpConfig) -> std::result::Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let host = cfg.host.trim();
    let builder = match cfg.tls.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| e.to_string())?,
        "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(|e| e.to_string())?,
    };
    let mut builder = builder.port(cfg.port).timeout(Some(Duration::from_secs(30)));
    if !cfg.username.is_empty() {
        builder = builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
    }
    Ok(builder.build())
}

/// The sender: `[smtp] from`, else `noreply@` the public host.
fn sender(app: &App) -> std::result::Result<Mailbox, String> {
    let from = if app.config.smtp.from.is_empty() {
        format!("{} <noreply@{}>", app.settings().name, app.public.host.split(':').next().unwrap_or("localhost"))
    } else {
        app.config.smtp.from.clone()
    };
    from.parse::<Mailbox>().map_err(|e| format!("the sender '{from}': {e}"))
}

/// The `send-email` job.
pub async fn send(app: &App, to: &str, subject: &str, text: &str) -> std::result::Result<(), Failure> {
    if !enabled(app) {
        return Ok(());
    }
    let to: Mailbox = to.parse().map_err(|e| Failure::Fail(format!("recipient '{to}': {e}")))?;
    let message = Message::builder()
        .from(sender(app).map_err(Failure::Fail)?)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(text.to_string())
        .map_err(|e| Failure::Fail(e.to_string()))?;
    let mailer = transport(&app.config.smtp).map_err(Failure::Fail)?;
    match mailer.send(message).await {
        Ok(_) => Ok(()),
        // 5xx: the server refuses this message for good; anything else may pass later.
        Err(e) if e.is_permanent() => Err(Failure::Fail(format!("the SMTP server refused the message: {e}"))),
        Err(e) => Err(Failure::Retry(format!("cannot send e-mail: {e}"))),
    }
}

/// `flotilla doctor`: connects to the SMTP server and greets it (TLS and login included).
pub async fn check(cfg: &SmtpConfig) -> std::result::Result<String, String> {
    if cfg.host.trim().is_empty() {
        return Ok("no [smtp] host: e-mail is off".into());
    }
    let mailer = transport(cfg)?;
    match mailer.test_connection().await {
        Ok(true) => Ok(format!("{}:{} ({}) answers", cfg.host, cfg.port, cfg.tls)),
        Ok(false) => Err(format!("{}:{} does not answer as an SMTP server", cfg.host, cfg.port)),
        Err(e) => Err(format!("cannot talk to {}:{} ({}): {e}", cfg.host, cfg.port, cfg.tls)),
    }
}
