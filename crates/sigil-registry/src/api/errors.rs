//! Error responses in the format of distribution-spec § Error Codes:
//! `{"errors":[{"code":…,"message":…,"detail":…}]}` with the spec's codes and statuses.
//! Internal failures are logged and answered with a bare `UNKNOWN`: clients never see paths
//! or OS errors.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::Error;

/// Boxed: handlers return `Result<_, ApiError>` everywhere and the error is the cold path.
#[derive(Debug)]
pub(crate) struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: &'static str,
    message: String,
    detail: Option<serde_json::Value>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(Inner {
            status,
            code,
            message: message.into(),
            detail: None,
            headers: Vec::new(),
        }))
    }

    pub fn detail(mut self, detail: serde_json::Value) -> ApiError {
        self.0.detail = Some(detail);
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: &str) -> ApiError {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.0.headers.push((name, v));
        }
        self
    }

    pub fn blob_unknown(digest: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        )
        .detail(serde_json::json!({ "digest": digest }))
    }

    pub fn manifest_unknown(reference: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown to registry",
        )
        .detail(serde_json::json!({ "reference": reference }))
    }

    pub fn digest_invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", message)
    }

    pub fn name_invalid(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            "invalid repository name",
        )
        .detail(serde_json::json!({ "name": name }))
    }

    pub fn name_unknown(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        )
        .detail(serde_json::json!({ "name": name }))
    }

    pub fn unsupported(status: StatusCode, message: &str) -> ApiError {
        ApiError::new(status, "UNSUPPORTED", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        )
        .header(header::WWW_AUTHENTICATE, "Basic realm=\"sigil-registry\"")
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::UploadUnknown(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                "BLOB_UPLOAD_UNKNOWN",
                "blob upload unknown to registry",
            )
            .detail(serde_json::json!({ "uuid": id })),
            Error::RangeInvalid { expected, got } => ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UPLOAD_INVALID",
                format!("chunk starts at {got}, but the upload has {expected} bytes"),
            )
            .header(header::RANGE, &range_header(expected)),
            Error::DigestMismatch { expected, actual } => {
                ApiError::digest_invalid("provided digest did not match uploaded content")
                    .detail(serde_json::json!({ "expected": expected, "actual": actual }))
            }
            Error::TooLarge { limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                format!("content exceeds the registry's limit of {limit} bytes"),
            ),
            Error::TooManyUploads { limit } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                format!("too many open upload sessions (limit {limit}); finish or cancel some"),
            ),
            Error::Body(e) => {
                tracing::debug!(error = %e, "request body failed");
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "BLOB_UPLOAD_INVALID",
                    "the request body could not be read",
                )
            }
            other => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other), "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "UNKNOWN",
                    "internal error (see the registry's log)",
                )
            }
        }
    }
}

/// The `Range` header of an upload session of `size` bytes: distribution writes `0-0` for an
/// empty session and `0-<last byte>` otherwise.
pub(crate) fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let inner = *self.0;
        let mut err = serde_json::json!({ "code": inner.code, "message": inner.message });
        if let (Some(d), Some(obj)) = (inner.detail, err.as_object_mut()) {
            obj.insert("detail".into(), d);
        }
        let body = serde_json::json!({ "errors": [err] }).to_string();
        let mut resp = (
            inner.status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response();
        for (k, v) in inner.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}
