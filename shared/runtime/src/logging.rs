//! Logs: JSON on stdout for CloudWatch on Lambda, plain text on stderr for `javumbo-local`
//! (whose stdout's first line is the listen address harnesses read).

use tracing_subscriber::EnvFilter;

use crate::settings::{Profile, Settings};

/// Installs the global subscriber once; a second call (tests) is a no-op.
pub fn init_tracing(profile: Profile, settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| {
        let fallback = Profile::command(profile)
            .get_arguments()
            .find(|a| a.get_id() == "log")
            .and_then(|a| a.get_default_values().first())
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        EnvFilter::new(fallback)
    });
    let _ = match profile {
        Profile::Lambda => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(false)
            .without_time() // CloudWatch stamps every line itself.
            .try_init(),
        Profile::Local => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init(),
    };
}
