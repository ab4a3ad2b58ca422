//! The org's owners, members' roles and deactivation, and org settings.

use domain::Role;

use crate::sessions::bump_auth_epoch;
use crate::tokens::revoke_all_tokens;
use crate::{Conn, Error, Tx, params};

pub async fn active_owner_count(c: &mut Conn) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM members WHERE role = 'owner' AND deactivated_at IS NULL",
        params![],
    )
    .await?
    .i64(0)
}

pub async fn set_role(
    tx: &mut Tx,
    id: domain::MemberId,
    role: Role,
    now: i64,
) -> Result<(), Error> {
    bump_auth_epoch(tx, id).await?;
    tx.execute(
        "UPDATE members SET role = $2, updated_at = $3 WHERE id = $1",
        params![id, role.as_str(), now],
    )
    .await?;
    Ok(())
}

/// Deactivates (`Some(time)`) or reactivates (`None`) a member. Deactivation
/// also ends their sessions; their tokens stop working because token lookup
/// checks the member.
pub async fn set_deactivated(
    tx: &mut Tx,
    id: domain::MemberId,
    at: Option<i64>,
    now: i64,
) -> Result<(), Error> {
    bump_auth_epoch(tx, id).await?;
    tx.execute(
        "UPDATE members SET deactivated_at = $2, updated_at = $3 WHERE id = $1",
        params![id, at, now],
    )
    .await?;
    if let Some(at) = at {
        tx.execute("DELETE FROM sessions WHERE member_id = $1", params![id])
            .await?;
        // Reactivation does not bring them back.
        revoke_all_tokens(tx, id, at).await?;
    }
    Ok(())
}

pub async fn setting(c: &mut Conn, key: &str) -> Result<Option<String>, Error> {
    c.query_opt("SELECT value FROM settings WHERE key = $1", params![key])
        .await?
        .map(|r| r.text(0))
        .transpose()
}

/// The setting `key`, first set to `value` when it has none. Nodes that
/// race to set it all read back the one that won.
pub async fn setting_or_insert(tx: &mut Tx, key: &str, value: &str) -> Result<String, Error> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        params![key, value],
    )
    .await?;
    tx.query_one("SELECT value FROM settings WHERE key = $1", params![key])
        .await?
        .text(0)
}

pub async fn put_setting(tx: &mut Tx, key: &str, value: &str) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )
    .await?;
    Ok(())
}
