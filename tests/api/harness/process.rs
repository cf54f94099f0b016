//! konnektd as a separate process, for what only a process can show: signals, `kill -9`,
//! the CLI and the log.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const BINARY: &str = env!("CARGO_BIN_EXE_konnektd");

/// A running `konnektd serve`, its address and the lines it has logged so far.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    lines: mpsc::UnboundedReceiver<String>,
    pub log: Vec<String>,
}

/// The command with a store and no inherited settings.
pub fn konnektd(database_url: &str, data_dir: &std::path::Path) -> Command {
    let mut c = Command::new(BINARY);
    c.env_remove("KONNEKTD_BOOTSTRAP_TOKEN")
        .env_remove("KONNEKTD_LISTEN")
        .env("DATABASE_URL", database_url)
        .env("KONNEKTD_DATA_DIR", data_dir)
        .env("KONNEKTD_CLUSTER_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .kill_on_drop(true);
    c
}

impl ServerProcess {
    /// Starts `konnektd serve --listen 127.0.0.1:0` and waits for its listening line.
    pub async fn start(mut command: Command) -> Result<Self, Vec<String>> {
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn konnektd");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = ServerProcess {
            child,
            base: String::new(),
            lines,
            log: Vec::new(),
        };
        let marker = "konnektd listening on http://";
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = process.next_line().await {
                if let Some(rest) = line.split(marker).nth(1) {
                    // A text line ends the address with a space, a JSON one with a quote.
                    let addr = rest
                        .split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    return Some(addr);
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        match found {
            Some(addr) => {
                process.base = format!("http://{addr}");
                Ok(process)
            }
            None => Err(process.log),
        }
    }

    async fn next_line(&mut self) -> Option<String> {
        let line = self.lines.recv().await?;
        self.log.push(line.clone());
        Some(line)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a signal by number (9 = KILL, 15 = TERM).
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, returning its exit code and the rest of its log.
    pub async fn wait(mut self) -> (Option<i32>, Vec<String>) {
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("konnektd exits in time")
            .expect("wait");
        while let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_millis(200), self.next_line()).await
        {
            let _ = line;
        }
        (status.code(), self.log)
    }
}

/// Runs a one-shot konnektd command, returning exit success, stdout and stderr.
pub async fn run(mut command: Command, args: &[&str]) -> (bool, String, String) {
    let out = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run konnektd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
