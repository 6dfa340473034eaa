//! Counters and gauges for `GET /metrics`, in Prometheus' text exposition format (version
//! 0.0.4): requests by status, queue depth, batch size, time to first token, tokens
//! generated and decode time (tokens/s is their ratio, as Prometheus' `rate()` computes it),
//! encoder-cache hits and misses.
//!
//! A handful of atomics written by hand: the format is a few lines of text, and a metrics
//! library would add a registry and its dependencies for no gain here.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Time-to-first-token histogram bounds, seconds.
const TTFT_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Requests waiting for the model.
    pub queue_depth: AtomicU64,
    /// Rows in the running decode batch.
    pub batch_size: AtomicU64,
    ttft_buckets: [AtomicU64; TTFT_BUCKETS.len()],
    ttft_count: AtomicU64,
    ttft_micros: AtomicU64,
    tokens: AtomicU64,
    decode_micros: AtomicU64,
    /// Encoder-cache hits.
    pub cache_hits: AtomicU64,
    /// Encoder-cache misses.
    pub cache_misses: AtomicU64,
    /// Prompt tokens whose keys and values came from the prefix cache.
    pub prefix_tokens: AtomicU64,
    /// Generations stopped because their client left.
    pub cancelled: AtomicU64,
}

impl Metrics {
    /// Counts a finished request on `route` with `status`.
    pub fn request(&self, route: &str, status: u16) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((route.to_string(), status))
            .or_default() += 1;
    }

    /// Records one time to first token.
    pub fn first_token(&self, ttft: Duration) {
        let secs = ttft.as_secs_f64();
        for (bucket, &bound) in self.ttft_buckets.iter().zip(&TTFT_BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.ttft_count.fetch_add(1, Ordering::Relaxed);
        self.ttft_micros
            .fetch_add(ttft.as_micros() as u64, Ordering::Relaxed);
    }

    /// Records decoded tokens and the time they took.
    pub fn decoded(&self, tokens: u64, time: Duration) {
        self.tokens.fetch_add(tokens, Ordering::Relaxed);
        self.decode_micros
            .fetch_add(time.as_micros() as u64, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP hulu_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE hulu_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "hulu_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        gauge(
            &mut out,
            "hulu_queue_depth",
            "Requests waiting for the model.",
            get(&self.queue_depth),
        );
        gauge(
            &mut out,
            "hulu_batch_size",
            "Rows in the running decode batch.",
            get(&self.batch_size),
        );
        out.push_str("# HELP hulu_time_to_first_token_seconds From request to first token.\n");
        out.push_str("# TYPE hulu_time_to_first_token_seconds histogram\n");
        for (bucket, bound) in self.ttft_buckets.iter().zip(TTFT_BUCKETS) {
            let _ = writeln!(
                out,
                "hulu_time_to_first_token_seconds_bucket{{le=\"{bound}\"}} {}",
                get(bucket)
            );
        }
        let count = get(&self.ttft_count);
        let _ = writeln!(
            out,
            "hulu_time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             hulu_time_to_first_token_seconds_sum {}\n\
             hulu_time_to_first_token_seconds_count {count}",
            get(&self.ttft_micros) as f64 / 1e6
        );
        counter(
            &mut out,
            "hulu_generated_tokens_total",
            "Tokens generated.",
            get(&self.tokens).to_string(),
        );
        counter(
            &mut out,
            "hulu_decode_seconds_total",
            "Time spent decoding (tokens/s = rate(tokens) / rate(seconds)).",
            (get(&self.decode_micros) as f64 / 1e6).to_string(),
        );
        counter(
            &mut out,
            "hulu_encoder_cache_hits_total",
            "Visual features reused.",
            get(&self.cache_hits).to_string(),
        );
        counter(
            &mut out,
            "hulu_encoder_cache_misses_total",
            "Visual features computed.",
            get(&self.cache_misses).to_string(),
        );
        counter(
            &mut out,
            "hulu_prefix_cache_tokens_total",
            "Prompt tokens whose keys and values came from the prefix cache.",
            get(&self.prefix_tokens).to_string(),
        );
        counter(
            &mut out,
            "hulu_cancelled_total",
            "Generations stopped because the client left.",
            get(&self.cancelled).to_string(),
        );
        out
    }
}
