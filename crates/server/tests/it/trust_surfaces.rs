//! Nobody sees what they may not, on any surface, and probing every
//! surface at once does not stop the server.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect};

backend_tests!(trust_surfaces_concurrent_audience_previews_finish);

/// Found by probing every surface at once: the audience preview of a space held one
/// database connection while it waited for a second, so as many previews
/// at once as the pool has connections waited for each other for ever.
async fn trust_surfaces_concurrent_audience_previews_finish(b: Backend) {
    let mut owner = TestApp::spawn_with(b, |s| s.db_max_connections = 2).await;
    owner.setup_owner().await;
    for (slug, vis) in [("field", "open"), ("circle", "closed")] {
        owner
            .create_space(json!({"name": format!("Space {slug}"), "slug": slug, "visibility": vis}))
            .await;
    }
    let app = &owner;
    let all = futures_util::stream::iter(0..40)
        .map(|n| async move {
            let slug = if n % 2 == 0 { "field" } else { "circle" };
            let res = app.get(&format!("/audience?space={slug}")).await;
            expect(res, StatusCode::OK).await
        })
        .buffer_unordered(20)
        .collect::<Vec<_>>();
    let answers = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("40 previews, 20 at a time, finish");
    assert!(answers.iter().all(|a| a["count"].as_i64().unwrap() >= 1));
    owner.stop().await;
}
