//! The `anki-sync` request header: `{"v":11,"k":"<host key>","c":"<client version>","s":"<session>"}`.

use serde::{Deserialize, Serialize};

use crate::SyncError;

/// Header name (lowercase, as HTTP/2 and axum see it).
pub const SYNC_HEADER: &str = "anki-sync";
/// Oldest protocol Anki's server accepts (8: session keys).
pub const SYNC_VERSION_MIN: u8 = 8;
/// Newest (11: direct POST with zstd bodies).
pub const SYNC_VERSION_MAX: u8 = 11;
/// Bound on the header, so a hostile one costs nothing to refuse.
const MAX_HEADER_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncHeader {
    /// Protocol version.
    #[serde(rename = "v")]
    pub version: u8,
    /// Host key; empty on `hostKey`.
    #[serde(rename = "k", default)]
    pub host_key: String,
    /// Client version string, e.g. `26.09.3,29bb700b,linux`.
    #[serde(rename = "c", default)]
    pub client_version: String,
    /// Random key shared by the requests of one sync.
    #[serde(rename = "s", default)]
    pub session_key: String,
}

impl SyncHeader {
    /// Parse and check the header value. Like Anki's server, a version outside 8–11 is refused
    /// here with 400 ("unsupported sync version: N"), before the body is read.
    pub fn parse(value: &[u8]) -> Result<Self, SyncError> {
        if value.len() > MAX_HEADER_BYTES {
            return Err(SyncError::BadRequest("bad sync header".into()));
        }
        let h: Self = serde_json::from_slice(value)
            .map_err(|_| SyncError::BadRequest("bad sync header".into()))?;
        if !(SYNC_VERSION_MIN..=SYNC_VERSION_MAX).contains(&h.version) {
            return Err(SyncError::BadRequest(format!(
                "unsupported sync version: {}",
                h.version
            )));
        }
        Ok(h)
    }

    /// Versions before 11 send multipart + gzip bodies, which javumbo does not read.
    pub fn is_zstd(&self) -> bool {
        self.version >= 11
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_clients_header() {
        let h =
            SyncHeader::parse(br#"{"v":11,"k":"abc","c":"26.09.3,29bb700b,linux","s":"bTPKuG"}"#)
                .expect("valid");
        assert_eq!(h.version, 11);
        assert_eq!(h.host_key, "abc");
        assert_eq!(h.session_key, "bTPKuG");
        assert!(h.is_zstd());
    }

    #[test]
    fn refuses_versions_outside_8_to_11() {
        for v in [0, 7, 12, 255] {
            let raw = format!(r#"{{"v":{v},"k":"","c":"","s":""}}"#);
            let err = SyncHeader::parse(raw.as_bytes()).expect_err("refused");
            assert_eq!(err.status(), 400, "v={v}");
            assert_eq!(err.to_string(), format!("unsupported sync version: {v}"));
        }
        for v in 8..=11 {
            let raw = format!(r#"{{"v":{v},"k":"","c":"","s":""}}"#);
            assert!(SyncHeader::parse(raw.as_bytes()).is_ok(), "v={v}");
        }
    }

    #[test]
    fn garbage_is_a_bad_request() {
        for raw in [
            &b"not json"[..],
            b"{}",
            b"{\"v\":\"eleven\"}",
            &[b'x'; 5000],
        ] {
            assert_eq!(SyncHeader::parse(raw).expect_err("bad").status(), 400);
        }
    }
}
