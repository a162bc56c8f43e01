//! Anki-style identifiers and checksums.

use sha1::{Digest, Sha1};

use crate::{Collection, Result, storage};

/// Tables whose primary key is a millisecond timestamp.
#[derive(Debug, Clone, Copy)]
pub enum IdTable {
    Notes,
    Cards,
    Revlog,
}

impl Collection {
    /// A new id for `table`: the current time in ms, or one more than the largest existing id
    /// when several writes land in the same millisecond (Anki's rule). Deriving it from the
    /// table, not from process memory, keeps it unique across containers and journal replay.
    pub fn next_id(&self, table: IdTable) -> Result<i64> {
        self.next_id_at(table, self.clock().now_ms())
    }

    pub fn next_id_at(&self, table: IdTable, at_ms: i64) -> Result<i64> {
        let conn = self.conn();
        let max = match table {
            IdTable::Notes => storage::notes::max_id(conn)?,
            IdTable::Cards => storage::cards::max_id(conn)?,
            IdTable::Revlog => storage::revlog::max_id(conn)?,
        };
        Ok(match max {
            Some(m) if m >= at_ms => m + 1,
            _ => at_ms,
        })
    }
}

/// Anki's base91 alphabet for guids (`anki/utils.py` `_BASE91_EXTRA_CHARS`).
const BASE91: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&()*+,-./:;<=>?@[]^_`{|}~";

/// Encode a 64-bit value the way Anki's `base91(guid_int)` does (10 chars for a random u64).
pub fn guid_from_u64(mut n: u64) -> String {
    let mut out = Vec::with_capacity(11);
    loop {
        out.push(BASE91[(n % BASE91.len() as u64) as usize]);
        n /= BASE91.len() as u64;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A fresh random guid.
pub fn new_guid() -> String {
    use rand::Rng;
    // Anki draws from the full u64 range; values below 91^9 give shorter strings, as in Anki.
    guid_from_u64(rand::rng().random::<u64>())
}

/// Strip HTML tags and decode the common entities, as Anki does before checksumming a field.
pub fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// Anki's note checksum: the first 8 hex digits of SHA-1 of the stripped first field.
pub fn field_checksum(first_field: &str) -> i64 {
    let digest = Sha1::digest(strip_html(first_field).as_bytes());
    i64::from(u32::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_anki() {
        // The csum a genuine Anki collection stores for a note whose first field is "new card".
        assert_eq!(field_checksum("new card"), 2_973_807_768);
        assert_eq!(field_checksum("<b>new card</b>"), 2_973_807_768);
    }

    #[test]
    fn guid_uses_base91() {
        let g = guid_from_u64(u64::MAX);
        assert_eq!(g.len(), 10);
        assert!(g.bytes().all(|b| BASE91.contains(&b)));
        assert_eq!(guid_from_u64(0), "a");
    }
}
