//! Session ids a client can keep: compaction and takeovers are internal, so the id a client
//! holds must stay good for `POST /api/session/flush` after the server has moved the user to a
//! new session under it.
//!
//! A claim that follows a session of the same user derives the new id from the old one
//! (`next = hex(SHA-256("javumbo-session" ‖ old))[..32]`) instead of drawing a fresh one, so
//! the ids of one user form a chain that starts at a random id (a new user, or one whose item
//! the store's TTL deleted). An id the client holds is then recognised as this user's, and
//! superseded, by walking the chain forward from it to the current id: no list of old ids is
//! stored, the session item keeps its shape, and another user's id (on another chain) never
//! matches. The walk is bounded ([`MAX_STEPS`] claims, thousands of writes even at the
//! emulator's compaction every 4), so a forged id costs microseconds.
//!
//! Ids are not secrets (the bearer token is what authenticates), so deriving them is safe.

use sha2::{Digest, Sha256};

/// How many claims back an id is still recognised.
pub const MAX_STEPS: usize = 4096;

/// A new chain's first id.
pub fn fresh() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The id of the session that follows `previous` for the same user.
pub fn next(previous: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"javumbo-session");
    h.update(previous.as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(32);
    for b in &digest[..16] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `held` is `current` or one of the ids `current` descends from.
pub fn leads_to(held: &str, current: &str) -> bool {
    // Ids are 32 hex characters; anything else is not one of ours (and not worth hashing).
    if held.len() != 32 || !held.bytes().all(|b| b.is_ascii_hexdigit()) {
        return held == current;
    }
    let mut id = held.to_owned();
    for _ in 0..=MAX_STEPS {
        if id == current {
            return true;
        }
        id = next(&id);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_leads_forward_only() {
        let a = fresh();
        let b = next(&a);
        let c = next(&b);
        assert_eq!(b.len(), 32);
        assert_ne!(a, b);
        assert!(leads_to(&a, &a));
        assert!(leads_to(&a, &c));
        assert!(leads_to(&b, &c));
        assert!(!leads_to(&c, &a), "a newer id does not lead back");
        assert!(!leads_to(&fresh(), &c), "another chain never matches");
        assert!(!leads_to("not-an-id", &c));
    }

    #[test]
    fn the_walk_is_bounded() {
        let a = fresh();
        let mut far = a.clone();
        for _ in 0..=MAX_STEPS {
            far = next(&far);
        }
        assert!(!leads_to(&a, &far));
    }
}
