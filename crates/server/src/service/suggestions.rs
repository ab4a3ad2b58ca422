//! Suggestions: people and spaces a member might follow.

use domain::Role;
use store::suggestions as q;

use crate::context::Ctx;
use crate::error::AppResult;
use crate::service::profiles::Person;
use crate::service::spaces::Space;
use crate::service::viewer::Viewer;

/// Whom and what a member might follow: people in their spaces, and busy
/// open spaces they are not in.
pub async fn suggestions(ctx: &Ctx, viewer: &Viewer) -> AppResult<(Vec<Person>, Vec<Space>)> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let people = q::suggested_people(&mut c, viewer.id(), 10).await?;
    let spaces = if viewer.role() == Role::Guest {
        Vec::new()
    } else {
        let month = 30 * 86_400_000_000;
        q::suggested_spaces(&mut c, viewer.id(), ctx.now() - month, 5).await?
    };
    Ok((people, spaces))
}
