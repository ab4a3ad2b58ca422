//! Login throttling: failed logins counted per account and address.

use crate::rows::Tuple;
use crate::{Error, Kind, Tx, params};
use domain::MemberId;

/// Failed logins allowed within the window before logins wait.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// To one account from one address.
    pub per_account_address: i64,
    /// To one account from all addresses (the backstop).
    pub per_account: i64,
    /// From one address to any accounts.
    pub per_address: i64,
}

/// Records a login attempt as a failure before its password is checked, so
/// that concurrent guesses cannot all be checked before any is counted;
/// [`clear_login_failures`] forgets it once the password is right. Nothing
/// is recorded when a limit is already reached: then the answer is false.
/// On PostgreSQL an advisory lock serialises the count and the insert of
/// concurrent attempts (SQLite's writer does that by itself).
pub async fn begin_login_attempt(
    tx: &mut Tx,
    member_id: Option<MemberId>,
    ip: &str,
    now: i64,
    since: i64,
    limits: LoginLimits,
) -> Result<bool, Error> {
    if tx.kind() == Kind::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(7284)", params![])
            .await?;
    }
    let r = tx
        .query_one(
            "SELECT
                (SELECT COUNT(*) FROM login_failures
                  WHERE member_id = $1 AND ip = $2 AND at > $3),
                (SELECT COUNT(*) FROM login_failures WHERE member_id = $1 AND at > $3),
                (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at > $3)",
            params![member_id.unwrap_or(MemberId(-1)), ip, since],
        )
        .await?;
    let (account_address, account, address): (i64, i64, i64) = Tuple::from_row(r)?;
    if account_address >= limits.per_account_address
        || account >= limits.per_account
        || address >= limits.per_address
    {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO login_failures (member_id, ip, at) VALUES ($1, $2, $3)",
        params![member_id, ip, now],
    )
    .await?;
    Ok(true)
}

/// Forgets an account's failures from one address after a successful
/// login from there (failures from elsewhere still count), and all
/// failures older than `before`.
pub async fn clear_login_failures(
    tx: &mut Tx,
    member_id: MemberId,
    ip: &str,
    before: i64,
) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM login_failures WHERE (member_id = $1 AND ip = $2) OR at < $3",
        params![member_id, ip, before],
    )
    .await?;
    Ok(())
}
