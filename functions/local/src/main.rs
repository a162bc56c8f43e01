//! `javumbo-local`: the whole system on one machine (DESIGN §8). A gateway routes each request
//! to a random container — no stickiness, as API Gateway does — so the session protocol's
//! takeovers and flushes happen for real. Containers are threads (default) or child processes
//! of this same binary (`--isolate processes`), which a test may SIGKILL.

mod gateway;
mod secret;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use javumbo_api::embedded::{self, Faults};
use javumbo_api::{ApiConfig, CorsOrigins};
use javumbo_collection::{SharedClock, SystemClock};
use javumbo_storage_local::{BusFaults, StoreFaults};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Isolate {
    Threads,
    Processes,
}

#[derive(Debug, Parser)]
#[command(
    name = "javumbo-local",
    version,
    about = "javumbo on one machine: gateway + containers + embedded stores"
)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the first stdout line says which).
    #[arg(long, env = "JAVUMBO_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Data directory: blobs, the SQLite store, container caches, the generated JWT secret.
    #[arg(long, env = "JAVUMBO_DATA", default_value = "./data")]
    data: PathBuf,
    /// Number of containers; each request goes to a random one.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    containers: u16,
    #[arg(long, value_enum, default_value_t = Isolate::Threads)]
    isolate: Isolate,
    /// HS256 secret; generated and kept in <data>/jwt-secret when absent.
    #[arg(long, env = "JAVUMBO_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Probability that a flush request is lost on the bus.
    #[arg(long, default_value_t = 0.0)]
    fault_bus_drop: f64,
    /// Probability that a flush request is delivered twice.
    #[arg(long, default_value_t = 0.0)]
    fault_bus_dup: f64,
    /// Deliveries wait a random 0..N ms (and so arrive out of order).
    #[arg(long, default_value_t = 0)]
    fault_bus_delay_ms: u64,
    /// Probability that a store call fails before it happens.
    #[arg(long, default_value_t = 0.0)]
    fault_store_fail: f64,
    /// Probability that a store call happens but reports failure (the ambiguous outcome).
    #[arg(long, default_value_t = 0.0)]
    fault_store_ambiguous: f64,
    /// Seed of the fault draws.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Internal: run as one container process under a gateway, with this container id.
    #[arg(long, hide = true)]
    child: Option<String>,
}

impl Args {
    fn faults(&self) -> Faults {
        Faults {
            bus: BusFaults {
                drop_rate: self.fault_bus_drop,
                duplicate_rate: self.fault_bus_dup,
                delay: Duration::from_millis(self.fault_bus_delay_ms),
                seed: self.fault_seed,
            },
            store: StoreFaults {
                fail_rate: self.fault_store_fail,
                ambiguous_rate: self.fault_store_ambiguous,
                seed: self.fault_seed,
                ..StoreFaults::default()
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum LocalError {
    #[error(transparent)]
    Embedded(#[from] embedded::EmbeddedError),
    #[error(transparent)]
    Config(#[from] javumbo_api::ConfigError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Child(String),
}

fn config(secret: &str, trust_forwarded_for: bool) -> Result<ApiConfig, LocalError> {
    let cors =
        std::env::var("JAVUMBO_CORS_ORIGINS").map_or(CorsOrigins::Any, |v| CorsOrigins::parse(&v));
    let mut cfg = ApiConfig::new(secret.as_bytes().to_vec(), cors)?;
    cfg.trust_forwarded_for = trust_forwarded_for;
    Ok(cfg)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,javumbo=info"));
    // Logs go to stderr: stdout's first line is the listen address harnesses read.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("javumbo-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), LocalError> {
    let secret = match &args.jwt_secret {
        Some(s) => s.clone(),
        None => secret::load_or_create(&args.data)?,
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let faults = args.faults();
    if let Some(container_id) = &args.child {
        let state = embedded::container_state(
            &args.data,
            container_id,
            clock,
            config(&secret, true)?,
            &faults,
        )?;
        return gateway::serve_child(args.addr, state).await;
    }
    match args.isolate {
        Isolate::Threads => {
            let states = (0..args.containers)
                .map(|_| {
                    let id = uuid::Uuid::new_v4().to_string();
                    embedded::container_state(
                        &args.data,
                        &id,
                        clock.clone(),
                        config(&secret, false)?,
                        &faults,
                    )
                    .map_err(LocalError::from)
                })
                .collect::<Result<Vec<_>, _>>()?;
            gateway::serve_threads(args.addr, states).await
        }
        Isolate::Processes => {
            let spec = gateway::ChildSpec {
                data: args.data.clone(),
                secret,
                extra_args: fault_args(&args),
            };
            gateway::serve_processes(args.addr, args.containers as usize, spec).await
        }
    }
}

/// The fault flags, passed on to child processes.
fn fault_args(a: &Args) -> Vec<String> {
    vec![
        format!("--fault-bus-drop={}", a.fault_bus_drop),
        format!("--fault-bus-dup={}", a.fault_bus_dup),
        format!("--fault-bus-delay-ms={}", a.fault_bus_delay_ms),
        format!("--fault-store-fail={}", a.fault_store_fail),
        format!("--fault-store-ambiguous={}", a.fault_store_ambiguous),
        format!("--fault-seed={}", a.fault_seed),
    ]
}
