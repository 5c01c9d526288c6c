//! The writer's batches on a real SQLite file: a batch that fails leaves nothing behind,
//! and its items then run, and fail, one by one.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use super::Batch;
use crate::db::{Db, WriteTx};
use crate::error::{Error, Result};

/// Publishers named by number: together, one is inserted and then the batch fails; alone,
/// a negative number fails and any other is inserted.
struct FailsTogether;

impl Batch for FailsTogether {
    type Item = i64;
    type Output = i64;

    fn run_many<'a>(tx: &'a mut WriteTx, _: &'a [i64]) -> BoxFuture<'a, Result<Vec<Option<i64>>>> {
        Box::pin(async move {
            insert(tx, 0).await?;
            Err(Error::Internal("a batch that always fails"))
        })
    }

    fn run_one<'a>(tx: &'a mut WriteTx, item: &'a i64) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            if *item < 0 {
                return Err(Error::Internal("a negative item"));
            }
            insert(tx, *item).await?;
            Ok(*item)
        })
    }
}

async fn insert(tx: &mut WriteTx, number: i64) -> Result<()> {
    sqlx::query("insert into publisher (name, name_key) values ($1, $1)")
        .bind(number.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_leaves_nothing_and_each_item_fails_alone() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Db::open(&format!("sqlite:{}", dir.path().join("batch.db").display()))
        .await
        .expect("the catalogue opens");
    // Hold the writer inside a group so the items below queue up behind it together.
    let (go, wait) = oneshot::channel::<()>();
    let holder = db.write_alone(move |_| {
        Box::pin(async move {
            let _ = wait.await;
            Ok(())
        })
    });
    let items = [1, 2, -3, 4];
    let writes = items.map(|item| db.write_batched::<FailsTogether>(item));
    let release = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = go.send(());
    };
    let (held, results, ()) = tokio::join!(holder, futures_util::future::join_all(writes), release);

    held.expect("the first write commits");
    let results: Vec<Option<i64>> = results.into_iter().map(Result::ok).collect();
    assert_eq!(results, [Some(1), Some(2), None, Some(4)]);
    let names: Vec<String> = sqlx::query_scalar("select name from publisher order by id")
        .fetch_all(&mut *db.read().await.unwrap())
        .await
        .expect("the publishers");
    assert_eq!(names, ["1", "2", "4"], "the failed batch's row is gone");
    db.close().await;
}
