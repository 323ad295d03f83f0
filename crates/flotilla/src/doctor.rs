//! `flotilla doctor`: checks what an instance needs and says, for each check, what is wrong and
//! how to fix it. Exit code 1 when any check fails.

use std::path::Path;

use flotilla_app::{Config, PublicUrl};
use flotilla_db::Db;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub message: String,
}

fn check(name: &'static str, status: Status, message: impl Into<String>) -> Check {
    Check { name, status, message: message.into() }
}

/// Runs every check.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    for program in ["ffmpeg", "ffprobe"] {
        out.push(match flotilla_media::tools::version(program).await {
            Ok(line) => match flotilla_media::tools::major_version(&line) {
                Some(v) if v < 4 => check(program, Status::Fail, format!("{line}: version 4.3 or newer is needed")),
                _ => check(program, Status::Ok, line),
            },
            Err(e) => check(program, Status::Fail, e.to_string()),
        });
    }
    if config.import.http_enabled {
        out.push(yt_dlp(config).await);
    }
    out.push(data_dir(&config.data_dir));
    out.push(database(config).await);
    out.push(public_url(config));
    out.push(match flotilla_app::mail::check(&config.smtp).await {
        Ok(m) => check("smtp", Status::Ok, m),
        Err(m) => check("smtp", Status::Fail, m),
    });
    out
}

/// yt-dlp, which imports by URL run; without it those imports fail (the rest works).
async fn yt_dlp(config: &Config) -> Check {
    let program = config.import.yt_dlp_program();
    let mut cmd = tokio::process::Command::new(&program);
    cmd.arg("--version").env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin").kill_on_drop(true);
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), cmd.output()).await;
    match out {
        Ok(Ok(o)) if o.status.success() => check(
            "yt-dlp",
            Status::Ok,
            format!("yt-dlp {} ({})", String::from_utf8_lossy(&o.stdout).trim(), program.display()),
        ),
        Ok(Ok(o)) => check("yt-dlp", Status::Warn, format!("{} --version exited with {}", program.display(), o.status)),
        Ok(Err(e)) => check(
            "yt-dlp",
            Status::Warn,
            format!(
                "{} cannot be run ({e}): imports by URL will fail; run scripts/ensure-deps (or `make run`), \
                 set [import] yt_dlp, or turn [import] http_enabled off",
                program.display()
            ),
        ),
        Err(_) => check("yt-dlp", Status::Warn, format!("{} --version did not answer within 30 s", program.display())),
    }
}

fn data_dir(dir: &Path) -> Check {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return check("data_dir", Status::Fail, format!("cannot create {}: {e}", dir.display()));
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"ok").and_then(|_| std::fs::remove_file(&probe)) {
        Ok(()) => check("data_dir", Status::Ok, format!("{} is writable", dir.display())),
        Err(e) => check("data_dir", Status::Fail, format!("{} is not writable: {e}", dir.display())),
    }
}

async fn database(config: &Config) -> Check {
    let url = config.database_url();
    if let Some(path) = url.strip_prefix("sqlite://")
        && !Path::new(path).exists()
    {
        return check(
            "database",
            Status::Fail,
            format!("{path} does not exist yet: run `flotilla migrate` or start `flotilla serve`"),
        );
    }
    let shown = redact(&url);
    let db = match Db::connect(&url).await {
        Ok(db) => db,
        Err(e) => return check("database", Status::Fail, format!("cannot connect to {shown}: {e}")),
    };
    let result = match db.pending_migrations().await {
        Ok(p) if p.is_empty() => check("database", Status::Ok, format!("{shown} is reachable and migrated")),
        Ok(p) => check(
            "database",
            Status::Fail,
            format!("{shown} has {} pending migration(s): run `flotilla migrate`", p.len()),
        ),
        Err(e) => check("database", Status::Fail, format!("cannot read migrations of {shown}: {e}")),
    };
    db.close().await;
    result
}

/// Hides the password of a database URL.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn public_url(config: &Config) -> Check {
    match PublicUrl::parse(&config.public_url) {
        Err(e) => check("public_url", Status::Fail, e),
        Ok(p) => {
            let host = p.host.split(':').next().unwrap_or_default();
            let local = host == "localhost" || host.starts_with("127.") || host == "[::1]";
            if p.scheme == "http" && !local {
                check(
                    "public_url",
                    Status::Warn,
                    format!(
                        "{} uses plain http: Mastodon and PeerTube only federate over https; put a TLS reverse proxy in front (see README)",
                        p.base()
                    ),
                )
            } else if local && !config.federation.allow_private {
                check(
                    "public_url",
                    Status::Warn,
                    format!(
                        "{} is only reachable from this machine: fine to try Flotilla, other instances cannot reach it",
                        p.base()
                    ),
                )
            } else {
                check("public_url", Status::Ok, p.base())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden_in_database_urls() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("sqlite://./data/f.db"), "sqlite://./data/f.db");
    }
}
