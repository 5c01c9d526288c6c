//! The real `bookgraph serve` binary as a child process, its standard error collected.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a server may take to migrate, seed and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `bookgraph serve` child process; killed when dropped.
pub struct Server {
    pub child: Child,
    /// Everything the server wrote to stderr so far, for failure messages.
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    /// The address of its "listening on" line, once it logged one.
    listening: mpsc::Receiver<String>,
    /// `http://ADDRESS:PORT`, once known.
    base_url: String,
}

impl Server {
    /// Starts `bookgraph serve` on a free port of 127.0.0.1 over the database at
    /// `database_url`, and waits until it logs the address it listens on.
    pub fn start(database_url: &str) -> Server {
        Self::start_with(database_url, &[])
    }

    /// The same, with more flags for `serve`.
    pub fn start_with(database_url: &str, flags: &[&str]) -> Server {
        Self::start_command(bookgraph(), database_url, flags)
    }

    /// Starts like [`Server::start_with`], allowed at most `open_files` file descriptors
    /// (`ulimit -n`, set by a shell that then becomes the server).
    pub fn start_with_open_files(database_url: &str, flags: &[&str], open_files: u32) -> Server {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!(r#"ulimit -n {open_files} && exec "$0" "$@""#))
            .arg(env!("CARGO_BIN_EXE_bookgraph"));
        Self::start_command(shell, database_url, flags)
    }

    fn start_command(command: Command, database_url: &str, flags: &[&str]) -> Server {
        let mut args = vec!["--listen", "127.0.0.1:0", "--database", database_url];
        args.extend(flags);
        let mut server = Self::spawn_command(command, &args, "info");
        server.wait_until_listening();
        server
    }

    /// Runs `bookgraph serve ARGS` from the repository root with `RUST_LOG=rust_log` and no
    /// write-access settings from the environment, without waiting for anything.
    pub fn spawn(args: &[&str], rust_log: &str) -> Server {
        Self::spawn_command(bookgraph(), args, rust_log)
    }

    fn spawn_command(mut command: Command, args: &[&str], rust_log: &str) -> Server {
        let mut child = command
            .arg("serve")
            .args(args)
            .env("RUST_LOG", rust_log)
            .env_remove("BOOKGRAPH_WRITE_TOKEN")
            .env_remove("BOOKGRAPH_READ_ONLY")
            .env_remove("BOOKGRAPH_ALLOW_ANONYMOUS_WRITES")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bookgraph serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, listening) = mpsc::channel();
        let lines = Arc::clone(&log);
        // Drains stderr until the process exits, so a chatty server never blocks on a full
        // pipe; reports the listening address once.
        let reader = std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = listening_address(&line)
                    && let Some(found) = found.take()
                {
                    found.send(address).ok();
                }
                let mut log = lines.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Server {
            child,
            log,
            reader: Some(reader),
            listening,
            base_url: String::new(),
        }
    }

    /// Waits until the server logs the address it listens on; stops it and fails the test
    /// when that takes longer than [`START_TIMEOUT`].
    pub fn wait_until_listening(&mut self) {
        match self.listening.recv_timeout(START_TIMEOUT) {
            // A server listening on every interface is reached through loopback.
            Ok(address) => {
                self.base_url = format!("http://{}", address.replace("0.0.0.0:", "127.0.0.1:"));
            }
            Err(_) => {
                let log = self.stop();
                panic!("bookgraph serve did not start listening within {START_TIMEOUT:?}:\n{log}");
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `ADDRESS:PORT`, for clients that speak other schemes than HTTP.
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

    /// Waits for it to exit by itself; its exit code and everything it logged.
    pub fn exit(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().expect("wait for bookgraph");
        self.join_reader();
        (status.code(), self.log())
    }

    /// Stops it (SIGTERM, then SIGKILL after 5 s) and returns everything it logged.
    pub fn stop(&mut self) -> String {
        Command::new("kill")
            .args(["-TERM", &self.pid()])
            .status()
            .ok();
        if self.wait_for_exit(Duration::from_secs(5)).is_none() {
            self.child.kill().ok();
        }
        self.child.wait().ok();
        self.join_reader();
        self.log()
    }

    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.join().ok();
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

/// The command running the binary under test.
fn bookgraph() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bookgraph"))
}

/// `ADDRESS:PORT` from the server's "listening on http://ADDRESS:PORT (…)" line.
fn listening_address(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("listening on http://")?;
    let address = rest.split(|c: char| c.is_whitespace() || c == ')').next()?;
    Some(address.to_owned())
}
