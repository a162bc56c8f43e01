//! Command-line options. Everything a run depends on is here, so a report can echo it back.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::error::{LoadError, Result};

#[derive(Debug, Parser)]
#[command(
    name = "javumbo-load",
    version,
    about = "Load-test javumbo with virtual students, inject faults, audit every acknowledged write",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test (the default when no subcommand is given).
    Run(Box<RunArgs>),
    /// Combine the `report.json` of several runs into one markdown benchmark report.
    BenchReport(BenchReportArgs),
    /// Time Lambda bootstraps' cold starts against a local Lambda Runtime API.
    ColdStart(ColdStartArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioKind {
    /// Study session: N × (next card, think, answer with a realistic ease mix), then flush.
    Study,
    /// The 14-operation deck/card editing lifecycle, then flush.
    Crud,
    /// The 12-operation stats + export session, then flush.
    Stats,
    /// One user's requests issued concurrently from several clients.
    Adversarial,
    /// A weighted mix of the above (see `--mix`).
    Mix,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct RunArgs {
    /// Base URL of a running javumbo (javumbo-local, the emulator stack, an AWS deployment).
    #[arg(long, conflicts_with = "spawn_local")]
    pub target: Option<String>,
    /// Start `javumbo-local --containers N --isolate processes` for this run.
    #[arg(long, value_name = "N")]
    pub spawn_local: Option<u32>,
    /// The javumbo-local binary for --spawn-local (default: $JAVUMBO_LOCAL_BIN, then next to
    /// this binary, then target/release and target/debug of the current directory, then PATH).
    #[arg(long, env = "JAVUMBO_LOCAL_BIN")]
    pub server_bin: Option<PathBuf>,
    /// Pid of the running server behind --target, to record its memory (VmRSS of it and all
    /// its descendant processes, every 250 ms; Linux /proc). With --spawn-local the spawned
    /// server is sampled without it.
    #[arg(long, value_name = "PID", conflicts_with = "spawn_local")]
    pub server_pid: Option<u32>,
    /// Extra argument passed verbatim to javumbo-local (repeatable).
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// SIGKILL a random container every SECS seconds (it restarts cold). Needs --spawn-local.
    #[arg(long, value_name = "SECS")]
    pub kill_every: Option<f64>,
    /// Fraction of flush messages the in-process bus drops (javumbo-local --fault-bus-drop).
    #[arg(long)]
    pub fault_bus_drop: Option<f64>,
    /// Fraction of flush messages delivered twice (--fault-bus-dup).
    #[arg(long)]
    pub fault_bus_dup: Option<f64>,
    /// Delay every flush message by this many milliseconds (--fault-bus-delay-ms).
    #[arg(long)]
    pub fault_bus_delay_ms: Option<u64>,
    /// Fraction of store calls that fail (--fault-store-fail).
    #[arg(long)]
    pub fault_store_fail: Option<f64>,
    /// Fraction of store calls that happen but report failure, as a timeout does
    /// (--fault-store-ambiguous): the client cannot know whether the write landed.
    #[arg(long)]
    pub fault_store_ambiguous: Option<f64>,

    /// Number of virtual students, each with its own account.
    #[arg(long, default_value_t = 10)]
    pub users: u32,
    /// Start users evenly over this many seconds.
    #[arg(long, default_value_t = 0.0)]
    pub ramp_up: f64,
    /// Stop starting sessions after this many seconds.
    #[arg(long, conflicts_with = "iterations")]
    pub duration: Option<f64>,
    /// Sessions (scenario runs) per user.
    #[arg(long)]
    pub iterations: Option<u32>,
    /// Also stop once this many requests have been sent in total.
    #[arg(long)]
    pub max_requests: Option<u64>,
    /// Global request rate limit (requests per second, all users together).
    #[arg(long)]
    pub rate: Option<f64>,
    #[arg(long, value_enum, default_value = "mix")]
    pub scenario: ScenarioKind,
    /// Weights for --scenario mix: study=70,crud=15,stats=10,adversarial=5.
    #[arg(long, default_value = "study=70,crud=15,stats=10,adversarial=5")]
    pub mix: String,
    /// Reviews per study session.
    #[arg(long, default_value_t = 20)]
    pub reviews: u32,
    /// Percent of answers Again,Hard,Good,Easy (a typical Anki user's mix).
    #[arg(long, default_value = "10,15,65,10")]
    pub ease_mix: String,
    /// Mean think time between a student's requests, milliseconds (uniform ±50%); 0 = none.
    #[arg(long, default_value_t = 500)]
    pub think_ms: u64,
    /// Concurrent clients of the one user in the adversarial scenario.
    #[arg(long, default_value_t = 4)]
    pub adversarial_clients: u32,
    /// Seed for every random choice (scenario mix, eases, think times, kill victims).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Per-request timeout, milliseconds (a takeover may wait 5 s for a flush).
    #[arg(long, default_value_t = 15_000)]
    pub timeout_ms: u64,
    /// Username prefix (default: derived from the clock so reruns against one target never
    /// collide). At most 8 characters of [A-Za-z0-9_.-].
    #[arg(long)]
    pub user_prefix: Option<String>,
    /// Skip the end-of-run integrity audit.
    #[arg(long)]
    pub no_audit: bool,
    /// Write report.json, report.html and report.md (+ SVG files) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Title printed in the reports.
    #[arg(long, default_value = "javumbo load test")]
    pub title: String,
    /// No progress bar (CI logs).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BenchReportArgs {
    /// Where to write the combined markdown.
    #[arg(long)]
    pub out: PathBuf,
    /// Criterion's output directory, to include micro-benchmark estimates.
    #[arg(long)]
    pub criterion: Option<PathBuf>,
    /// A remark about the measuring conditions, printed under the summary (repeatable).
    #[arg(long)]
    pub note: Vec<String>,
    /// A `cold-start` run directory (its cold-start.json), for the "Lambda cold start" section.
    #[arg(long, value_name = "DIR")]
    pub cold_start: Option<PathBuf>,
    /// `make package`'s output (`<DIR>/<function>/bootstrap.zip`), for the "Lambda zip sizes"
    /// section.
    #[arg(long, value_name = "DIR")]
    pub lambda_dir: Option<PathBuf>,
    /// Run directories (each holding a report.json), in the order to present them.
    pub runs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ColdStartArgs {
    /// Bootstraps to start: `PATH` or `NAME=PATH`. A `.zip` is unpacked (its `bootstrap`); an
    /// unnamed `bootstrap`/`bootstrap.zip` is named after its directory, as `make package`
    /// lays them out (target/lambda/<function>/bootstrap.zip).
    #[arg(required = true, value_name = "BOOTSTRAP")]
    pub bootstraps: Vec<String>,
    /// Measured cold starts per function (each a fresh process).
    #[arg(long, default_value_t = 20)]
    pub runs: u32,
    /// Discarded starts per function before measuring (page cache, first exec).
    #[arg(long, default_value_t = 1)]
    pub warmup: u32,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE declared to the functions (nothing enforces it).
    #[arg(long, default_value_t = 1024)]
    pub memory_mb: u32,
    /// Extra environment of the functions, KEY=VALUE (repeatable; overrides the defaults).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Send every function this JSON payload instead of its default event (e.g. an API
    /// Gateway v2 `POST /api/register`, to time a request that does real work).
    #[arg(long, value_name = "FILE")]
    pub event: Option<PathBuf>,
    /// Seconds each phase (init, an invocation) may take before the run counts as failed.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Write cold-start.json and report.md here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Scenario weights for the mix, in `ScenarioKind` order (study, crud, stats, adversarial).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mix {
    pub study: u32,
    pub crud: u32,
    pub stats: u32,
    pub adversarial: u32,
}

impl Mix {
    pub fn parse(s: &str) -> Result<Self> {
        let mut mix = Mix {
            study: 0,
            crud: 0,
            stats: 0,
            adversarial: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once('=').ok_or_else(|| {
                LoadError::Config(format!("mix entry `{part}` is not name=weight"))
            })?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| LoadError::Config(format!("mix weight `{weight}` is not a number")))?;
            match name.trim() {
                "study" => mix.study = weight,
                "crud" => mix.crud = weight,
                "stats" => mix.stats = weight,
                "adversarial" => mix.adversarial = weight,
                other => {
                    return Err(LoadError::Config(format!(
                        "unknown scenario `{other}` in mix"
                    )));
                }
            }
        }
        if mix.total() == 0 {
            return Err(LoadError::Config("mix weights add up to 0".into()));
        }
        Ok(mix)
    }

    pub fn total(&self) -> u32 {
        self.study + self.crud + self.stats + self.adversarial
    }

    /// Map a number in `0..total()` to a scenario.
    pub fn pick(&self, roll: u32) -> ScenarioKind {
        let mut r = roll;
        for (kind, w) in [
            (ScenarioKind::Study, self.study),
            (ScenarioKind::Crud, self.crud),
            (ScenarioKind::Stats, self.stats),
        ] {
            if r < w {
                return kind;
            }
            r -= w;
        }
        ScenarioKind::Adversarial
    }
}

/// Percent weights of the four answer buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EaseMix(pub [u32; 4]);

impl EaseMix {
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<u32> = s
            .split(',')
            .map(|p| p.trim().parse::<u32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| LoadError::Config(format!("ease mix `{s}` is not 4 numbers")))?;
        let arr: [u32; 4] = parts
            .try_into()
            .map_err(|_| LoadError::Config(format!("ease mix `{s}` needs exactly 4 weights")))?;
        if arr.iter().sum::<u32>() == 0 {
            return Err(LoadError::Config("ease mix weights add up to 0".into()));
        }
        Ok(EaseMix(arr))
    }

    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    /// Map a number in `0..total()` to an ease 1..=4.
    pub fn pick(&self, roll: u32) -> i64 {
        let mut r = roll;
        for (i, w) in self.0.iter().enumerate() {
            if r < *w {
                return i as i64 + 1;
            }
            r -= w;
        }
        4
    }
}

/// Validated run settings derived from [`RunArgs`].
#[derive(Debug, Clone)]
pub struct Plan {
    pub mix: Mix,
    pub ease_mix: EaseMix,
    pub stop: Stop,
    pub think: Duration,
    pub timeout: Duration,
    pub ramp_up: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    Iterations(u32),
    Duration(Duration),
}

impl RunArgs {
    pub fn plan(&self) -> Result<Plan> {
        if self.target.is_none() && self.spawn_local.is_none() {
            return Err(LoadError::Config(
                "give --target URL or --spawn-local N".into(),
            ));
        }
        if self.kill_every.is_some() && self.spawn_local.is_none() {
            return Err(LoadError::Config("--kill-every needs --spawn-local".into()));
        }
        if self.users == 0 {
            return Err(LoadError::Config("--users must be at least 1".into()));
        }
        let mix = match self.scenario {
            ScenarioKind::Mix => Mix::parse(&self.mix)?,
            one => Mix {
                study: u32::from(one == ScenarioKind::Study),
                crud: u32::from(one == ScenarioKind::Crud),
                stats: u32::from(one == ScenarioKind::Stats),
                adversarial: u32::from(one == ScenarioKind::Adversarial),
            },
        };
        let stop = match (self.iterations, self.duration) {
            (Some(n), _) => Stop::Iterations(n),
            (None, Some(d)) if d > 0.0 => Stop::Duration(Duration::from_secs_f64(d)),
            (None, Some(_)) => return Err(LoadError::Config("--duration must be > 0".into())),
            (None, None) => Stop::Iterations(1),
        };
        if let Some(p) = &self.user_prefix
            && (p.is_empty()
                || p.len() > 8
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
        {
            return Err(LoadError::Config(format!(
                "--user-prefix `{p}` must be 1-8 characters of [A-Za-z0-9_.-]"
            )));
        }
        Ok(Plan {
            mix,
            ease_mix: EaseMix::parse(&self.ease_mix)?,
            stop,
            think: Duration::from_millis(self.think_ms),
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            ramp_up: Duration::from_secs_f64(self.ramp_up.max(0.0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_picks_by_weight() {
        let mix = Mix::parse("study=2, crud=1,adversarial=1").unwrap();
        assert_eq!(mix.total(), 4);
        assert_eq!(mix.pick(0), ScenarioKind::Study);
        assert_eq!(mix.pick(1), ScenarioKind::Study);
        assert_eq!(mix.pick(2), ScenarioKind::Crud);
        assert_eq!(mix.pick(3), ScenarioKind::Adversarial);
        assert!(Mix::parse("study=0").is_err());
        assert!(Mix::parse("dance=3").is_err());
        assert!(Mix::parse("study").is_err());
    }

    #[test]
    fn ease_mix_maps_rolls_to_buttons() {
        let e = EaseMix::parse("10,15,65,10").unwrap();
        assert_eq!(e.total(), 100);
        assert_eq!(e.pick(0), 1);
        assert_eq!(e.pick(9), 1);
        assert_eq!(e.pick(10), 2);
        assert_eq!(e.pick(25), 3);
        assert_eq!(e.pick(89), 3);
        assert_eq!(e.pick(90), 4);
        assert!(EaseMix::parse("1,2,3").is_err());
        assert!(EaseMix::parse("0,0,0,0").is_err());
    }

    #[test]
    fn cli_requires_a_target_and_checks_the_prefix() {
        let cli = Cli::parse_from(["javumbo-load", "--users", "3"]);
        assert!(cli.run.plan().is_err());
        let cli = Cli::parse_from([
            "javumbo-load",
            "--target",
            "http://127.0.0.1:1",
            "--user-prefix",
            "bad/one",
        ]);
        assert!(cli.run.plan().is_err());
        let cli = Cli::parse_from([
            "javumbo-load",
            "--spawn-local",
            "2",
            "--scenario",
            "crud",
            "--duration",
            "5",
        ]);
        let plan = cli.run.plan().unwrap();
        assert_eq!(plan.mix.pick(0), ScenarioKind::Crud);
        assert_eq!(plan.stop, Stop::Duration(Duration::from_secs(5)));
    }
}
