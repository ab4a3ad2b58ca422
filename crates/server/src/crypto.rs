//! Secrets: random tokens, their stored hashes, and password hashing.
//!
//! Session, API, invitation and setup tokens are 256-bit random strings; the
//! database keeps only their SHA-256, so a leaked database opens no
//! account. Passwords are hashed with argon2id off the async workers. The
//! hashes themselves are `domain::secrets`, shared with the benchmark's
//! data set.

use base64::Engine;
use rand::RngCore;

use crate::error::AppError;

pub use domain::secrets::{DUMMY_HASH, token_hash};

/// A new random token, URL-safe.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub async fn hash_password(password: &str) -> Result<String, AppError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        domain::secrets::hash_password(&password)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

pub async fn verify_password(password: &str, hash: &str) -> bool {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || domain::secrets::verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}
