//! The honest floor of `benches/queries.rs`, timed on a database file of one's choosing, so
//! that a benchmark script can set it beside a server's latency in the same run, on the
//! same data, instead of beside a criterion figure from another time.
//!
//! Runs Q1, Q2 or Q3 through rusqlite for `--seconds`, one after another on one connection,
//! and prints one JSON object: runs, and milliseconds per run at p50 and the mean.
//!
//! ```sh
//! cargo run --release --example floor -- --database data/bookgraph.db --query q1 --seconds 5
//! ```

#[path = "../benches/support/honest_floor.rs"]
mod honest_floor;
#[path = "../benches/support/shapes.rs"]
mod shapes;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use honest_floor::HonestFloor;
use serde_json::json;

struct Args {
    database: PathBuf,
    query: fn(&HonestFloor) -> String,
    seconds: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut database = None;
    let mut query: fn(&HonestFloor) -> String = HonestFloor::q1;
    let mut seconds = 5.0;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--database" => database = Some(PathBuf::from(value()?)),
            "--query" => {
                query = match value()?.as_str() {
                    "q1" => HonestFloor::q1,
                    "q2" => HonestFloor::q2,
                    "q3" => HonestFloor::q3,
                    other => return Err(format!("unknown query {other}: q1, q2 or q3")),
                }
            }
            "--seconds" => {
                seconds = value()?
                    .parse()
                    .map_err(|error| format!("--seconds: {error}"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let database = database.ok_or("--database FILE is required")?;
    Ok(Args {
        database,
        query,
        seconds,
    })
}

fn main() {
    let args = parse_args().unwrap_or_else(|message| {
        eprintln!("floor: {message}");
        std::process::exit(2);
    });
    let floor = HonestFloor::open(&args.database);
    // Warm the page cache and the statement cache, as the server is warmed before it is timed.
    let warm_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < warm_until {
        std::hint::black_box((args.query)(&floor));
    }
    let mut times = Vec::new();
    let until = Instant::now() + Duration::from_secs_f64(args.seconds);
    while Instant::now() < until {
        let started = Instant::now();
        std::hint::black_box((args.query)(&floor));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "{}",
        json!({ "runs": times.len(), "p50_ms": times[times.len() / 2], "mean_ms": mean })
    );
}
