//! Access tokens: HS256 only, `sub`/`iat`/`exp`/`jti`, and `acct`, which binds a token to one
//! incarnation of the account: a name deleted and registered again is another account, and
//! the tokens of the first never open the second.

use javumbo_session::Username;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use crate::config::ApiConfig;
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The account's `created_at` (epoch milliseconds) when the token was issued.
    pub acct: i64,
}

pub fn issue(
    config: &ApiConfig,
    user: &Username,
    account_created_at: i64,
    now_secs: i64,
) -> Result<String, ApiError> {
    let claims = Claims {
        sub: user.to_string(),
        iat: now_secs,
        exp: now_secs + config.token_ttl.as_secs() as i64,
        jti: uuid::Uuid::new_v4().to_string(),
        acct: account_created_at,
    };
    crate::jwt_hs256::encode(&claims, &config.jwt_secret).map_err(ApiError::internal)
}

/// A token whose signature and expiry hold; whether its user still accepts it (revocation) is
/// the caller's check against the user record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user: Username,
    pub claims: Claims,
}

/// The username of a valid token at `now_secs`. Every failure is the same 401: telling an
/// attacker *why* a forged token failed only helps them.
///
/// Expiry is checked against the caller's clock (the app's, which issued the token), not the
/// library's reading of the system time: one source of "now" for issuing and checking.
pub fn verify(config: &ApiConfig, token: &str, now_secs: i64) -> Result<Verified, ApiError> {
    // Pinning the algorithm list rejects `alg: none` and RS/HS confusion before any signature
    // check.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "sub", "iat", "jti"]);
    let claims = crate::jwt_hs256::decode::<Claims>(token, &config.jwt_secret, &validation)
        .map_err(|_| ApiError::unauthorized())?;
    // As jsonwebtoken's own check with no leeway: valid through its `exp` second.
    if claims.exp < now_secs {
        return Err(ApiError::unauthorized());
    }
    let user = Username::parse(&claims.sub).map_err(|_| ApiError::unauthorized())?;
    Ok(Verified { user, claims })
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::config::CorsOrigins;

    fn cfg(secret: u8) -> ApiConfig {
        ApiConfig::new(vec![secret; 32], CorsOrigins::Any).unwrap()
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[test]
    fn round_trip() {
        let u = Username::parse("alice").unwrap();
        let t = issue(&cfg(1), &u, 1, now()).unwrap();
        assert_eq!(verify(&cfg(1), &t, now()).unwrap().user, u);
    }

    #[test]
    fn rejects_wrong_secret_expired_tampered_none() {
        let u = Username::parse("alice").unwrap();
        let t = issue(&cfg(1), &u, 1, now()).unwrap();
        assert!(verify(&cfg(2), &t, now()).is_err());
        let old = issue(&cfg(1), &u, 1, now() - 7200).unwrap();
        assert!(verify(&cfg(1), &old, now()).is_err());
        // Swap the payload for another user's, keeping the signature.
        let parts: Vec<&str> = t.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"bob","iat":{0},"exp":{1},"jti":"x","acct":1}}"#,
            now(),
            now() + 3600
        ));
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(verify(&cfg(1), &tampered, now()).is_err());
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(verify(&cfg(1), &format!("{none_header}.{forged_payload}."), now()).is_err());
        assert!(verify(&cfg(1), "garbage", now()).is_err());
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
