//! The real `bookgraph serve` binary as a child process, on a free port of 127.0.0.1.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a server may take to migrate, seed and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `bookgraph serve` child process; killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    base_url: String,
    /// Everything the server wrote to stderr so far, for failure messages.
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `bookgraph serve` on a free port over the database at `database_url`, from
    /// the repository root, and waits until it logs the address it listens on.
    pub fn start(database_url: &str) -> Server {
        Self::start_with(database_url, &[])
    }

    /// The same, with more flags for `serve`.
    pub fn start_with(database_url: &str, flags: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bookgraph"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                database_url,
            ])
            .args(flags)
            .env("RUST_LOG", "info")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bookgraph serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, port) = mpsc::channel();
        let lines = Arc::clone(&log);
        // Drains stderr until the process exits, so a chatty server never blocks on a full
        // pipe; reports the listening address once.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = listening_url(&line)
                    && let Some(found) = found.take()
                {
                    found.send(url).ok();
                }
                let mut log = lines.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        match port.recv_timeout(START_TIMEOUT) {
            Ok(base_url) => Server {
                child,
                base_url,
                log,
            },
            Err(_) => {
                child.kill().ok();
                child.wait().ok();
                panic!(
                    "bookgraph serve did not start listening within {START_TIMEOUT:?}; stderr:\n{}",
                    log.lock().unwrap()
                );
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `127.0.0.1:PORT`, for clients that speak other schemes than HTTP.
    pub fn address(&self) -> &str {
        self.base_url.trim_start_matches("http://")
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// `http://127.0.0.1:PORT` from the server's "listening on http://127.0.0.1:PORT (…)" line.
fn listening_url(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("listening on http://")?;
    let address = rest.split(|c: char| c.is_whitespace() || c == ')').next()?;
    Some(format!("http://{address}"))
}
