//! Device keys: the long-lived key `hostKey` hands to one official client. The client sends it
//! back as `k` in every request's header and never refreshes it.
//!
//! Format: `<username>:<id>:<secret>`. The username and id make the lookup one read of the
//! user's keys (usernames are `[A-Za-z0-9_.-]`, ids and secrets hex, so `:` separates them
//! unambiguously); the secret is 256 random bits, of which only the SHA-256 is stored (a fast
//! hash is enough for a random key: there is nothing to guess).

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Random bytes of the secret (256 bits).
const SECRET_BYTES: usize = 32;
/// Random bytes of the public id (64 bits: unique per user with overwhelming probability; a
/// collision is refused by the store's condition and retried by the caller).
const ID_BYTES: usize = 8;
/// Longest label kept (the client version string).
const MAX_LABEL_CHARS: usize = 100;

/// A freshly generated key: what to hand the client and what to store.
#[derive(Debug, Clone)]
pub struct NewDeviceKey {
    pub id: String,
    /// The whole host key, given to the client once.
    pub host_key: String,
    /// What the store keeps.
    pub key_hash: String,
}

impl NewDeviceKey {
    pub fn generate(username: &str) -> Self {
        let mut rng = rand::rng();
        let mut id = [0u8; ID_BYTES];
        let mut secret = [0u8; SECRET_BYTES];
        rng.fill_bytes(&mut id);
        rng.fill_bytes(&mut secret);
        let (id, secret) = (hex::encode(id), hex::encode(secret));
        Self {
            host_key: format!("{username}:{id}:{secret}"),
            key_hash: hash_secret(&secret),
            id,
        }
    }
}

/// A host key as the client presents it, split (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey<'a> {
    pub username: &'a str,
    pub id: &'a str,
    secret: &'a str,
}

impl<'a> HostKey<'a> {
    /// Split a presented key; `None` when it cannot be one of ours (the caller answers 403).
    pub fn parse(raw: &'a str) -> Option<Self> {
        let mut parts = raw.splitn(3, ':');
        let (username, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        if username.is_empty() || !hex(id, ID_BYTES * 2) || !hex(secret, SECRET_BYTES * 2) {
            return None;
        }
        Some(Self {
            username,
            id,
            secret,
        })
    }

    /// Whether the secret matches a stored hash. Compared in constant time, though the hash of
    /// a 256-bit secret leaks nothing useful either way.
    pub fn matches(&self, stored_hash: &str) -> bool {
        let ours = hash_secret(self.secret);
        ours.len() == stored_hash.len()
            && ours
                .bytes()
                .zip(stored_hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The label stored with a key: the client's version string, bounded.
pub fn label(client_version: &str) -> String {
    let l: String = client_version.chars().take(MAX_LABEL_CHARS).collect();
    if l.is_empty() { "Anki".to_owned() } else { l }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_match_only_their_hash() {
        let a = NewDeviceKey::generate("ana.b-c_d");
        let b = NewDeviceKey::generate("ana.b-c_d");
        assert_ne!(a.host_key, b.host_key);
        let k = HostKey::parse(&a.host_key).expect("ours");
        assert_eq!(k.username, "ana.b-c_d");
        assert_eq!(k.id, a.id);
        assert!(k.matches(&a.key_hash));
        assert!(!k.matches(&b.key_hash));
        assert!(!k.matches(""));
    }

    #[test]
    fn foreign_keys_do_not_parse() {
        for raw in [
            "",
            "ana",
            "ana:00",
            // Anki's own server's key: hex(sha1(user:pass)).
            "4e1243bd22c66e76c2ba9eddc1f91394e57f9f83",
            ":0011223344556677:00",
        ] {
            assert_eq!(HostKey::parse(raw), None, "{raw}");
        }
    }
}
