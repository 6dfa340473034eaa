//! `hulu serve`: the OpenAI-compatible server (`hulu-server`) on a loaded model.

use super::common::ModelArgs;
use anyhow::{Context, Result};
use clap::Args;
use hulu_server::ServerConfig;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `hulu serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Address to bind; anything but loopback needs an API key.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Key clients send as `Authorization: Bearer KEY`.
    #[arg(long, env = "HULU_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The model id clients name (default: the checkpoint folder's name).
    #[arg(long)]
    served_model_name: Option<String>,
    /// Folder whose files requests may name by path (nothing outside it is reachable).
    #[arg(long)]
    media_root: Option<PathBuf>,
    /// Where uploads are kept (default: a temporary folder removed at exit).
    #[arg(long)]
    upload_dir: Option<PathBuf>,
    /// Most requests decoded together.
    #[arg(long, default_value_t = 8)]
    max_batch: usize,
    /// Columns of the batch's KV cache (prompt + new tokens of every running request).
    #[arg(long, default_value_t = 4096)]
    max_context: usize,
    /// Requests waiting beyond the running ones; more get 429.
    #[arg(long, default_value_t = 64)]
    max_queue: usize,
    /// Cap (and default) of max_tokens.
    #[arg(long, default_value_t = 1024)]
    max_tokens: usize,
    /// Cap on the pixel budget in patches per request.
    #[arg(long, default_value_t = 16384)]
    max_visual_tokens: usize,
    /// Cap on frames or slices per visual.
    #[arg(long, default_value_t = 64)]
    max_frames: usize,
    /// Largest chat request body, MiB.
    #[arg(long, default_value_t = 32)]
    max_body_mib: u64,
    /// Largest upload, MiB.
    #[arg(long, default_value_t = 512)]
    max_upload_mib: u64,
    /// All uploads together, MiB.
    #[arg(long, default_value_t = 2048)]
    upload_quota_mib: u64,
    /// Seconds an upload is kept.
    #[arg(long, default_value_t = 3600)]
    upload_ttl: u64,
    /// Seconds to receive a request's headers.
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Seconds to receive a request's body.
    #[arg(long, default_value_t = 60)]
    body_timeout: u64,
    /// Seconds in-flight requests may take after SIGTERM.
    #[arg(long, default_value_t = 30)]
    grace: u64,
    /// Encoded studies kept for follow-up questions (0: off).
    #[arg(long, default_value_t = 16)]
    encoder_cache: usize,
    /// Finished conversations whose KV cache is kept for follow-up questions (0: off).
    #[arg(long, default_value_t = 8)]
    prefix_cache: usize,
    /// An operator system prompt put before every conversation.
    #[arg(long)]
    system_prompt: Option<String>,
}

/// Runs `hulu serve` until SIGTERM or Ctrl-C.
pub fn run(args: &ServeArgs) -> Result<()> {
    let model_id = args.served_model_name.clone().unwrap_or_else(|| {
        args.model
            .model
            .file_name()
            .map_or_else(|| "hulu-med".into(), |n| n.to_string_lossy().into_owned())
    });
    let config = ServerConfig {
        host: args.host,
        port: args.port,
        model_id,
        api_key: args.api_key.clone(),
        media_root: args.media_root.clone(),
        upload_dir: args.upload_dir.clone(),
        max_body_bytes: args.max_body_mib << 20,
        max_upload_bytes: args.max_upload_mib << 20,
        upload_quota_bytes: args.upload_quota_mib << 20,
        upload_ttl: Duration::from_secs(args.upload_ttl),
        max_queue: args.max_queue,
        max_batch: args.max_batch,
        max_context: args.max_context,
        max_new_tokens: args.max_tokens,
        max_visual_tokens: args.max_visual_tokens,
        max_frames: args.max_frames,
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        grace_period: Duration::from_secs(args.grace),
        encoder_cache_entries: args.encoder_cache,
        prefix_cache_entries: args.prefix_cache,
        system_prompt: args.system_prompt.clone(),
        ..ServerConfig::default()
    }
    .validate()?;
    let (model, took) = args.model.load()?;
    eprintln!(
        "loaded {} in {:.2}s",
        args.model.model.display(),
        took.as_secs_f64()
    );
    hulu_server::serve_blocking(config, model).context("hulu serve")?;
    Ok(())
}
