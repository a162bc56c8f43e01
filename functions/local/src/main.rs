//! `javumbo-local`: the whole system on one machine. A gateway routes each request to a random
//! container — no stickiness, as API Gateway does — so the session protocol's catch-ups,
//! takeovers and flushes happen for real. Containers are threads (default) or child processes
//! of this same binary (`--isolate processes`), which a test may SIGKILL.

mod gateway;

use javumbo_runtime::{Isolate, Profile, Runtime, Settings};

#[derive(Debug, thiserror::Error)]
enum LocalError {
    #[error(transparent)]
    Runtime(#[from] javumbo_runtime::RuntimeError),
    #[error(transparent)]
    App(#[from] javumbo_app::AppError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Child(String),
    #[error("building the gateway's HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

fn main() -> std::process::ExitCode {
    let settings =
        Settings::from_args(Profile::Local, std::env::args_os()).unwrap_or_else(|e| e.exit());
    javumbo_runtime::init_tracing(Profile::Local, &settings);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(settings.local.blocking_threads())
        .build();
    let result = match tokio {
        Ok(tokio) => tokio.block_on(run(settings)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("javumbo-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), LocalError> {
    let rt = Runtime::new(settings, Profile::Local, "local").await?;
    let local = rt.settings().local.clone();
    if let Some(container_id) = &local.child {
        // Behind our own gateway, which forwards the client address.
        let config = javumbo_app::api_config(&rt, true).await?;
        let container = rt.container_with_id(container_id)?;
        return gateway::serve_child(local.addr, javumbo_app::state(&container, config)).await;
    }
    match local.isolate {
        Isolate::Threads => {
            let config = javumbo_app::api_config(&rt, false).await?;
            let states = (0..local.containers)
                .map(|_| Ok(javumbo_app::state(&rt.container()?, config.clone())))
                .collect::<Result<Vec<_>, LocalError>>()?;
            gateway::serve_threads(local.addr, states).await
        }
        Isolate::Processes => {
            let spec = gateway::ChildSpec {
                secret: rt.jwt_secret().await?,
                args: rt.settings().child_args(),
            };
            gateway::serve_processes(local.addr, local.containers as usize, spec).await
        }
    }
}
