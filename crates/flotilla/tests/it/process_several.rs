//! Several processes of the real binary on one PostgreSQL (`flotilla serve --roles`): two web
//! processes behind nginx (Debian's, started here) and a jobs process. An upload whose chunks
//! alternate between the web processes finishes and the jobs process transcodes it; a video made
//! private through one web process is refused by the other at once (its cache of "public" told by
//! NOTIFY, well before it would expire); a web process killed under load loses no request beyond
//! those it was serving, and the work queued through it is done. On SQLite a second process is
//! refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{ADMIN_PASSWORD, Api, Backend, Process, clip, database_url, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_flotilla");

/// nginx from Debian's packages in front of the web processes, stopped on drop.
struct Nginx {
    port: u16,
    child: Child,
}

impl Nginx {
    fn start(dir: &Path, upstreams: &[u16]) -> Nginx {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists());
        let nginx = nginx.expect("nginx is missing: install it with `apt-get install nginx-light` (make test does)");
        let dir = dir.join("nginx");
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let port = free_port();
        let servers: String =
            upstreams.iter().map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout=10s; ")).collect();
        // Workers would drop to `nobody` as root and could not read the temporary directory.
        let user = if std::env::var("USER").as_deref() == Ok("root") || is_root() { "user root root;" } else { "" };
        let d = dir.display();
        let conf = format!(
            "{user}\nworker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n access_log off;\n client_max_body_size 100m;\n client_body_temp_path {d}/tmp/body;\n\
             proxy_temp_path {d}/tmp/proxy;\n fastcgi_temp_path {d}/tmp/fastcgi;\n uwsgi_temp_path {d}/tmp/uwsgi;\n\
             scgi_temp_path {d}/tmp/scgi;\n upstream web {{ {servers} }}\n\
             server {{\n  listen 127.0.0.1:{port};\n  location / {{\n   proxy_pass http://web;\n\
             proxy_http_version 1.1;\n   proxy_set_header Host $http_host;\n   proxy_set_header Connection \"\";\n\
             proxy_request_buffering off;\n   proxy_next_upstream error timeout;\n  }}\n }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let mut child = Command::new(nginx)
            .args(["-p", &d.to_string(), "-e", &format!("{d}/error.log"), "-c", &format!("{d}/nginx.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx { port, child };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("nginx did not listen: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"))
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (SIGKILL would leave them running).
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `serve` process without HTTP (the jobs role), killed on drop.
struct Background {
    child: Child,
    log: PathBuf,
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_background(dir: &Path, vars: &[(&str, String)], listen: u16) -> Background {
    let log = dir.join(format!("jobs-{listen}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env("FLOTILLA_LISTEN", format!("127.0.0.1:{listen}"))
        .env("FLOTILLA_LOG_FORMAT", "json")
        .env("FLOTILLA_LIVE_RTMP_LISTEN", "127.0.0.1:0")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .current_dir(dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    Background { child: cmd.spawn().expect("spawn flotilla"), log }
}

async fn until<T>(what: &str, secs: u64, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..secs * 10 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {secs} s");
}

async fn published(api: &Api, uuid: &str) -> Value {
    until("the video is published by the jobs process", 90, async || {
        let (status, v) = api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        (status == StatusCode::OK && v["state"]["id"] == 1 && v["streamingPlaylists"][0]["files"].is_array())
            .then_some(v)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_share_one_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_url(Backend::Postgres, dir.path()).await;
    let (web1_port, web2_port) = (free_port(), free_port());
    let vars = |roles: &str, public: &str| -> Vec<(&'static str, String)> {
        vec![
            ("FLOTILLA_DATA_DIR", dir.path().join("data").display().to_string()),
            ("FLOTILLA_DATABASE_URL", db.clone()),
            ("FLOTILLA_SIGNUP", "open".into()),
            ("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
            ("FLOTILLA_TRANSCODING_RESOLUTIONS", "144".into()),
            ("FLOTILLA_PUBLIC_URL", public.to_string()),
            ("FLOTILLA_ROLES", roles.into()),
        ]
    };
    // Every process names the load balancer as the instance's URL.
    let nginx = Nginx::start(dir.path(), &[web1_port, web2_port]);
    let public = format!("http://127.0.0.1:{}", nginx.port);
    let web1 = Process::spawn_on(Path::new(BIN), dir.path(), web1_port, &vars("web,tracker", &public)).await;
    let mut web2 = Process::spawn_on(Path::new(BIN), dir.path(), web2_port, &vars("web", &public)).await;
    let jobs_port = free_port();
    let jobs = start_background(dir.path(), &vars("jobs", &public), jobs_port);
    let lb = Api::new(&public);

    // The jobs process serves no HTTP; the tracker is only where its role is.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(std::net::TcpStream::connect(("127.0.0.1", jobs_port)).is_err(), "the jobs process listens");
    let socket = |port: u16| format!("http://127.0.0.1:{port}/tracker/socket");
    let status = web2.api.http.get(socket(web2_port)).send().await.unwrap().status();
    assert_eq!(status, StatusCode::NOT_FOUND, "no tracker in a web-only process");
    let status = web1.api.http.get(socket(web1_port)).send().await.unwrap().status();
    assert_ne!(status, StatusCode::NOT_FOUND, "the tracker process answers its socket");

    let (status, body) = lb
        .post(
            "/api/v1/users/register",
            None,
            json!({ "username": "rosa", "password": "password-123", "email": "rosa@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let token = lb.login("rosa", "password-123").await;
    let (_, me) = lb.get("/api/v1/users/me", Some(&token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();

    // A resumable upload whose chunks alternate between the two web processes.
    let bytes = std::fs::read(clip(dir.path(), "several.mp4", 256, 144, 2)).unwrap();
    let total = bytes.len();
    let resp = web1
        .api
        .http
        .post(web1.api.url("/api/v1/videos/upload-resumable"))
        .bearer_auth(&token)
        .header("X-Upload-Content-Length", total.to_string())
        .header("X-Upload-Content-Type", "video/mp4")
        .json(&json!({ "channelId": channel, "name": "Across processes" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let id = location.split("upload_id=").nth(1).unwrap().to_string();
    let chunk = total.div_ceil(4);
    let mut last = Value::Null;
    for (i, start) in (0..total).step_by(chunk).enumerate() {
        let end = (start + chunk).min(total);
        let api = if i % 2 == 0 { &web1.api } else { &web2.api };
        let req = api
            .http
            .put(api.url(&format!("/api/v1/videos/upload-resumable?upload_id={id}")))
            .bearer_auth(&token)
            .header("Content-Range", format!("bytes {start}-{}/{total}", end - 1))
            .body(bytes[start..end].to_vec());
        let (status, body) = api.send(req).await;
        let done = end == total;
        assert_eq!(status, if done { StatusCode::OK } else { StatusCode::PERMANENT_REDIRECT }, "chunk {i}: {body}");
        last = body;
    }
    let uuid = last["video"]["uuid"].as_str().unwrap().to_string();
    let v = published(&lb, &uuid).await;
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    let path = master.strip_prefix(&public).unwrap().to_string();

    // web2 remembers the video's files are public; made private through web1, web2 refuses at
    // once (the memory lasts 10 s without the notification).
    assert_eq!(web2.api.http.get(web2.api.url(&path)).send().await.unwrap().status(), StatusCode::OK);
    let (status, body) = web1.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "privacy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let changed = std::time::Instant::now();
    until("web2 refuses the private video's files", 3, async || {
        (web2.api.http.get(web2.api.url(&path)).send().await.unwrap().status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(changed.elapsed() < Duration::from_secs(3));
    // Its owner still gets them, from either.
    let resp = web2.api.http.get(web2.api.url(&path)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Killed under load: four clients read through nginx while web2 dies.
    let lb_url = public.clone();
    let load = tokio::spawn(async move {
        let client = flotilla_testkit::reqwest::Client::new();
        let mut handles = Vec::new();
        for _ in 0..4 {
            let (client, url) = (client.clone(), lb_url.clone());
            handles.push(tokio::spawn(async move {
                let mut failed = 0;
                for _ in 0..1000 {
                    match client.get(format!("{url}/api/v1/videos?count=5")).send().await {
                        Ok(r) if r.status() == StatusCode::OK => {}
                        _ => failed += 1,
                    }
                }
                failed
            }));
        }
        let mut failed = 0;
        for h in handles {
            failed += h.await.unwrap();
        }
        failed
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!load.is_finished(), "the load ran until web2 was killed");
    web2.signal_and_wait("KILL");
    let failed = load.await.unwrap();
    assert!(failed <= 4, "{failed} requests failed: more than those web2 was serving");

    // Work queued through the load balancer after the kill is done by the jobs process.
    let form = flotilla_testkit::reqwest::multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "After the kill")
        .part("videofile", flotilla_testkit::reqwest::multipart::Part::bytes(bytes.clone()).file_name("after.mp4"));
    let (status, body) =
        lb.send(lb.http.post(lb.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    published(&lb, body["video"]["uuid"].as_str().unwrap()).await;
    // The transcodings ran in the jobs process, none in a web process. The line is written just
    // after the video is seen published, so it is waited for; a failure shows every log.
    let mut jobs_log = String::new();
    for _ in 0..100 {
        jobs_log = std::fs::read_to_string(&jobs.log).unwrap();
        if jobs_log.matches("video published").count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        jobs_log.matches("video published").count(),
        2,
        "the jobs process logs both publications.\n--- jobs ---\n{jobs_log}\n--- web1 ---\n{}\n--- web2 ---\n{}",
        web1.log_text(),
        web2.log_text()
    );
    assert!(!web1.log_text().contains("video published"));
}

#[tokio::test]
async fn a_second_process_on_one_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_url(Backend::Sqlite, dir.path()).await;
    let vars = vec![
        ("FLOTILLA_DATA_DIR", dir.path().join("data").display().to_string()),
        ("FLOTILLA_DATABASE_URL", db.clone()),
        ("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
    ];
    let first = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    let out = Command::new(BIN)
        .arg("serve")
        .env("FLOTILLA_LISTEN", format!("127.0.0.1:{}", free_port()))
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir.path())
        .output()
        .expect("run flotilla");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SQLite allows one process"), "{stderr}");
    // The first one is unharmed.
    let (status, _) = first.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    // Invalid roles are refused naming the key.
    let out = Command::new(BIN)
        .args(["serve", "--roles", "web,dance"])
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir.path())
        .output()
        .expect("run flotilla");
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("roles"));
}
