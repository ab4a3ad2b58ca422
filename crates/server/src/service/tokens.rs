//! API tokens: creating, listing and revoking them, and the member behind
//! a token a request carries.

use domain::ShortText;
use store::tokens as q;

use crate::context::Ctx;
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::service::viewer::{Auth, Viewer};

/// The rows the token services return, as their read models.
pub use store::tokens::ApiToken;

/// The member behind an API token, when it is live and they are active;
/// the use is noted for the token's owner to see ([`crate::caches::TokenUse`]).
pub async fn authenticate_token(ctx: &Ctx, token: &str) -> AppResult<Option<Viewer>> {
    use store::db::stamps::Table;
    let (db, cache) = (&ctx.db, ctx.caches.tokens.as_ref());
    let hash = crypto::token_hash(token);
    let stamps = db.stamps().filter(|_| cache.is_some());
    let kept = cache.and_then(|c| c.entries.get(&hash));
    let found = match (kept, stamps) {
        (Some((holder, at)), Some(s))
            if s.unchanged(Table::ApiTokens, holder.id, at)
                && s.unchanged(Table::Members, holder.member.id, at) =>
        {
            Some(holder)
        }
        _ => {
            let at = stamps.map(|s| s.now());
            let found = {
                let mut c = db.read().await?;
                q::member_by_token(&mut c, &hash).await?
            };
            if let (Some(cache), Some(at), Some(holder)) = (cache, at, &found) {
                cache.entries.insert(hash, (holder.clone(), at));
            }
            found
        }
    };
    let Some(holder) = found.filter(|h| h.member.is_active()) else {
        return Ok(None);
    };
    ctx.caches
        .token_use
        .note(holder.id, holder.last_used_at, ctx.now());
    Ok(Some(Viewer {
        member: holder.member,
        auth: Auth::Token { id: holder.id },
    }))
}

pub async fn create_token(ctx: &Ctx, viewer: &Viewer, name: &str) -> AppResult<(ApiToken, String)> {
    let db = &ctx.db;
    let name = ShortText::parse("name", name, 80)?;
    if name.is_empty() {
        return Err(AppError::invalid(
            "name",
            "Give the token a name that says where it is used, e.g. \"laptop script\".",
        ));
    }
    let token = format!("chorus_{}", crypto::new_token());
    let prefix: String = token.chars().take(12).collect();
    let mut tx = db.write().await?;
    let t = q::insert_token(
        &mut tx,
        viewer.id(),
        name.as_str(),
        &crypto::token_hash(&token),
        &prefix,
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok((t, token))
}

pub async fn list_tokens(ctx: &Ctx, viewer: &Viewer) -> AppResult<Vec<ApiToken>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(q::list_tokens(&mut c, viewer.id()).await?)
}

pub async fn revoke_token(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<()> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    if !q::revoke_token(&mut tx, viewer.id(), id, ctx.now()).await? {
        return Err(AppError::NotFound(format!("You have no token {id}.")));
    }
    tx.commit().await?;
    Ok(())
}
