//! Mail: the server's mail key, which signs reply addresses and one-click
//! unsubscribe links (`domain::mail`).

use domain::mail::MailKey;
use rand::RngCore;

use crate::context::Ctx;
use crate::error::AppResult;

/// The `settings` key the mail key is kept under, in hex.
const KEY_SETTING: &str = "mail_key";

/// The server's mail key: made at first use and kept in the database, so
/// every node signs and checks with the same one.
pub async fn key(ctx: &Ctx) -> AppResult<MailKey> {
    ctx.caches
        .mail_key
        .get_or_try_init(|| async {
            let mut fresh = [0u8; 32];
            rand::rng().fill_bytes(&mut fresh);
            let mut tx = ctx.db.write().await?;
            let kept =
                store::org::setting_or_insert(&mut tx, KEY_SETTING, &hex::encode(fresh)).await?;
            tx.commit().await?;
            let bytes: [u8; 32] = hex::decode(&kept)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("the stored mail key is not 32 bytes of hex"))?;
            Ok(MailKey::new(bytes))
        })
        .await
        .cloned()
}
