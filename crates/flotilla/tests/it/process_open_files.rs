//! Open files (security case 27: descriptor headroom for a crowd of viewers), on a real server
//! process: it raises its soft open-file limit to the hard one when it starts, and a crowd of
//! connections past its descriptors leaves it running and serving again once the crowd is gone.
//! Nothing here depends on the database: SQLite only.

use std::path::Path;
use std::time::Duration;

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::{ADMIN_PASSWORD, Backend, Process, database_url};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_flotilla");

/// Longest any wait here lasts before the server is called broken.
const SAFETY: Duration = Duration::from_secs(60);

/// `(soft, hard)` open-file limits of a running process, from `/proc`.
fn open_file_limits(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text.lines().find_map(|l| l.strip_prefix("Max open files")).unwrap();
    let mut n = line.split_whitespace().map(|v| v.parse::<u64>().unwrap());
    (n.next().unwrap(), n.next().unwrap())
}

async fn spawn(dir: &Path) -> Process {
    let vars = vec![
        ("FLOTILLA_DATA_DIR", dir.join("data").display().to_string()),
        ("FLOTILLA_DATABASE_URL", database_url(Backend::Sqlite, dir).await),
        ("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
    ];
    Process::spawn(Path::new(BIN), dir, &vars).await
}

#[tokio::test]
async fn the_soft_open_file_limit_is_raised_to_the_hard_one_at_start() {
    // nextest runs each test in a process of its own: the lowered soft limit is this test's, and
    // the server inherits it as a login shell's 1024 would be inherited.
    let hard = getrlimit(Resource::Nofile).maximum.expect("a hard open-file limit");
    assert!(hard > 512, "this test needs a hard open-file limit above 512 (ulimit -Hn), not {hard}");
    setrlimit(Resource::Nofile, Rlimit { current: Some(512), maximum: Some(hard) }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = spawn(dir.path()).await;
    assert_eq!(open_file_limits(p.pid()), (hard, hard), "the server raised its soft limit");
}

#[tokio::test]
async fn a_crowd_past_the_open_file_limit_leaves_the_server_running_and_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(dir.path()).await;
    // A server allowed 96 descriptors (the database, its pool and its sockets take some) meets
    // 160 viewers at once, each holding a connection with a request begun: past the descriptors,
    // the rest wait in the kernel's backlog.
    let pid = p.pid().to_string();
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=96:96"])
        .status()
        .expect("prlimit (apt-get install util-linux)");
    assert!(status.success());
    assert_eq!(open_file_limits(p.pid()), (96, 96));
    let addr = p.api.url("/").trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut crowd = Vec::new();
    for _ in 0..160 {
        // The kernel completes the handshake from its backlog, accepted or not.
        let mut s = tokio::time::timeout(SAFETY, TcpStream::connect(&addr)).await.unwrap().unwrap();
        s.write_all(b"GET /api/v1/config HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        crowd.push(s);
    }
    let deadline = tokio::time::Instant::now() + SAFETY;
    while !p.log_text().contains("cannot accept a connection") {
        assert!(tokio::time::Instant::now() < deadline, "the server never ran out of descriptors:\n{}", p.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(p.child.try_wait().unwrap().is_none(), "the server is still running");

    // The crowd leaves; the server takes new viewers again without a restart.
    drop(crowd);
    let deadline = tokio::time::Instant::now() + SAFETY;
    loop {
        if let Ok(r) = p.api.http.get(p.api.url("/api/v1/config")).send().await
            && r.status() == StatusCode::OK
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server did not serve again:\n{}", p.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(p.child.try_wait().unwrap().is_none(), "the server is still running");
}
