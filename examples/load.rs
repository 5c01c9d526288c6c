//! A small closed-loop HTTP load driver for the benchmark workloads, the same for bookgraph
//! and for the Node peer it is compared with:
//!
//! - `q1`, `q2`, `q3`: the hierarchy, aggregate and deep documents, one fixed body each;
//! - `q4`: point lookups of random books;
//! - `w1`: `addBook` with a fresh title on every request;
//! - `mixed`: 90 % point lookups of random books (Q4) and 10 % `addBook` as in `w1`.
//!
//! `--concurrency` clients each send one request at a time for `--seconds`; the driver
//! prints one JSON object: requests, errors, requests per second and latency percentiles.
//! Any non-2xx answer or GraphQL error counts as an error. Responses are read whole but not
//! parsed (a search for `"errors"` decides), so the driver takes as little of the shared
//! CPU as it can, whichever server it drives. It asks for no compression. Used by
//! `bench/run.sh` and `bench/versus-node.sh`:
//!
//! ```sh
//! cargo run --release --example load -- --url http://127.0.0.1:8000/graphql \
//!     --workload mixed --concurrency 32 --seconds 10 --max-book-id 9999
//! ```

use std::time::{Duration, Instant};

use bookgraph::generate::SplitMix;
use serde_json::{Value, json};

const Q1: &str = "{ authors(first: 100) { nodes { name books { title publishers { name } } } } }";
const Q2: &str = "{ publishers(first: 100, orderBy: {field: BOOK_COUNT, direction: DESC}) \
                  { nodes { name bookCount authorCount } } }";
const Q3: &str = "{ publishers(first: 10) { nodes { name authors(first: 10) { name \
                  books(first: 5) { title publishers { name } } } } } }";
const Q4: &str =
    "query Q4($id: ID!) { book(id: $id) { title author { name } publishers { name } } }";
const W1: &str =
    "mutation W1($input: AddBookInput!) { addBook(input: $input) { outcome book { id } } }";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    Fixed(&'static str),
    Q4,
    W1,
    Mixed,
}

struct Options {
    url: String,
    workload: Workload,
    concurrency: usize,
    seconds: f64,
    max_book_id: u64,
    /// Distinguishes the titles of one run from another's, so every title is fresh.
    tag: String,
    /// Names the authors and publishers `w1` writes to: drivers with different sets share
    /// no author or publisher row. Empty: the one set every driver shares. A set ends in a
    /// non-digit (`r0-`), or author 5 of set `1` would be author 15 of the empty set.
    name_set: String,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        url: "http://127.0.0.1:8000/graphql".to_owned(),
        workload: Workload::W1,
        concurrency: 1,
        seconds: 10.0,
        max_book_id: 1000,
        tag: format!("{}", std::process::id()),
        name_set: String::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |value: &str| value.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--url" => options.url = value,
            "--workload" => {
                options.workload = match value.as_str() {
                    "q1" => Workload::Fixed(Q1),
                    "q2" => Workload::Fixed(Q2),
                    "q3" => Workload::Fixed(Q3),
                    "q4" => Workload::Q4,
                    "w1" => Workload::W1,
                    "mixed" => Workload::Mixed,
                    other => return Err(format!("unknown workload {other}")),
                }
            }
            "--concurrency" => options.concurrency = number(&value)? as usize,
            "--seconds" => options.seconds = number(&value)?,
            "--max-book-id" => options.max_book_id = number(&value)? as u64,
            "--tag" => options.tag = value,
            "--name-set" => options.name_set = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

/// The body of one request.
fn body(options: &Options, client: usize, sequence: u64, random: &mut SplitMix) -> Value {
    let write = match options.workload {
        Workload::Fixed(query) => return json!({ "query": query }),
        Workload::W1 => true,
        Workload::Q4 => false,
        Workload::Mixed => random.next_u64().is_multiple_of(10),
    };
    if write {
        // 200 bench authors and 20 publishers (of the driver's name set) shared by all its
        // clients: most calls find the author and publisher and create the book and its link.
        let author = random.next_u64() % 200;
        let publisher = random.next_u64() % 20;
        let set = &options.name_set;
        json!({
            "query": W1,
            "variables": {"input": {
                "authorFirstName": "Load",
                "authorLastName": format!("Writer {set}{author}"),
                "title": format!("Fresh {} {client} {sequence}", options.tag),
                "publisherName": format!("Load Press {set}{publisher}"),
            }},
        })
    } else {
        let id = 1 + random.next_u64() % options.max_book_id;
        json!({"query": Q4, "variables": {"id": id.to_string()}})
    }
}

/// Runs one client until `deadline`; returns its latencies and error count.
async fn client(
    http: reqwest::Client,
    options: &Options,
    client: usize,
    deadline: Instant,
) -> (Vec<Duration>, u64) {
    let mut random = SplitMix(0x5EED ^ (client as u64) << 32 ^ u64::from(std::process::id()));
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut sequence = 0;
    while Instant::now() < deadline {
        let body = body(options, client, sequence, &mut random).to_string();
        sequence += 1;
        let started = Instant::now();
        let answer = async {
            let response = http
                .post(&options.url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            let ok = response.status().is_success();
            Ok::<_, reqwest::Error>((ok, response.bytes().await?))
        }
        .await;
        // Timed up to the last byte of the answer: checking it is the driver's work, not
        // the server's, and would add a scan of every body to every latency.
        latencies.push(started.elapsed());
        let outcome = answer
            .map(|(ok, answer)| ok && answer.starts_with(b"{\"data\"") && !has_errors(&answer));
        match outcome {
            Ok(true) => {}
            Ok(false) => errors += 1,
            Err(error) => {
                errors += 1;
                if errors == 1 {
                    eprintln!("load: {error}");
                }
            }
        }
    }
    (latencies, errors)
}

/// Whether a GraphQL response carries an `errors` entry.
fn has_errors(answer: &[u8]) -> bool {
    answer
        .windows(b"\"errors\"".len())
        .any(|window| window == b"\"errors\"")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("load: {message}");
            std::process::exit(2);
        }
    };
    // One client needs no second thread, and on one thread the latency it measures holds
    // no hand-off between the driver's own threads, only the server's answer.
    let mut runtime = if options.concurrency == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = runtime.enable_all().build().expect("tokio runtime");
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .expect("HTTP client");
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.seconds);
    let options = &options;
    let runs = (0..options.concurrency).map(|id| client(http.clone(), options, id, deadline));
    let results = futures_util::future::join_all(runs).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut errors = 0;
    for (client_latencies, client_errors) in results {
        latencies.extend(client_latencies);
        errors += client_errors;
    }
    latencies.sort_unstable();
    let requests = latencies.len();
    println!(
        "{}",
        json!({
            "requests": requests,
            "errors": errors,
            "seconds": elapsed,
            "rps": requests as f64 / elapsed,
            "p50_ms": percentile(&latencies, 50.0),
            "p99_ms": percentile(&latencies, 99.0),
        })
    );
}
