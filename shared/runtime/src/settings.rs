//! Every setting of the product in one struct, read once at start-up by one parser (clap):
//! each field names its flag and its environment variable. The Lambda functions parse their
//! environment with no argv ([`Settings::from_env`]); `javumbo-local` parses its argv as well
//! ([`Settings::from_args`]). This is the only module that reads the process environment
//! (through clap's `env`); the README's configuration table is rendered from it
//! ([`markdown_table`]) and checked by a test.

mod table;

use std::convert::Infallible;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, ValueEnum};
use javumbo_session::SessionConfig;
use javumbo_storage_aws::AwsConfig;

pub use table::markdown_table;

/// Which binary is reading the settings; only some defaults differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `javumbo-local`: everything on one machine, embedded stores under `./data`, open CORS.
    Local,
    /// A Lambda function: the AWS backend when the environment names it, else the embedded
    /// stores under `/tmp/javumbo` (Lambda's only writable directory); CORS must be explicit.
    Lambda,
}

/// Lambda's only writable directory; the container's collection cache lives under it.
pub const LAMBDA_DATA_DIR: &str = "/tmp/javumbo";
const LOCAL_LOG: &str = "warn,javumbo=info";
const LAMBDA_LOG: &str = "info";

impl Profile {
    /// The one parser, with this profile's defaults.
    pub fn command(self) -> clap::Command {
        let cmd = Settings::command();
        match self {
            Self::Local => cmd.mut_arg("cors_origins", |a| a.default_value("*")),
            Self::Lambda => cmd
                .name("javumbo-lambda")
                .mut_arg("data", |a| a.default_value(LAMBDA_DATA_DIR))
                .mut_arg("log", |a| a.default_value(LAMBDA_LOG)),
        }
    }
}

/// Every setting of the product. Field docs are the `--help` texts and the README's table.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "javumbo-local",
    version,
    about = "javumbo on one machine: gateway + containers + embedded stores"
)]
pub struct Settings {
    /// Data directory: blobs, the SQLite store, container caches, the generated JWT secret.
    #[arg(
        long,
        env = "JAVUMBO_DATA",
        value_name = "DIR",
        default_value = "./data"
    )]
    pub data: PathBuf,
    /// HS256 signing secret; when absent javumbo-local generates one into the data directory
    /// (`jwt-secret`), a Lambda reads JAVUMBO_JWT_SECRET_ARN instead.
    #[arg(
        long,
        env = "JAVUMBO_JWT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Option<Secret>,
    /// Comma-separated browser origins allowed to call the API, or `*`; required on Lambda.
    #[arg(long, env = "JAVUMBO_CORS_ORIGINS", value_name = "ORIGINS")]
    pub cors_origins: Option<String>,
    /// Log filter (tracing's `EnvFilter` syntax); an unparsable filter falls back to the default.
    #[arg(long = "log", env = "RUST_LOG", value_name = "FILTER", default_value = LOCAL_LOG)]
    pub log: String,
    #[command(flatten)]
    pub local: LocalSettings,
    #[command(flatten)]
    pub session: SessionSettings,
    #[command(flatten)]
    pub aws: AwsSettings,
    #[command(flatten)]
    pub faults: FaultSettings,
    /// The values given on the command line (`--flag`, raw text), to hand on to container
    /// processes, which inherit the environment but not the argv. Never the JWT secret.
    #[arg(skip)]
    command_line: Vec<(String, OsString)>,
}

/// How `javumbo-local` serves (ignored by the Lambda functions).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "javumbo-local")]
pub struct LocalSettings {
    /// Address to listen on (port 0 picks a free one; the first stdout line says which).
    #[arg(long, env = "JAVUMBO_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Number of containers; each request goes to a random one (no stickiness, as API Gateway).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u16).range(1..=64)
    )]
    pub containers: u16,
    /// `processes`: each container is a child process, restarted cold if it dies.
    #[arg(long, value_enum, default_value_t = Isolate::Threads)]
    pub isolate: Isolate,
    /// Internal: run as one container process under a gateway, with this container id.
    #[arg(long, hide = true)]
    pub child: Option<String>,
    /// Threads a process runs collection work on at once (SQLite, snapshot I/O, hashing); more
    /// work queues. Each thread keeps its own allocator pages, so this bounds memory (100
    /// concurrent users once grew 160 threads and 1 GB); 0: four per core.
    #[arg(
        long,
        env = "JAVUMBO_BLOCKING_THREADS",
        value_name = "N",
        default_value_t = 0,
        value_parser = clap::value_parser!(u16).range(0..=512)
    )]
    pub blocking_threads: u16,
    /// `aws`: the same gateway and containers on S3/DynamoDB/SNS (named by the AWS settings
    /// below, any endpoint), as a long-running service; flushes go to the SNS topic when one is
    /// named (the flush-handler function), else run in this process.
    #[arg(long, env = "JAVUMBO_STORES", value_enum, default_value_t = Stores::Embedded)]
    pub stores: Stores,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Isolate {
    Threads,
    Processes,
}

impl LocalSettings {
    /// `--blocking-threads`, with 0 resolved to four per core.
    pub fn blocking_threads(&self) -> usize {
        match self.blocking_threads {
            0 => 4 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n.into(),
        }
    }
}

/// Where `javumbo-local` keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stores {
    /// The embedded stores under --data.
    Embedded,
    /// S3, DynamoDB and SNS (the Lambda functions' stores).
    Aws,
}

/// The session manager's operator settings (the same on Lambda and locally); defaults are
/// [`SessionConfig::new`]'s.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Sessions")]
pub struct SessionSettings {
    /// Journal entries past the snapshot before a flush (compaction) is requested.
    #[arg(
        long,
        env = "JAVUMBO_COMPACT_AFTER",
        value_name = "N",
        default_value_t = session_defaults().compact_after,
        value_parser = positive::<u64>
    )]
    pub compact_after: u64,
    /// How long a request waits for a requested flush before taking the session over.
    #[arg(
        long,
        env = "JAVUMBO_TAKEOVER_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = millis(session_defaults().takeover_timeout),
        value_parser = positive::<u64>
    )]
    pub takeover_timeout_ms: u64,
    /// Open collections a container keeps cached.
    #[arg(
        long,
        env = "JAVUMBO_CACHE_MAX_ENTRIES",
        value_name = "N",
        default_value_t = session_defaults().cache_max_entries,
        value_parser = positive::<usize>
    )]
    pub cache_max_entries: usize,
    /// Bytes of open collections a container keeps cached.
    #[arg(
        long,
        env = "JAVUMBO_CACHE_MAX_BYTES",
        value_name = "BYTES",
        default_value_t = session_defaults().cache_max_bytes,
        value_parser = positive::<u64>
    )]
    pub cache_max_bytes: u64,
}

fn session_defaults() -> SessionConfig {
    SessionConfig::new(String::new(), PathBuf::new())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SessionSettings {
    /// `cfg` with these settings applied.
    pub fn apply(&self, mut cfg: SessionConfig) -> SessionConfig {
        cfg.compact_after = self.compact_after;
        cfg.takeover_timeout = Duration::from_millis(self.takeover_timeout_ms);
        cfg.cache_max_entries = self.cache_max_entries;
        cfg.cache_max_bytes = self.cache_max_bytes;
        cfg
    }
}

/// Where the AWS adapters keep their state and how hard they try: the environment the CDK
/// stack gives every function. An empty value counts as unset. Region and credentials come
/// from the SDK's standard chain (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "AWS backend (Lambda functions)")]
pub struct AwsSettings {
    /// `aws` for S3/DynamoDB/SNS, anything else for the embedded stores under --data; unset:
    /// AWS when the bucket and the sessions table are named.
    #[arg(long, env = "JAVUMBO_BACKEND", value_name = "NAME")]
    pub backend: Option<String>,
    /// S3 bucket of snapshots and spilled journal entries.
    #[arg(long, env = "JAVUMBO_BUCKET", value_name = "NAME")]
    pub bucket: Option<String>,
    /// DynamoDB table of users.
    #[arg(long, env = "JAVUMBO_USERS_TABLE", value_name = "NAME")]
    pub users_table: Option<String>,
    /// DynamoDB table of sessions.
    #[arg(long, env = "JAVUMBO_SESSIONS_TABLE", value_name = "NAME")]
    pub sessions_table: Option<String>,
    /// DynamoDB table of the journal.
    #[arg(long, env = "JAVUMBO_JOURNAL_TABLE", value_name = "NAME")]
    pub journal_table: Option<String>,
    /// SNS topic flush requests are published to (a function that never publishes may omit it).
    #[arg(long, env = "JAVUMBO_FLUSH_TOPIC_ARN", value_name = "ARN")]
    pub flush_topic_arn: Option<String>,
    /// Secrets Manager secret holding the JWT signing key, read once per container when
    /// JAVUMBO_JWT_SECRET is unset.
    #[arg(long, env = "JAVUMBO_JWT_SECRET_ARN", value_name = "ARN")]
    pub jwt_secret_arn: Option<String>,
    /// Endpoint of every AWS service (an emulator); unset: the SDK's regional endpoints.
    #[arg(
        long = "aws-endpoint-url",
        env = "AWS_ENDPOINT_URL",
        value_name = "URL"
    )]
    pub endpoint_url: Option<String>,
    /// Path-style S3 URLs (`1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`): emulators need them.
    #[arg(
        long,
        env = "JAVUMBO_S3_FORCE_PATH_STYLE",
        value_name = "BOOL",
        default_value = "false",
        action = clap::ArgAction::Set,
        value_parser = boolean
    )]
    pub s3_force_path_style: bool,
    /// Bound on one store call including its retries.
    #[arg(
        long,
        env = "JAVUMBO_STORE_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = millis(javumbo_storage_aws::DEFAULT_OPERATION_TIMEOUT),
        value_parser = store_timeout_ms
    )]
    pub store_timeout_ms: u64,
    /// Attempts per store call including the first (jittered backoff).
    #[arg(
        long,
        env = "JAVUMBO_STORE_MAX_ATTEMPTS",
        value_name = "N",
        default_value_t = javumbo_storage_aws::DEFAULT_MAX_ATTEMPTS,
        value_parser = store_max_attempts
    )]
    pub store_max_attempts: u32,
    /// Answer through Lambda response streaming (the `sync` function's URL, InvokeMode
    /// RESPONSE_STREAM): a full-sync download may then be up to 20 MB compressed instead of the
    /// ~4.4 MB a buffered answer through API Gateway carries (`1`/`true` or `0`/`false`).
    #[arg(
        long,
        env = "JAVUMBO_RESPONSE_STREAMING",
        value_name = "BOOL",
        default_value = "false",
        action = clap::ArgAction::Set,
        value_parser = boolean
    )]
    pub response_streaming: bool,
    /// The streaming sync address (the `sync` function's URL), named to a client whose full
    /// download is too large for the buffered address it synced through.
    #[arg(long, env = "JAVUMBO_SYNC_STREAM_URL", value_name = "URL")]
    pub sync_stream_url: Option<String>,
    /// Largest full-sync download (compressed bytes) a Lambda sends; unset: what its answer
    /// can carry (~4.4 MB buffered, 20 MB streamed). Lower it to test, raise it where your
    /// account's streamed-response limit is higher.
    #[arg(long, env = "JAVUMBO_SYNC_MAX_DOWNLOAD_BYTES", value_name = "BYTES")]
    pub sync_max_download_bytes: Option<usize>,
}

impl AwsSettings {
    /// Whether these settings select the AWS backend (only Lambda functions ever use it).
    pub fn selected(&self) -> bool {
        match self.backend.as_deref().map(str::trim) {
            Some("aws") => true,
            Some(b) if !b.is_empty() => false,
            _ => self.bucket.is_some() && self.sessions_table.is_some(),
        }
    }

    /// The adapters' configuration; a missing bucket or table name is an error naming it.
    pub fn config(&self) -> Result<AwsConfig, SettingsError> {
        let required = |v: &Option<String>, name: &'static str| {
            non_empty(v).ok_or(SettingsError::Missing(name))
        };
        let mut cfg = AwsConfig::new(
            required(&self.bucket, "JAVUMBO_BUCKET")?,
            required(&self.users_table, "JAVUMBO_USERS_TABLE")?,
            required(&self.sessions_table, "JAVUMBO_SESSIONS_TABLE")?,
            required(&self.journal_table, "JAVUMBO_JOURNAL_TABLE")?,
        );
        cfg.flush_topic_arn = non_empty(&self.flush_topic_arn);
        cfg.endpoint_url = non_empty(&self.endpoint_url);
        cfg.force_path_style = self.s3_force_path_style;
        cfg.operation_timeout = Duration::from_millis(self.store_timeout_ms.max(1));
        cfg.attempt_timeout = cfg.attempt_timeout.min(cfg.operation_timeout);
        cfg.max_attempts = self.store_max_attempts;
        Ok(cfg)
    }

    /// The JWT secret's ARN, if named.
    pub fn jwt_secret_arn(&self) -> Option<String> {
        non_empty(&self.jwt_secret_arn)
    }

    /// The streaming sync address, if named.
    pub fn sync_stream_url(&self) -> Option<String> {
        non_empty(&self.sync_stream_url)
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Fault switches for the load harness (`javumbo-local` only; all zero = transparent).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Fault injection (javumbo-local)")]
pub struct FaultSettings {
    /// Probability that a flush request is lost on the bus.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_bus_drop: f64,
    /// Probability that a flush request is delivered twice.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_bus_dup: f64,
    /// Deliveries wait a random 0..N ms (and so arrive out of order).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub fault_bus_delay_ms: u64,
    /// Probability that a store call fails before it happens.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_store_fail: f64,
    /// Probability that a store call happens but reports failure (the ambiguous outcome).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_store_ambiguous: f64,
    /// Seed of the fault draws.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    pub fault_seed: u64,
}

/// A secret setting: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0.into_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl FromStr for Secret {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(Self(s.to_owned()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value that does not parse (or `--help`/`--version`, which clap reports as errors).
    #[error("{message}")]
    Invalid {
        message: String,
        #[source]
        source: clap::Error,
    },
    /// A setting the selected backend cannot do without.
    #[error("{0} is not set")]
    Missing(&'static str),
}

impl SettingsError {
    /// For a binary's `main`: print `--help`/`--version` (exit 0) or the error (exit 2).
    pub fn exit(&self) -> ! {
        if let Self::Invalid { source, .. } = self
            && !source.use_stderr()
        {
            source.exit();
        }
        eprintln!("error: {self}");
        std::process::exit(2)
    }
}

/// The flags whose value a container process sets itself (or that only a gateway has).
const NOT_FOR_CHILDREN: [&str; 5] = ["addr", "containers", "isolate", "child", "jwt_secret"];

impl Settings {
    /// A Lambda function's settings: its environment, no argv (Lambda passes none).
    pub fn from_env(profile: Profile) -> Result<Self, SettingsError> {
        Self::from_args(profile, ["javumbo"])
    }

    /// Flags (`args`, program name first) over environment over `profile`'s defaults.
    pub fn from_args<I, T>(profile: Profile, args: I) -> Result<Self, SettingsError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut cmd = profile.command();
        let matches = cmd
            .try_get_matches_from_mut(args)
            .map_err(|e| explain(&cmd, e))?;
        let mut settings = Self::from_arg_matches(&matches).map_err(|e| explain(&cmd, e))?;
        settings.command_line = cmd
            .get_arguments()
            .filter_map(|arg| {
                let id = arg.get_id().as_str();
                let given = matches.value_source(id) == Some(ValueSource::CommandLine)
                    && !NOT_FOR_CHILDREN.contains(&id);
                let long = arg.get_long().filter(|_| given)?;
                let raw = matches.get_raw(id)?;
                Some(raw.map(move |v| (long.to_owned(), v.to_owned())))
            })
            .flatten()
            .collect();
        Ok(settings)
    }

    /// The flags a `javumbo-local` container process needs to parse the same settings as its
    /// gateway: what was given on the command line, minus what the child sets itself. The JWT
    /// secret is not among them (`ps` shows argv to every local user): pass it in the
    /// environment.
    pub fn child_args(&self) -> Vec<OsString> {
        self.command_line
            .iter()
            .map(|(long, value)| {
                let mut arg = OsString::from(format!("--{long}="));
                arg.push(value);
                arg
            })
            .collect()
    }
}

/// A clap error as one line naming the setting by its environment variable and its flag, so a
/// Lambda's init error says which variable to fix.
fn explain(cmd: &clap::Command, err: clap::Error) -> SettingsError {
    let message = describe(cmd, &err).unwrap_or_else(|| {
        let text = err.render().to_string();
        text.trim().trim_start_matches("error: ").to_owned()
    });
    SettingsError::Invalid {
        message,
        source: err,
    }
}

fn describe(cmd: &clap::Command, err: &clap::Error) -> Option<String> {
    if !matches!(
        err.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return None;
    }
    let text = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let shown = text(ContextKind::InvalidArg)?;
    let value = text(ContextKind::InvalidValue)?;
    // `--compact-after <N>` → the argument whose long flag that is.
    let long = shown.split_whitespace().next()?.strip_prefix("--")?;
    let arg = cmd.get_arguments().find(|a| a.get_long() == Some(long))?;
    let reason = match std::error::Error::source(err) {
        Some(e) => e.to_string(),
        None => {
            let valid: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_owned())
                .collect();
            format!("expected one of {}", valid.join(", "))
        }
    };
    Some(match arg.get_env() {
        Some(env) => format!(
            "{}={value:?} (or --{long}): {reason}",
            env.to_string_lossy()
        ),
        None => format!("--{long}={value:?}: {reason}"),
    })
}

fn positive<T: FromStr + PartialEq + Default>(s: &str) -> Result<T, String> {
    s.trim()
        .parse::<T>()
        .ok()
        .filter(|n| *n != T::default())
        .ok_or_else(|| "not a positive integer".to_owned())
}

fn boolean(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        // Empty counts as unset, like every AWS setting.
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        _ => Err("not a boolean".to_owned()),
    }
}

fn store_timeout_ms(s: &str) -> Result<u64, String> {
    match s.trim() {
        "" => Ok(millis(javumbo_storage_aws::DEFAULT_OPERATION_TIMEOUT)),
        t => t.parse().map_err(|_| "not a number".to_owned()),
    }
}

fn store_max_attempts(s: &str) -> Result<u32, String> {
    match s.trim() {
        "" => Ok(javumbo_storage_aws::DEFAULT_MAX_ATTEMPTS),
        t => t
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| "not >= 1".to_owned()),
    }
}

#[cfg(test)]
mod tests;
