//! The server's settings, with safe defaults: loopback only, bounded bodies, uploads, queue,
//! tokens and frames, and timeouts on reading a request.

use crate::error::ApiError;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// How the server runs. [`ServerConfig::default`] binds 127.0.0.1:8000 with the limits below.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind (default 127.0.0.1).
    pub host: IpAddr,
    /// Port (default 8000; 0 picks a free one).
    pub port: u16,
    /// The id clients name in `model` (default: the checkpoint folder's name).
    pub model_id: String,
    /// Bearer key every `/v1` request must carry; required to bind a non-loopback address.
    pub api_key: Option<String>,
    /// Folder whose files requests may name by path (none: paths are refused).
    pub media_root: Option<PathBuf>,
    /// Where uploads are kept (default: a fresh folder under the system temp dir).
    pub upload_dir: Option<PathBuf>,
    /// Largest chat request body, bytes (default 32 MiB: data URLs are inline).
    pub max_body_bytes: u64,
    /// Largest single upload, bytes (default 512 MiB).
    pub max_upload_bytes: u64,
    /// Bytes all uploads together may hold (default 2 GiB).
    pub upload_quota_bytes: u64,
    /// How long an upload is kept (default 1 h).
    pub upload_ttl: Duration,
    /// Requests waiting for the model beyond the running ones; more get 429 (default 64).
    pub max_queue: usize,
    /// Most requests decoded together (default 8).
    pub max_batch: usize,
    /// Columns of the batch's KV cache: every running request's prompt and new tokens fit
    /// in it (default 4096; a longer request gets 400).
    pub max_context: usize,
    /// Cap on `max_tokens` (default 1024); also the default.
    pub max_new_tokens: usize,
    /// Cap on the pixel budget in patches per request (default 16384).
    pub max_visual_tokens: usize,
    /// Cap on frames or slices per visual (default 64).
    pub max_frames: usize,
    /// Most visual parts per request (default 8).
    pub max_visuals: usize,
    /// Time to receive a request's headers (default 10 s).
    pub header_timeout: Duration,
    /// Time to receive a request's body (default 60 s).
    pub body_timeout: Duration,
    /// After SIGTERM, how long in-flight requests may take to finish (default 30 s).
    pub grace_period: Duration,
    /// Encoded visuals kept for follow-up questions (default 16; 0 disables the cache).
    pub encoder_cache_entries: usize,
    /// Finished conversations whose decoder KV cache is kept, so a follow-up question with the
    /// same beginning prefills only its new tokens (default 8; 0 disables it).
    pub prefix_cache_entries: usize,
    /// An operator system prompt put before every conversation (its control tokens are read
    /// as such, unlike the clients' text).
    pub system_prompt: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8000,
            model_id: "hulu-med".into(),
            api_key: None,
            media_root: None,
            upload_dir: None,
            max_body_bytes: 32 << 20,
            max_upload_bytes: 512 << 20,
            upload_quota_bytes: 2 << 30,
            upload_ttl: Duration::from_secs(3600),
            max_queue: 64,
            max_batch: 8,
            max_context: 4096,
            max_new_tokens: 1024,
            max_visual_tokens: 16384,
            max_frames: 64,
            max_visuals: 8,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            grace_period: Duration::from_secs(30),
            encoder_cache_entries: 16,
            prefix_cache_entries: 8,
            system_prompt: None,
        }
    }
}

/// A setting the server refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A non-loopback address without an API key.
    #[error("binding {0} (not loopback) needs an API key (--api-key or HULU_API_KEY)")]
    KeyRequired(IpAddr),
    /// An empty API key.
    #[error("the API key is empty")]
    EmptyKey,
    /// The media root cannot be resolved.
    #[error("media root {}", path.display())]
    MediaRoot {
        /// The folder given.
        path: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: std::io::Error,
    },
    /// A limit of zero where one is needed.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

impl ServerConfig {
    /// The address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// Checks the settings; resolves the media root to its canonical path (symlinks and all),
    /// against which every requested path is checked.
    ///
    /// # Errors
    ///
    /// [`ConfigError::KeyRequired`] for a non-loopback host without a key,
    /// [`ConfigError::EmptyKey`], [`ConfigError::MediaRoot`] for a root that does not
    /// resolve, [`ConfigError::Zero`] for a zero batch, queue or token cap.
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        match &self.api_key {
            Some(k) if k.is_empty() => return Err(ConfigError::EmptyKey),
            None if !self.host.is_loopback() => return Err(ConfigError::KeyRequired(self.host)),
            _ => {}
        }
        for (value, name) in [
            (self.max_batch, "max_batch"),
            (self.max_queue, "max_queue"),
            (self.max_new_tokens, "max_new_tokens"),
            (self.max_frames, "max_frames"),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if let Some(root) = &self.media_root {
            let canonical =
                std::fs::canonicalize(root).map_err(|source| ConfigError::MediaRoot {
                    path: root.clone(),
                    source,
                })?;
            self.media_root = Some(canonical);
        }
        Ok(self)
    }

    /// The settings as printed at start.
    pub fn summary(&self) -> String {
        format!(
            "hulu serve: http://{} model {:?} | api key {} | media root {} | max batch {}, context {}, queue {}, \
             max tokens {}, visual tokens {}, frames {}, body {} MiB, upload {} MiB (quota {} MiB, kept {} s), \
             header/body timeout {}/{} s, grace {} s, encoder cache {}, prefix cache {}",
            self.addr(),
            self.model_id,
            if self.api_key.is_some() { "required" } else { "off" },
            self.media_root
                .as_ref()
                .map_or_else(|| "none".into(), |p| p.display().to_string()),
            self.max_batch,
            self.max_context,
            self.max_queue,
            self.max_new_tokens,
            self.max_visual_tokens,
            self.max_frames,
            self.max_body_bytes >> 20,
            self.max_upload_bytes >> 20,
            self.upload_quota_bytes >> 20,
            self.upload_ttl.as_secs(),
            self.header_timeout.as_secs(),
            self.body_timeout.as_secs(),
            self.grace_period.as_secs(),
            self.encoder_cache_entries,
            self.prefix_cache_entries,
        )
    }
}

/// Checks a presented key against the configured one in constant time: both are hashed
/// (SHA-256) first so the comparison takes the same time whatever their lengths.
pub fn key_matches(expected: &str, presented: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    a.ct_eq(&b).into()
}

/// [`ApiError::Unauthorized`] unless the `Authorization: Bearer` header carries the key.
///
/// # Errors
///
/// As above.
pub fn check_key(expected: Option<&str>, header: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let presented = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if key_matches(expected, presented) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_key() {
        let config = ServerConfig {
            host: IpAddr::from([0, 0, 0, 0]),
            ..ServerConfig::default()
        };
        assert!(matches!(
            config.clone().validate(),
            Err(ConfigError::KeyRequired(_))
        ));
        let keyed = ServerConfig {
            api_key: Some("k".into()),
            ..config
        };
        assert!(keyed.validate().is_ok());
        assert!(ServerConfig::default().validate().is_ok());
    }

    #[test]
    fn keys_compare_exactly() {
        assert!(check_key(Some("secret"), Some("Bearer secret")).is_ok());
        assert!(check_key(Some("secret"), Some("Bearer secre")).is_err());
        assert!(check_key(Some("secret"), Some("secret")).is_err());
        assert!(check_key(Some("secret"), None).is_err());
        assert!(check_key(None, None).is_ok());
    }
}
