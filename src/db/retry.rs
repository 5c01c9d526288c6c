//! Writes on PostgreSQL that lose a race to another replica's run again, a few times, so
//! that clients never see the race. SQLite has one writer and no such races: nothing here
//! runs there.
//!
//! Writers take row locks in one order (`migrations/postgres/0005_concurrent_writers.sql`, `0009`),
//! but a transaction that runs several mutations (the writer's group commit) can still meet
//! another in a cycle, and PostgreSQL then fails one of them with a deadlock. Two replicas
//! creating the same name at once, or a book linked as another replica deletes it, fail on
//! a unique key or a foreign key; run again, the write sees the other's committed row and
//! finds it, or answers as it would have one after the other (NOT_FOUND, a name taken).

use std::future::Future;
use std::hash::{BuildHasher as _, RandomState};
use std::time::Duration;

use crate::error::{Error, Result};

/// Runs of one write at most, the first included.
const MAX_ATTEMPTS: u32 = 5;

/// The longest pause before a run: the pauses' ceiling doubles from 2 ms up to this.
const MAX_PAUSE: Duration = Duration::from_millis(40);

/// SQLSTATEs that a later run of the same write can get past: serialization failure,
/// deadlock, unique violation, foreign key violation.
const TRANSIENT: [&str; 4] = ["40001", "40P01", "23505", "23503"];

/// Whether `error`, from PostgreSQL, is one a second run of the write may not meet.
fn transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| TRANSIENT.contains(&code.as_ref())),
        _ => false,
    }
}

/// Runs `attempt` until it succeeds, fails for a reason that is not [`transient`], or has
/// run [`MAX_ATTEMPTS`] times; a short random pause before each new run keeps two replicas
/// that failed together from meeting again in step.
pub(super) async fn retrying<T, F>(mut attempt: impl FnMut() -> F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let mut runs = 1;
    loop {
        match attempt().await {
            Err(Error::Db(error)) if runs < MAX_ATTEMPTS && transient(&error) => {
                tracing::debug!(%error, runs, "a write lost a race; running it again");
                tokio::time::sleep(pause(runs)).await;
                runs += 1;
            }
            outcome => return outcome,
        }
    }
}

/// A random pause of 1 ms plus up to 2^`runs` ms, at most [`MAX_PAUSE`] plus 1 ms.
fn pause(runs: u32) -> Duration {
    let ceiling = Duration::from_millis(1 << runs.min(6)).min(MAX_PAUSE);
    let random = RandomState::new().hash_one(runs);
    ceiling.mul_f64((random % 1000) as f64 / 1000.0) + Duration::from_millis(1)
}

#[cfg(test)]
mod tests {
    use super::{MAX_PAUSE, pause};

    #[test]
    fn pauses_stay_short() {
        for runs in 1..10 {
            let pause = pause(runs);
            assert!(
                pause <= MAX_PAUSE + std::time::Duration::from_millis(1),
                "{pause:?}"
            );
        }
    }
}
