//! javumbo's composition root: the only crate that knows every adapter.
//!
//! - [`settings`]: [`Settings`], every setting of the product, read by one parser from flags
//!   and the environment (the only place that reads the environment).
//! - [`Runtime`]: settings plus the selected backend (embedded stores, or S3/DynamoDB/SNS with
//!   clients built once), handing out [`Container`]s (a session manager on its own ports and
//!   metrics), the flush handler's [`FlushContext`] and the JWT secret.
//! - [`Reporter`]: what a container runs after each invocation (one EMF line on AWS).
//!
//! It knows nothing of HTTP: `javumbo-app` turns a [`Container`] into the API's state and
//! routers, and the flush handler links this crate without axum, argon2 or jsonwebtoken.
//!
//! A Lambda function is `setup → container → serve`: [`Runtime::lambda`] reads its settings,
//! [`Runtime::container`] builds its session manager once, and the function serves invocations
//! with it until the container is frozen for good.

/// Every javumbo process allocates through mimalloc: glibc's malloc kept what it freed in
/// per-thread arenas, so each blocking thread that ever ran an argon2 hash (19 MiB) or opened
/// a collection held tens of MB for good — `javumbo-local` reached 1 GB RSS after 100 users
/// and never gave it back. mimalloc returns freed pages to the OS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod aws;
pub mod embedded;
mod logging;
mod secret;
pub mod settings;

use std::path::PathBuf;
use std::sync::Arc;

use javumbo_collection::{SharedClock, SystemClock};
use javumbo_session::{Metrics, Ports, SessionConfig, SessionManager, UserStore};
use javumbo_storage_aws::AwsStoreError;
use javumbo_storage_aws::emf::EmfEmitter;

pub use embedded::FaultsUnavailable;
pub use logging::init_tracing;
pub use settings::{Isolate, Profile, Secret, Settings, SettingsError, Stores};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Open(#[from] embedded::OpenError),
    #[error("cannot read or create the JWT secret under {path}")]
    LocalSecret {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("AWS: {0}")]
    Aws(#[from] AwsStoreError),
}

enum Backend {
    Embedded,
    Aws(Box<aws::Aws>),
}

/// A process's settings and backend; builds the containers it serves with.
pub struct Runtime {
    settings: Settings,
    profile: Profile,
    /// Names the EMF lines (e.g. "review").
    function: String,
    clock: SharedClock,
    backend: Backend,
}

impl Runtime {
    /// A Lambda function's runtime: settings from its environment, logs initialised, and the
    /// backend they select (AWS clients are built here, once per container).
    pub async fn lambda(function: &str) -> Result<Self, RuntimeError> {
        let settings = Settings::from_env(Profile::Lambda)?;
        init_tracing(Profile::Lambda, &settings);
        Self::new(settings, Profile::Lambda, function).await
    }

    /// A Lambda function runs on AWS when its environment names the stores; `javumbo-local`
    /// on the embedded stores under `settings.data`, or on AWS with `--stores aws`.
    pub async fn new(
        settings: Settings,
        profile: Profile,
        function: &str,
    ) -> Result<Self, RuntimeError> {
        let aws = match profile {
            Profile::Lambda => settings.aws.selected(),
            Profile::Local => settings.local.stores == Stores::Aws,
        };
        let backend = if aws {
            Backend::Aws(Box::new(aws::Aws::connect(settings.aws.config()?).await))
        } else {
            Backend::Embedded
        };
        Ok(Self {
            settings,
            profile,
            function: function.to_owned(),
            clock: Arc::new(SystemClock),
            backend,
        })
    }

    /// Every container and flush context made after this reads "now" from `clock` (the
    /// system clock by default): how a referee drives the whole API at chosen instants.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A container with a fresh id (a uuid, as every Lambda container gets).
    pub fn container(&self) -> Result<Container, RuntimeError> {
        self.container_with_id(&uuid::Uuid::new_v4().to_string())
    }

    /// A container: its own metrics, port handles and session manager, caching collections
    /// under `<data>/containers/<id>`.
    pub fn container_with_id(&self, id: &str) -> Result<Container, RuntimeError> {
        let metrics = Arc::new(Metrics::default());
        let ports = self.ports(&metrics)?;
        let cache_dir = self.settings.data.join("containers").join(id);
        let cfg = self
            .settings
            .session
            .apply(SessionConfig::new(id, cache_dir));
        let users = ports.users.clone();
        let sessions = SessionManager::new(cfg, ports, self.clock.clone(), metrics.clone());
        Ok(Container {
            sessions,
            users,
            clock: self.clock.clone(),
            reporter: self.reporter(metrics),
        })
    }

    /// The flush handler's context: ports, metrics, and where snapshots are assembled.
    pub fn flush_context(&self) -> Result<FlushContext, RuntimeError> {
        let metrics = Arc::new(Metrics::default());
        Ok(FlushContext {
            ports: self.ports(&metrics)?,
            clock: self.clock.clone(),
            work_dir: embedded::flush_work_dir(&self.settings.data),
            reporter: self.reporter(metrics.clone()),
            metrics,
        })
    }

    /// The JWT signing key: the explicit setting when there is one (on Lambda only a non-empty
    /// one), else `javumbo-local`'s generated `<data>/jwt-secret`, else the Secrets Manager
    /// secret on AWS. A Lambda on the embedded stores has no fallback.
    pub async fn jwt_secret(&self) -> Result<Secret, RuntimeError> {
        // An empty JAVUMBO_JWT_SECRET on Lambda means "use the ARN"; locally it is a mistake
        // the API's minimum length refuses.
        let explicit = self.settings.jwt_secret.clone();
        if let Some(s) =
            explicit.filter(|s| self.profile == Profile::Local || !s.expose().is_empty())
        {
            return Ok(s);
        }
        match (self.profile, &self.backend) {
            // A long-running service on AWS shares the functions' key when it is named.
            (Profile::Local, Backend::Aws(aws)) if self.settings.aws.jwt_secret_arn().is_some() => {
                let arn = self.settings.aws.jwt_secret_arn().unwrap_or_default();
                Ok(Secret::new(aws.secret(&arn).await?))
            }
            (Profile::Local, _) => {
                let data = &self.settings.data;
                secret::load_or_create(data)
                    .map(Secret::new)
                    .map_err(|source| RuntimeError::LocalSecret {
                        path: data.clone(),
                        source,
                    })
            }
            (Profile::Lambda, Backend::Aws(aws)) => {
                let arn = self
                    .settings
                    .aws
                    .jwt_secret_arn()
                    .ok_or(SettingsError::Missing("JAVUMBO_JWT_SECRET_ARN"))?;
                Ok(Secret::new(aws.secret(&arn).await?))
            }
            (Profile::Lambda, Backend::Embedded) => {
                Err(SettingsError::Missing("JAVUMBO_JWT_SECRET").into())
            }
        }
    }

    /// The allowed browser origins, as configured: `*` by default locally; on Lambda an open
    /// policy must be asked for explicitly.
    pub fn cors_origins(&self) -> Result<&str, RuntimeError> {
        self.settings
            .cors_origins
            .as_deref()
            .ok_or_else(|| SettingsError::Missing("JAVUMBO_CORS_ORIGINS").into())
    }

    /// The selected backend's ports, for tools that write the stores directly
    /// (`javumbo-migrate`).
    pub fn store_ports(&self) -> Result<Ports, RuntimeError> {
        self.ports(&Arc::new(Metrics::default()))
    }

    /// Whether the AWS stores (not the embedded ones) are selected.
    pub fn is_aws(&self) -> bool {
        matches!(self.backend, Backend::Aws(_))
    }

    fn ports(&self, metrics: &Arc<Metrics>) -> Result<Ports, RuntimeError> {
        match &self.backend {
            Backend::Embedded => Ok(embedded::open_ports(
                &self.settings.data,
                metrics,
                &self.clock,
                &self.settings.faults,
            )?),
            Backend::Aws(aws) => {
                let ports = aws.ports(metrics.clone());
                if self.profile == Profile::Lambda || aws.has_flush_topic() {
                    return Ok(ports);
                }
                // javumbo-local on AWS without a topic: its own flush handler, in process.
                let data = &self.settings.data;
                embedded::with_local_bus(
                    ports,
                    embedded::flush_work_dir(data),
                    metrics,
                    &self.clock,
                    &self.settings.faults,
                )
                .map_err(|source| {
                    RuntimeError::Open(embedded::OpenError {
                        path: data.clone(),
                        source,
                    })
                })
            }
        }
    }

    fn reporter(&self, metrics: Arc<Metrics>) -> Reporter {
        // EMF lines are for CloudWatch Logs; javumbo-local serves its sums at /_local/metrics.
        let emf = match (&self.backend, self.profile) {
            (Backend::Aws(_), Profile::Lambda) => {
                Some(Arc::new(EmfEmitter::new(self.function.as_str())))
            }
            _ => None,
        };
        Reporter { emf, metrics }
    }
}

/// One container: what every request it serves shares (the session cache is what makes warm
/// requests cheap).
pub struct Container {
    pub sessions: Arc<SessionManager>,
    pub users: Arc<dyn UserStore>,
    pub clock: SharedClock,
    /// Run after each invocation.
    pub reporter: Reporter,
}

/// The flush handler's container: ports and metrics, and where it assembles snapshots.
pub struct FlushContext {
    pub ports: Ports,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub work_dir: PathBuf,
    /// Run after each invocation.
    pub reporter: Reporter,
}

/// Reports a container's counters after an invocation: one CloudWatch EMF line with the
/// increments since the previous one on AWS, nothing on the embedded stores (where
/// `javumbo-local` serves the sums at `/_local/metrics`). Cheap to clone.
#[derive(Clone)]
pub struct Reporter {
    emf: Option<Arc<EmfEmitter>>,
    metrics: Arc<Metrics>,
}

impl Reporter {
    pub fn report(&self) {
        if let Some(emf) = &self.emf {
            emf.emit(&self.metrics);
        }
    }
}
