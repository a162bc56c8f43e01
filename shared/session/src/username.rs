//! Usernames as the original app allowed them, and the keys the stores file them under.
//!
//! The original app (see `docs/ARCHITECTURE.md#usernames-and-storage-keys`) accepted any script:
//! `João Vitor`, `Isaque S.`, `Ph.silvazx`, and both `Aghnes` and `aghnes` as two accounts. So a
//! [`Username`] is 1–[`MAX_CHARS`] characters of any script after trimming and NFC normalisation,
//! without control characters. It is never used raw as a path or store key: [`Username::storage_key`]
//! is a reversible ASCII encoding that leaves the names javumbo allowed before
//! (`[A-Za-z0-9_.-]`, other than `.`/`..`) unchanged, so their data stays where it is.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// The longest name, in characters (Unicode scalar values after NFC). The original app allowed
/// 10; javumbo allowed 20 ASCII characters before, so existing names keep fitting.
pub const MAX_CHARS: usize = 20;

/// The escape character of storage keys: never part of a name javumbo accepted before, so a key
/// without it is the name itself.
const ESCAPE: char = '~';

/// A validated, NFC-normalised username. Parsed before it is used anywhere; stores see only its
/// [`storage_key`](Username::storage_key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username {
    name: String,
    key: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "username must be 1-20 characters (letters of any script, digits, spaces and punctuation; no control characters, no leading or trailing spaces)"
)]
pub struct InvalidUsername;

impl Username {
    /// Trim, NFC-normalise and validate. The same name typed in another Unicode normal form
    /// parses to the same `Username`.
    pub fn parse(s: &str) -> Result<Self, InvalidUsername> {
        let name: String = s.trim().nfc().collect();
        let count = name.chars().count();
        // `trim` removes what `char::is_whitespace` calls whitespace; the check after NFC
        // catches a combining sequence that normalises into a space-like scalar at an end.
        let ok = (1..=MAX_CHARS).contains(&count)
            && !name.chars().any(|c| c.is_control())
            && name.trim() == name;
        if !ok {
            return Err(InvalidUsername);
        }
        let key = encode_key(&name);
        Ok(Self { name, key })
    }

    /// The user from a key [`storage_key`](Username::storage_key) produced (what a store read
    /// back). `None` when the key decodes to no valid name: a corrupt or foreign row.
    pub fn from_storage_key(key: &str) -> Option<Self> {
        let name = decode_key(key)?;
        let user = Self::parse(&name).ok()?;
        // Only the canonical key of a canonical name round-trips; anything else is not ours.
        (user.key == key).then_some(user)
    }

    /// The name as the user typed it (trimmed, NFC): for display and for the JWT subject.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The key every store files this user under (blob keys, file names, DynamoDB and SQLite
    /// keys): ASCII `[A-Za-z0-9_.~-]`, never `.` or `..`, at most 4 × 3 × 20 bytes.
    ///
    /// Bytes of `[A-Za-z0-9_.-]` stand for themselves, every other byte of the UTF-8 name is
    /// `~` and two lowercase hex digits, and a name of only dots is escaped whole. So the
    /// pre-Unicode names (`alice_01`) keep their keys and their data, `João Vitor` is
    /// `Jo~c3~a3o~20Vitor`, and the map is injective (it decodes back).
    ///
    /// It is case-preserving, so `Aghnes` and `aghnes` are two users with two keys (S3,
    /// DynamoDB, SQLite and Linux file systems all compare keys byte for byte). The embedded
    /// blob store's data directory must therefore not live on a case-insensitive file system
    /// when such a pair is migrated in.
    pub fn storage_key(&self) -> &str {
        &self.key
    }

    /// The case-insensitive identity of the name, for the uniqueness of new registrations:
    /// NFC, lowercased (Unicode's full lowercase mapping), NFC again.
    pub fn folded(&self) -> String {
        self.name.to_lowercase().nfc().collect()
    }

    /// The storage key of [`folded`](Username::folded): what uniqueness records are keyed by.
    pub fn folded_key(&self) -> String {
        encode_key(&self.folded())
    }
}

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

fn encode_key(name: &str) -> String {
    use std::fmt::Write;
    let all_dots = name.bytes().all(|b| b == b'.');
    let mut key = String::with_capacity(name.len());
    for b in name.bytes() {
        if plain(b) && !all_dots {
            key.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(key, "{ESCAPE}{b:02x}");
        }
    }
    key
}

fn decode_key(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == ESCAPE as u8 {
            let hex = key.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if plain(bytes[i]) {
            out.push(bytes[i]);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

// Serialised as the bare name; deserialising validates, so a stored or wire value can never
// smuggle in a name `parse` would refuse.
impl serde::Serialize for Username {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> serde::Deserialize<'de> for Username {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_the_original_apps_names() {
        for ok in [
            "alice_01.x-y",
            "Ana Paula",
            "Caíque",
            "João Vitor",
            "Isaque S.",
            "Ph.silvazx",
            "mp3.zia",
            "Édina",
            "Aghnes",
            "aghnes",
            "..",
            "a/b",
            "ação",
            "日本語",
            "x".repeat(20).as_str(),
        ] {
            assert!(Username::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn rejects_empty_long_and_control() {
        for bad in [
            "",
            "   ",
            "x".repeat(21).as_str(),
            "a\0",
            "a\nb",
            "a\u{7f}",
            "x\u{85}y",
        ] {
            assert_eq!(Username::parse(bad), Err(InvalidUsername), "{bad:?}");
        }
    }

    #[test]
    fn trims_and_normalises() {
        let nfd = "Joa\u{303}o Vitor";
        let a = Username::parse(&format!("  {nfd} ")).unwrap();
        assert_eq!(a, Username::parse("João Vitor").unwrap());
        assert_eq!(a.as_str(), "João Vitor");
    }

    #[test]
    fn old_names_keep_their_keys() {
        for old in ["alice", "alice_01.x-y", "Bob", ".a", "a..b"] {
            assert_eq!(Username::parse(old).unwrap().storage_key(), old);
        }
        assert_eq!(
            Username::parse("João Vitor").unwrap().storage_key(),
            "Jo~c3~a3o~20Vitor"
        );
        assert_eq!(Username::parse("..").unwrap().storage_key(), "~2e~2e");
        assert_eq!(Username::parse("a/b").unwrap().storage_key(), "a~2fb");
    }

    #[test]
    fn case_pairs_differ_but_fold_together() {
        let (a, b) = (
            Username::parse("Aghnes").unwrap(),
            Username::parse("aghnes").unwrap(),
        );
        assert_ne!(a, b);
        assert_ne!(a.storage_key(), b.storage_key());
        assert_eq!(a.folded(), b.folded());
        assert_eq!(
            Username::parse("ÉDINA").unwrap().folded_key(),
            Username::parse("édina").unwrap().folded_key()
        );
    }

    #[test]
    fn foreign_keys_are_refused() {
        for bad in ["", "a b", "~zz", "~c3", "a~2", "~41"] {
            assert_eq!(Username::from_storage_key(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn keys_round_trip_and_are_safe(s in "\\PC{1,20}") {
            if let Ok(u) = Username::parse(&s) {
                let key = u.storage_key();
                prop_assert!(key.bytes().all(|b| plain(b) || b == b'~'), "{key}");
                prop_assert!(key != "." && key != "..");
                prop_assert_eq!(Username::from_storage_key(key), Some(u.clone()));
            }
        }

        #[test]
        fn distinct_names_distinct_keys(a in "\\PC{1,6}", b in "\\PC{1,6}") {
            if let (Ok(x), Ok(y)) = (Username::parse(&a), Username::parse(&b)) {
                prop_assert_eq!(x == y, x.storage_key() == y.storage_key());
            }
        }
    }
}
