//! Every error the API answers, as PeerTube's RFC 7807 body: `type`, `title`, `detail`, `status`,
//! plus `error` (the detail again, for older PeerTube clients), our stable `code`, and for
//! validation failures PeerTube's `invalid-params` map. The one place where a kind of error
//! becomes an HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::Error;
use serde_json::{Map, Value, json};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    invalid: Vec<flotilla_domain::FieldError>,
    retry_after: Option<u64>,
    /// For a resumable upload's mismatched chunk: the bytes stored, as an uploadx `Range` header.
    stored: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError { status, code, detail: detail.into(), invalid: Vec::new(), retry_after: None, stored: None }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn invalid(field: &str, msg: impl Into<String>) -> Self {
        Error::invalid(field, msg).into()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let status = match &e {
            Error::Db(flotilla_db_error) => return from_db(flotilla_db_error, code),
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) | Error::ForbiddenCode { .. } => StatusCode::FORBIDDEN,
            Error::Validation(_) | Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::RangeMismatch { .. } => StatusCode::CONFLICT,
            Error::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Error::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Error::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, "Internal server error");
            }
        };
        let mut out = ApiError::new(status, code, e.to_string());
        match e {
            Error::Validation(fields) => {
                out.detail = format!(
                    "Incorrect request parameters: {}",
                    fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>().join(", ")
                );
                out.invalid = fields;
            }
            Error::TooManyRequests { retry_after_secs } => out.retry_after = Some(retry_after_secs),
            Error::RangeMismatch { stored, .. } => out.stored = Some(stored),
            Error::StorageFull(msg) => {
                tracing::error!(error = %msg, "disk full");
                out.retry_after = Some(60);
            }
            _ => {}
        }
        out
    }
}

fn from_db(e: &flotilla_app::DbError, code: &'static str) -> ApiError {
    use flotilla_app::DbError as D;
    match e {
        D::NotFound => ApiError::new(StatusCode::NOT_FOUND, code, "Not found"),
        D::Conflict(_) => ApiError::new(StatusCode::CONFLICT, code, "This already exists"),
        D::Unavailable(m) => {
            tracing::error!(error = %m, "database unavailable");
            let mut r =
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, "The database is unavailable; try again shortly");
            r.retry_after = Some(5);
            r
        }
        D::Other(m) => {
            tracing::error!(error = %m, "database error");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, "Internal server error")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "detail": self.detail,
            "status": self.status.as_u16(),
            "code": self.code,
            "error": self.detail,
            "docs": "https://docs.joinpeertube.org/api-rest-reference.html",
        });
        if !self.invalid.is_empty() {
            let mut m = Map::new();
            for f in &self.invalid {
                m.insert(
                    f.field.clone(),
                    json!({ "type": "field", "msg": f.msg, "path": f.field, "location": "body" }),
                );
            }
            body["invalid-params"] = Value::Object(m);
        }
        let mut resp = (self.status, body.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json; charset=utf-8"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(stored) = self.stored.filter(|s| *s > 0)
            && let Ok(v) = HeaderValue::from_str(&format!("bytes=0-{}", stored - 1))
        {
            headers.insert(header::RANGE, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // PeerTube's clients ask for the code when they see this header.
        if self.code == "missing_two_factor" {
            headers.insert("x-peertube-otp", HeaderValue::from_static("required; app"));
        }
        resp
    }
}

/// An axum extractor refused the request (bad JSON, body too large, …): keep its status and
/// message, in our body.
pub fn rejection(status: StatusCode, text: String) -> ApiError {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal_error",
        _ => "malformed_request",
    };
    ApiError::new(status, code, text)
}
