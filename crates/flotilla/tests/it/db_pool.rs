//! The database handle under contention: transactions waiting for their turn to write hold no
//! connection the others need, so an open transaction can still read through the pool.

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
