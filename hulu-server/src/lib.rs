//! `hulu serve`: Hulu-Med behind an OpenAI-compatible HTTP API, with medical content parts.
//!
//! - `POST /v1/chat/completions`: OpenAI's chat completions, streamed as server-sent events
//!   or not; content parts `text`, `image_url` (`data:` URLs only) and hulu's `dicom_series`,
//!   `dicom_file`, `nifti` and `video` naming an upload (`file_id`) or a path under
//!   `--media-root`, with the reading options of `hulu ask`; request options in `hulu`
//!   (`extra_body`). `usage` adds the visual tokens before and after compression.
//! - `POST /v1/files` (multipart, one file or a `.zip` DICOM export), `GET`/`DELETE
//!   /v1/files/{id}`; `GET /v1/models`; `GET /health`; `GET /metrics` (Prometheus).
//!
//! One thread owns the model ([`worker`]); the HTTP side ([`routes`], [`server`]) runs on
//! tokio. Errors are OpenAI's error JSON ([`ApiError`]). Safe defaults live in
//! [`ServerConfig`]: loopback only unless an API key is set, bounded bodies, uploads, queue
//! and per-request work, header and body timeouts, user text encoded literally.

pub mod config;
pub mod content;
pub mod error;
pub mod files;
pub mod media;
pub mod metrics;
pub mod openai;
pub mod routes;
pub mod server;
pub mod worker;

pub use config::{ConfigError, ServerConfig};
pub use error::ApiError;
pub use server::{serve, serve_blocking, serve_on, shutdown_signal, ServeError};
