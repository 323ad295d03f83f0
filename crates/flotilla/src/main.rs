//! `flotilla`: the command line. `serve` runs the instance; `migrate`, `admin …` and `doctor` are
//! the operator's tools; `config example` prints the documented configuration.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use flotilla::config::{self, Loaded};
use flotilla::doctor::{self, Status};
use flotilla_app::{App, auth};
use flotilla_domain::Role;

/// mimalloc: see its comment in Cargo.toml and `docs/ARCHITECTURE.md`, "Speed of the API".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
flotilla — a federated video platform

Usage: flotilla [--config FILE] <command>

Commands:
  serve [--roles web,jobs,tracker,live]   run the instance (all roles unless told: several
                                          processes on one PostgreSQL share them)
  migrate                                 create or upgrade the database, then exit
  admin create-user --username NAME --email EMAIL [--password PASS] [--role admin|moderator|user]
  admin reset-password USERNAME [--password PASS]
  admin set-role USERNAME admin|moderator|user
  admin move-to-object-storage [VIDEO]    queue the move of every local video's files (or one's),
                                          kept originals included, to the object store; the
                                          running instance's workers do it
  admin move-to-file-system [VIDEO]       the same, back to the local disk
  runner --url URL [--registration-token TOKEN --name NAME] [--description TEXT] [--data DIR]
         [--threads N] [--poll-secs S] [--update-secs S]
                                          a remote transcoding runner for the instance at URL
                                          (registers once with an admin's token; keeps its own
                                          token in DIR/runner.json, DIR default ./flotilla-runner)
  doctor                                  check ffmpeg, the data directory, the database, the public URL
  config example                          print a documented configuration file

Configuration: --config FILE, else $FLOTILLA_CONFIG, else ./flotilla.toml if present; then the
FLOTILLA_* environment variables (see `flotilla config example`).
";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let config_path = take_option(&mut args, "--config").map(PathBuf::from);
    // `serve --roles web,jobs`: the same as FLOTILLA_ROLES, over it.
    let roles_arg = take_option(&mut args, "--roles");
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h" || a == "help") {
        print!("{USAGE}");
        return if args.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    if args[0] == "--version" || args[0] == "-V" {
        println!("flotilla {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if args[0] == "config" {
        return match args.get(1).map(String::as_str) {
            Some("example") => {
                print!("{}", config::EXAMPLE);
                ExitCode::SUCCESS
            }
            _ => usage_error("expected `flotilla config example`"),
        };
    }

    if args[0] == "runner" {
        return runner_command(args);
    }

    let vars = std::env::vars().chain(roles_arg.map(|r| ("FLOTILLA_ROLES".to_string(), r)));
    let loaded = match config::load(config_path.as_deref(), vars) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("flotilla: {e}");
            return ExitCode::from(78); // EX_CONFIG
        }
    };
    flotilla::init_logging(&loaded.config);
    for v in &loaded.unknown_vars {
        tracing::warn!(variable = %v, "environment variable matches no configuration key; ignored");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flotilla: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args, loaded))
}

/// `flotilla runner …`: no configuration file, no database; the server's URL and a token.
fn runner_command(mut args: Vec<String>) -> ExitCode {
    let secs = |v: Option<String>, default: u64, name: &str| -> Result<Duration, String> {
        match v {
            None => Ok(Duration::from_secs(default)),
            Some(v) => match v.parse::<f64>() {
                Ok(s) if s > 0.0 && s < 3600.0 => Ok(Duration::from_secs_f64(s)),
                _ => Err(format!("{name} must be a number of seconds")),
            },
        }
    };
    let url = take_option(&mut args, "--url");
    let registration_token = take_option(&mut args, "--registration-token");
    let name = take_option(&mut args, "--name");
    let description = take_option(&mut args, "--description");
    let data_dir =
        take_option(&mut args, "--data").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("flotilla-runner"));
    let threads = match take_option(&mut args, "--threads").map(|t| t.parse::<u32>()) {
        None => 0,
        Some(Ok(t)) => t,
        Some(Err(_)) => return usage_error("--threads must be a number"),
    };
    let poll = secs(take_option(&mut args, "--poll-secs"), 5, "--poll-secs");
    let update_every = secs(take_option(&mut args, "--update-secs"), 10, "--update-secs");
    let (poll, update_every) = match (poll, update_every) {
        (Ok(p), Ok(u)) => (p, u),
        (Err(e), _) | (_, Err(e)) => return usage_error(&e),
    };
    if args.len() > 1 {
        return usage_error(&format!("unexpected argument '{}'", args[1]));
    }
    let Some(url) = url else { return usage_error("runner needs --url (the instance's URL)") };
    flotilla::init_logging(&flotilla_app::Config::default());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flotilla: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts =
        flotilla::runner::Options { url, registration_token, name, description, data_dir, poll, update_every, threads };
    runtime.block_on(flotilla::runner::run(opts))
}

async fn run(args: Vec<String>, loaded: Loaded) -> ExitCode {
    let command = args[0].as_str();
    match command {
        "serve" => serve(loaded).await,
        "migrate" => migrate(loaded).await,
        "doctor" => run_doctor(loaded).await,
        "admin" => admin(args[1..].to_vec(), loaded).await,
        other => usage_error(&format!("unknown command '{other}'")),
    }
}

/// SQLite is one process's database: `serve` takes an exclusive lock on `<database>.lock` (released
/// by the kernel however the process ends). Several processes need PostgreSQL.
fn sqlite_lock(config: &flotilla_app::Config) -> Result<Option<std::fs::File>, String> {
    let url = config.database_url();
    let Some(rest) = url.strip_prefix("sqlite:") else { return Ok(None) };
    let path = rest.trim_start_matches("//").split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(None);
    }
    let lock_path = PathBuf::from(format!("{path}.lock"));
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another flotilla process is serving the SQLite database {path}: SQLite allows one process \
             (run several processes on PostgreSQL, with --roles)"
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", lock_path.display())),
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("flotilla: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

/// Removes `--name VALUE` (or `--name=VALUE`) from `args` and returns the value.
fn take_option(args: &mut Vec<String>, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    if let Some(i) = args.iter().position(|a| a.starts_with(&prefix)) {
        return Some(args.remove(i)[prefix.len()..].to_string());
    }
    let i = args.iter().position(|a| a == name)?;
    if i + 1 < args.len() {
        let v = args.remove(i + 1);
        args.remove(i);
        Some(v)
    } else {
        args.remove(i);
        None
    }
}

async fn serve(loaded: Loaded) -> ExitCode {
    let config = loaded.config;
    if let Some(f) = &loaded.file {
        tracing::info!(file = %f.display(), "configuration file loaded");
    }
    // Held until the process ends: a second `serve` on the same SQLite database is refused.
    let _sqlite_lock = match sqlite_lock(&config) {
        Ok(lock) => lock,
        Err(msg) => {
            tracing::error!("{msg}");
            eprintln!("flotilla: {msg}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(
                "cannot listen on {}: {e} (is another instance running? set FLOTILLA_LISTEN)",
                config.listen
            );
            return ExitCode::FAILURE;
        }
    };
    flotilla::serve::check_open_file_limit(config.http.max_connections);
    let public = config.public_url.clone();
    let mut instance = match flotilla::start(config, listener).await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(listen = %instance.addr, public_url = %public, "flotilla {} is running", env!("CARGO_PKG_VERSION"));
    println!("Flotilla is running at {public} (listening on {})", instance.addr);
    println!(
        "Admin login: root (its password is printed in the log on first start; `flotilla admin reset-password root` sets a new one)"
    );

    tokio::select! {
        _ = shutdown_signal() => {
            tracing::info!("shutting down: finishing requests in flight");
            instance.stop_within(Duration::from_secs(30)).await;
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        r = instance.wait() => {
            tracing::error!("the server stopped unexpectedly: {r:?}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM: {e}");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn migrate(loaded: Loaded) -> ExitCode {
    let url = loaded.config.database_url();
    let db = match flotilla_db::Db::connect(&url).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("flotilla: cannot open the database: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = db.migrate().await;
    db.close().await;
    match result {
        Ok(ran) if ran.is_empty() => {
            println!("The database is up to date.");
            ExitCode::SUCCESS
        }
        Ok(ran) => {
            println!("Applied {} migration(s): {}", ran.len(), ran.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flotilla: migration failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_doctor(loaded: Loaded) -> ExitCode {
    let checks = doctor::run(&loaded.config).await;
    let mut failed = 0;
    for c in &checks {
        let tag = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => {
                failed += 1;
                "FAIL"
            }
        };
        println!("{tag} {:<11} {}", c.name, c.message);
    }
    if failed > 0 {
        println!("\n{failed} check(s) failed.");
        ExitCode::FAILURE
    } else {
        println!("\nAll checks passed.");
        ExitCode::SUCCESS
    }
}

async fn admin(mut args: Vec<String>, loaded: Loaded) -> ExitCode {
    let password_arg = take_option(&mut args, "--password");
    let username_arg = take_option(&mut args, "--username");
    let email_arg = take_option(&mut args, "--email");
    let role_arg = take_option(&mut args, "--role");
    let Some(sub) = args.first().cloned() else {
        return usage_error("expected an admin command");
    };
    let app = match App::open(loaded.config).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flotilla: cannot open the instance: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (password, generated) = match password_arg {
        Some(p) => (p, false),
        None => (auth::random_token(9), true),
    };
    let result = match sub.as_str() {
        "create-user" => {
            let (Some(username), Some(email)) = (username_arg, email_arg) else {
                return usage_error("create-user needs --username and --email");
            };
            let role = match role_arg.as_deref().map(Role::parse_name) {
                None => Role::User,
                Some(Some(r)) => r,
                Some(None) => return usage_error("--role must be admin, moderator or user"),
            };
            flotilla_app::user::create_by_operator(&app, &username, &email, &password, role)
                .await
                .map(|_| format!("Created user '{username}' ({}).", role.label()))
        }
        "reset-password" => {
            let Some(username) = args.get(1).cloned().or(username_arg) else {
                return usage_error("reset-password needs a USERNAME");
            };
            flotilla_app::user::reset_password(&app, &username, &password)
                .await
                .map(|_| format!("New password set for '{username}'; their sessions were ended."))
        }
        "set-role" => {
            let (Some(username), Some(role)) = (args.get(1).cloned(), args.get(2).or(role_arg.as_ref())) else {
                return usage_error("set-role needs USERNAME and ROLE");
            };
            let Some(role) = Role::parse_name(role) else {
                return usage_error("ROLE must be admin, moderator or user");
            };
            flotilla_app::user::set_role(&app, &username, role)
                .await
                .map(|_| format!("'{username}' is now {}.", role.label()))
        }
        "move-to-object-storage" | "move-to-file-system" => {
            let direction = if sub == "move-to-file-system" {
                flotilla_app::storage::Direction::ToFileSystem
            } else {
                flotilla_app::storage::Direction::ToObjectStorage
            };
            let o = &app.config.object_storage;
            let images = match (o.images_bucket_name.is_empty() || args.len() > 1, direction, o.enabled) {
                (true, _, _) => "",
                (false, flotilla_app::storage::Direction::ToObjectStorage, true) => {
                    " Images go to the images bucket by a store-images job."
                }
                (false, flotilla_app::storage::Direction::ToObjectStorage, false) => {
                    " Images move to the images bucket once [object_storage] enabled = true."
                }
                (false, flotilla_app::storage::Direction::ToFileSystem, true) => {
                    " Images stay in the images bucket while [object_storage] enabled = true (new ones would go straight back): set it to false and run this again to bring them back."
                }
                (false, flotilla_app::storage::Direction::ToFileSystem, false) => {
                    " Images come back by an images-to-file-system job."
                }
            };
            let kind = if sub == "move-to-file-system" { "move-to-file-system" } else { "move-to-object-storage" };
            flotilla_app::storage::queue_all(&app, direction, args.get(1).map(String::as_str)).await.map(|n| {
                format!("Queued the move of {n} video(s); the instance's job workers move them (progress: GET /api/v1/jobs/all?jobType={kind}).{images}")
            })
        }
        other => return usage_error(&format!("unknown admin command '{other}'")),
    };
    app.db.close().await;
    match result {
        Ok(msg) => {
            println!("{msg}");
            if generated && matches!(sub.as_str(), "create-user" | "reset-password") {
                println!("Password: {password}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flotilla: {e}");
            ExitCode::FAILURE
        }
    }
}
