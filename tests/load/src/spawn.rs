//! `--spawn-local`: start `javumbo-local` with N process-isolated containers and fault
//! switches, SIGKILL random containers, and read `/_local/metrics`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::config::RunArgs;
use crate::error::{LoadError, Result};

pub struct LocalServer {
    child: Child,
    pid: u32,
    pub url: String,
    pub log: PathBuf,
    _data: tempfile::TempDir,
}

/// Where to find javumbo-local when `--server-bin` is not given.
pub fn find_server_bin(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("javumbo-local"));
    }
    candidates.push(PathBuf::from("target/release/javumbo-local"));
    candidates.push(PathBuf::from("target/debug/javumbo-local"));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("javumbo-local"))
}

/// The javumbo-local arguments for a run's fault switches.
pub fn fault_args(args: &RunArgs) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push(flag.to_string());
            out.push(v);
        }
    };
    push(
        "--fault-bus-drop",
        args.fault_bus_drop.map(|v| v.to_string()),
    );
    push("--fault-bus-dup", args.fault_bus_dup.map(|v| v.to_string()));
    push(
        "--fault-bus-delay-ms",
        args.fault_bus_delay_ms.map(|v| v.to_string()),
    );
    push(
        "--fault-store-fail",
        args.fault_store_fail.map(|v| v.to_string()),
    );
    push(
        "--fault-store-ambiguous",
        args.fault_store_ambiguous.map(|v| v.to_string()),
    );
    // The run's seed also fixes the server's fault draws, so a failing run can be replayed.
    if !out.is_empty() {
        out.push("--fault-seed".into());
        out.push(args.seed.to_string());
    }
    out
}

fn free_port() -> Result<u16> {
    // Bind-and-release: javumbo-local takes --addr, not an inherited socket. The window in
    // which another process could grab the port is tiny on a test machine.
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl LocalServer {
    pub async fn start(bin: &Path, containers: u32, extra: &[String]) -> Result<Self> {
        let data = tempfile::Builder::new().prefix("javumbo-load-").tempdir()?;
        let port = free_port()?;
        let log = data.path().join("server.log");
        let log_file = std::fs::File::create(&log)?;
        let mut cmd = Command::new(bin);
        cmd.arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data")
            .arg(data.path().join("data"))
            .arg("--containers")
            .arg(containers.to_string())
            .arg("--isolate")
            .arg("processes")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|source| LoadError::Spawn {
            bin: bin.to_path_buf(),
            source,
        })?;
        let pid = child.id().unwrap_or(0);
        let server = Self {
            child,
            pid,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _data: data,
        };
        Ok(server)
    }

    /// Wait until every part answers `GET /api/health`.
    pub async fn wait_healthy(&mut self, http: &reqwest::Client, within: Duration) -> Result<()> {
        wait_healthy(http, &self.url, within).await?;
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(LoadError::NotHealthy(format!(
                "{} (javumbo-local exited with {status}; see {})",
                self.url,
                self.log.display()
            )));
        }
        Ok(())
    }

    /// Container processes: the server's direct children.
    pub fn container_pids(&self) -> Vec<u32> {
        children_of(self.pid)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stop the server and its containers: SIGTERM first so it can shut down cleanly.
    pub async fn shutdown(mut self) {
        let kids = self.container_pids();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        let exited = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        if exited.is_err() {
            let _ = self.child.kill().await;
        }
        for pid in kids {
            if Path::new(&format!("/proc/{pid}")).exists() {
                kill_pid(pid).await;
            }
        }
    }
}

/// SIGKILL one process (a container: javumbo-local restarts it with a cold cache). Through
/// kill(1) rather than libc so the crate needs no unsafe code.
pub async fn kill_pid(pid: u32) -> bool {
    Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

pub async fn wait_healthy(http: &reqwest::Client, url: &str, within: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < within {
        let ok = http
            .get(format!("{url}/api/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(LoadError::NotHealthy(url.to_string()))
}

/// Direct children of `pid`, from /proc (Linux only; elsewhere no container can be killed).
pub fn children_of(pid: u32) -> Vec<u32> {
    crate::rss::process_table().map_or_else(Vec::new, |t| crate::rss::children_in(pid, &t))
}

/// `/_local/metrics` as numbers (nested objects flattened with dots); None if not local mode.
pub async fn fetch_metrics(http: &reqwest::Client, url: &str) -> Option<BTreeMap<String, f64>> {
    let r = http
        .get(format!("{url}/_local/metrics"))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    let mut out = BTreeMap::new();
    flatten("", &v, &mut out);
    Some(out)
}

pub fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, f64>) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.insert(prefix.to_string(), f);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_nested_metrics() {
        let v =
            serde_json::json!({"blob_get": 3, "containers": {"c0": {"cache_hit": 5}}, "name": "x"});
        let mut out = BTreeMap::new();
        flatten("", &v, &mut out);
        assert_eq!(out["blob_get"], 3.0);
        assert_eq!(out["containers.c0.cache_hit"], 5.0);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn finds_children_through_proc() {
        let me = std::process::id();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(children_of(me).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn fault_switches_are_passed_only_when_set() {
        use clap::Parser;
        let cli = crate::config::Cli::parse_from([
            "javumbo-load",
            "--spawn-local",
            "2",
            "--fault-bus-drop",
            "0.1",
            "--fault-bus-delay-ms",
            "50",
        ]);
        assert_eq!(
            fault_args(&cli.run),
            [
                "--fault-bus-drop",
                "0.1",
                "--fault-bus-delay-ms",
                "50",
                "--fault-seed",
                "42"
            ]
        );
    }
}
