//! Who will see a post, before it is posted.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::AppError;
use crate::http::extract::{ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::audience;
use crate::state::AppState;
use crate::views::social::AudienceView;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AudienceQuery {
    /// A space slug.
    pub space: Option<String>,
    /// Comma-separated handles, for a direct post.
    pub direct: Option<String>,
    /// Set for a post on your profile.
    pub profile: Option<String>,
}

/// Who will see a post with this target, before posting.
#[utoipa::path(get, path = "/audience", tag = "items", params(AudienceQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = AudienceView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn audience(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<AudienceQuery>,
) -> Result<Json<AudienceView>, Problem> {
    let a = if let Some(slug) = q.space.as_deref().filter(|s| !s.is_empty()) {
        audience::audience_for_space(&state.ctx, &viewer, slug).await?
    } else if let Some(d) = q.direct.as_deref().filter(|d| !d.is_empty()) {
        let to = audience::DirectTo::parse(d.split(','));
        audience::audience_for_direct(&state.ctx, &viewer, &to).await?
    } else if q.profile.is_some() {
        audience::audience_for_profile(&state.ctx).await?
    } else {
        return Err(AppError::invalid(
            "space",
            "Say where the post goes: ?space=<slug>, ?direct=<handles> or ?profile.",
        )
        .into());
    };
    Ok(Json(AudienceView::from(&a)))
}
