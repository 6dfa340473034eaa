//! The model thread: `HuluMed` is `Send` but not `Sync`, so one thread owns it and takes jobs
//! from a bounded channel (a full channel is the 429 of the HTTP side). Jobs join one running
//! decode batch ([`hulu_model::Batcher`], continuous batching) and leave it when done. Each
//! job streams [`Event`]s back; when its receiver is gone (the client disconnected) its row
//! leaves the batch before the next step.
//!
//! Preparing a newcomer (reading its prompt, the vision encoder on a miss of the encoder
//! cache) runs on this thread between steps, so a large study pauses the running rows for
//! its encoding; the prefill itself is interleaved chunk by chunk, and starts after the
//! longest prefix the batcher's prefix cache holds (a follow-up question about the same
//! study prefills only the question).

use crate::content::Conversation;
use crate::error::ApiError;
use crate::metrics::Metrics;
use hulu_model::{
    Batcher, EncoderCache, FinishReason, GenerateOptions, HuluMed, PrefixCache, PrepareOptions,
    RowEvent, TokenCounts,
};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One request for the model.
pub struct Job {
    /// The conversation.
    pub conversation: Conversation,
    /// How to turn it into decoder input.
    pub prepare: PrepareOptions,
    /// How to generate.
    pub generate: GenerateOptions,
    /// Where the answer goes.
    pub events: mpsc::UnboundedSender<Event>,
    /// When the request arrived (time to first token is measured from here).
    pub received: Instant,
}

/// What the model thread reports about a job, in order: `Started`, then `Piece`s, then `Done`;
/// or `Failed` at any point.
#[derive(Debug)]
pub enum Event {
    /// The prompt is ready and its first token is being generated.
    Started {
        /// Token accounting of the prompt.
        counts: TokenCounts,
        /// Whether every visual's features came from the encoder cache (and there were some).
        cached: bool,
    },
    /// Visible text.
    Piece(String),
    /// The end.
    Done {
        /// Tokens generated.
        completion_tokens: usize,
        /// Why it ended.
        finish: FinishReason,
        /// Prompt tokens whose keys and values came from the prefix cache.
        cached_tokens: usize,
    },
    /// The job failed.
    Failed(ApiError),
}

/// How the model thread batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// Most requests held at once (decoding, prefilling or waiting for room).
    pub max_batch: usize,
    /// Columns of the batch's KV cache (prompt, new tokens and padding of every row).
    pub max_context: usize,
    /// Encoded visuals kept.
    pub cache_entries: usize,
    /// Finished conversations whose KV cache is kept for follow-up questions.
    pub prefix_entries: usize,
}

/// A job in the batch: where its events go and what to report at the end.
struct Live {
    events: mpsc::UnboundedSender<Event>,
    received: Instant,
    first_token: bool,
}

/// Starts the model thread; it ends when every sender of `jobs` is dropped, the queue is
/// empty and the batch has finished.
pub fn spawn(
    model: HuluMed,
    jobs: mpsc::Receiver<Job>,
    metrics: Arc<Metrics>,
    settings: BatchSettings,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("hulu-model".into())
        .spawn(move || {
            run_loop(&model, jobs, &metrics, settings);
            tracing::info!("model thread finished");
        })
        .expect("spawning the model thread")
}

/// The scheduling loop: admit queued jobs while the batch has room (waiting only when it is
/// empty), drop rows whose clients left, run one batch step, hand out its events.
fn run_loop(
    model: &HuluMed,
    mut jobs: mpsc::Receiver<Job>,
    metrics: &Metrics,
    settings: BatchSettings,
) {
    let mut cache = EncoderCache::new(settings.cache_entries);
    let new_batcher = || {
        Batcher::with_prefix_cache(
            model,
            settings.max_context,
            PrefixCache::new(settings.prefix_entries),
        )
    };
    let mut batcher = new_batcher();
    let mut live: HashMap<u64, Live> = HashMap::new();
    let mut next_key = 0u64;
    let mut closed = false;
    loop {
        while !closed && batcher.len() < settings.max_batch.max(1) {
            let job = if batcher.is_empty() {
                match jobs.blocking_recv() {
                    Some(job) => job,
                    None => {
                        closed = true;
                        break;
                    }
                }
            } else {
                match jobs.try_recv() {
                    Ok(job) => job,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            };
            metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            if job.events.is_closed() {
                metrics.cancelled.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let key = next_key;
            next_key += 1;
            match admit(model, &mut cache, metrics, &mut batcher, key, &job) {
                Ok(true) => {
                    live.insert(
                        key,
                        Live {
                            events: job.events,
                            received: job.received,
                            first_token: false,
                        },
                    );
                }
                Ok(false) => {
                    metrics.cancelled.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let _ = job.events.send(Event::Failed(e));
                }
            }
        }
        if batcher.is_empty() {
            if closed {
                return;
            }
            continue;
        }
        // Clients that left: their rows leave the batch before the next step.
        let gone: Vec<u64> = live
            .iter()
            .filter(|(_, l)| l.events.is_closed())
            .map(|(&k, _)| k)
            .collect();
        for key in gone {
            live.remove(&key);
            let _ = batcher.cancel(key);
            metrics.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        metrics
            .batch_size
            .store(batcher.rows() as u64, Ordering::Relaxed);
        match batcher.step() {
            Ok(events) => {
                for (key, event) in events {
                    let Some(l) = live.get_mut(&key) else {
                        continue;
                    };
                    if !l.first_token {
                        l.first_token = true;
                        metrics.first_token(l.received.elapsed());
                    }
                    match event {
                        RowEvent::Text(piece) => {
                            // A failed send is a client gone: the row leaves next step.
                            let _ = l.events.send(Event::Piece(piece));
                        }
                        RowEvent::Finished(g) => {
                            metrics
                                .decoded(g.ids.len() as u64, g.timings.prefill + g.timings.decode);
                            metrics
                                .prefix_tokens
                                .fetch_add(g.reused_tokens as u64, Ordering::Relaxed);
                            let _ = l.events.send(Event::Done {
                                completion_tokens: g.ids.len(),
                                finish: g.finish,
                                cached_tokens: g.reused_tokens,
                            });
                            live.remove(&key);
                        }
                    }
                }
            }
            Err(e) => {
                // The batch's cache is in an unknown state: fail its requests, start afresh.
                tracing::error!(error = %e, "batch step failed");
                for (_, l) in live.drain() {
                    let _ = l.events.send(Event::Failed(ApiError::Internal(format!(
                        "the batch failed: {e}"
                    ))));
                }
                batcher = new_batcher();
            }
        }
        if batcher.is_empty() {
            metrics.batch_size.store(0, Ordering::Relaxed);
        }
    }
}

/// Prepares a job and adds it to the batch; `false` when its client has already left.
fn admit(
    model: &HuluMed,
    cache: &mut EncoderCache,
    metrics: &Metrics,
    batcher: &mut Batcher<'_>,
    key: u64,
    job: &Job,
) -> Result<bool, ApiError> {
    let _span = tracing::info_span!("admit", key).entered();
    for text in &job.conversation.client_system {
        let tokenizer = model.tokenizer();
        let special = tokenizer.encode(text).map_err(ApiError::from_model)?;
        let literal = tokenizer
            .encode_literal(text)
            .map_err(ApiError::from_model)?;
        if special != literal {
            return Err(ApiError::UnreadableContent {
                subject: "system message".into(),
                reason: "a client's system message may not contain control tokens".into(),
            });
        }
    }
    let (prepared, used) = model
        .prepare_cached(&job.conversation.turns, &job.prepare, cache)
        .map_err(ApiError::from_model)?;
    metrics
        .cache_hits
        .fetch_add(used.hits as u64, Ordering::Relaxed);
    metrics
        .cache_misses
        .fetch_add(used.misses as u64, Ordering::Relaxed);
    let cached = used.hits > 0 && used.misses == 0;
    batcher
        .admit(key, &prepared, &job.generate)
        .map_err(ApiError::from_model)?;
    let started = Event::Started {
        counts: prepared.counts.clone(),
        cached,
    };
    if job.events.send(started).is_err() {
        let _ = batcher.cancel(key);
        return Ok(false);
    }
    Ok(true)
}

/// How long a 429'd client should wait: a rough decode time of the queue ahead.
pub fn retry_after(depth: usize) -> Duration {
    Duration::from_secs((depth as u64).clamp(1, 30))
}
