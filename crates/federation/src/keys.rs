//! Actor key pairs: 2048-bit RSA (what PeerTube and Mastodon use), stored as PEM.

use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{PrivateKey, PublicKey};

/// Failures with keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a key: {0}")]
    Generate(String),
    #[error("invalid key: {0}")]
    Invalid(String),
}

/// A new key pair as `(private PKCS#8 PEM, public SPKI PEM)`. CPU-heavy (~0.1–1 s): run it on a
/// blocking thread.
pub fn generate() -> Result<(String, String), KeyError> {
    let mut rng = getrandom::SysRng;
    let key = PrivateKey::new(&mut rng, 2048).map_err(|e| KeyError::Generate(e.to_string()))?;
    let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?.to_string();
    let public =
        key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok((private, public))
}

pub fn private_from_pem(pem: &str) -> Result<PrivateKey, KeyError> {
    PrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Invalid(e.to_string()))
}

/// A public key from the `publicKeyPem` of an actor: SPKI (`BEGIN PUBLIC KEY`), or PKCS#1
/// (`BEGIN RSA PUBLIC KEY`), which some older servers publish.
pub fn public_from_pem(pem: &str) -> Result<PublicKey, KeyError> {
    let pem = pem.trim();
    if pem.contains("BEGIN RSA PUBLIC KEY") {
        use rsa::pkcs1::DecodeRsaPublicKey;
        return PublicKey::from_pkcs1_pem(pem).map_err(|e| KeyError::Invalid(e.to_string()));
    }
    PublicKey::from_public_key_pem(pem).map_err(|e| KeyError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_keys_round_trip_through_pem() {
        let (private, public) = super::generate().unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        let k = super::private_from_pem(&private).unwrap();
        assert_eq!(k.to_public_key(), super::public_from_pem(&public).unwrap());
        assert!(super::public_from_pem("not a key").is_err());
    }
}
