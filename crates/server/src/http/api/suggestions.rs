//! Suggested people and spaces to follow.

use axum::Json;
use axum::extract::State;
use utoipa::ToSchema;

use super::spaces::mail_domain;
use crate::http::extract::ApiViewer;
use crate::http::problem::Problem;
use crate::service::suggestions;
use crate::state::AppState;
use crate::views::social::{PersonView, SpaceView};

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SuggestionsView {
    /// People in the viewer's spaces whom they do not follow yet.
    pub people: Vec<PersonView>,
    /// Busy open spaces the viewer is not in.
    pub spaces: Vec<SpaceView>,
}

/// Suggested follows, for a new member especially.
#[utoipa::path(get, path = "/follows/suggestions", tag = "follows",
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = SuggestionsView)))]
pub async fn suggestions(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<SuggestionsView>, Problem> {
    let (people, spaces) = suggestions::suggestions(&state.ctx, &viewer).await?;
    let domain = mail_domain(&state);
    Ok(Json(SuggestionsView {
        people: people.iter().map(PersonView::from).collect(),
        spaces: spaces.iter().map(|s| SpaceView::new(s, &domain)).collect(),
    }))
}
