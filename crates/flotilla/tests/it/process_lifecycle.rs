//! The real binary as a child process: restarts keep everything, SIGTERM stops cleanly, the
//! generated admin password is printed once, bad configuration stops start-up naming the key,
//! and the operator commands (`migrate`, `admin`, `doctor`) do what they say.

use std::path::Path;
use std::process::Command;

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::json;
use flotilla_testkit::{ADMIN_PASSWORD, Backend, Process, db_tests, empty_database_url, png};

const BIN: &str = env!("CARGO_BIN_EXE_flotilla");

db_tests!(a_restart_keeps_everything_and_sigterm_stops_cleanly, admin_commands_manage_users_offline);

fn base_vars(dir: &Path, db: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FLOTILLA_DATA_DIR", dir.join("data").display().to_string()),
        ("FLOTILLA_DATABASE_URL", db.to_string()),
        ("FLOTILLA_SIGNUP", "open".into()),
        ("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
    ]
}

fn flotilla(dir: &Path, vars: &[(&str, String)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env("FLOTILLA_LOG_LEVEL", "warn");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run flotilla")
}

async fn a_restart_keeps_everything_and_sigterm_stops_cleanly(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    // Empty, not the tests' migrated template: the first start migrates it, the second must not.
    let db = empty_database_url(backend, dir.path()).await;
    let vars = base_vars(dir.path(), &db);
    let mut p = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    let admin = p.api.login("root", ADMIN_PASSWORD).await;
    let (status, _) = p
        .api
        .post(
            "/api/v1/users/register",
            None,
            json!({ "username": "quinn", "password": "password-123", "email": "q@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let quinn = p.api.login("quinn", "password-123").await;
    let (status, _) = p
        .api
        .post("/api/v1/video-channels", Some(&quinn), json!({ "name": "quinn_live", "displayName": "Quinn live" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let form = multipart::Form::new().part("avatarfile", multipart::Part::bytes(png(200, 200)).file_name("a.png"));
    let (status, avatar) = p
        .api
        .send(p.api.http.post(p.api.url("/api/v1/users/me/avatar/pick")).bearer_auth(&quinn).multipart(form))
        .await;
    assert_eq!(status, StatusCode::OK, "{avatar}");
    let (status, _) = p.api.put("/api/v1/config/custom", Some(&admin), json!({ "instance": { "name": "Kept" } })).await;
    assert_eq!(status, StatusCode::OK);

    let exit = p.signal_and_wait("TERM");
    assert!(exit.success(), "SIGTERM should stop cleanly, got {exit}:\n{}", p.log_text());
    assert!(p.log_text().contains("stopped"), "{}", p.log_text());
    assert!(p.log_text().contains("migration applied"), "the first start migrates: {}", p.log_text());

    let p2 = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    // Sessions survive a restart: tokens live in the database.
    let (status, me) = p2.api.get("/api/v1/users/me", Some(&quinn)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let names: Vec<&str> =
        me["videoChannels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["quinn_channel", "quinn_live"]);
    assert_eq!(me["account"]["avatars"].as_array().unwrap().len(), 4);
    let path = avatar["avatars"][0]["path"].as_str().unwrap();
    let resp = p2.api.http.get(p2.api.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, config) = p2.api.get("/api/v1/config", None).await;
    assert_eq!(config["instance"]["name"], "Kept");
    // And the migrations are not run twice.
    assert!(!p2.log_text().contains("migration applied"), "{}", p2.log_text());
}

async fn admin_commands_manage_users_offline(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = empty_database_url(backend, dir.path()).await;
    let vars = base_vars(dir.path(), &db);

    let out = flotilla(dir.path(), &vars, &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0001_init"));
    let out = flotilla(dir.path(), &vars, &["migrate"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));

    let out = flotilla(
        dir.path(),
        &vars,
        &[
            "admin",
            "create-user",
            "--username",
            "pat",
            "--email",
            "pat@example.org",
            "--password",
            "pat-password",
            "--role",
            "moderator",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = flotilla(dir.path(), &vars, &["admin", "reset-password", "pat"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let new_password =
        stdout.lines().find_map(|l| l.strip_prefix("Password: ")).expect("generated password printed").to_string();
    let out = flotilla(dir.path(), &vars, &["admin", "set-role", "pat", "admin"]);
    assert!(out.status.success());
    let out = flotilla(dir.path(), &vars, &["admin", "set-role", "nobody", "admin"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));

    let p = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    let (status, _) = p.api.token("pat", "pat-password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the old password no longer works");
    let token = p.api.login("pat", &new_password).await;
    let (_, me) = p.api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["role"]["id"], 0);
    assert_eq!(me["videoChannels"][0]["name"], "pat_channel");
}

#[tokio::test]
async fn the_generated_admin_password_is_printed_once_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![("FLOTILLA_DATA_DIR", dir.path().join("data").display().to_string())];
    let mut p = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    let log = p.log_text();
    let password = log
        .split("with the password ")
        .nth(1)
        .and_then(|rest| rest.split(['.', ' ']).next())
        .unwrap_or_else(|| panic!("no generated password in the log:\n{log}"))
        .to_string();
    assert!(password.len() >= 16);
    p.api.login("root", &password).await;
    assert!(p.signal_and_wait("TERM").success());
    let p2 = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    assert!(!p2.log_text().contains(&password), "the password is shown only on first start");
}

#[test]
fn invalid_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, expect) in [
        ("FLOTILLA_JOBS_CONCURRENCY", "zero", "FLOTILLA_JOBS_CONCURRENCY"),
        ("FLOTILLA_PUBLIC_URL", "ftp://example.org", "public_url"),
        ("FLOTILLA_TRANSCODING_RESOLUTIONS", "360,333", "transcoding.resolutions"),
        ("FLOTILLA_LISTEN", "nowhere", "listen"),
    ] {
        let out = flotilla(dir.path(), &[(var, value.to_string())], &["serve"]);
        assert_eq!(out.status.code(), Some(78), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{var}={value}: {stderr}");
    }
    std::fs::write(dir.path().join("flotilla.toml"), "[jobs]\nconcurrency = \"two\"\n").unwrap();
    let out = flotilla(dir.path(), &[], &["serve"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("concurrency"));
}

#[test]
fn doctor_tells_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![("FLOTILLA_DATA_DIR", dir.path().join("data").display().to_string())];
    // Before anything ran, the database does not exist.
    let out = flotilla(dir.path(), &vars, &["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("FAIL database"), "{stdout}");
    assert!(stdout.contains("ok   ffmpeg"), "ffmpeg is installed by make test: {stdout}");

    assert!(flotilla(dir.path(), &vars, &["migrate"]).status.success());
    let out = flotilla(dir.path(), &vars, &["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("ok   database"), "{stdout}");
    assert!(stdout.contains("ok   data_dir"), "{stdout}");
    // yt-dlp (imports by URL): its version when it runs, a warning with the way out when not.
    let yt = flotilla_testkit::require_yt_dlp().display().to_string();
    let with_yt = [vars[0].clone(), ("FLOTILLA_IMPORT_YT_DLP", yt)];
    let stdout = String::from_utf8_lossy(&flotilla(dir.path(), &with_yt, &["doctor"]).stdout).to_string();
    assert!(stdout.contains("ok   yt-dlp      yt-dlp 20"), "{stdout}");
    let missing = [vars[0].clone(), ("FLOTILLA_IMPORT_YT_DLP", "/nonexistent/yt-dlp".into())];
    let out = flotilla(dir.path(), &missing, &["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "a missing yt-dlp is a warning: {stdout}");
    assert!(stdout.contains("warn yt-dlp ") && stdout.contains("scripts/ensure-deps"), "{stdout}");

    // Without ffmpeg on the PATH, doctor says so and how to install it.
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("doctor").current_dir(dir.path()).env("PATH", &empty);
    for (k, v) in &vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success());
    assert!(stdout.contains("FAIL ffmpeg") && stdout.contains("apt-get install ffmpeg"), "{stdout}");

    let out = flotilla(
        dir.path(),
        &[("FLOTILLA_PUBLIC_URL", "http://video.example.org".into()), vars[0].clone()],
        &["doctor"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("warn public_url"));
}
