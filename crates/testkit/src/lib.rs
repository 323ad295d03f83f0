//! Test support for the integration tests of the `flotilla` crate: real instances on 127.0.0.1
//! (in-process, or the built binary as a child process), each with its own data directory and its
//! own database — a SQLite file, or a fresh database on the throwaway PostgreSQL server that
//! `make test` starts (`FLOTILLA_TEST_PG_URL`) — and a small HTTP client that speaks our API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flotilla::RunningInstance;
use flotilla_app::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

pub use reqwest;
pub use serde_json;

/// The `root` password of every test instance.
pub const ADMIN_PASSWORD: &str = "test-admin-password";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Writes each test twice, once per database: `db_tests!(login_works, …)` turns
/// `async fn login_works(backend: Backend)` into the tests `login_works::sqlite` and
/// `login_works::postgres`.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )*
    };
}

/// A database URL for one test, its schema already migrated: a new SQLite file in `dir`, or a
/// new database on the test PostgreSQL server, copied from a migrated template (a copy took
/// ~0.19 s, migrating a new database ~0.45 s, for ~340 tests). The instance still runs the
/// migrations it finds pending at start, as in production. Fails loudly when PostgreSQL was not
/// provided: that suite is not optional.
pub async fn database_url(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("flotilla.db").display()),
        Backend::Postgres => new_pg_database(Some(PG_TEMPLATE)).await,
    }
}

/// A database URL for one test with nothing in it: for the tests of migrating itself.
pub async fn empty_database_url(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("flotilla.db").display()),
        Backend::Postgres => new_pg_database(None).await,
    }
}

/// The migrated database the PostgreSQL tests' databases are copied from. The server is
/// throwaway (one per `scripts/with-postgres` run, so one build of the tests): the first test
/// that needs the template makes it.
const PG_TEMPLATE: &str = "flotilla_test_template";

fn pg_admin_url() -> String {
    std::env::var("FLOTILLA_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "FLOTILLA_TEST_PG_URL is not set: the PostgreSQL half of the suite needs the throwaway server \
             that `make test` starts (scripts/with-postgres). Run `make test`, or \
             `scripts/with-postgres cargo nextest run`."
        )
    })
}

async fn new_pg_database(template: Option<&str>) -> String {
    let admin = pg_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {admin}: {e}"));
    let name = format!("flotilla_test_{}", flotilla_app::auth::random_token(8));
    let create = match template {
        Some(template) => {
            ensure_pg_template(&mut conn, &admin, template).await;
            format!("CREATE DATABASE {name} TEMPLATE {template}")
        }
        None => format!("CREATE DATABASE {name}"),
    };
    sqlx::query(&create).execute(&mut conn).await.unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    let _ = conn.close().await;
    with_database(&admin, &name)
}

async fn pg_database_exists(conn: &mut sqlx::PgConnection, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
        .expect("read pg_database")
}

/// Makes the migrated template unless it exists. Tests run in processes of their own, so the
/// first ones race: a session advisory lock lets one build it (under another name, renamed once
/// complete: a copy never sees a half-migrated template) while the others wait.
async fn ensure_pg_template(conn: &mut sqlx::PgConnection, admin: &str, template: &str) {
    if pg_database_exists(conn, template).await {
        return;
    }
    const LOCK: i64 = 0x666c_6f74_696c; // "flotil"
    sqlx::query("SELECT pg_advisory_lock($1)").bind(LOCK).execute(&mut *conn).await.expect("advisory lock");
    if !pg_database_exists(conn, template).await {
        let building = format!("{template}_building");
        for sql in [format!("DROP DATABASE IF EXISTS {building}"), format!("CREATE DATABASE {building}")] {
            sqlx::query(&sql).execute(&mut *conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let db = flotilla_db::Db::connect(&with_database(admin, &building))
            .await
            .unwrap_or_else(|e| panic!("cannot open {building}: {e}"));
        db.migrate().await.unwrap_or_else(|e| panic!("cannot migrate {building}: {e}"));
        // A template may have no session open when it is copied. The pool's close has been seen to
        // leave one of its sessions open (idle after its last COMMIT), and PostgreSQL spends ~5 s on
        // each refused rename: so every session still on the building database is ended first (none
        // but ours can be there: the others wait on the lock), and the retries are bounded by time.
        db.close().await;
        let sql = format!("ALTER DATABASE {building} RENAME TO {template}");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(&building)
            .execute(&mut *conn)
            .await
            .expect("end the sessions on the template being built");
            match sqlx::query(&sql).execute(&mut *conn).await {
                Ok(_) => break,
                Err(e) => {
                    let busy = e.to_string().contains("being accessed by other users");
                    assert!(busy && std::time::Instant::now() < deadline, "{sql}: {e}");
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
        }
    }
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(LOCK).execute(&mut *conn).await.expect("advisory unlock");
}

/// The same server URL with another database name (`postgres://u@h/DB?host=…`).
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// The configuration of a test instance: fast, isolated, loopback only.
pub fn test_config(dir: &Path, database_url: String) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.join("data"),
        database_url,
        admin_password: ADMIN_PASSWORD.into(),
        signup: flotilla_domain::SignupMode::Open,
        ..Default::default()
    };
    c.federation.allow_private = true;
    c.log.level = "warn".into();
    // Tests make many requests from 127.0.0.1; the limits have tests of their own.
    c.rate_limits.enabled = false;
    c.import.yt_dlp = yt_dlp().display().to_string();
    // Every test instance has an RTMP server of its own.
    c.live.rtmp_listen = "127.0.0.1:0".into();
    // An ended live's files go at once (their grace period has a test of its own).
    c.live.cleanup_delay_secs = 0;
    c
}

/// The yt-dlp that `scripts/ensure-deps` installs for imports by URL (`.tools/yt-dlp`).
pub fn yt_dlp() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/yt-dlp/bin/yt-dlp")
}

/// [`yt_dlp`], failing the test with how to install it when it is missing.
pub fn require_yt_dlp() -> PathBuf {
    let p = yt_dlp();
    assert!(p.exists(), "yt-dlp is missing at {}: run scripts/ensure-deps test (or make test)", p.display());
    p
}

/// An instance running in this process.
pub struct TestInstance {
    pub instance: RunningInstance,
    pub api: Api,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl TestInstance {
    pub async fn start(backend: Backend) -> TestInstance {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts an instance after `tweak` has adjusted its configuration.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestInstance {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = database_url(backend, dir.path()).await;
        let mut config = test_config(dir.path(), url);
        tweak(&mut config);
        Self::start_config(dir, config).await
    }

    async fn start_config(dir: tempfile::TempDir, config: Config) -> TestInstance {
        Self::start_config_routes(dir, config, axum::Router::new()).await
    }

    /// Starts an instance with `routes` mounted beside the API, under the same layers.
    pub async fn start_with_routes(
        backend: Backend,
        routes: axum::Router<std::sync::Arc<flotilla_app::App>>,
    ) -> TestInstance {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = database_url(backend, dir.path()).await;
        let config = test_config(dir.path(), url);
        Self::start_config_routes(dir, config, routes).await
    }

    async fn start_config_routes(
        dir: tempfile::TempDir,
        mut config: Config,
        routes: axum::Router<std::sync::Arc<flotilla_app::App>>,
    ) -> TestInstance {
        // Warnings and errors of the instance show in the failing test's output.
        flotilla::init_logging(&config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        // The public URL is the bound address, as in a cluster of test instances.
        if config.public_url == Config::default().public_url {
            config.public_url = format!("http://{addr}");
        }
        let instance = flotilla::start_with_routes(config.clone(), listener, routes).await.expect("start instance");
        let api = Api::new(&instance.local_url());
        TestInstance { instance, api, dir, config }
    }

    /// Stops the instance and starts it again on the same data and database (a new port).
    pub async fn restart(self) -> TestInstance {
        let TestInstance { instance, dir, mut config, .. } = self;
        instance.stop().await;
        config.public_url = Config::default().public_url;
        Self::start_config(dir, config).await
    }

    pub async fn stop(self) {
        self.instance.stop().await;
    }

    /// Stops the instance; it can come back with [`Stopped::start`] on the same address, data and
    /// database (its identity in the fediverse unchanged).
    pub async fn stop_keep(self) -> Stopped {
        let addr = self.instance.addr;
        self.instance.stop().await;
        Stopped { dir: self.dir, config: self.config, addr }
    }

    /// Runs background jobs until none is left (transcodes included), instead of sleeping.
    pub async fn run_jobs(&self) {
        flotilla_app::jobs::run_until_idle(&self.instance.app, Duration::from_secs(300)).await.expect("jobs finish");
    }

    /// A token for `root`.
    pub async fn admin_token(&self) -> String {
        self.api.login("root", ADMIN_PASSWORD).await
    }

    /// Registers a user (the instance must be open) and returns their access token.
    pub async fn user(&self, username: &str) -> String {
        let (status, body) = self
            .api
            .post(
                "/api/v1/users/register",
                None,
                json!({ "username": username, "password": "password-123", "email": format!("{username}@example.org") }),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "register {username}: {body}");
        self.api.login(username, "password-123").await
    }

    /// Uploads a one-second clip to the user's first channel as `name`, with `extra` form fields
    /// (`privacy`, `commentsPolicy`…); returns its UUID. Transcoding is left to the caller.
    pub async fn publish(&self, token: &str, name: &str, extra: &[(&str, &str)]) -> String {
        let (_, me) = self.api.get("/api/v1/users/me", Some(token)).await;
        let file = clip(self.dir.path(), "f.mp4", 256, 144, 1);
        let mut form = reqwest::multipart::Form::new()
            .text("channelId", me["videoChannels"][0]["id"].to_string())
            .text("name", name.to_string())
            .part("videofile", reqwest::multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("f.mp4"));
        for (k, v) in extra {
            form = form.text(k.to_string(), v.to_string());
        }
        let req = self.api.http.post(self.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form);
        let (status, body) = self.api.send(req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["video"]["uuid"].as_str().unwrap().to_string()
    }

    /// This instance's admin follows `other` (the whole instance), and both run their jobs.
    pub async fn follow_instance(&self, other: &TestInstance) {
        let admin = self.admin_token().await;
        let hosts = json!({ "hosts": [other.instance.addr.to_string()] });
        let (status, body) = self.api.post("/api/v1/server/following", Some(&admin), hosts).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        settle(&[self, other]).await;
    }
}

/// Runs the jobs of several instances in turn, four rounds: what one sends, the next receives and
/// answers.
pub async fn settle(instances: &[&TestInstance]) {
    for _ in 0..4 {
        for i in instances {
            i.run_jobs().await;
        }
    }
}

/// An instance that was stopped, ready to start again where it was.
pub struct Stopped {
    dir: tempfile::TempDir,
    config: Config,
    addr: std::net::SocketAddr,
}

impl Stopped {
    pub async fn start(self) -> TestInstance {
        self.start_with(|_| {}).await
    }

    /// Starts it again after `tweak` changed its configuration (a setting an admin changed).
    pub async fn start_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestInstance {
        tweak(&mut self.config);
        flotilla::init_logging(&self.config);
        let mut listener = None;
        for _ in 0..50 {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let listener = listener.expect("the old port is free again");
        let instance = flotilla::start(self.config.clone(), listener).await.expect("restart instance");
        let api = Api::new(&instance.local_url());
        TestInstance { instance, api, dir: self.dir, config: self.config }
    }
}

/// Bytes a [`FakeServer`] serves as they are, by path: `(Content-Type, body)`.
type RawFiles = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, (String, Vec<u8>)>>>;

/// A stand-in for another fediverse server on 127.0.0.1: it serves actor documents shaped the way
/// the test says (a Mastodon `Person`, a PeerTube `Group`…) with keys of its own, records what is
/// delivered to its inbox, and signs what the test sends from it.
pub struct FakeServer {
    pub base: String,
    pub host: String,
    pub private_pem: String,
    pub public_pem: String,
    docs: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Value>>>,
    raw: RawFiles,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    /// The paths of every GET it answered, in order (how often a document was fetched).
    pub gets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The paths of every POST it was sent, in order (which inbox a delivery went to).
    pub posts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// How the inbox behaves: the status it answers (202; 503 plays a server that is down) and
    /// how long it takes; `inbox_peak` is the most requests it ever had in flight at once.
    pub inbox: std::sync::Arc<FakeInbox>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
pub struct FakeInbox {
    pub status: std::sync::atomic::AtomicU16,
    pub delay_ms: std::sync::atomic::AtomicU64,
    pub in_flight: std::sync::atomic::AtomicUsize,
    pub peak: std::sync::atomic::AtomicUsize,
}

impl FakeServer {
    pub async fn start() -> FakeServer {
        use std::sync::atomic::Ordering;

        use axum::extract::{OriginalUri, State as AxState};
        use axum::response::IntoResponse;
        type Docs = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Value>>>;
        type Inbox = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;
        type Behaviour = std::sync::Arc<FakeInbox>;
        type Gets = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
        type Raw = RawFiles;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (private_pem, public_pem) = flotilla_federation::keys::generate().expect("keys");
        let docs: Docs = Default::default();
        let raw: Raw = Default::default();
        let received: Inbox = Default::default();
        let gets: Gets = Default::default();
        let posts: Gets = Default::default();
        let inbox: Behaviour = std::sync::Arc::new(FakeInbox {
            status: 202.into(),
            delay_ms: 0.into(),
            in_flight: 0.into(),
            peak: 0.into(),
        });
        async fn get_doc(
            AxState((docs, _, _, gets, _, raw)): AxState<(Docs, Inbox, Behaviour, Gets, Gets, Raw)>,
            OriginalUri(uri): OriginalUri,
        ) -> axum::response::Response {
            gets.lock().unwrap().push(uri.path().to_string());
            if let Some((content_type, bytes)) = raw.lock().unwrap().get(uri.path()).cloned() {
                return ([("content-type", content_type)], bytes).into_response();
            }
            // A document served for this path and query (`?resource=…`) first, else for the path.
            let with_query = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
            let found = {
                let docs = docs.lock().unwrap();
                docs.get(&with_query).or_else(|| docs.get(uri.path())).cloned()
            };
            match found {
                Some(d) => ([("content-type", "application/activity+json")], d.to_string()).into_response(),
                None => (axum::http::StatusCode::NOT_FOUND, "no such document").into_response(),
            }
        }
        async fn post_inbox(
            AxState((_, inbox, how, _, posts, _)): AxState<(Docs, Inbox, Behaviour, Gets, Gets, Raw)>,
            OriginalUri(uri): OriginalUri,
            body: axum::body::Bytes,
        ) -> axum::http::StatusCode {
            posts.lock().unwrap().push(uri.path().to_string());
            let now = how.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            how.peak.fetch_max(now, Ordering::SeqCst);
            let delay = how.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            how.in_flight.fetch_sub(1, Ordering::SeqCst);
            let status = axum::http::StatusCode::from_u16(how.status.load(Ordering::SeqCst)).unwrap();
            if status.is_success()
                && let Ok(v) = serde_json::from_slice(&body)
            {
                inbox.lock().unwrap().push(v);
            }
            status
        }
        let router = axum::Router::new().fallback(axum::routing::get(get_doc).post(post_inbox)).with_state((
            docs.clone(),
            received.clone(),
            inbox.clone(),
            gets.clone(),
            posts.clone(),
            raw.clone(),
        ));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeServer {
            base: format!("http://{addr}"),
            host: addr.to_string(),
            private_pem,
            public_pem,
            docs,
            raw,
            received,
            gets,
            posts,
            inbox,
            task,
        }
    }

    /// Serves `doc` at `path` (as `application/activity+json`); a `path` with a query answers only
    /// that query, and comes before the same path without one.
    pub fn serve(&self, path: &str, doc: Value) {
        self.docs.lock().unwrap().insert(path.to_string(), doc);
    }

    /// The document served at `path`, if any.
    pub fn document(&self, path: &str) -> Option<Value> {
        self.docs.lock().unwrap().get(path).cloned()
    }

    /// Serves `bytes` at `path` as they are, as `application/activity+json` (documents no JSON
    /// value can hold: bytes that are not UTF-8).
    pub fn serve_bytes(&self, path: &str, bytes: Vec<u8>) {
        self.serve_typed(path, "application/activity+json", bytes);
    }

    /// Serves `bytes` at `path` with the `Content-Type` given, true or not (an HTML page that
    /// says it is `image/png`).
    pub fn serve_typed(&self, path: &str, content_type: &str, bytes: Vec<u8>) {
        self.raw.lock().unwrap().insert(path.to_string(), (content_type.to_string(), bytes));
    }

    /// An actor document of `kind` at `/users/{name}` with this server's key, in Mastodon's shape;
    /// `extra` fields are merged in. Returns its URL.
    pub fn actor(&self, kind: &str, name: &str, extra: Value) -> String {
        let url = format!("{}/users/{name}", self.base);
        let mut doc = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
                         { "manuallyApprovesFollowers": "as:manuallyApprovesFollowers", "toot": "http://joinmastodon.org/ns#",
                           "discoverable": "toot:discoverable", "featured": { "@id": "toot:featured", "@type": "@id" } }],
            "id": url,
            "type": kind,
            "following": format!("{url}/following"),
            "followers": format!("{url}/followers"),
            "inbox": format!("{url}/inbox"),
            "outbox": format!("{url}/outbox"),
            "featured": format!("{url}/collections/featured"),
            "preferredUsername": name,
            "name": name,
            "summary": "<p>Just testing</p>",
            "url": format!("{}/@{name}", self.base),
            "manuallyApprovesFollowers": false,
            "discoverable": true,
            "published": "2024-01-01T00:00:00Z",
            "publicKey": { "id": format!("{url}#main-key"), "owner": url, "publicKeyPem": self.public_pem },
            "endpoints": { "sharedInbox": format!("{}/inbox", self.base) },
        });
        if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                d.insert(k.clone(), v.clone());
            }
        }
        self.serve(&format!("/users/{name}"), doc);
        url
    }

    /// POSTs `activity` to `inbox_url`, signed as `actor_url`'s `#main-key`; `tamper` may change
    /// the headers or body after signing.
    pub async fn send(&self, inbox_url: &str, actor_url: &str, activity: &Value) -> StatusCode {
        self.send_full(inbox_url, actor_url, activity).await.0
    }

    /// Gives the server a new key pair (the test serves its actors again to publish it).
    pub fn rotate_key(&mut self) {
        let (private, public) = flotilla_federation::keys::generate().expect("keys");
        self.private_pem = private;
        self.public_pem = public;
    }

    /// Like [`FakeServer::send`], with the answer's body.
    pub async fn send_full(&self, inbox_url: &str, actor_url: &str, activity: &Value) -> (StatusCode, String) {
        self.send_signed_with(inbox_url, actor_url, activity, &self.private_pem).await
    }

    /// Sends signed with a given private key (an old one, after a rotation).
    pub async fn send_signed_with(
        &self,
        inbox_url: &str,
        actor_url: &str,
        activity: &Value,
        private_pem: &str,
    ) -> (StatusCode, String) {
        self.send_raw_with(inbox_url, actor_url, activity.to_string(), private_pem).await
    }

    /// Signs and POSTs `body` as it is (bodies no JSON value can hold: deep nesting, broken JSON,
    /// bytes that are not UTF-8).
    pub async fn send_raw(&self, inbox_url: &str, actor_url: &str, body: impl Into<Vec<u8>>) -> (StatusCode, String) {
        self.send_raw_with(inbox_url, actor_url, body, &self.private_pem.clone()).await
    }

    async fn send_raw_with(
        &self,
        inbox_url: &str,
        actor_url: &str,
        body: impl Into<Vec<u8>>,
        private_pem: &str,
    ) -> (StatusCode, String) {
        self.send_with_key_id(inbox_url, &format!("{actor_url}#main-key"), body, private_pem).await
    }

    /// Signs with the given `keyId` as it is (the forms other servers use: `#main-key`, the bare
    /// actor URL, …).
    pub async fn send_with_key_id(
        &self,
        inbox_url: &str,
        key_id: &str,
        body: impl Into<Vec<u8>>,
        private_pem: &str,
    ) -> (StatusCode, String) {
        let body: Vec<u8> = body.into();
        let u = reqwest::Url::parse(inbox_url).unwrap();
        let host = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap());
        let key = flotilla_federation::keys::private_from_pem(private_pem).unwrap();
        let signed = flotilla_federation::signature::sign(
            "POST",
            u.path(),
            &host,
            Some(&body),
            key_id,
            &key,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        let resp = reqwest::Client::new()
            .post(u)
            .header("Content-Type", "application/activity+json")
            .header("Date", signed.date)
            .header("Digest", signed.digest.unwrap())
            .header("Signature", signed.signature)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.text().await.unwrap_or_default())
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A small client for our REST API: JSON in, `(status, JSON)` out.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Api {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        Api { base: base.trim_end_matches('/').to_string(), http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and reads the answer as JSON (`Value::Null` for an empty body; a non-JSON
    /// body becomes a JSON string so the assertion shows it).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body)
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(self.request(Method::GET, path, token)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(self.request(Method::POST, path, token).json(&body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(self.request(Method::PUT, path, token).json(&body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(self.request(Method::DELETE, path, token)).await
    }

    pub async fn client(&self) -> (String, String) {
        let (status, c) = self.get("/api/v1/oauth-clients/local", None).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        (c["client_id"].as_str().unwrap().to_string(), c["client_secret"].as_str().unwrap().to_string())
    }

    /// `POST /api/v1/users/token` with the password grant, form-encoded as PeerTube clients do.
    pub async fn token(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let (id, secret) = self.client().await;
        let form = [
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ];
        self.send(self.http.post(self.url("/api/v1/users/token")).form(&form)).await
    }

    /// Logs in and returns the access token; panics with the answer when the login fails.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self.token(username, password).await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().expect("access_token").to_string()
    }
}

/// What [`post_streamed`] saw.
#[derive(Debug)]
pub struct Streamed {
    /// The response's status (0: the connection ended before one came).
    pub status: u16,
    pub body: String,
    /// Body bytes written before the response arrived (or writing failed).
    pub sent: u64,
}

/// POSTs a body made of `chunks` (chunked transfer encoding) on a raw connection, reading the
/// answer while it writes: the body may be endless or huge, the client holds one chunk at a time,
/// and a server that answers early is seen answering early (`sent`).
pub async fn post_streamed(
    base: &str,
    path: &str,
    headers: &[(&str, String)],
    chunks: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> Streamed {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://").trim_end_matches('/').to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let sent = Arc::new(AtomicU64::new(0));
    let sent_w = sent.clone();
    let writer = tokio::spawn(async move {
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for chunk in chunks {
            let frame = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()].concat();
            if wr.write_all(&frame).await.is_err() {
                return;
            }
            sent_w.fetch_add(frame.len() as u64 - 2, Ordering::SeqCst);
        }
        let _ = wr.write_all(b"0\r\n\r\n").await;
        // Dropping the write half would half-close the connection, which servers may take for the
        // client going away; it is kept until the answer is read.
        std::future::pending::<()>().await;
    });
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    let mut sent_at_answer = None;
    let (status, body) = loop {
        let n = rd.read(&mut tmp).await.unwrap_or(0);
        if sent_at_answer.is_none() && n > 0 {
            sent_at_answer = Some(sent.load(Ordering::SeqCst));
        }
        buf.extend_from_slice(&tmp[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok());
            if n == 0 || len.is_some_and(|l| body.len() >= l) {
                break (status, body.to_string());
            }
        } else if n == 0 {
            break (0, text);
        }
    };
    writer.abort();
    Streamed { status, body, sent: sent_at_answer.unwrap_or_else(|| sent.load(Ordering::SeqCst)) }
}

/// Resident memory of this process now (`VmRSS`), in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// Starts a measure of how far this process's resident memory grows from now: the kernel's peak
/// (`VmHWM`) is reset to what is resident now (`/proc/self/clear_refs`, "5"), so
/// [`RssGrowth::grown_kib`] is the burst's own peak, whatever the test binary and the instance's
/// start-up took before (which depends on the build and the machine, not on what is tested).
pub struct RssGrowth {
    before: u64,
}

impl RssGrowth {
    pub fn start() -> RssGrowth {
        std::fs::write("/proc/self/clear_refs", "5")
            .expect("resetting the peak in /proc/self/clear_refs (Linux ≥ 4.0)");
        RssGrowth { before: rss_kib() }
    }

    /// How far the peak rose above what was resident at the start, in KiB.
    pub fn grown_kib(&self) -> u64 {
        peak_rss_kib().saturating_sub(self.before)
    }
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// A flotilla binary running as a child process (crash, restart and signal tests).
pub struct Process {
    pub child: std::process::Child,
    pub api: Api,
    pub log: PathBuf,
}

impl Process {
    /// Starts `bin serve` with `vars` (plus a free loopback port) and waits until it answers.
    pub async fn spawn(bin: &Path, dir: &Path, vars: &[(&str, String)]) -> Process {
        Self::spawn_on(bin, dir, free_port(), vars).await
    }

    /// [`Process::spawn`] on a given port (to start again where a stopped or crashed one was).
    pub async fn spawn_on(bin: &Path, dir: &Path, port: u16, vars: &[(&str, String)]) -> Process {
        let log = dir.join(format!("serve-{port}-{}.log", random_suffix()));
        let out = std::fs::File::create(&log).expect("log file");
        let mut cmd = std::process::Command::new(bin);
        cmd.arg("serve")
            .env("FLOTILLA_LISTEN", format!("127.0.0.1:{port}"))
            .env("FLOTILLA_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("FLOTILLA_LOG_FORMAT", "json")
            // Tests make many requests from 127.0.0.1; `vars` may turn the limits back on.
            .env("FLOTILLA_RATE_LIMITS_ENABLED", "false")
            // An RTMP port of its own (the rtmpUrl of a live names it).
            .env("FLOTILLA_LIVE_RTMP_LISTEN", "127.0.0.1:0")
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .current_dir(dir);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn flotilla");
        let api = Api::new(&format!("http://127.0.0.1:{port}"));
        let mut p = Process { child, api, log };
        p.wait_ready().await;
        p
    }

    async fn wait_ready(&mut self) {
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("flotilla exited with {status} before answering:\n{}", self.log_text());
            }
            if let Ok(r) = self.api.http.get(self.api.url("/api/v1/config")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("flotilla did not answer within 30 s:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` (e.g. "TERM", "KILL") to this process only, and waits for it to exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -{signal} {} failed", self.pid());
        self.child.wait().expect("wait")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn random_suffix() -> String {
    flotilla_app::auth::random_token(4)
}

/// A port that was free a moment ago (the child binds it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Makes a test clip with ffmpeg's generators (`testsrc2` picture, `sine` tone): `w`×`h`,
/// `secs` long; `w == 0` makes an audio-only file. Panics with how to install ffmpeg if missing.
///
/// Each kind of clip is made once per machine and copied: hundreds of tests publish the same
/// one-second clip, and making it was an ffmpeg start and an encode each time. The copy is the
/// test's own (some tests damage their file).
pub fn clip(dir: &Path, name: &str, w: u32, h: u32, secs: u32) -> PathBuf {
    let out = dir.join(name);
    // ffmpeg picks the container by the name's extension (`.mp4`, `.m4a`…).
    let ext = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or("mp4");
    let made = made_clip(w, h, secs, ext);
    std::fs::copy(&made, &out).unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", made.display(), out.display()));
    out
}

/// The clip's arguments to ffmpeg, before the output file.
fn clip_args(w: u32, h: u32, secs: u32) -> Vec<String> {
    let mut args: Vec<String> = ["-hide_banner", "-loglevel", "error", "-y"].map(String::from).into();
    if w > 0 {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!("testsrc2=size={w}x{h}:rate=25:duration={secs}"));
    }
    args.extend(["-f", "lavfi", "-i"].map(String::from));
    args.push(format!("sine=frequency=440:sample_rate=48000:duration={secs}"));
    if w > 0 {
        args.extend(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"].map(String::from));
    }
    args.extend(["-c:a", "aac", "-b:a", "96k", "-shortest"].map(String::from));
    args
}

/// The machine's made copy of one kind of clip, named by a hash of its ffmpeg arguments (a
/// changed recipe makes a new one). Tests run in processes of their own: each makes its clip under
/// a name of its own and renames it into place, so a reader never sees half a file.
fn made_clip(w: u32, h: u32, secs: u32, ext: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let args = clip_args(w, h, secs);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    args.hash(&mut hasher);
    let cache = std::env::temp_dir().join("flotilla-test-clips");
    let path = cache.join(format!("{w}x{h}-{secs}s-{:016x}.{ext}", hasher.finish()));
    if path.is_file() {
        return path;
    }
    std::fs::create_dir_all(&cache).unwrap_or_else(|e| panic!("cannot create {}: {e}", cache.display()));
    let partial = cache.join(format!(".{}-{}.{ext}", std::process::id(), flotilla_app::auth::random_token(6)));
    let status = std::process::Command::new("ffmpeg").args(&args).arg(&partial).status().unwrap_or_else(|e| {
        panic!("cannot run ffmpeg ({e}): the video tests need it; install it with `apt-get install ffmpeg` (make test does)")
    });
    assert!(status.success(), "ffmpeg could not make the test clip {}", path.display());
    std::fs::rename(&partial, &path).unwrap_or_else(|e| panic!("cannot rename {}: {e}", partial.display()));
    path
}

/// A PNG made in memory, `w`×`h`, with a gradient (so resizing has something to do).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode png");
    out.into_inner()
}

/// Checks a document's Linked-Data signature (`RsaSignature2017`) with jsonld.js, the library
/// PeerTube verifies with, the way PeerTube and Mastodon each hash it
/// (`web/tests/tools/verify-ld-signature.mjs`): `(PeerTube accepts, Mastodon accepts)`.
pub fn ld_signature_verdicts(doc: &Value, public_key_pem: &str) -> (bool, bool) {
    use std::io::Write;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("web/tests/tools/verify-ld-signature.mjs");
    assert!(
        root.join("web/node_modules/jsonld").is_dir(),
        "jsonld.js is missing: run `npm ci` in web/ (scripts/build-web and `make test` do)"
    );
    let mut child = std::process::Command::new("node")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node is needed to check Linked-Data signatures: scripts/ensure-deps test installs it");
    let input = json!({ "document": doc, "publicKeyPem": public_key_pem });
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write to node");
    let out = child.wait_with_output().expect("node ran");
    assert!(out.status.success(), "the verifier failed on {doc}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("the verifier's answer is JSON");
    (v["peertube"] == true, v["mastodon"] == true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_swapped_in_pg_urls() {
        assert_eq!(
            super::with_database("postgres://postgres@localhost/postgres?host=/tmp/pg", "t1"),
            "postgres://postgres@localhost/t1?host=/tmp/pg"
        );
        assert_eq!(super::with_database("postgres://u:p@h:5432/db", "t2"), "postgres://u:p@h:5432/t2");
    }
}

/// A real SMTP server for the e-mail tests: Python's `aiosmtpd` (installed by `make test`),
/// storing what it receives in a Maildir that [`SmtpServer::messages`] reads. Stopped on drop.
pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

/// A message the SMTP server received: its recipients, subject and (decoded) text.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let ok = std::process::Command::new("python3").args(["-c", "import aiosmtpd"]).status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "aiosmtpd is missing: run 'python3 -m pip install aiosmtpd' (make test installs it)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return SmtpServer { port, dir, child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not listen on 127.0.0.1:{port}");
    }

    /// Sets `c` to send through this server (no TLS).
    pub fn configure(&self, c: &mut Config) {
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = self.port;
        c.smtp.tls = "none".into();
        c.smtp.from = "Flotilla <noreply@example.org>".into();
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(self.dir.path().join("mail/new"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.iter().filter_map(|(_, p)| std::fs::read_to_string(p).ok()).map(|raw| parse_mail(&raw)).collect()
    }

    /// Waits (30 s at most) until `n` messages to `to` arrived; returns them.
    pub async fn wait_for(&self, to: &str, n: usize) -> Vec<Mail> {
        for _ in 0..300 {
            let got: Vec<Mail> = self.messages().into_iter().filter(|m| m.to.contains(to)).collect();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {n} message(s) to {to} within 30 s; received: {:?}", self.messages());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headers and text of a message as stored; quoted-printable bodies decoded.
fn parse_mail(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    // Unfold continued header lines.
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let body = if header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable") {
        let joined = body.replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    } else {
        body.to_string()
    };
    Mail { to: header("To"), subject: header("Subject"), body }
}

/// A real S3 server for the object-storage tests: Garage (built from crates.io by
/// `scripts/ensure-garage` into `.tools/garage`), started by `scripts/garage-start` — the same
/// throwaway one-node store the browser tests and the benchmark use: private ports, a generated
/// configuration, three buckets (`flotilla-hls`, `flotilla-web` readable through its website port,
/// `flotilla-private` not) and a key allowed on them. Stopped on drop.
pub struct Garage {
    /// The S3 endpoint, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The website port: public reads by `Host: <bucket>.web.localhost`.
    pub web_port: u16,
    pub key_id: String,
    pub secret: String,
    config: PathBuf,
    pid: Option<u32>,
    child: Option<std::process::Child>,
    s3_port: u16,
    _dir: tempfile::TempDir,
}

pub const GARAGE_BUCKETS: [&str; 4] = ["flotilla-hls", "flotilla-web", "flotilla-private", "flotilla-images"];

impl Garage {
    pub fn binary() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/garage/bin/garage")
    }

    pub async fn start() -> Garage {
        let bin = Self::binary();
        assert!(
            bin.exists(),
            "Garage is missing at {}: run scripts/ensure-garage (make test does), which builds it from crates.io once",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/garage-start");
        let out = std::process::Command::new(&script).arg(dir.path()).output().expect("run scripts/garage-start");
        assert!(out.status.success(), "scripts/garage-start failed: {}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout);
        let g: Value = serde_json::from_str(line.trim().lines().last().unwrap_or_default()).expect("its JSON line");
        let endpoint = g["endpoint"].as_str().expect("endpoint").to_string();
        let s3_port = endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("its port");
        Garage {
            endpoint,
            web_port: g["web_port"].as_u64().expect("web_port") as u16,
            key_id: g["key_id"].as_str().expect("key_id").to_string(),
            secret: g["secret"].as_str().expect("secret").to_string(),
            config: PathBuf::from(g["config"].as_str().expect("config")),
            pid: g["pid"].as_u64().map(|p| p as u32),
            child: None,
            s3_port,
            _dir: dir,
        }
    }

    /// Stops the server (its data stays): an outage.
    pub fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            // Gone once its port no longer answers.
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", self.s3_port)).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub async fn restart(&mut self) {
        self.stop();
        let child = std::process::Command::new(Self::binary())
            .arg("-c")
            .arg(&self.config)
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start garage");
        self.child = Some(child);
        for _ in 0..300 {
            let up = tokio::net::TcpStream::connect(("127.0.0.1", self.s3_port)).await.is_ok();
            let ready = up
                && std::process::Command::new(Self::binary())
                    .arg("-c")
                    .arg(&self.config)
                    .arg("status")
                    .output()
                    .is_ok_and(|o| o.status.success());
            if ready {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("garage did not come back on 127.0.0.1:{}", self.s3_port);
    }

    /// Sets `c` to keep videos in these buckets (`base_url`s on the website port, public reads by
    /// `Host: <bucket>.web.localhost`).
    pub fn configure(&self, c: &mut Config) {
        let o = &mut c.object_storage;
        o.enabled = true;
        o.endpoint = self.endpoint.clone();
        o.region = "garage".into();
        o.access_key_id = self.key_id.clone();
        o.secret_access_key = self.secret.clone();
        o.streaming_playlists_bucket_name = GARAGE_BUCKETS[0].into();
        o.streaming_playlists_base_url = format!("http://{}.web.localhost:{}", GARAGE_BUCKETS[0], self.web_port);
        o.web_videos_bucket_name = GARAGE_BUCKETS[1].into();
        o.web_videos_base_url = format!("http://{}.web.localhost:{}", GARAGE_BUCKETS[1], self.web_port);
        o.private_bucket_name = GARAGE_BUCKETS[2].into();
        o.images_bucket_name = GARAGE_BUCKETS[3].into();
        o.images_base_url = format!("http://{}.web.localhost:{}", GARAGE_BUCKETS[3], self.web_port);
    }

    /// The keys in `bucket`, listed through S3 by curl (its own SigV4 signing, not ours).
    pub fn list(&self, bucket: &str) -> Vec<String> {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--fail", "--aws-sigv4", "aws:amz:garage:s3", "--user"])
            .arg(format!("{}:{}", self.key_id, self.secret))
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .arg(format!("{}/{bucket}?list-type=2&max-keys=1000", self.endpoint))
            .output()
            .expect("curl is needed to list the bucket");
        assert!(out.status.success(), "listing {bucket} failed: {}", String::from_utf8_lossy(&out.stderr));
        let xml = String::from_utf8_lossy(&out.stdout);
        xml.split("<Key>").skip(1).filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_string())).collect()
    }

    /// A public read of `key` in `bucket` through the website port, as a browser would.
    pub async fn public_get(&self, bucket: &str, key: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/{key}", self.web_port))
            .header("Host", format!("{bucket}.web.localhost:{}", self.web_port))
            .send()
            .await
            .expect("garage web")
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}
