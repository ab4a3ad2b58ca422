//! Profiles and members: a member's profile and avatar, and members by
//! handle and in the directory.

use domain::{DisplayName, Handle, Markdown, ShortText, TimeZoneName, ValidationError};
use store::profiles as q;

use crate::context::Ctx;
use crate::error::{AppError, AppResult, Checks};
use crate::service::viewer::Viewer;

/// The rows the profile services return, as their read models: a member,
/// and a person as lists show them.
pub use store::profiles::Member;
pub use store::rows::Person;

/// A profile edit as typed; absent fields stay as they are.
#[derive(Debug, Default, Clone)]
pub struct ProfileText {
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub team: Option<String>,
    pub about: Option<String>,
    pub time_zone: Option<String>,
}

/// A profile edit, checked where it was typed.
#[derive(Debug, Default, Clone)]
pub struct ProfileInput {
    pub display_name: Option<DisplayName>,
    pub title: Option<ShortText>,
    pub team: Option<ShortText>,
    pub about: Option<Markdown>,
    pub time_zone: Option<TimeZoneName>,
}

impl ProfileInput {
    /// Checks an edit, every field at fault named at once.
    pub fn parse(t: &ProfileText) -> AppResult<ProfileInput> {
        let mut checks = Checks::default();
        let mut input = ProfileInput::default();
        if let Some(v) = &t.display_name {
            input.display_name = checks.check(DisplayName::parse(v));
        }
        if let Some(v) = &t.title {
            input.title = checks.check(ShortText::parse("title", v, 80));
        }
        if let Some(v) = &t.team {
            input.team = checks.check(ShortText::parse("team", v, 80));
        }
        if let Some(v) = &t.about {
            input.about = checks.check(Markdown::parse("about", v, 5000));
        }
        if let Some(v) = &t.time_zone {
            input.time_zone = checks.check(TimeZoneName::parse(v));
        }
        checks.finish()?;
        Ok(input)
    }
}

pub async fn update_profile(ctx: &Ctx, viewer: &Viewer, input: &ProfileInput) -> AppResult<Member> {
    let db = &ctx.db;
    let change = q::ProfileChange {
        display_name: input.display_name.as_ref().map(|v| v.as_str().to_owned()),
        title: input.title.as_ref().map(|v| v.as_str().to_owned()),
        team: input.team.as_ref().map(|v| v.as_str().to_owned()),
        about: input
            .about
            .as_ref()
            .map(|md| (md.as_str().to_owned(), md.render())),
        time_zone: input.time_zone.as_ref().map(|v| v.as_str().to_owned()),
        ..Default::default()
    };
    let mut tx = db.write().await?;
    q::update_profile(&mut tx, viewer.id(), &change, ctx.now()).await?;
    let m = q::member_by_id(&mut tx, viewer.id())
        .await?
        .ok_or_else(|| AppError::NotFound("Your account no longer exists.".into()))?;
    tx.commit().await?;
    Ok(m)
}

/// The largest avatar kept, in pixels a side: avatars show small.
const AVATAR_SIDE: u32 = 256;

/// Decodes an uploaded avatar (PNG, JPEG, GIF or WebP, recognised by its
/// content, within limits on size and memory) and encodes it afresh, at
/// most [`AVATAR_SIDE`] pixels a side: PNG where it has transparency,
/// JPEG otherwise. Nothing of the upload but its pixels is kept, so a
/// file that only starts like an image (with HTML or a script after the
/// header) is refused or cleaned, and no metadata (a photo's location)
/// is served to others.
pub fn reencode_avatar(bytes: &[u8]) -> Result<(&'static str, Vec<u8>), ValidationError> {
    use image::{ImageFormat, ImageReader, Limits};
    let refuse = || {
        ValidationError::new(
            "avatar",
            "That is not a PNG, JPEG, GIF or WebP image we can read. Choose another image.",
        )
    };
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| refuse())?;
    if !matches!(
        reader.format(),
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP)
    ) {
        return Err(refuse());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(128 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| refuse())?;
    let img = if img.width() > AVATAR_SIDE || img.height() > AVATAR_SIDE {
        img.thumbnail(AVATAR_SIDE, AVATAR_SIDE)
    } else {
        img
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let content_type = if img.color().has_alpha() {
        img.to_rgba8()
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|_| refuse())?;
        "image/png"
    } else {
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
            .encode_image(&img.to_rgb8())
            .map_err(|_| refuse())?;
        "image/jpeg"
    };
    Ok((content_type, out.into_inner()))
}

pub async fn set_avatar(ctx: &Ctx, viewer: &Viewer, bytes: &[u8], max: usize) -> AppResult<Member> {
    let db = &ctx.db;
    if bytes.is_empty() {
        return Err(AppError::invalid(
            "avatar",
            "The upload is empty. Choose an image file.",
        ));
    }
    if bytes.len() > max {
        return Err(AppError::invalid(
            "avatar",
            format!("The image is too large: at most {} KiB.", max / 1024),
        ));
    }
    // Decoding is CPU work: off the async workers.
    let upload = bytes.to_vec();
    let (content_type, image) = tokio::task::spawn_blocking(move || reencode_avatar(&upload))
        .await
        .map_err(|e| AppError::Internal(e.into()))??;
    let mut tx = db.write().await?;
    q::put_avatar(&mut tx, viewer.id(), content_type, &image, ctx.now()).await?;
    let m = q::member_by_id(&mut tx, viewer.id())
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(m)
}

pub async fn remove_avatar(ctx: &Ctx, viewer: &Viewer) -> AppResult<()> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    q::delete_avatar(&mut tx, viewer.id(), ctx.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// A member by handle, as `viewer` may see them: deactivated members stay
/// visible (their content stays), unknown handles are not found.
pub async fn member(ctx: &Ctx, handle: &Handle) -> AppResult<Member> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    member_named(&mut c, handle).await
}

/// [`member`] on a connection the caller holds (often its transaction).
pub async fn member_named(c: &mut store::Conn, handle: &Handle) -> AppResult<Member> {
    q::member_by_handle(c, handle)
        .await?
        .ok_or_else(|| no_member(handle.as_str()))
}

/// Reads a handle as typed (an address, a form); text that cannot be a
/// handle names nobody, and is refused as an unknown handle is.
pub fn handle_named(typed: &str) -> AppResult<Handle> {
    Handle::parse(typed).map_err(|_| no_member(typed))
}

fn no_member(handle: &str) -> AppError {
    AppError::NotFound(format!("There is no member @{handle}."))
}

pub async fn list_members(
    ctx: &Ctx,
    viewer: &Viewer,
    after: Option<&str>,
    limit: i64,
) -> AppResult<Vec<Member>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(q::list_members(&mut c, after, limit, viewer.role().is_admin()).await?)
}

/// A member's avatar image and its content type, if they have one.
pub async fn avatar(ctx: &Ctx, handle: &Handle) -> AppResult<Option<(String, Vec<u8>)>> {
    let m = member(ctx, handle).await?;
    let mut c = ctx.db.read().await?;
    Ok(q::avatar(&mut c, m.id).await?)
}

/// The members a search for `typed` finds (its People tab, so only whom
/// the viewer may see), in the search's order, and the cursor of the next
/// page: the filter of the directory and of the admin member list.
/// Deactivated members are listed to admins only, as in the directory.
pub async fn find_members(
    ctx: &Ctx,
    viewer: &Viewer,
    typed: &str,
    cursor: Option<&str>,
    limit: usize,
) -> AppResult<(Vec<Member>, Option<String>)> {
    use crate::service::search::{self, HitKind, Tab};
    let query = domain::search::Query::parse(typed);
    if query.is_empty() {
        return Ok((Vec::new(), None));
    }
    let page = search::search(ctx, viewer, &query, Tab::People, cursor, limit).await?;
    let handles: Vec<&str> = page
        .hits
        .iter()
        .filter(|h| h.kind == HitKind::Person)
        .filter_map(|h| h.url.strip_prefix("/members/"))
        .collect();
    let mut c = ctx.db.read().await?;
    let mut found = q::members_by_handles(&mut c, &handles).await?;
    found.retain(|m| m.is_active() || viewer.role().is_admin());
    found.sort_by_key(|m| handles.iter().position(|h| *h == m.handle));
    Ok((found, page.next_cursor))
}
