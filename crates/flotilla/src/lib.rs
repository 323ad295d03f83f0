//! The `flotilla` binary's library half: configuration loading, logging set-up, and
//! [`start`], which wires the database, the app and the HTTP server into a running instance on a
//! listener the caller bound. Tests start instances with the same function the binary uses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flotilla_api::Metrics;
use flotilla_app::{App, Config};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod config;
pub mod doctor;
pub mod runner;
pub mod serve;

/// An instance serving HTTP. Dropping it does not stop it; call [`RunningInstance::stop`].
pub struct RunningInstance {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

impl RunningInstance {
    /// `http://127.0.0.1:<port>`: where this instance listens.
    pub fn local_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets in-flight requests finish (up to `grace`), closes the
    /// database.
    pub async fn stop_within(mut self, grace: Duration) {
        self.app.stopping.send_replace(true);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for task in &self.background {
            task.abort();
        }
        match tokio::time::timeout(grace, &mut self.server).await {
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "server stopped with an error"),
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(
                    secs = grace.as_secs(),
                    "requests still running after the grace period; stopping anyway"
                );
                self.server.abort();
            }
        }
        // Lives streaming now end (their sessions recorded) before the database closes.
        self.app.lives.wait_ended(Duration::from_secs(10)).await;
        self.app.db.close().await;
    }

    pub async fn stop(self) {
        self.stop_within(Duration::from_secs(30)).await;
    }

    /// Resolves when the server task ends by itself (it should not).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match (&mut self.server).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Opens the app (database, migrations, root admin) and serves HTTP on `listener`.
pub async fn start(config: Config, listener: TcpListener) -> Result<RunningInstance, flotilla_app::Error> {
    start_with_routes(config, listener, axum::Router::new()).await
}

/// [`start`] with extra routes mounted beside the API (for tests).
pub async fn start_with_routes(
    config: Config,
    listener: TcpListener,
    extra: axum::Router<Arc<App>>,
) -> Result<RunningInstance, flotilla_app::Error> {
    let app = Arc::new(App::open(config).await?);
    let addr = listener.local_addr().map_err(|e| flotilla_app::Error::Internal(e.to_string()))?;
    let router = flotilla_api::router_with(app.clone(), Arc::new(Metrics::default()), extra);
    let (tx, rx) = oneshot::channel::<()>();
    let limits = serve::Limits::of(&app.config.http);
    let config = &app.config;
    // A process with neither the web nor the tracker role (`roles = ["jobs"]`) serves no HTTP.
    let server = if config.has_role("web") || config.has_role("tracker") {
        tokio::spawn(serve::serve(listener, router, limits, async {
            let _ = rx.await;
        }))
    } else {
        drop(listener);
        tokio::spawn(async {
            let _ = rx.await;
            Ok(())
        })
    };
    // Other processes' changes to shared caches (PostgreSQL only).
    let mut background = vec![tokio::spawn(flotilla_app::changes::listen(app.clone()))];
    if config.has_role("jobs") {
        background.push(tokio::spawn(housekeeping(app.clone())));
        background.push(tokio::spawn(mirroring(app.clone())));
        background.push(tokio::spawn(runner_watchdog(app.clone())));
        if flotilla_app::image_storage::wants(&app) {
            background.push(tokio::spawn(image_storing(app.clone())));
        }
        background.extend(flotilla_app::jobs::spawn_workers(app.clone()));
    }
    // Who watches what is known to the web process that serves them (`video::views::Watching`).
    if config.has_role("web") {
        background.push(tokio::spawn(audiences(app.clone())));
    }
    if config.live.enabled && config.has_role("live") {
        background.push(tokio::spawn(flotilla_app::live::ingest::serve(app.clone())));
    }
    Ok(RunningInstance { addr, app, shutdown: Some(tx), server, background })
}

/// Periodic clean-up: videos missing web videos or torrents (queued), expired OAuth tokens, expired
/// user archives, resumable uploads untouched for
/// a day, inbox activity ids past their week. Failures are logged and retried at the next tick.
async fn housekeeping(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match flotilla_app::auth::delete_expired_tokens(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "expired tokens removed"),
            Err(e) => tracing::warn!(error = %e, "cannot remove expired tokens"),
        }
        match flotilla_app::video::files::backfill(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "videos queued for their missing web videos and torrents"),
            Err(e) => tracing::warn!(error = %e, "cannot look for videos missing web videos or torrents"),
        }
        match flotilla_app::archive::expire(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "expired user archives removed"),
            Err(e) => tracing::warn!(error = %e, "cannot remove expired user archives"),
        }
        match flotilla_app::video::resumable::sweep(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "abandoned resumable uploads removed"),
            Err(e) => tracing::warn!(error = %e, "cannot sweep abandoned uploads"),
        }
        let now = flotilla_domain::time::now_ms();
        match flotilla_app::video::views::prune(&app, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "daily view counts past the trending week forgotten"),
            Err(e) => tracing::warn!(error = %e, "cannot prune daily views"),
        }
        match flotilla_app::federation::inbox::prune_seen(&app, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "old inbox activity ids forgotten"),
            Err(e) => tracing::warn!(error = %e, "cannot prune inbox_seen"),
        }
        match flotilla_app::jobs::prune_finished(&app, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "finished jobs past their keeping time forgotten"),
            Err(e) => tracing::warn!(error = %e, "cannot prune finished jobs"),
        }
        match flotilla_app::federation::delivery::prune_retired_keys(&app, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "keys of actors deleted days ago forgotten"),
            Err(e) => tracing::warn!(error = %e, "cannot prune retired keys"),
        }
    }
}

/// Remote runners' jobs without news given to another runner, results never stored queued again
/// (`runners::watchdog`): a few times per stall period.
async fn runner_watchdog(app: Arc<App>) {
    let every = Duration::from_secs((app.config.transcoding.runner_stalled_after_secs / 4).clamp(1, 10));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        match flotilla_app::runners::watchdog(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "stalled runner jobs given back"),
            Err(e) => tracing::warn!(error = %e, "cannot look for stalled runner jobs"),
        }
    }
}

/// New images to the object store's images bucket: the `store-images` job queued whenever some
/// image on the disk has settled (one job at a time, whichever jobs process queues it).
async fn image_storing(app: Arc<App>) {
    let every = flotilla_app::image_storage::SETTLE;
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if !flotilla_app::image_storage::any_waiting(&app).await {
            continue;
        }
        let job = flotilla_app::jobs::Job::StoreImages { settle_secs: every.as_secs() };
        match flotilla_app::jobs::enqueue(&app.db, &job).await {
            Ok(_) => app.wake_jobs(),
            Err(e) => tracing::warn!(error = %e, "cannot queue the move of images to the object store"),
        }
    }
}

/// The redundancy strategies' check (`redundancy.check_interval_secs`): new mirrors, renewals,
/// ends, and other servers' expired copies forgotten. The first one an interval after start.
async fn mirroring(app: Arc<App>) {
    let every = Duration::from_secs(app.config.redundancy.check_interval_secs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        if let Err(e) = flotilla_app::redundancy::check(&app).await {
            tracing::warn!(error = %e, "the redundancy check failed");
        }
    }
}

/// Our videos' audiences to their followers (`federation.viewers_interval_secs`), while anyone
/// watches them.
async fn audiences(app: Arc<App>) {
    let every = Duration::from_secs(app.config.federation.viewers_interval_secs.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        if let Err(e) = flotilla_app::federation::views::send_totals(&app).await {
            tracing::warn!(error = %e, "cannot tell followers how many watch our videos");
        }
    }
}

/// Sets up `tracing`: JSON lines or human-readable text, filtered by `RUST_LOG` or `log.level`.
pub fn init_logging(config: &Config) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let json = config.log.format == "json";
    let ansi = config.log.format == "pretty" || (config.log.format == "auto" && std::io::stderr().is_terminal());
    let _ = if json { builder.json().try_init() } else { builder.with_ansi(ansi).try_init() };
}
