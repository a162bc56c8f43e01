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
    /// Trust `X-Forwarded-For` for the client address when the request also carries
    /// [`GATEWAY_PROOF_HEADER`] with [`ApiConfig::gateway_proof`]: only behind our own proxy
    /// (the `javumbo-local` gateway). A client connecting to a container process directly
    /// cannot produce the proof, so it cannot choose its throttling address.
    pub trust_forwarded_for: bool,
    /// Size limits of the sync protocol's bodies.
    pub sync: SyncLimits,
    /// How many password hashes run at once, and how many wait.
    pub hashing: HashingLimits,
    /// Large exports and imports through the blob store (`crate::routes::transfers`).
    pub transfers: crate::routes::transfers::TransferLimits,
    /// Requests one container serves at once (`crate::in_flight`).
    pub in_flight: crate::in_flight::InFlightLimits,
}

/// Password hashing is the one request cost an unauthenticated client can trigger at will:
/// argon2id (OWASP's parameters, the crate's defaults: m = 19 MiB, t = 2, p = 1) holds ~19 MiB
/// per hash, so the number running at once is bounded (one per core: more only queue for the
/// CPU while holding memory), a bounded number wait, and the rest are answered 503 with
/// Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    pub concurrent: usize,
    /// Requests waiting for a slot beyond the running ones.
    pub max_waiting: usize,
    /// Longest wait for a slot before answering 503.
    pub max_wait: Duration,
}

impl Default for HashingLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            concurrent: cores,
            max_waiting: 64 * cores,
            max_wait: Duration::from_secs(10),
        }
    }
}

/// Size limits of `/sync/*` bodies. The defaults are Anki's own server's (100 MiB compressed,
/// 300 MiB decompressed) with no limit on answers; a Lambda sets [`SyncLimits::lambda`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncLimits {
    /// Compressed request body.
    pub max_request_bytes: usize,
    /// Decompressed request body.
    pub max_decompressed_bytes: u64,
    /// Compressed answer (a full download).
    pub max_response_bytes: usize,
    /// Where a full download over `max_response_bytes` can be served instead (the streaming
    /// sync address); the refusal names it so the student knows what to change.
    pub larger_downloads_at: Option<String>,
}

impl Default for SyncLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 100 << 20,
            max_decompressed_bytes: javumbo_sync::DEFAULT_MAX_BODY_BYTES,
            max_response_bytes: usize::MAX,
            larger_downloads_at: None,
        }
    }
}

impl SyncLimits {
    /// Behind API Gateway a Lambda's binary bodies travel base64-encoded inside its 6 MB
    /// synchronous payload: about 4.4 MB of zstd each way. A larger answer would fail as a
    /// gateway error, so it is refused with a message instead.
    pub const LAMBDA_MAX_BODY_BYTES: usize = 4_400_000;

    pub fn lambda() -> Self {
        Self {
            max_request_bytes: Self::LAMBDA_MAX_BODY_BYTES,
            max_response_bytes: Self::LAMBDA_MAX_BODY_BYTES,
            ..Self::default()
        }
    }

    /// A streamed answer (function URL, InvokeMode RESPONSE_STREAM) is not bound by the 6 MB
    /// payload: AWS documents 20 MB as the default maximum of a streamed response (the first
    /// 6 MB at full speed, the rest at up to 2 MB/s). The request still is: ~4.4 MB.
    pub const LAMBDA_STREAM_MAX_RESPONSE_BYTES: usize = 20_000_000;

    pub fn lambda_streaming() -> Self {
        Self {
            max_response_bytes: Self::LAMBDA_STREAM_MAX_RESPONSE_BYTES,
            ..Self::lambda()
        }
    }
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
            .field("sync", &self.sync)
            .field("hashing", &self.hashing)
            .field("transfers", &self.transfers)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

/// The header by which `javumbo-local`'s gateway proves that a request it forwards to a
/// container process is its own (and so is its `X-Forwarded-For`).
pub const GATEWAY_PROOF_HEADER: &str = "x-javumbo-gateway";

/// The proof the gateway sends: derived from the JWT key, which the gateway and its container
/// processes share and clients never see (no second secret to hand over).
pub fn gateway_proof(jwt_secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"javumbo-local gateway\0");
    h.update(jwt_secret);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Shortest secret accepted: HS256 keys below 256 bits are brute-forceable.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret,
}

impl ApiConfig {
    /// What [`GATEWAY_PROOF_HEADER`] must carry for `X-Forwarded-For` to be trusted.
    pub fn gateway_proof(&self) -> String {
        gateway_proof(&self.jwt_secret)
    }

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
            sync: SyncLimits::default(),
            hashing: HashingLimits::default(),
            transfers: Default::default(),
            in_flight: Default::default(),
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
