//! The HTTP routes: OpenAI's chat completions, models and files, plus `/health` and
//! `/metrics`; the key check and per-route status counting around them.

use crate::config::{check_key, ServerConfig};
use crate::content::{to_conversation, Resolver};
use crate::error::{parse_json, ApiError};
use crate::files::{random_id, unix_now, FileStore};
use crate::metrics::Metrics;
use crate::openai::{ChatRequest, HuluOptions};
use crate::worker::{retry_after, Event, Job};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use hulu_model::{FinishReason, GenerateOptions, PrepareOptions, SamplingOptions, TokenCounts};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// What every handler shares.
pub struct AppState {
    /// The settings.
    pub config: ServerConfig,
    /// The model thread's queue.
    pub queue: mpsc::Sender<Job>,
    /// Uploads.
    pub files: FileStore,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set on SIGTERM: new chats get 503.
    pub draining: AtomicBool,
    /// Unix seconds at start (the model's `created`).
    pub started: u64,
}

type Shared = Arc<AppState>;

/// The router over `state`.
pub fn router(state: Shared) -> Router {
    let upload_limit = (state.files.max_bytes as usize).saturating_add(1 << 20);
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/models", get(models))
        .route("/v1/models/{id}", get(model))
        .route("/v1/chat/completions", post(chat))
        .route(
            "/v1/files",
            post(upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/v1/files/{id}", get(file_info).delete(file_delete))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Checks the key (everything but `/health`) and counts the response by route and status.
async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let key = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let response = match (
        route.as_str(),
        check_key(state.config.api_key.as_deref(), key),
    ) {
        ("/health", _) | (_, Ok(())) => next.run(request).await,
        (_, Err(e)) => e.into_response(),
    };
    state.metrics.request(&route, response.status().as_u16());
    response
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!("{} {}", request.method(), request.uri().path()))
}

async fn health(State(state): State<Shared>) -> Response {
    if state.draining.load(Ordering::Relaxed) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response()
    } else {
        Json(json!({"status": "ok"})).into_response()
    }
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

fn model_json(state: &AppState) -> Value {
    json!({
        "id": state.config.model_id,
        "object": "model",
        "created": state.started,
        "owned_by": "hulu",
    })
}

async fn models(State(state): State<Shared>) -> Json<Value> {
    Json(json!({"object": "list", "data": [model_json(&state)]}))
}

async fn model(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id == state.config.model_id {
        Ok(Json(model_json(&state)))
    } else {
        Err(ApiError::UnknownModel(id))
    }
}

/// Reads a body of at most `limit` bytes within the body timeout.
async fn read_body(body: Body, config: &ServerConfig) -> Result<bytes::Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, config.max_body_bytes as usize);
    match tokio::time::timeout(config.body_timeout, limited.collect()).await {
        Err(_) => Err(ApiError::Timeout),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::TooLarge {
                what: "the request body".into(),
                limit: config.max_body_bytes,
            })
        }
        Ok(Err(e)) => Err(ApiError::BadRequest {
            field: "body".into(),
            reason: format!("reading the body failed: {e}"),
        }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn bad(field: &str, reason: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The generation options of a request, within the server's caps. Without a temperature (or
/// with 0) decoding is greedy, as `hulu ask` decodes.
fn generate_options(req: &ChatRequest, config: &ServerConfig) -> Result<GenerateOptions, ApiError> {
    if let Some(n) = req.n {
        if n != 1 {
            return Err(bad("n", format!("only n = 1 is served (got {n})")));
        }
    }
    let (field, max) = match (req.max_completion_tokens, req.max_tokens) {
        (Some(m), _) => ("max_completion_tokens", Some(m)),
        (None, Some(m)) => ("max_tokens", Some(m)),
        (None, None) => ("max_tokens", None),
    };
    let max_new_tokens = match max {
        None => config.max_new_tokens,
        Some(0) => return Err(bad(field, "must be at least 1")),
        Some(m) if m > config.max_new_tokens as u64 => {
            return Err(bad(
                field,
                format!("{m} is over the server's cap of {}", config.max_new_tokens),
            ))
        }
        Some(m) => m as usize,
    };
    let hulu = req.hulu.clone().unwrap_or_default();
    let mut sampling = SamplingOptions::greedy();
    match req.temperature {
        Some(t) if !(0.0..=2.0).contains(&t) || t.is_nan() => {
            return Err(bad("temperature", format!("{t} is not in [0, 2]")))
        }
        Some(t) if t > 0.0 => {
            let top_p = req.top_p.unwrap_or(1.0);
            if !(top_p > 0.0 && top_p <= 1.0) {
                return Err(bad("top_p", format!("{top_p} is not in (0, 1]")));
            }
            sampling = SamplingOptions {
                do_sample: true,
                temperature: t,
                top_p,
                top_k: hulu.top_k.unwrap_or(0),
                seed: req.seed.unwrap_or(0) as u64,
                ..sampling
            };
        }
        _ => {}
    }
    if let Some(p) = hulu.repetition_penalty {
        if !(p.is_finite() && p > 0.0) {
            return Err(bad(
                "hulu.repetition_penalty",
                format!("{p} is not positive"),
            ));
        }
        sampling.repetition_penalty = p;
    }
    let stop = req
        .stop
        .as_ref()
        .map(|s| match s {
            crate::openai::Stop::One(s) => vec![s.clone()],
            crate::openai::Stop::Many(v) => v.clone(),
        })
        .unwrap_or_default();
    if stop.len() > 4 || stop.iter().any(String::is_empty) {
        return Err(bad("stop", "up to 4 non-empty strings"));
    }
    Ok(GenerateOptions {
        max_new_tokens,
        sampling,
        stop_strings: stop,
        ..GenerateOptions::default()
    })
}

/// The preparation options: user text literal, visual budget within the cap.
fn prepare_options(hulu: &HuluOptions, config: &ServerConfig) -> Result<PrepareOptions, ApiError> {
    if let Some(t) = hulu.max_visual_tokens {
        if t == 0 || t > config.max_visual_tokens {
            return Err(bad(
                "hulu.max_visual_tokens",
                format!("{t} is not in [1, {}]", config.max_visual_tokens),
            ));
        }
    }
    if let Some(t) = hulu.compression_threshold {
        if !(t.is_finite() && t >= 0.0) {
            return Err(bad(
                "hulu.compression_threshold",
                format!("{t} is not >= 0"),
            ));
        }
    }
    Ok(PrepareOptions {
        compression: hulu.compression,
        compression_threshold: hulu.compression_threshold,
        max_visual_tokens: hulu.max_visual_tokens,
        literal_text: true,
        ..PrepareOptions::default()
    })
}

fn finish_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::MaxTokens => "length",
        _ => "stop",
    }
}

fn usage(counts: &TokenCounts, completion: usize, cached: bool, cached_tokens: usize) -> Value {
    json!({
        "prompt_tokens": counts.total(),
        // OpenAI's field for prompt tokens served from a prefix cache.
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
        "completion_tokens": completion,
        "total_tokens": counts.total() + completion,
        "visual_tokens_before_compression": counts.visual_before,
        "visual_tokens_after_compression": counts.visual_after,
        "encoder_cache_hit": cached,
    })
}

async fn chat(State(state): State<Shared>, body: Body) -> Result<Response, ApiError> {
    let received = Instant::now();
    if state.draining.load(Ordering::Relaxed) {
        return Err(ApiError::Unavailable);
    }
    let bytes = read_body(body, &state.config).await?;
    let mut req: ChatRequest = parse_json(&bytes)?;
    if req.model != state.config.model_id {
        return Err(ApiError::UnknownModel(req.model));
    }
    let generate = generate_options(&req, &state.config)?;
    let prepare = prepare_options(&req.hulu.clone().unwrap_or_default(), &state.config)?;
    let stream = req.stream.unwrap_or(false);
    let include_usage = req
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let messages = std::mem::take(&mut req.messages);
    let reader = state.clone();
    let conversation = tokio::task::spawn_blocking(move || {
        let config = &reader.config;
        to_conversation(
            messages,
            config.system_prompt.as_deref(),
            &Resolver {
                files: &reader.files,
                media_root: config.media_root.as_deref(),
                max_frames: config.max_frames,
                max_visuals: config.max_visuals,
            },
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("reading the content: {e}")))??;

    let (events, mut rx) = mpsc::unbounded_channel();
    let job = Job {
        conversation,
        prepare,
        generate,
        events,
        received,
    };
    state.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = state.queue.try_send(job) {
        state.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        return Err(match e {
            mpsc::error::TrySendError::Full(_) => {
                let depth = state.queue.max_capacity();
                ApiError::Busy {
                    depth,
                    retry_after_s: retry_after(depth).as_secs(),
                }
            }
            mpsc::error::TrySendError::Closed(_) => ApiError::Unavailable,
        });
    }
    let stopped = || ApiError::Internal("the model thread stopped".into());
    let (counts, cached) = match rx.recv().await.ok_or_else(stopped)? {
        Event::Started { counts, cached } => (counts, cached),
        Event::Failed(e) => return Err(e),
        other => return Err(ApiError::Internal(format!("unexpected {other:?}"))),
    };
    let id = random_id("chatcmpl-");
    let created = unix_now();
    let model = state.config.model_id.clone();
    if !stream {
        let mut text = String::new();
        loop {
            match rx.recv().await.ok_or_else(stopped)? {
                Event::Piece(p) => text.push_str(&p),
                Event::Done {
                    completion_tokens,
                    finish,
                    cached_tokens,
                } => {
                    return Ok(Json(json!({
                        "id": id,
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "choices": [{
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "logprobs": null,
                            "finish_reason": finish_reason(finish),
                        }],
                        "usage": usage(&counts, completion_tokens, cached, cached_tokens),
                    }))
                    .into_response())
                }
                Event::Failed(e) => return Err(e),
                Event::Started { .. } => {}
            }
        }
    }
    let (sse, sse_rx) = mpsc::channel::<Result<SseEvent, Infallible>>(16);
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Option<&str>| {
            let body = json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            });
            Ok(SseEvent::default().data(body.to_string()))
        };
        if sse
            .send(chunk(json!({"role": "assistant", "content": ""}), None))
            .await
            .is_err()
        {
            return;
        }
        while let Some(event) = rx.recv().await {
            let out = match event {
                Event::Piece(p) => vec![chunk(json!({"content": p}), None)],
                Event::Done {
                    completion_tokens,
                    finish,
                    cached_tokens,
                } => {
                    let mut out = vec![chunk(json!({}), Some(finish_reason(finish)))];
                    if include_usage {
                        let body = json!({
                            "id": id, "object": "chat.completion.chunk", "created": created,
                            "model": model, "choices": [],
                            "usage": usage(&counts, completion_tokens, cached, cached_tokens),
                        });
                        out.push(Ok(SseEvent::default().data(body.to_string())));
                    }
                    out.push(Ok(SseEvent::default().data("[DONE]")));
                    out
                }
                Event::Failed(e) => vec![Ok(SseEvent::default().data(e.body().to_string()))],
                Event::Started { .. } => Vec::new(),
            };
            for item in out {
                // The client has gone: dropping `rx` stops the generation at its next token.
                if sse.send(item).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(
        Sse::new(tokio_stream::wrappers::ReceiverStream::new(sse_rx))
            .keep_alive(KeepAlive::default())
            .into_response(),
    )
}

async fn upload(
    State(state): State<Shared>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut multipart = multipart.map_err(|e| bad("body", e.body_text()))?;
    let config = &state.config;
    let mut purpose = String::from("user_data");
    let mut stored = None;
    let part_error = |e: axum::extract::multipart::MultipartError, limit: u64| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge {
                what: "the upload".into(),
                limit,
            }
        } else {
            bad("body", e.body_text())
        }
    };
    loop {
        let next = tokio::time::timeout(config.body_timeout, multipart.next_field())
            .await
            .map_err(|_| ApiError::Timeout)?
            .map_err(|e| part_error(e, state.files.max_bytes))?;
        let Some(mut field) = next else { break };
        match field.name() {
            Some("purpose") => {
                purpose = tokio::time::timeout(config.body_timeout, field.text())
                    .await
                    .map_err(|_| ApiError::Timeout)?
                    .map_err(|e| part_error(e, state.files.max_bytes))?;
            }
            Some("file") if stored.is_none() => {
                let filename = field.file_name().unwrap_or("upload").to_string();
                let (id, path) = state.files.new_slot()?;
                let result = async {
                    let mut out = tokio::fs::File::create(&path)
                        .await
                        .map_err(|e| ApiError::Internal(format!("upload file: {e}")))?;
                    let mut written = 0u64;
                    loop {
                        let chunk = tokio::time::timeout(config.body_timeout, field.chunk())
                            .await
                            .map_err(|_| ApiError::Timeout)?
                            .map_err(|e| part_error(e, state.files.max_bytes))?;
                        let Some(chunk) = chunk else { break };
                        written += chunk.len() as u64;
                        if written > state.files.max_bytes {
                            return Err(ApiError::TooLarge {
                                what: "the upload".into(),
                                limit: state.files.max_bytes,
                            });
                        }
                        out.write_all(&chunk)
                            .await
                            .map_err(|e| ApiError::Internal(format!("upload file: {e}")))?;
                    }
                    out.flush()
                        .await
                        .map_err(|e| ApiError::Internal(format!("upload file: {e}")))?;
                    Ok(written)
                }
                .await;
                match result {
                    Ok(bytes) => stored = Some((id, path, bytes, filename)),
                    Err(e) => {
                        state.files.remove_slot(&id);
                        return Err(e);
                    }
                }
            }
            _ => {}
        }
    }
    let Some((id, path, bytes, filename)) = stored else {
        return Err(ApiError::InvalidField {
            field: "file".into(),
            reason: "no `file` part in the multipart body".into(),
        });
    };
    // A corrupt or unsupported upload is refused now, not at its first question.
    let check_path = path.clone();
    let subject = filename.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let options = hulu_model::LoadOptions {
            max_frames: 2,
            slices: Some(2),
            ..hulu_model::LoadOptions::default()
        };
        hulu_model::VisualSource::detect(&check_path)
            .and_then(|s| s.load(&options))
            .map(|_| ())
            .map_err(|e| ApiError::UnreadableContent {
                subject,
                reason: e.to_string(),
            })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("checking the upload: {e}")));
    if let Err(e) = checked.and_then(|r| r) {
        state.files.remove_slot(&id);
        return Err(e);
    }
    let file = state.files.commit(id, path, bytes, filename, purpose)?;
    tracing::info!(id = %file.id, bytes, "upload stored");
    Ok(Json(file.to_json()))
}

async fn file_info(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.files.get(&id)?.to_json()))
}

async fn file_delete(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.files.delete(&id)?;
    Ok(Json(json!({"id": id, "object": "file", "deleted": true})))
}
