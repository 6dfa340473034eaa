//! The server's one error type and its OpenAI error JSON.
//!
//! Every failure a request can meet is an [`ApiError`] variant; each has one HTTP status and
//! one OpenAI `type`/`code`, and names its subject (the field, the file id, the path). The
//! body is OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so the official
//! clients raise their typed exceptions (`BadRequestError`, `AuthenticationError`, …).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (syntax error or truncated), 400.
    #[error("the request body is not valid JSON: {reason}")]
    MalformedJson {
        /// serde_json's description with line and column.
        reason: String,
    },
    /// The JSON has a field of the wrong type or value, or lacks one, 422.
    #[error("field `{field}`: {reason}")]
    InvalidField {
        /// The field's path in the request, e.g. `messages[0].content`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request the server will not run as asked (unsupported `n`, over a per-request cap),
    /// 400.
    #[error("{field}: {reason}")]
    BadRequest {
        /// The parameter at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// No or the wrong API key, 401.
    #[error("missing or invalid API key (send `Authorization: Bearer KEY`)")]
    Unauthorized,
    /// The `model` field names no model this server holds, 404.
    #[error("model `{0}` does not exist on this server")]
    UnknownModel(String),
    /// A file id that was never issued, has expired or was deleted, 404.
    #[error("file `{0}` does not exist (never uploaded, expired or deleted)")]
    UnknownFile(String),
    /// No such route, 404.
    #[error("no route for {0}")]
    NotFound(String),
    /// A body or upload over its limit, 413.
    #[error("{what} is over the limit of {limit} bytes")]
    TooLarge {
        /// What was too large (the request body, the upload, the upload quota).
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A media path refused: outside `--media-root`, with `..`, or no media root set, 403.
    #[error("path `{path}` refused: {reason}")]
    PathRefused {
        /// The path as the client sent it.
        path: String,
        /// Why.
        reason: String,
    },
    /// Content the server cannot read: a corrupt upload, a data URL that is no picture, a
    /// part whose file is of another kind, 422.
    #[error("{subject}: {reason}")]
    UnreadableContent {
        /// The part or file at fault.
        subject: String,
        /// Why (the reader's message).
        reason: String,
    },
    /// The queue is full, 429 with `Retry-After`.
    #[error("the server is busy ({depth} requests queued); retry after {retry_after_s} s")]
    Busy {
        /// Requests waiting.
        depth: usize,
        /// Seconds the client should wait.
        retry_after_s: u64,
    },
    /// The server is draining for shutdown or its model thread has stopped, 503.
    #[error("the server is shutting down")]
    Unavailable,
    /// The client took too long to send its request, 408.
    #[error("the request body was not received in time")]
    Timeout,
    /// The model failed on a request it accepted, 500.
    #[error("the model failed")]
    Model(#[source] hulu_model::Error),
    /// A server-side failure (storage, a thread), 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson { .. } | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. } | ApiError::UnreadableContent { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::UnknownModel(_) | ApiError::UnknownFile(_) | ApiError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::PathRefused { .. } => StatusCode::FORBIDDEN,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Model(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's `error.type`.
    fn kind(&self) -> &'static str {
        match self.status() {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::NOT_FOUND => "not_found_error",
            StatusCode::FORBIDDEN => "permission_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_server_error() => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// OpenAI's `error.code`.
    fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson { .. } => "invalid_json",
            ApiError::InvalidField { .. } => "invalid_type",
            ApiError::BadRequest { .. } => "invalid_value",
            ApiError::Unauthorized => "invalid_api_key",
            ApiError::UnknownModel(_) => "model_not_found",
            ApiError::UnknownFile(_) => "file_not_found",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::PathRefused { .. } => "path_refused",
            ApiError::UnreadableContent { .. } => "unreadable_content",
            ApiError::Busy { .. } => "queue_full",
            ApiError::Unavailable => "shutting_down",
            ApiError::Timeout => "timeout",
            ApiError::Model(_) | ApiError::Internal(_) => "internal_error",
        }
    }

    /// OpenAI's `error.param`: the field at fault, where there is one.
    fn param(&self) -> Option<&str> {
        match self {
            ApiError::InvalidField { field, .. } | ApiError::BadRequest { field, .. } => {
                Some(field)
            }
            ApiError::UnknownModel(_) => Some("model"),
            _ => None,
        }
    }

    /// The message with its source chain, for the client (the `Display` of each variant
    /// leaves the source out, as error chains expect).
    pub fn message(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }

    /// The OpenAI error object, `{"error": {...}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message(),
                "type": self.kind(),
                "param": self.param(),
                "code": self.code(),
            }
        })
    }

    /// The error of a model call: a request the model refuses (its sampling options, a prompt
    /// over the context, content it cannot read) is the client's; the rest is the server's.
    pub fn from_model(err: hulu_model::Error) -> Self {
        use hulu_model::Error as E;
        match err {
            E::InvalidSampling(reason) => ApiError::BadRequest {
                field: "sampling".into(),
                reason,
            },
            E::PromptTooLong { tokens, max } => ApiError::BadRequest {
                field: "messages".into(),
                reason: format!(
                    "the prompt and max_tokens need {tokens} positions; the model has {max}"
                ),
            },
            E::Media(_)
            | E::Vision(_)
            | E::ImageCountMismatch { .. }
            | E::LiteralImageToken { .. }
            | E::TemplateBudget { .. } => ApiError::UnreadableContent {
                subject: "messages".into(),
                reason: err.to_string(),
            },
            other => ApiError::Model(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self.message(), "request failed");
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if let ApiError::Busy { retry_after_s, .. } = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after_s.to_string()).expect("digits"),
            );
        }
        if let ApiError::Unauthorized = self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Parses a JSON body: a syntax error is [`ApiError::MalformedJson`] (400); a wrong type, a
/// missing or unknown field is [`ApiError::InvalidField`] (422) naming the field's path.
///
/// # Errors
///
/// As above.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => ApiError::InvalidField {
                    field: path,
                    reason: inner.to_string(),
                },
                _ => ApiError::MalformedJson {
                    reason: inner.to_string(),
                },
            });
        }
    };
    de.end().map_err(|e| ApiError::MalformedJson {
        reason: e.to_string(),
    })?;
    Ok(value)
}
