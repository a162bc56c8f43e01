//! The package decoders on arbitrary input: an error or a value, never a panic, never more
//! output than the limits allow.

use javumbo_modern::package::{
    decode_collection, decode_media_entries, decode_media_file, decode_meta, zstd_compress,
};
use javumbo_modern::{Limits, ModernError};
use proptest::prelude::*;

fn small_limits() -> Limits {
    Limits {
        max_collection_bytes: 1 << 16,
        max_media_list_bytes: 1 << 16,
        max_media_file_bytes: 1 << 16,
        max_media_entries: 100,
        // What Anki's streaming encoder (level 3) declares.
        zstd_window_log_max: 21,
        ..Limits::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn raw_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let limits = small_limits();
        let _ = decode_meta(&bytes);
        let _ = decode_media_entries(bytes.as_slice(), &limits);
        let mut out = Vec::new();
        let _ = decode_collection(bytes.as_slice(), &mut out, &limits);
        prop_assert!(out.len() as u64 <= limits.max_collection_bytes);
        let mut out = Vec::new();
        let _ = decode_media_file(bytes.as_slice(), &mut out, &limits);
        prop_assert!(out.len() as u64 <= limits.max_media_file_bytes);
    }

    /// Valid zstd around arbitrary content: the protobuf and SQLite checks still hold.
    #[test]
    fn compressed_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let limits = small_limits();
        let mut z = Vec::new();
        zstd_compress(&mut bytes.as_slice(), &mut z).expect("compresses");
        if let Ok(entries) = decode_media_entries(z.as_slice(), &limits) {
            prop_assert!(entries.len() <= limits.max_media_entries);
        }
        let mut out = Vec::new();
        prop_assert!(decode_collection(z.as_slice(), &mut out, &limits).is_err());
        let mut out = Vec::new();
        prop_assert_eq!(decode_media_file(z.as_slice(), &mut out, &limits).ok(), Some(bytes.len() as u64));
        prop_assert_eq!(out, bytes);
    }
}

#[test]
fn a_window_beyond_the_limit_is_refused() {
    // Compressed with a 2^24-byte window (long-distance matching), as a hostile encoder could:
    // decoding it needs that much memory, more than the limit allows.
    let data: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 251) as u8).collect();
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("encoder");
    enc.long_distance_matching(true).expect("ldm");
    enc.window_log(24).expect("window");
    std::io::Write::write_all(&mut enc, &data).expect("write");
    let z = enc.finish().expect("finish");
    let limits = Limits {
        zstd_window_log_max: 21,
        ..Limits::default()
    };
    let mut out = Vec::new();
    let err = decode_media_file(z.as_slice(), &mut out, &limits).expect_err("refused");
    assert!(matches!(err, ModernError::Invalid(_)), "{err}");
    let mut out = Vec::new();
    decode_media_file(z.as_slice(), &mut out, &Limits::default()).expect("default window");
    assert_eq!(out, data);
}
