//! Settings of the HTTP layer, built once per container (the composition root reads them).

use std::time::Duration;

/// Which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

impl CorsOrigins {
    /// `*` or a comma-separated list of origins.
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        if s == "*" {
            return Self::Any;
        }
        Self::List(
            s.split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        )
    }
}

/// Login throttling: at most `max_failures_*` failed logins per key within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    pub window: Duration,
    pub max_failures_per_user: usize,
    /// Higher than per user: many users can sit behind one NAT.
    pub max_failures_per_ip: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(300),
            max_failures_per_user: 5,
            max_failures_per_ip: 30,
        }
    }
}

#[derive(Clone)]
pub struct ApiConfig {
    /// HS256 key. Never logged (see the `Debug` impl).
    pub jwt_secret: Vec<u8>,
    pub token_ttl: Duration,
    pub cors_origins: CorsOrigins,
    pub max_body_bytes: usize,
    pub max_import_bytes: usize,
    pub throttle: ThrottleConfig,
    /// Trust `X-Forwarded-For` for the client address: only behind our own proxy (the
    /// `javumbo-local` gateway), never when clients can reach the server directly.
    pub trust_forwarded_for: bool,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("jwt_secret", &"<redacted>")
            .field("token_ttl", &self.token_ttl)
            .field("cors_origins", &self.cors_origins)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_import_bytes", &self.max_import_bytes)
            .field("throttle", &self.throttle)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .finish()
    }
}

/// Shortest secret accepted: HS256 keys below 256 bits are brute-forceable.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret,
}

impl ApiConfig {
    pub fn new(jwt_secret: Vec<u8>, cors_origins: CorsOrigins) -> Result<Self, ConfigError> {
        if jwt_secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::ShortSecret);
        }
        Ok(Self {
            jwt_secret,
            token_ttl: Duration::from_secs(3600),
            cors_origins,
            max_body_bytes: 1024 * 1024,
            max_import_bytes: 10 * 1024 * 1024,
            throttle: ThrottleConfig::default(),
            trust_forwarded_for: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_parse() {
        assert_eq!(CorsOrigins::parse(" * "), CorsOrigins::Any);
        assert_eq!(
            CorsOrigins::parse("https://a.example, https://b.example,"),
            CorsOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
    }

    #[test]
    fn short_secret_refused_and_debug_redacts() {
        assert_eq!(
            ApiConfig::new(b"short".to_vec(), CorsOrigins::Any).err(),
            Some(ConfigError::ShortSecret)
        );
        let c = ApiConfig::new(vec![b'k'; 32], CorsOrigins::Any).unwrap();
        assert!(!format!("{c:?}").contains("kkkk"));
    }
}
