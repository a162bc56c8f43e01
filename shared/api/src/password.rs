//! Password hashing: argon2id for new hashes; bcrypt `$2b$` accepted for users migrated from the
//! Python app (and rehashed to argon2id on their next login). CPU-heavy: call from
//! `spawn_blocking`.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

pub fn hash(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash uses a scheme we are migrating away from.
    pub needs_rehash: bool,
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// Check `password` against a stored PHC/bcrypt string. A malformed hash is a mismatch, not an
/// error: the caller answers the same 401 either way.
pub fn verify(password: &str, stored: &str) -> Verified {
    if is_bcrypt(stored) {
        let ok = bcrypt::verify(password, stored).unwrap_or(false);
        return Verified {
            ok,
            needs_rehash: ok,
        };
    }
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok();
    Verified {
        ok,
        needs_rehash: false,
    }
}

/// A real argon2id hash of a random password, verified against when the user does not exist so
/// that "unknown user" costs the same time as "wrong password" (no user enumeration by timing).
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash(&uuid::Uuid::new_v4().to_string()).unwrap_or_else(|_| {
        // Unreachable in practice (hashing a short ASCII string cannot fail); a fixed valid hash
        // keeps the timing equalisation without a panic path.
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8kz0Nf9xoMhgX8cO7pFStOPh0r4mH0p1AQyK1f1uBLs".to_owned()
    })
});

/// Burn the same work as a real verification.
pub fn verify_dummy(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(
            verify("correct horse", &h),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!verify("wrong horse", &h).ok);
    }

    #[test]
    fn bcrypt_migrated_users() {
        let h = bcrypt::hash("legacy-pass", 4).unwrap();
        assert!(h.starts_with("$2b$"));
        assert_eq!(
            verify("legacy-pass", &h),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert_eq!(
            verify("nope", &h),
            Verified {
                ok: false,
                needs_rehash: false
            }
        );
    }

    #[test]
    fn garbage_hash_is_a_mismatch() {
        assert!(!verify("x", "not a hash").ok);
        assert!(!verify("x", "").ok);
        verify_dummy("x");
    }
}
