//! `javumbo-load cold-start`: each Lambda bootstrap started cold, N times, against the local
//! Runtime API of [`crate::runtime_api`] (no emulator, no container), timing
//!
//! - **init**: process spawn → its first `GET .../invocation/next` (what Lambda bills as the
//!   init phase: runtime start, settings, stores, router);
//! - **first invocation**: the queued event handed out → its response (or error) posted;
//! - **warm invocation**: the same for a second event, in the same process.
//!
//! Every run is a fresh process with a fresh, empty data directory (Lambda's `/tmp` of a new
//! execution environment), started with the environment Lambda sets and the stack's settings
//! for the embedded stores (no `JAVUMBO_BACKEND`). To include the AWS SDK clients' construction,
//! add `--env JAVUMBO_BACKEND=aws` with the table/bucket names, credentials and an
//! `AWS_ENDPOINT_URL`: init needs no network (the JWT secret given directly), invocations that
//! touch a store then do. The API functions get an API Gateway HTTP API (payload v2) `GET` of
//! their health route; the flush handler an SNS batch with one flush request for a user that
//! does not exist.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::process::Command;

use crate::config::ColdStartArgs;
use crate::error::{LoadError, Result};
use crate::runtime_api::{Call, Invocation, RuntimeApi};

/// The issue's goal for the API functions' init time (judged on the median).
pub const INIT_GOAL_MS: f64 = 30.0;
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";
/// The JWT secret of the runs (the functions refuse one shorter than 32 bytes).
const JWT_SECRET: &str = "cold-start-benchmark-secret-0123456789abcdef";

/// What a function is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// API Gateway HTTP API (payload v2) `GET path`.
    HttpGet(String),
    /// An SNS batch with one flush request.
    SnsFlush,
    /// A payload given with `--event` (an API Gateway event when it has a `requestContext`).
    Custom {
        name: String,
        payload: serde_json::Value,
    },
}

impl EventKind {
    /// By the function's name: the flush handler gets SNS, the sync function its own health
    /// route (`GET /health`), every other function `GET /api/health` (auth serves it; the others
    /// answer their 404, through the same router, middleware and JSON error path).
    pub fn for_function(name: &str) -> Self {
        if name.contains("flush") {
            Self::SnsFlush
        } else if name.contains("sync") {
            Self::HttpGet("/health".into())
        } else {
            Self::HttpGet("/api/health".into())
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::HttpGet(p) => format!("GET {p}"),
            Self::SnsFlush => "SNS flush request".into(),
            Self::Custom { name, payload } => match payload["requestContext"]["http"].as_object() {
                Some(h) => format!(
                    "{} {} ({name})",
                    h.get("method").and_then(|v| v.as_str()).unwrap_or("?"),
                    h.get("path").and_then(|v| v.as_str()).unwrap_or("?")
                ),
                None => name.clone(),
            },
        }
    }

    /// The goal applies to the functions behind API Gateway.
    pub fn is_api(&self) -> bool {
        match self {
            Self::HttpGet(_) => true,
            Self::SnsFlush => false,
            Self::Custom { payload, .. } => payload.get("requestContext").is_some(),
        }
    }

    /// `--event FILE`: the JSON payload every function is sent instead of its default.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError::Config(format!("{}: {e}", path.display())))?;
        Ok(Self::Custom {
            name: path
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
            payload: serde_json::from_slice(&bytes)?,
        })
    }

    pub fn payload(&self, request_id: &str) -> serde_json::Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        match self {
            Self::Custom { payload, .. } => payload.clone(),
            Self::HttpGet(path) => json!({
                "version": "2.0",
                "routeKey": format!("GET {path}"),
                "rawPath": path,
                "rawQueryString": "",
                "headers": {
                    "accept": "application/json",
                    "host": "coldstart.execute-api.eu-west-1.amazonaws.com",
                    "user-agent": "javumbo-load cold-start",
                    "x-forwarded-for": "203.0.113.7",
                    "x-forwarded-port": "443",
                    "x-forwarded-proto": "https"
                },
                "requestContext": {
                    "accountId": ACCOUNT,
                    "apiId": "coldstart",
                    "domainName": "coldstart.execute-api.eu-west-1.amazonaws.com",
                    "domainPrefix": "coldstart",
                    "http": {
                        "method": "GET",
                        "path": path,
                        "protocol": "HTTP/1.1",
                        "sourceIp": "203.0.113.7",
                        "userAgent": "javumbo-load cold-start"
                    },
                    "requestId": request_id,
                    "routeKey": format!("GET {path}"),
                    "stage": "$default",
                    "time": "01/Jan/2025:00:00:00 +0000",
                    "timeEpoch": now
                },
                "isBase64Encoded": false
            }),
            Self::SnsFlush => {
                let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:javumbo-flush-requests");
                let message = json!({
                    "username": "coldstart-nobody",
                    "session_id": request_id,
                    "epoch": 1,
                    "requested_by": "javumbo-load-cold-start"
                });
                json!({"Records": [{
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": format!("{topic}:00000000-0000-0000-0000-000000000000"),
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": request_id,
                        "TopicArn": topic,
                        "Subject": null,
                        "Message": message.to_string(),
                        "Timestamp": "2025-01-01T00:00:00.000Z",
                        "SignatureVersion": "1",
                        "Signature": "",
                        "SigningCertUrl": "",
                        "UnsubscribeUrl": "",
                        "MessageAttributes": {}
                    }
                }]})
            }
        }
    }
}

/// `NAME=PATH` or `PATH`; without a name, a file called `bootstrap` or `bootstrap.zip` is
/// named after its directory (`target/lambda/<bin>/bootstrap.zip`), anything else after itself.
pub fn parse_target(arg: &str) -> (String, PathBuf) {
    if let Some((name, path)) = arg.split_once('=')
        && !name.is_empty()
        && !name.contains('/')
    {
        return (name.to_owned(), PathBuf::from(path));
    }
    let path = PathBuf::from(arg);
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if file == "bootstrap" || file == "bootstrap.zip" {
        path.parent()
            .and_then(Path::file_name)
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or(file)
    } else {
        file.trim_end_matches(".zip").to_owned()
    };
    (name, path)
}

/// The executable to run: `path` itself, or the `bootstrap` unpacked from a zip into `tmp`.
fn executable(name: &str, path: &Path, tmp: &Path) -> Result<PathBuf> {
    if path.extension().is_none_or(|e| e != "zip") {
        return Ok(path.to_path_buf());
    }
    let file = std::fs::File::open(path)
        .map_err(|e| LoadError::Config(format!("{}: {e}", path.display())))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| LoadError::Config(format!("{}: {e}", path.display())))?;
    let mut entry = zip
        .by_name("bootstrap")
        .map_err(|e| LoadError::Config(format!("{}: no bootstrap: {e}", path.display())))?;
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("bootstrap");
    let mut f = std::fs::File::create(&out)?;
    std::io::copy(&mut entry, &mut f)?;
    drop(f);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(out)
}

/// Median, 90th percentile (nearest rank), min and max of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub n: usize,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        let median = if v.len().is_multiple_of(2) {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        } else {
            v[v.len() / 2]
        };
        Some(Self {
            n: v.len(),
            median_ms: median,
            p90_ms: rank(0.9),
            min_ms: v[0],
            max_ms: v[v.len() - 1],
        })
    }
}

/// One cold start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub init_ms: f64,
    pub first_ms: f64,
    pub warm_ms: Option<f64>,
    /// The first invocation's result: the HTTP status, the flush handler's outcomes, or
    /// `error: <type>` when the function reported an invocation error.
    pub outcome: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionReport {
    pub name: String,
    pub bootstrap: String,
    /// Size of the executable that ran (unpacked).
    pub binary_bytes: u64,
    pub event: String,
    /// An API Gateway function, to which the init goal applies.
    pub api: bool,
    pub init: Option<Stats>,
    pub first_invocation: Option<Stats>,
    pub warm_invocation: Option<Stats>,
    /// First-invocation outcome → runs.
    pub outcomes: BTreeMap<String, u32>,
    /// Runs that produced no sample, and why.
    pub failures: Vec<String>,
    pub samples: Vec<Sample>,
}

impl FunctionReport {
    /// `Some(met)` for an API function with samples.
    pub fn init_goal_met(&self) -> Option<bool> {
        match (self.api, &self.init) {
            (true, Some(s)) => Some(s.median_ms <= INIT_GOAL_MS),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColdStartReport {
    pub runs: u32,
    pub warmup: u32,
    pub memory_mb: u32,
    /// Cores of the measuring machine.
    pub cores: usize,
    pub functions: Vec<FunctionReport>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn cell(s: Option<&Stats>, f: fn(&Stats) -> f64) -> String {
    s.map_or("n/a".into(), |s| format!("{:.1}", f(s)))
}

impl ColdStartReport {
    pub fn passed(&self) -> bool {
        self.functions
            .iter()
            .all(|f| f.failures.is_empty() && !f.samples.is_empty())
    }

    /// The table (with a one-paragraph method note) under a heading of level `heading`.
    pub fn markdown(&self, heading: &str) -> String {
        let mut s = format!("{heading} Lambda cold start\n\n");
        let _ = writeln!(
            s,
            "Each bootstrap started {} times as a fresh process (after {} discarded warm-up \
             start{}) against a local Lambda Runtime API (`javumbo-load cold-start`), \
             {} MB declared, {} cores, embedded stores in an empty temporary directory. \
             **Init** = process spawn → first `next` request; **first invocation** = event \
             handed out → response posted; **warm** = a second event in the same process. \
             Goal: init ≤ {INIT_GOAL_MS:.0} ms for the API functions (judged on the median).\n",
            self.runs,
            self.warmup,
            if self.warmup == 1 { "" } else { "s" },
            self.memory_mb,
            self.cores
        );
        s.push_str(
            "| function | event | outcome (runs) | init median ms | init p90 ms | first invocation median ms | first invocation p90 ms | warm median ms | init ≤ 30 ms |\n\
             |---|---|---|---:|---:|---:|---:|---:|---|\n",
        );
        for f in &self.functions {
            let outcomes = if f.outcomes.is_empty() {
                "none".to_owned()
            } else {
                f.outcomes
                    .iter()
                    .map(|(k, v)| format!("{k} ×{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let verdict = match f.init_goal_met() {
                Some(true) => "met",
                Some(false) => "**not met**",
                None if f.api => "**no sample**",
                None => "n/a (not behind API Gateway)",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                f.name,
                f.event,
                outcomes,
                cell(f.init.as_ref(), |x| x.median_ms),
                cell(f.init.as_ref(), |x| x.p90_ms),
                cell(f.first_invocation.as_ref(), |x| x.median_ms),
                cell(f.first_invocation.as_ref(), |x| x.p90_ms),
                cell(f.warm_invocation.as_ref(), |x| x.median_ms),
                verdict
            );
        }
        for f in self.functions.iter().filter(|f| !f.failures.is_empty()) {
            let _ = writeln!(
                s,
                "\n**{}: {} failed run(s).** First: {}",
                f.name,
                f.failures.len(),
                f.failures[0].replace('\n', " ")
            );
        }
        s
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("cold-start.json"),
            serde_json::to_vec_pretty(self)?,
        )?;
        std::fs::write(dir.join("report.md"), self.markdown("#"))?;
        Ok(())
    }

    pub fn read(dir: &Path) -> Result<Self> {
        let file = dir.join("cold-start.json");
        let bytes = std::fs::read(&file)
            .map_err(|e| LoadError::Config(format!("{}: {e}", file.display())))?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}

/// How one function is started.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: String,
    pub exe: PathBuf,
    pub event: EventKind,
    pub memory_mb: u32,
    /// Extra environment (after the defaults, so it overrides them).
    pub env: Vec<(String, String)>,
    /// Limit for each phase (init, each invocation).
    pub timeout: Duration,
    /// Also time a second (warm) invocation.
    pub warm: bool,
}

impl Launch {
    /// The process environment Lambda gives a `provided.al2023` bootstrap, plus the stack's
    /// settings over the embedded stores under `data`, then `self.env`.
    pub fn environment(&self, runtime_api: &str, data: &Path) -> Vec<(String, String)> {
        let exe_dir = self
            .exe
            .parent()
            .map_or_else(|| ".".into(), |d| d.display().to_string());
        let mut env: Vec<(String, String)> = [
            // Lambda's own (provided.al2023).
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                self.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2025/01/01/[$LATEST]00000000000000000000000000000000".into(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.name),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("LAMBDA_TASK_ROOT", exe_dir),
            ("_HANDLER", "bootstrap".into()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("TZ", ":UTC".into()),
            // The stack's settings (infra-cdk/lib/javumbo-stack.ts), embedded stores instead
            // of JAVUMBO_BACKEND=aws and a plain secret instead of its ARN.
            ("JAVUMBO_DATA", data.display().to_string()),
            ("JAVUMBO_JWT_SECRET", JWT_SECRET.into()),
            ("JAVUMBO_CORS_ORIGINS", "*".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(self.env.iter().cloned());
        env
    }

    /// One cold start: a fresh Runtime API, data directory and process.
    pub async fn run_once(&self, run: u32) -> std::result::Result<Sample, String> {
        let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", self.name);
        let mut api = RuntimeApi::start(&arn)
            .await
            .map_err(|e| format!("runtime API: {e}"))?;
        let ids: Vec<String> = (0..if self.warm { 2 } else { 1 })
            .map(|i| format!("{:08x}-0000-4000-8000-{run:06x}{i:06x}", std::process::id()))
            .collect();
        for id in &ids {
            api.push(Invocation {
                request_id: id.clone(),
                body: self.event.payload(id).to_string().into_bytes(),
                timeout: Duration::from_secs(30),
            });
        }
        let tmp = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let log_path = tmp.path().join("bootstrap.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log: {e}"))?;
        let mut cmd = Command::new(&self.exe);
        cmd.env_clear()
            .envs(self.environment(&api.endpoint(), &tmp.path().join("data")))
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .kill_on_drop(true);
        let t0 = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", self.exe.display()))?;
        let res = self.observe(&mut api, &mut child, t0, &ids).await;
        let _ = child.start_kill();
        let _ = child.wait().await;
        res.map_err(|e| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            if tail.is_empty() {
                e
            } else {
                format!("{e}; log: {tail}")
            }
        })
    }

    async fn observe(
        &self,
        api: &mut RuntimeApi,
        child: &mut tokio::process::Child,
        t0: Instant,
        ids: &[String],
    ) -> std::result::Result<Sample, String> {
        let mut init = None;
        let mut handed: Vec<Option<Instant>> = vec![None; ids.len()];
        let mut took: Vec<Option<f64>> = vec![None; ids.len()];
        let mut outcome = String::new();
        let mut deadline = Instant::now() + self.timeout;
        loop {
            let phase = match init {
                None => "init".to_owned(),
                Some(_) => format!("invocation {}", took.iter().flatten().count() + 1),
            };
            // Calls first: a bootstrap that posts an init error and exits has its call
            // queued before its exit status, which must not hide it.
            let call = tokio::select! {
                biased;
                call = api.calls().recv() => call.ok_or("runtime API stopped")?,
                status = child.wait() => {
                    return Err(format!(
                        "exited during {phase} ({})",
                        status.map_or_else(|e| e.to_string(), |s| s.to_string())
                    ));
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    return Err(format!("timed out during {phase} ({:?})", self.timeout));
                }
            };
            match call {
                Call::Next { at } => {
                    if init.is_none() {
                        init = Some(at.duration_since(t0));
                    }
                }
                Call::HandedOut { request_id, at } => {
                    if let Some(i) = ids.iter().position(|x| *x == request_id) {
                        handed[i] = Some(at);
                        deadline = at + self.timeout;
                    }
                }
                // Either answer settles its invocation; the first one's is the outcome.
                call @ (Call::Response { .. } | Call::Error { .. }) => {
                    let (request_id, at, answer) = match call {
                        Call::Response {
                            request_id,
                            at,
                            body,
                            ..
                        } => (request_id, at, self.outcome(&body)),
                        Call::Error {
                            request_id,
                            at,
                            error_type,
                            body,
                        } => (
                            request_id,
                            at,
                            format!(
                                "error: {}",
                                error_type.unwrap_or_else(|| String::from_utf8_lossy(&body)
                                    .chars()
                                    .take(80)
                                    .collect())
                            ),
                        ),
                        _ => unreachable!("matched above"),
                    };
                    if let Some(i) = ids.iter().position(|x| *x == request_id)
                        && let Some(h) = handed[i]
                    {
                        took[i] = Some(ms(at.duration_since(h)));
                        if i == 0 {
                            outcome = answer;
                        }
                    }
                }
                Call::InitError {
                    error_type, body, ..
                } => {
                    return Err(format!(
                        "init error {}: {}",
                        error_type.unwrap_or_default(),
                        String::from_utf8_lossy(&body)
                    ));
                }
                Call::Rejected {
                    method,
                    path,
                    status,
                    ..
                } => {
                    return Err(format!(
                        "unexpected call {method} {path} (answered {status})"
                    ));
                }
            }
            if took.iter().all(Option::is_some) {
                let init = init.ok_or("responded before asking for an event")?;
                return Ok(Sample {
                    init_ms: ms(init),
                    first_ms: took[0].unwrap_or_default(),
                    warm_ms: took.get(1).copied().flatten(),
                    outcome,
                });
            }
        }
    }

    /// The HTTP status of an API Gateway response, else the (short) response itself.
    fn outcome(&self, body: &[u8]) -> String {
        let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        match (&self.event, v) {
            (EventKind::HttpGet(_), Some(v)) if v.get("statusCode").is_some() => v["statusCode"]
                .as_u64()
                .map_or_else(|| v["statusCode"].to_string(), |c| c.to_string()),
            (_, Some(v)) => v.to_string().chars().take(60).collect(),
            (_, None) => String::from_utf8_lossy(body).chars().take(60).collect(),
        }
    }

    /// `warmup` discarded starts, then `runs` measured ones.
    pub async fn measure(&self, runs: u32, warmup: u32, bootstrap: &str) -> FunctionReport {
        let mut report = FunctionReport {
            name: self.name.clone(),
            bootstrap: bootstrap.to_owned(),
            binary_bytes: std::fs::metadata(&self.exe).map_or(0, |m| m.len()),
            event: self.event.describe(),
            api: self.event.is_api(),
            ..FunctionReport::default()
        };
        for i in 0..warmup + runs {
            match self.run_once(i).await {
                Ok(s) if i >= warmup => {
                    *report.outcomes.entry(s.outcome.clone()).or_default() += 1;
                    report.samples.push(s);
                }
                Ok(_) => {}
                Err(e) => report.failures.push(e),
            }
        }
        let col = |f: fn(&Sample) -> Option<f64>| -> Vec<f64> {
            report.samples.iter().filter_map(f).collect()
        };
        report.init = Stats::of(&col(|s| Some(s.init_ms)));
        report.first_invocation = Stats::of(&col(|s| Some(s.first_ms)));
        report.warm_invocation = Stats::of(&col(|s| s.warm_ms));
        report
    }
}

fn parse_env(kv: &str) -> Result<(String, String)> {
    kv.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| LoadError::Config(format!("--env {kv:?}: expected KEY=VALUE")))
}

/// The subcommand: every bootstrap in turn, then the reports. `Ok(false)` when a run failed.
pub async fn run(args: &ColdStartArgs) -> Result<bool> {
    if args.runs == 0 {
        return Err(LoadError::Config("--runs must be at least 1".into()));
    }
    let env = args
        .env
        .iter()
        .map(|kv| parse_env(kv))
        .collect::<Result<Vec<_>>>()?;
    let custom = args
        .event
        .as_deref()
        .map(EventKind::from_file)
        .transpose()?;
    let unpacked = tempfile::tempdir()?;
    let mut report = ColdStartReport {
        runs: args.runs,
        warmup: args.warmup,
        memory_mb: args.memory_mb,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        functions: Vec::new(),
    };
    for arg in &args.bootstraps {
        let (name, path) = parse_target(arg);
        let exe = executable(&name, &path, unpacked.path())?;
        let launch = Launch {
            event: custom
                .clone()
                .unwrap_or_else(|| EventKind::for_function(&name)),
            name,
            exe,
            memory_mb: args.memory_mb,
            env: env.clone(),
            timeout: Duration::from_secs_f64(args.timeout),
            warm: true,
        };
        let f = launch
            .measure(args.runs, args.warmup, &path.display().to_string())
            .await;
        println!(
            "{}: init median {} ms p90 {} ms; first invocation median {} ms p90 {} ms; {} failed",
            f.name,
            cell(f.init.as_ref(), |x| x.median_ms),
            cell(f.init.as_ref(), |x| x.p90_ms),
            cell(f.first_invocation.as_ref(), |x| x.median_ms),
            cell(f.first_invocation.as_ref(), |x| x.p90_ms),
            f.failures.len()
        );
        report.functions.push(f);
    }
    if let Some(dir) = &args.out {
        report.write(dir)?;
        println!("report written to {}", dir.display());
    }
    Ok(report.passed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_targets() {
        assert_eq!(
            parse_target("target/lambda/javumbo-auth/bootstrap.zip"),
            (
                "javumbo-auth".into(),
                PathBuf::from("target/lambda/javumbo-auth/bootstrap.zip")
            )
        );
        assert_eq!(
            parse_target("/tmp/x/javumbo-crud/bootstrap").0,
            "javumbo-crud"
        );
        assert_eq!(parse_target("auth=/tmp/b").0, "auth");
        assert_eq!(parse_target("/opt/my-fn").0, "my-fn");
        assert_eq!(
            EventKind::for_function("javumbo-flush-handler"),
            EventKind::SnsFlush
        );
        assert_eq!(
            EventKind::for_function("javumbo-sync-fn"),
            EventKind::HttpGet("/health".into())
        );
        assert_eq!(
            EventKind::for_function("javumbo-review").describe(),
            "GET /api/health"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("login.json");
        let login = EventKind::HttpGet("/api/login".into())
            .payload("x")
            .to_string()
            .replace("\"GET\"", "\"POST\"");
        std::fs::write(&file, login).unwrap();
        let custom = EventKind::from_file(&file).unwrap();
        assert_eq!(custom.describe(), "POST /api/login (login.json)");
        assert!(custom.is_api());
        assert_eq!(custom.payload("y")["rawPath"], "/api/login");
        std::fs::write(&file, "{}").unwrap();
        let sns = EventKind::from_file(&file).unwrap();
        assert!(!sns.is_api() && sns.describe() == "login.json");
    }

    #[test]
    fn stats_are_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        let s = Stats::of(&v).unwrap();
        assert_eq!(
            (s.median_ms, s.p90_ms, s.min_ms, s.max_ms),
            (10.5, 18.0, 1.0, 20.0)
        );
        let s = Stats::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median_ms, s.p90_ms), (2.0, 3.0));
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn events_deserialize_as_lambda_sees_them() {
        let http = EventKind::HttpGet("/api/health".into()).payload("r1");
        assert_eq!(http["requestContext"]["http"]["method"], "GET");
        assert_eq!(http["rawPath"], "/api/health");
        let sns = EventKind::SnsFlush.payload("r2");
        let msg: serde_json::Value =
            serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        assert_eq!(msg["username"], "coldstart-nobody");
        assert_eq!(msg["session_id"], "r2");
    }

    /// A fake bootstrap in bash (its /dev/tcp, no curl): sleeps, asks for events and answers
    /// them as a Lambda runtime client does. `mode` = `ok` | `init-error` | `exit`.
    fn fake_bootstrap(dir: &Path, mode: &str) -> PathBuf {
        let script = format!(
            r#"#!/usr/bin/env bash
set -eu
MODE={mode}
host=${{AWS_LAMBDA_RUNTIME_API%:*}}; port=${{AWS_LAMBDA_RUNTIME_API#*:}}
[ -n "$JAVUMBO_JWT_SECRET" ] && [ -n "$AWS_LAMBDA_FUNCTION_NAME" ] || exit 3
sleep 0.3
call() {{ # method path body -> prints the response headers, then the body
  exec 3<>/dev/tcp/$host/$port
  printf '%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n%s' "$1" "$2" "${{#3}}" "$3" >&3
  len=0
  while IFS= read -r line <&3; do
    line=${{line%$'\r'}}; [ -z "$line" ] && break
    echo "$line"
    case "${{line,,}}" in content-length:*) len=${{line#*: }};; esac
  done
  if [ "$len" -gt 0 ]; then IFS= read -r -N "$len" body <&3; echo "$body"; fi
  exec 3<&-
}}
case $MODE in
  init-error) call POST /2018-06-01/runtime/init/error '{{"errorMessage":"no config"}}' >/dev/null; exit 1;;
  exit) exit 7;;
esac
while true; do
  id=$(call GET /2018-06-01/runtime/invocation/next "" | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *//p')
  sleep 0.05
  call POST "/2018-06-01/runtime/invocation/$id/response" '{{"statusCode":204,"body":""}}' >/dev/null
done
"#
        );
        let path = dir.join(format!("fake-{mode}"));
        std::fs::write(&path, script).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        path
    }

    fn launch(exe: PathBuf) -> Launch {
        Launch {
            name: "javumbo-fake".into(),
            exe,
            event: EventKind::HttpGet("/api/health".into()),
            memory_mb: 128,
            env: vec![],
            timeout: Duration::from_secs(5),
            warm: true,
        }
    }

    #[tokio::test]
    async fn times_a_fake_bootstrap() {
        let dir = tempfile::tempdir().unwrap();
        let f = launch(fake_bootstrap(dir.path(), "ok"))
            .measure(2, 0, "fake")
            .await;
        assert!(f.failures.is_empty(), "{:?}", f.failures);
        assert_eq!(f.samples.len(), 2);
        assert_eq!(f.outcomes, BTreeMap::from([("204".to_owned(), 2)]));
        let init = f.init.unwrap();
        // The script sleeps 300 ms before its first `next`, 50 ms before each response: the
        // invocation is timed from the hand-out, not from the spawn.
        assert!(init.min_ms >= 300.0 && init.max_ms < 3000.0, "{init:?}");
        let first = f.first_invocation.unwrap();
        assert!(
            first.min_ms >= 50.0 && first.max_ms < init.min_ms,
            "{first:?} {init:?}"
        );
        assert!(f.warm_invocation.unwrap().min_ms >= 50.0);
        assert_eq!(f.init_goal_met(), Some(false));

        let report = ColdStartReport {
            runs: 2,
            warmup: 0,
            memory_mb: 128,
            cores: 2,
            functions: vec![f],
        };
        let md = report.markdown("##");
        assert!(md.starts_with("## Lambda cold start\n"), "{md}");
        assert!(
            md.contains("| javumbo-fake | GET /api/health | 204 ×2 |"),
            "{md}"
        );
        assert!(md.contains("| **not met** |"), "{md}");
        let out = dir.path().join("run");
        report.write(&out).unwrap();
        // (Floats need not survive JSON bit for bit.)
        let back = ColdStartReport::read(&out).unwrap();
        assert_eq!(back.functions[0].outcomes, report.functions[0].outcomes);
        assert_eq!(back.functions[0].samples.len(), 2);
        assert!(
            std::fs::read_to_string(out.join("report.md")).unwrap() == md.replacen("##", "#", 1)
        );
    }

    #[tokio::test]
    async fn reports_init_errors_and_early_exits() {
        let dir = tempfile::tempdir().unwrap();
        let f = launch(fake_bootstrap(dir.path(), "init-error"))
            .measure(1, 0, "fake")
            .await;
        assert_eq!(f.samples.len(), 0);
        assert!(f.failures[0].contains("no config"), "{:?}", f.failures);
        let f = launch(fake_bootstrap(dir.path(), "exit"))
            .measure(1, 0, "fake")
            .await;
        assert!(
            f.failures[0].contains("exited during init"),
            "{:?}",
            f.failures
        );
        let report = ColdStartReport {
            functions: vec![f],
            ..ColdStartReport::default()
        };
        assert!(!report.passed());
        assert!(report.markdown("#").contains("**no sample**"));
    }

    #[test]
    fn unpacks_a_zipped_bootstrap() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("javumbo-auth").join("bootstrap.zip");
        std::fs::create_dir_all(zip_path.parent().unwrap()).unwrap();
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        w.start_file("bootstrap", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"#!/bin/sh\n").unwrap();
        w.finish().unwrap();
        let (name, path) = parse_target(zip_path.to_str().unwrap());
        let out = dir.path().join("out");
        let exe = executable(&name, &path, &out).unwrap();
        assert_eq!(exe, out.join("javumbo-auth/bootstrap"));
        assert_eq!(std::fs::read(&exe).unwrap(), b"#!/bin/sh\n");
    }
}
