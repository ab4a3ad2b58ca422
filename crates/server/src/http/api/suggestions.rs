//! Suggested people and spaces to follow, and what the search box offers
//! as one types.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::spaces::mail_domain;
use crate::error::AppError;
use crate::http::extract::{ApiQuery, ApiViewer};
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchSuggestQuery {
    /// What is typed in the search box so far (at most 500 characters);
    /// empty for the recent searches alone.
    #[serde(default)]
    pub q: String,
}

/// A space as the search box offers it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SpaceSuggestion {
    pub slug: String,
    pub name: String,
    /// `open`, `closed` or `secret`.
    pub visibility: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SearchSuggestionsView {
    /// What the last word typed is an operator for (`from`, `in` or
    /// `topic`): picking a suggestion then completes that word
    /// (`from:@ada`, `in:design`, `#launch`) rather than opening it.
    pub operator: Option<String>,
    /// Active people whose handle or name starts with what is typed.
    pub people: Vec<PersonView>,
    /// Spaces whose slug or name starts with it (secret ones only to
    /// their members; to a guest, only their own).
    pub spaces: Vec<SpaceSuggestion>,
    /// Topics that start with it, on something the viewer may see.
    pub topics: Vec<String>,
    /// The viewer's recent searches that start with it, latest first (all
    /// of them when nothing is typed).
    pub recent: Vec<String>,
}

/// What the search box offers as the viewer types: people, spaces,
/// topics and their recent searches, only what they may see.
#[utoipa::path(get, path = "/suggestions/search", operation_id = "search_box_suggestions", tag = "search", params(SearchSuggestQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SearchSuggestionsView), (status = 422, body = Problem)))]
pub async fn search_suggestions(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<SearchSuggestQuery>,
) -> Result<Json<SearchSuggestionsView>, Problem> {
    if q.q.chars().count() > suggestions::MAX_TYPED_CHARS {
        return Err(AppError::invalid(
            "q",
            format!(
                "Type at most {} characters to be offered suggestions.",
                suggestions::MAX_TYPED_CHARS
            ),
        )
        .into());
    }
    let s = suggestions::search_suggestions(&state.ctx, &viewer, &q.q).await?;
    Ok(Json(SearchSuggestionsView {
        operator: s.operator.map(|o| o.as_str().to_owned()),
        people: s.people.iter().map(PersonView::from).collect(),
        spaces: s
            .spaces
            .iter()
            .map(|sp| SpaceSuggestion {
                slug: sp.slug.clone(),
                name: sp.name.clone(),
                visibility: sp.visibility.as_str().to_owned(),
            })
            .collect(),
        topics: s.topics,
        recent: s.recent,
    }))
}
