//! Server memory over a run: the resident set size of a process and all its descendants
//! (javumbo-local and its container processes), read from `/proc` every 250 ms on a thread of
//! its own. Linux only; where `/proc` cannot be read nothing is recorded and the run goes on.
//!
//! Sizes are kept in kB as `/proc` gives them (KiB); "MB" in the reports means MiB, the unit
//! container memory limits are set in.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Time between two samples.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// One sample of the process tree.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RssSample {
    /// Seconds since sampling started.
    pub t_s: f64,
    /// Sum of VmRSS over the server process and its descendants, kB.
    pub total_kb: u64,
    /// VmRSS of the largest single process, kB.
    pub max_kb: u64,
    /// Processes in the tree at this sample.
    pub processes: u32,
}

/// The series of one run, as it goes into `report.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RssReport {
    /// The sampled root process (the server).
    pub pid: u32,
    pub interval_ms: u64,
    /// When the measured load started, seconds on the samples' clock (sampling starts before
    /// account set-up, so set-up's memory is on record too). Sampling ends with the load,
    /// before the audit.
    pub load_started_s: f64,
    pub samples: Vec<RssSample>,
    /// Highest total over the whole series, MiB.
    pub peak_total_mb: f64,
    /// Highest total from the start of the load on, MiB.
    pub peak_load_mb: f64,
    /// Largest single process at any sample, MiB.
    pub peak_process_mb: f64,
    /// Total at the last sample (the end of the load), MiB.
    pub end_total_mb: f64,
}

pub fn kb_to_mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

impl RssReport {
    pub fn from_samples(pid: u32, load_started_s: f64, samples: Vec<RssSample>) -> Self {
        let peak = |from: f64| {
            samples
                .iter()
                .filter(|s| s.t_s >= from)
                .map(|s| s.total_kb)
                .max()
                .unwrap_or(0)
        };
        Self {
            pid,
            interval_ms: INTERVAL.as_millis() as u64,
            load_started_s,
            peak_total_mb: kb_to_mb(peak(f64::NEG_INFINITY)),
            peak_load_mb: kb_to_mb(peak(load_started_s)),
            peak_process_mb: kb_to_mb(samples.iter().map(|s| s.max_kb).max().unwrap_or(0)),
            end_total_mb: kb_to_mb(samples.last().map_or(0, |s| s.total_kb)),
            samples,
        }
    }

    /// Most processes seen in the tree at once (server + containers).
    pub fn max_processes(&self) -> u32 {
        self.samples.iter().map(|s| s.processes).max().unwrap_or(0)
    }
}

/// `VmRSS` of a `/proc/<pid>/status` text, kB. None for kernel threads and zombies (no line).
pub fn vmrss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

/// The parent pid in a `/proc/<pid>/stat` text. The command name sits in parentheses and may
/// itself contain spaces and parentheses, so fields are counted after the last `)`.
pub fn ppid_from_stat(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name: state, ppid, ...
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `root` and every process descending from it, given a `(pid, ppid)` table; root first, then
/// in breadth-first order. Empty when root is not in the table (it has exited).
pub fn descendants(root: u32, table: &[(u32, u32)]) -> Vec<u32> {
    if !table.iter().any(|(pid, _)| *pid == root) {
        return Vec::new();
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, ppid) in table {
        children.entry(*ppid).or_default().push(*pid);
    }
    let mut out = vec![root];
    let mut seen: HashSet<u32> = HashSet::from([root]);
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            for k in kids {
                if seen.insert(*k) {
                    out.push(*k);
                }
            }
        }
        i += 1;
    }
    out
}

/// Every process's `(pid, ppid)` from `/proc`; None when `/proc` cannot be listed.
pub fn process_table() -> Option<Vec<(u32, u32)>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    Some(
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            // A process may exit between the listing and the read: it is then simply absent.
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                Some((pid, ppid_from_stat(&stat)?))
            })
            .collect(),
    )
}

/// Direct children of `pid` in a `(pid, ppid)` table, sorted.
pub fn children_in(pid: u32, table: &[(u32, u32)]) -> Vec<u32> {
    let mut out: Vec<u32> = table
        .iter()
        .filter(|(_, ppid)| *ppid == pid)
        .map(|(p, _)| *p)
        .collect();
    out.sort_unstable();
    out
}

/// `(total kB, largest kB, processes)` of `root`'s tree now; None when it cannot be read (no
/// `/proc`, or root has exited).
pub fn sample_tree(root: u32) -> Option<(u64, u64, u32)> {
    let table = process_table()?;
    let (mut total, mut max, mut n) = (0u64, 0u64, 0u32);
    for pid in descendants(root, &table) {
        let Some(kb) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .as_deref()
            .and_then(vmrss_kb)
        else {
            continue;
        };
        total += kb;
        max = max.max(kb);
        n += 1;
    }
    (n > 0).then_some((total, max, n))
}

/// Samples `root`'s tree on a background thread until [`RssSampler::finish`] (or drop).
pub struct RssSampler {
    pid: u32,
    started: Instant,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Vec<RssSample>>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let started = Instant::now();
        let thread = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                let mut samples = Vec::new();
                let mut next = started;
                loop {
                    if let Some((total_kb, max_kb, processes)) = sample_tree(pid) {
                        samples.push(RssSample {
                            t_s: started.elapsed().as_secs_f64(),
                            total_kb,
                            max_kb,
                            processes,
                        });
                    }
                    // Fixed schedule: a slow read does not stretch the period.
                    next += INTERVAL;
                    let wait = next.saturating_duration_since(Instant::now());
                    match stopped.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                samples
            })
            .ok();
        Self {
            pid,
            started,
            stop: Some(stop),
            thread,
        }
    }

    /// When sampling started (time 0 of the series).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Stop sampling (one last sample is taken first) and return the series; None when no
    /// sample could be taken at all.
    pub fn finish(mut self, load_started: Instant) -> Option<RssReport> {
        let mut samples = self.join();
        // One last sample at the very end, after the thread's (so the series stays in order).
        if let Some((total_kb, max_kb, processes)) = sample_tree(self.pid) {
            samples.push(RssSample {
                t_s: self.started.elapsed().as_secs_f64(),
                total_kb,
                max_kb,
                processes,
            });
        }
        (!samples.is_empty()).then(|| self.report(load_started, samples))
    }

    fn report(&self, load_started: Instant, samples: Vec<RssSample>) -> RssReport {
        let offset = load_started
            .saturating_duration_since(self.started)
            .as_secs_f64();
        RssReport::from_samples(self.pid, offset, samples)
    }

    fn join(&mut self) -> Vec<RssSample> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tjavumbo-local\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\nPPid:\t4200\nVmPeak:\t  812340 kB\nVmSize:\t  798120 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   52344 kB\nRssAnon:\t   40000 kB\nThreads:\t9\n";

    #[test]
    fn reads_vmrss_from_status() {
        assert_eq!(vmrss_kb(STATUS), Some(52_344));
        // Kernel threads have no VmRSS line; VmHWM must not be mistaken for it.
        assert_eq!(vmrss_kb("Name:\tkthreadd\nVmHWM:\t 1 kB\nPPid:\t0\n"), None);
        assert_eq!(vmrss_kb("VmRSS:\tlots kB\n"), None);
    }

    #[test]
    fn reads_ppid_from_stat_even_with_odd_names() {
        let plain = "4242 (javumbo-local) S 4200 4242 4200 0 -1 4194560 1234 0 0 0 12 3";
        assert_eq!(ppid_from_stat(plain), Some(4200));
        // A name with spaces and parentheses: only the last ')' ends it.
        let odd = "77 (a (weird) name) ) R 1 77 77 0 -1 4194304 0 0 0 0 0 0";
        assert_eq!(ppid_from_stat(odd), Some(1));
        let tricky = "78 (x) 9 9) S 31337 78 78";
        assert_eq!(ppid_from_stat(tricky), Some(31337));
        assert_eq!(ppid_from_stat("garbage"), None);
        assert_eq!(ppid_from_stat("5 (n) S"), None);
    }

    #[test]
    fn walks_descendants_of_a_fake_table() {
        // 10 → 11, 12; 12 → 13 → 14; 20 is a stranger with a child 21; 1 is init.
        let table = [
            (1, 0),
            (10, 1),
            (11, 10),
            (12, 10),
            (13, 12),
            (14, 13),
            (20, 1),
            (21, 20),
        ];
        assert_eq!(descendants(10, &table), [10, 11, 12, 13, 14]);
        assert_eq!(descendants(13, &table), [13, 14]);
        assert_eq!(descendants(21, &table), [21]);
        // An exited root has no tree, even if orphans still name it as parent.
        assert!(descendants(99, &[(100, 99)]).is_empty());
        // A (corrupt) cycle does not loop forever.
        assert_eq!(descendants(5, &[(5, 6), (6, 5)]), [5, 6]);
        assert_eq!(children_in(10, &table), [11, 12]);
    }

    #[test]
    fn peaks_and_end_come_from_the_series() {
        let s = |t_s, total_kb, max_kb| RssSample {
            t_s,
            total_kb,
            max_kb,
            processes: 2,
        };
        let r = RssReport::from_samples(
            1,
            1.0,
            vec![
                s(0.0, 2048, 1024),
                s(0.5, 409_600, 300_000),
                s(1.0, 102_400, 51_200),
                s(1.5, 204_800, 102_400),
                s(2.0, 153_600, 76_800),
            ],
        );
        assert_eq!(r.peak_total_mb, 400.0);
        assert_eq!(r.peak_load_mb, 200.0);
        assert_eq!(r.end_total_mb, 150.0);
        assert!((r.peak_process_mb - 300_000.0 / 1024.0).abs() < 1e-9);
        assert_eq!(r.max_processes(), 2);
        let empty = RssReport::from_samples(1, 0.0, Vec::new());
        assert_eq!(empty.peak_total_mb, 0.0);
    }

    #[test]
    fn samples_a_real_process_tree() {
        let me = std::process::id();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let (total, max, n) = sample_tree(me).expect("this test's own tree is readable");
        assert!(n >= 2, "this process and its sleep child, got {n}");
        assert!(total >= max && max > 0);
        let sampler = RssSampler::start(me);
        std::thread::sleep(Duration::from_millis(300));
        let report = sampler.finish(Instant::now()).unwrap();
        assert!(report.samples.len() >= 2);
        assert!(report.peak_total_mb > 0.0);
        assert!(report.samples.windows(2).all(|w| w[0].t_s <= w[1].t_s));
        child.kill().unwrap();
        child.wait().unwrap();
        // A pid that does not exist gives no series, and no error.
        let gone = RssSampler::start(u32::MAX - 1);
        assert!(gone.finish(Instant::now()).is_none());
    }
}
