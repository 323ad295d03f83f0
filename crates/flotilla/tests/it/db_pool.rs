//! The database handle under contention: transactions waiting for their turn to write hold no
//! connection the others need, so an open transaction can still read through the pool (on
//! PostgreSQL too, where transactions wait on locks holding their connections). And
//! PostgreSQL's sessions ended under the pool (a restart): found before use, or failing once.

use std::time::Duration;

use flotilla_db::jobs;
use flotilla_domain::time::now_ms;
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(an_open_transaction_reads_through_the_pool_while_writers_queue_behind_it);

/// No worker runs this kind: the jobs stay queued.
const KIND: &str = "test-only";

async fn an_open_transaction_reads_through_the_pool_while_writers_queue_behind_it(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let db = t.instance.app.db.clone();
    let now = now_ms();
    let mut first = db.begin().await.unwrap();
    let first_id = jobs::enqueue(&mut first, KIND, "{}", None, 3, now).await.unwrap();
    // More transactions than a pool has connections, each started while the first is open. On
    // SQLite they wait for the write lock; with one pool for both, each waited holding a
    // connection, until none was left for anyone.
    let waiting: Vec<_> = (0..12)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await?;
                let id = jobs::enqueue(&mut tx, KIND, "{}", None, 3, now).await?;
                tx.commit().await.map(|()| id)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The open transaction reads through the pool (as use-cases do with `&app.db`): answered,
    // not left waiting for a connection that the queued writers hold for 10 s or more. Its own
    // job is not there yet for another connection.
    let read = tokio::time::timeout(Duration::from_secs(5), jobs::get(&db, first_id)).await;
    assert!(read.expect("a read through the pool answers while writers queue").unwrap().is_none());
    first.commit().await.unwrap();
    let mut ids = vec![first_id];
    for w in waiting {
        ids.push(w.await.unwrap().expect("each queued transaction commits in its turn"));
    }
    for id in &ids {
        let job = jobs::get(&db, *id).await.unwrap().expect("every job is written");
        assert_eq!((job.kind.as_str(), job.state.as_str()), (KIND, "queued"));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 13, "thirteen distinct jobs");
    t.stop().await;
}

/// Ends every session the server holds on `url`'s database (as a restart does); how many.
async fn drop_sessions(url: &str) -> usize {
    let name = url.split('/').nth(3).and_then(|p| p.split('?').next()).expect("the database's name");
    let admin = std::env::var("FLOTILLA_TEST_PG_URL").expect("scripts/with-postgres");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
    let dropped: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(dropped.iter().all(|d| *d), "{dropped:?}");
    dropped.len()
}

/// Holds `n` of the reading pool's connections at once (at most its size), so that it has them.
async fn open_connections(db: &flotilla_db::Db, n: usize) {
    let flotilla_db::Exec::PgPool(pool) = db.into() else { unreachable!("PostgreSQL only") };
    let held: Vec<_> = (0..n).map(|_| sqlx::query("SELECT pg_sleep(0.2)").execute(pool)).collect();
    for r in futures_util::future::join_all(held).await {
        r.unwrap();
    }
}

/// Takes a lock every caller of this waits for, held until the transaction ends.
async fn take_the_lock(tx: &mut flotilla_db::Tx) -> Result<(), String> {
    let flotilla_db::Tx::Postgres(t) = tx else { unreachable!("PostgreSQL only") };
    sqlx::query("SELECT pg_advisory_xact_lock(7)").execute(&mut **t).await.map(|_| ()).map_err(|e| e.to_string())
}

/// PostgreSQL's transactions wait on locks holding their connections. More of them than a pool
/// has connections, waiting behind an open transaction, must not leave that transaction's reads
/// through the pool without one: with one pool for both, they waited the acquire timeout (15 s,
/// then a 503) while the transactions waited on the lock the reader's own transaction held.
#[tokio::test]
async fn postgres_reads_are_answered_while_more_transactions_than_connections_wait_on_a_lock() {
    let dir = tempfile::tempdir().unwrap();
    let url = flotilla_testkit::database_url(Backend::Postgres, dir.path()).await;
    let db = flotilla_db::Db::connect(&url).await.unwrap();
    let mut first = db.begin().await.unwrap();
    take_the_lock(&mut first).await.unwrap();
    // More than both pools together hold, so that one pool of their joint size would be seen
    // starving the read too.
    let waiting: Vec<_> = (0..4 * flotilla_db::pg_pool_size() + 8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await.map_err(|e| e.to_string())?;
                take_the_lock(&mut tx).await?;
                tx.commit().await.map_err(|e| e.to_string())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let read = tokio::time::timeout(Duration::from_secs(5), jobs::get(&db, 1)).await;
    assert!(read.expect("a read through the pool answers while transactions wait on the lock").is_ok());
    first.commit().await.unwrap();
    for w in waiting {
        w.await.unwrap().expect("each waiting transaction takes the lock in its turn and commits");
    }
    db.close().await;
}

/// PostgreSQL's pool does not ping a connection before every use (a round trip ahead of each
/// statement), only one idle for a while: sessions the server ended while the pool's connections
/// sat idle (a restart takes seconds) are found before use; a connection used again at once
/// fails one statement with the database unavailable (503 to a client), and is replaced.
#[tokio::test]
async fn postgres_sessions_the_server_ended_are_found_before_use_or_fail_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = flotilla_testkit::database_url(Backend::Postgres, dir.path()).await;
    let db = flotilla_db::Db::connect(&url).await.unwrap();
    open_connections(&db, 4).await;
    assert!(drop_sessions(&url).await >= 4);
    tokio::time::sleep(Duration::from_millis(600)).await;
    for i in 0..12 {
        let r = jobs::get(&db, 1).await;
        assert!(r.is_ok(), "statement {i} got a connection whose session had ended: {r:?}");
    }

    open_connections(&db, 4).await;
    let dropped = drop_sessions(&url).await;
    let mut failed = 0;
    for _ in 0..(dropped + 6) {
        match jobs::get(&db, 1).await {
            Ok(_) => {}
            Err(flotilla_db::Error::Unavailable(_)) => failed += 1,
            Err(e) => panic!("a session ended is the database unavailable, not {e:?}"),
        }
    }
    assert!(failed <= dropped, "{failed} statements failed for {dropped} sessions ended");
    for i in 0..6 {
        assert!(jobs::get(&db, 1).await.is_ok(), "statement {i} after: the connections were replaced");
    }
}
