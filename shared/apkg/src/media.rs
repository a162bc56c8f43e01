//! Media file names as Anki accepts them (facts from rslib `media/files.rs`): NFC, none of
//! `[]<>:"/?*^\|` or control characters, non-breaking spaces as spaces, Windows device names
//! (`CON`, `COM1`, …) suffixed with `_`, no trailing space or dot, at most 120 bytes (the stem
//! truncated, the extension kept up to 10 bytes). Also the limits on media a package may bring,
//! and the name Anki gives an imported file whose name the user has with other content.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Longest media file name in bytes (Anki's `MAX_MEDIA_FILENAME_LENGTH`).
pub const MAX_MEDIA_NAME_BYTES: usize = 120;
/// Largest single media file (Anki's `MAX_INDIVIDUAL_MEDIA_FILE_SIZE`, 100 MiB).
pub const MAX_MEDIA_FILE_BYTES: u64 = 100 * 1024 * 1024;

/// A media file a package brings: its name normalised by Anki's rules, its bytes and their
/// SHA-1 (the hash Anki names a renamed copy after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMedia {
    pub name: String,
    pub data: Vec<u8>,
    pub sha1: [u8; 20],
}

fn disallowed(c: char) -> bool {
    matches!(
        c,
        '[' | ']' | '<' | '>' | ':' | '"' | '/' | '?' | '*' | '^' | '\\' | '|'
    ) || c.is_ascii_control()
}

fn is_windows_device(stem: &str) -> bool {
    let upper = stem.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && matches!(upper.as_bytes()[3], b'1'..=b'9'))
}

/// `name` as Anki stores it, or `None` when nothing usable is left (empty, `.`, `..`).
pub fn normalize_filename(name: &str) -> Option<String> {
    let out = anki_normalized(name).into_owned();
    if out.is_empty() || out == "." || out == ".." || out.trim_matches('_').is_empty() {
        return None;
    }
    Some(out)
}

/// Anki's `normalize_filename` itself: borrowed when `name` is already normalised. Unlike
/// [`normalize_filename`] it may leave nothing usable (Anki rewrites a reference to `???` as a
/// reference to the empty name).
pub(crate) fn anki_normalized(name: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = if unicode_normalization::is_nfc(name) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.nfc().collect())
    };
    if out.contains(disallowed) {
        out = Cow::Owned(out.replace(disallowed, ""));
    }
    if out.contains('\u{a0}') {
        out = Cow::Owned(out.replace('\u{a0}', " "));
    }
    // A device name, alone or before the first dot: `CON.txt` → `CON_.txt`.
    let first = out.split('.').next().unwrap_or("");
    if is_windows_device(first) {
        let at = first.len();
        out.to_mut().insert(at, '_');
    }
    if out.ends_with([' ', '.']) {
        out.to_mut().push('_');
    }
    if out.len() > MAX_MEDIA_NAME_BYTES {
        let (stem, ext) = split_and_truncate(&out, MAX_MEDIA_NAME_BYTES);
        let mut short = if ext.is_empty() {
            stem.to_owned()
        } else {
            format!("{stem}.{ext}")
        };
        if short.ends_with([' ', '.']) {
            short.push('_');
        }
        out = Cow::Owned(short);
    }
    out
}

/// Anki's split of a name into stem and extension cut to fit `max` bytes: the extension at
/// most 10 bytes, the stem leaving room for the dot and a trailing `_`.
fn split_and_truncate(name: &str, max: usize) -> (&str, &str) {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s, e),
        None => (name, ""),
    };
    let ext = prefix(ext, 10);
    let stem = prefix(stem, max - ext.len() - 2);
    (stem, ext)
}

/// The name Anki gives an imported file whose name the collection has with other content
/// (rslib `add_hash_suffix_to_file_stem`): `stem-<sha1 hex>.ext`, the stem cut so the whole
/// stays within 120 bytes. Anki writes `stem-<sha1>.` for a name without an extension; that
/// name is not one Anki's own rules accept (a trailing dot), so here it is normalised like any
/// stored name (`stem-<sha1>._`), which Anki's Check Media would also do.
pub fn hashed_name(name: &str, sha1: &[u8; 20]) -> String {
    // 40 hex digits and the hyphen.
    let (stem, ext) = split_and_truncate(name, MAX_MEDIA_NAME_BYTES - 41);
    let named = format!("{stem}-{}.{ext}", hex::encode(sha1));
    anki_normalized(&named).into_owned()
}

/// Anki's "static" media (`_` prefix, used by templates, and `latex-` images): never renamed on
/// import; a name the collection has is kept whatever the package's content.
pub fn is_static(name: &str) -> bool {
    name.starts_with('_') || name.starts_with("latex-")
}

/// The longest prefix of `s` of at most `max` bytes ending on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_ankis_rules() {
        assert_eq!(normalize_filename("a<b>:c?.jpg").unwrap(), "abc.jpg");
        assert_eq!(normalize_filename("CON.txt").unwrap(), "CON_.txt");
        assert_eq!(normalize_filename("com1").unwrap(), "com1_");
        assert_eq!(normalize_filename("console.txt").unwrap(), "console.txt");
        assert_eq!(normalize_filename("trailing.").unwrap(), "trailing._");
        assert_eq!(normalize_filename("a\u{a0}b.png").unwrap(), "a b.png");
        // NFC: e + combining acute becomes é.
        assert_eq!(normalize_filename("e\u{301}.mp3").unwrap(), "\u{e9}.mp3");
        assert_eq!(normalize_filename("../x").unwrap(), "..x");
        assert_eq!(normalize_filename("..").unwrap(), ".._");
        assert!(normalize_filename("/\\").is_none());
        let long = format!("{}.jpeg", "é".repeat(100));
        let n = normalize_filename(&long).unwrap();
        assert!(
            n.len() <= MAX_MEDIA_NAME_BYTES && n.ends_with(".jpeg"),
            "{n}"
        );
        // Anki cuts the stem to leave room for the dot and a trailing `_`: 120 - 4 - 2.
        let long = format!("{}.jpeg", "a".repeat(200));
        assert_eq!(
            normalize_filename(&long).unwrap(),
            format!("{}.jpeg", "a".repeat(114))
        );
        assert_eq!(
            normalize_filename(&"b".repeat(200)).unwrap(),
            "b".repeat(118)
        );
        assert_eq!(anki_normalized("???"), "");
        assert!(matches!(anki_normalized("a.png"), Cow::Borrowed(_)));
    }

    #[test]
    fn hashed_names_follow_ankis_rule() {
        let sha1 = [0xabu8; 20];
        let hex = "ab".repeat(20);
        assert_eq!(hashed_name("a.png", &sha1), format!("a-{hex}.png"));
        assert_eq!(hashed_name("a.b.mp3", &sha1), format!("a.b-{hex}.mp3"));
        // No extension: Anki's `a-<sha1>.`, normalised.
        assert_eq!(hashed_name("noext", &sha1), format!("noext-{hex}._"));
        // The stem is cut to 79 - ext - 2 bytes, the extension to 10.
        let long = format!("{}.verylongextension", "s".repeat(100));
        let n = hashed_name(&long, &sha1);
        assert_eq!(n, format!("{}-{hex}.verylongex", "s".repeat(67)));
        assert!(n.len() <= MAX_MEDIA_NAME_BYTES);
        let n = hashed_name(&format!("{}.png", "é".repeat(60)), &sha1);
        assert!(
            n.len() <= MAX_MEDIA_NAME_BYTES && n.ends_with(&format!("-{hex}.png")),
            "{n}"
        );
        assert!(is_static("_font.ttf") && is_static("latex-abc.png") && !is_static("a_b.png"));
    }
}
