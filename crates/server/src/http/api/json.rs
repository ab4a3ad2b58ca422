//! A JSON body written already.

/// A JSON body written already (a stream page from rendered entries).
pub struct RawJson(pub Vec<u8>);

impl axum::response::IntoResponse for RawJson {
    fn into_response(self) -> axum::response::Response {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}
