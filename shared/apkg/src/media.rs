//! Media file names as Anki accepts them (facts from rslib `media/files.rs`): NFC, none of
//! `[]<>:"/?*^\|` or control characters, non-breaking spaces as spaces, Windows device names
//! (`CON`, `COM1`, …) suffixed with `_`, no trailing space or dot, at most 120 bytes (the stem
//! truncated, the extension kept up to 10 bytes). Also the limits on media a package may bring.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Longest media file name in bytes (Anki's `MAX_MEDIA_FILENAME_LENGTH`).
pub const MAX_MEDIA_NAME_BYTES: usize = 120;
/// Largest single media file (Anki's `MAX_INDIVIDUAL_MEDIA_FILE_SIZE`, 100 MiB).
pub const MAX_MEDIA_FILE_BYTES: u64 = 100 * 1024 * 1024;

/// A media file a package brings: its name normalised by Anki's rules, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMedia {
    pub name: String,
    pub data: Vec<u8>,
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
    let mut out: String = name.nfc().filter(|&c| !disallowed(c)).collect();
    out = out.replace('\u{a0}', " ");
    // A device name, alone or before the first dot: `CON.txt` → `CON_.txt`.
    let first = out.split('.').next().unwrap_or("");
    if is_windows_device(first) {
        out.insert(first.len(), '_');
    }
    if out.ends_with([' ', '.']) {
        out.push('_');
    }
    let out = truncate(&out, MAX_MEDIA_NAME_BYTES).into_owned();
    if out.is_empty() || out == "." || out == ".." || out.trim_matches('_').is_empty() {
        return None;
    }
    Some(out)
}

fn truncate(name: &str, max: usize) -> Cow<'_, str> {
    if name.len() <= max {
        return Cow::Borrowed(name);
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s, e),
        None => (name, ""),
    };
    let ext = prefix(ext, 10);
    let room = max - if ext.is_empty() { 0 } else { ext.len() + 1 };
    let stem = prefix(stem, room);
    let mut out = if ext.is_empty() {
        stem.to_owned()
    } else {
        format!("{stem}.{ext}")
    };
    if out.ends_with([' ', '.']) {
        out.pop();
        out.push('_');
    }
    Cow::Owned(out)
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
    }
}
