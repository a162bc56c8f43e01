//! Bodies: every request is one zstd stream; every response is zstd too, and carries its
//! decompressed length in `anki-original-size` (the client fails without it).

use std::io::Read;

use crate::SyncError;

/// Response header with the decompressed length of the body.
pub const ORIGINAL_SIZE_HEADER: &str = "anki-original-size";
/// Anki's default limit on a decompressed request (its `MAX_SYNC_PAYLOAD_MEGS` of 100 MiB × 3).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 300 << 20;
const ZSTD_LEVEL: i32 = 3;

/// Decompress a request body, refusing more than `limit` decompressed bytes (a zstd bomb costs
/// at most `limit` of memory and the time to produce it).
pub fn decode_body(body: &[u8], limit: u64) -> Result<Vec<u8>, SyncError> {
    let decoder = zstd::stream::read::Decoder::new(body)
        .map_err(|e| SyncError::BadRequest(format!("decoding zstd body: {e}")))?;
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    decoder
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| SyncError::BadRequest(format!("decoding zstd body: {e}")))?;
    if out.len() as u64 > limit {
        return Err(SyncError::TooLarge(format!(
            "request body is larger than {} MiB once decompressed",
            limit >> 20
        )));
    }
    Ok(out)
}

/// Compress a response body; the caller sends `plain.len()` as [`ORIGINAL_SIZE_HEADER`].
pub fn encode_body(plain: &[u8]) -> Result<Vec<u8>, SyncError> {
    zstd::bulk::compress(plain, ZSTD_LEVEL).map_err(|e| SyncError::Internal(format!("zstd: {e}")))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let z = encode_body(&data).unwrap();
            prop_assert_eq!(decode_body(&z, 4096).unwrap(), data);
        }
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        let z = encode_body(&vec![0u8; 1 << 20]).unwrap();
        assert!(z.len() < 1024);
        let err = decode_body(&z, (1 << 20) - 1).expect_err("over");
        assert!(matches!(err, SyncError::TooLarge(_)), "{err:?}");
        assert_eq!(decode_body(&z, 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn garbage_is_a_bad_request() {
        let err = decode_body(b"definitely not zstd", 1024).expect_err("bad");
        assert_eq!(err.status(), 400);
    }
}
