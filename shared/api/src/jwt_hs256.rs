//! jsonwebtoken's crypto for the one algorithm javumbo signs with: HS256 on the `hmac` and
//! `sha2` crates that every function already links (the AWS SDK's request signing uses them).
//!
//! jsonwebtoken's bundled providers carry every JWS algorithm into every binary: `aws_lc_rs`
//! links aws-lc (about 1.4 MB of code and tables, which nothing else needs once the SDK's TLS
//! runs on ring) and `rust_crypto` adds RSA, P-256, P-384 and Ed25519. Any other algorithm is
//! refused as invalid, which is what a token that is not ours must get anyway.

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result, new_error};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs the provider for the process; every call after the first is a no-op (an atomic
/// load). `encode` and `decode` below call it, and they are the crate's only way to a token.
fn install() {
    // `Err` only means a provider is already installed, and only this one is ever installed.
    let _ = PROVIDER.install_default();
}

/// An HS256 token of `claims` under `secret`.
pub(crate) fn encode<T: Serialize>(claims: &T, secret: &[u8]) -> Result<String> {
    install();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
}

/// The claims of an HS256 token under `secret`, checked as `validation` says.
pub(crate) fn decode<T: DeserializeOwned>(
    token: &str,
    secret: &[u8],
    validation: &Validation,
) -> Result<T> {
    install();
    jsonwebtoken::decode::<T>(token, &DecodingKey::from_secret(secret), validation)
        .map(|d| d.claims)
}

struct Hs256(Vec<u8>);

impl Hs256 {
    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length.
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut mac = self.mac();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        let mut mac = self.mac();
        mac.update(msg);
        // Constant-time comparison.
        mac.verify_slice(sig).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::HS256 {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    if key.family() != AlgorithmFamily::Hmac {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    Ok(Box::new(Hs256(key.as_bytes().to_vec())))
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::HS256 {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    if key.family() != AlgorithmFamily::Hmac {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    Ok(Box::new(Hs256(key.try_get_as_bytes()?.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct C {
        sub: String,
        exp: i64,
    }

    /// RFC 4231 test case 2: the provider computes real HMAC-SHA256.
    #[test]
    fn signs_as_rfc_4231() {
        let signer = Hs256(b"Jefe".to_vec());
        let sig = signer.try_sign(b"what do ya want for nothing?").unwrap();
        let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(signer.verify(b"what do ya want for nothing?", &sig).is_ok());
        assert!(
            signer
                .verify(b"what do ya want for nothing!", &sig)
                .is_err()
        );
    }

    #[test]
    fn round_trips_and_rejects_other_keys_and_algorithms() {
        let claims = C {
            sub: "ana".into(),
            exp: 4_000_000_000,
        };
        let token = encode(&claims, b"k1").unwrap();
        let v = Validation::new(Algorithm::HS256);
        assert_eq!(decode::<C>(&token, b"k1", &v).unwrap(), claims);
        assert!(decode::<C>(&token, b"k2", &v).is_err());
        // The provider signs nothing but HS256, and a token in another algorithm does not
        // verify.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(b"k1"),
        );
        assert!(hs512.is_err());
        assert!(decode::<C>(&token, b"k1", &Validation::new(Algorithm::HS512)).is_err());
    }
}
