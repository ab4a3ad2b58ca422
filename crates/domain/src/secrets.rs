//! What the database keeps for a secret: the SHA-256 of a token, the
//! argon2id hash of a password.
//!
//! These are pure computation (the salt comes from the operating system's
//! random source), so every crate that writes or checks credentials (the
//! server, and the store's benchmark data set) shares the one definition.
//! Password hashing takes tens of milliseconds of CPU: async callers run
//! it on a blocking thread.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

/// Hashing a password failed (the hasher refused its input or found no
/// random source for the salt).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HashError(String);

/// What the database stores for a token: its SHA-256, in lower-case hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An argon2id hash of `password` (default parameters, random salt), as a
/// PHC string.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches `hash` (a PHC string from [`hash_password`]).
pub fn verify_password(password: &str, hash: &str) -> bool {
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash that no password matches, verified against when a login names no
/// account, so that timing does not tell which accounts exist.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
    8hYb3kGSBmbCWkETBXrVOpXiVCzwZ6E0RjqTNaxCyWw";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", DUMMY_HASH));
    }
}
