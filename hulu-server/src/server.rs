//! The accept loop: HTTP/1.1 connections served by hyper with a header read timeout (a client
//! that trickles its headers is dropped), and a graceful stop: on SIGTERM or Ctrl-C the
//! listener closes, `/health` and new chats answer 503, in-flight requests finish within the
//! grace period, then the model thread drains and `serve` returns.

use crate::config::ServerConfig;
use crate::files::{unix_now, FileStore};
use crate::metrics::Metrics;
use crate::routes::{router, AppState};
use crate::worker;
use hulu_model::HuluMed;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tower::Service;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the address failed.
    #[error("binding {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("starting the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The upload folder could not be made.
    #[error("upload folder")]
    Uploads(#[source] std::io::Error),
}

/// Binds `config`'s address, prints the settings and the address it listens on, and serves
/// until SIGTERM or Ctrl-C.
///
/// # Errors
///
/// [`ServeError::Bind`] when the address cannot be bound, [`ServeError::Uploads`] when the
/// upload folder cannot be made.
pub async fn serve(config: ServerConfig, model: HuluMed) -> Result<(), ServeError> {
    let addr = config.addr();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    println!("{}", config.summary());
    println!("listening on http://{local}");
    serve_on(listener, config, model, shutdown_signal()).await
}

/// [`serve`] on a multi-threaded tokio runtime of its own, for callers without one.
///
/// # Errors
///
/// Those of [`serve`], and [`ServeError::Runtime`] when the runtime cannot start.
pub fn serve_blocking(config: ServerConfig, model: HuluMed) -> Result<(), ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?
        .block_on(serve(config, model))
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Serves on `listener` until `shutdown` resolves, then drains (see the module doc).
///
/// # Errors
///
/// [`ServeError::Uploads`] when the upload folder cannot be made.
pub async fn serve_on(
    listener: TcpListener,
    config: ServerConfig,
    model: HuluMed,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let metrics = Arc::new(Metrics::default());
    let (queue, jobs) = mpsc::channel(config.max_queue);
    let worker = worker::spawn(
        model,
        jobs,
        metrics.clone(),
        worker::BatchSettings {
            max_batch: config.max_batch,
            max_context: config.max_context,
            cache_entries: config.encoder_cache_entries,
            prefix_entries: config.prefix_cache_entries,
        },
    );
    let files = FileStore::new(
        config.upload_dir.clone(),
        config.max_upload_bytes,
        config.upload_quota_bytes,
        config.upload_ttl,
    )
    .map_err(ServeError::Uploads)?;
    let (header_timeout, grace) = (config.header_timeout, config.grace_period);
    let state = Arc::new(AppState {
        config,
        queue,
        files,
        metrics,
        draining: AtomicBool::new(false),
        started: unix_now(),
    });
    let sweeper = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(state.files.sweep_interval());
            loop {
                tick.tick().await;
                let removed = state.files.sweep();
                if removed > 0 {
                    tracing::info!(removed, "expired uploads deleted");
                }
            }
        })
    };
    let app = router(state.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let app = app.clone();
                let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                    app.clone().call(request)
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = watched.await {
                        tracing::debug!(error = %e, "connection ended");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    state.draining.store(true, Ordering::Relaxed);
    println!("hulu serve: draining (grace period {} s)", grace.as_secs());
    let drained = tokio::select! {
        _ = graceful.shutdown() => true,
        _ = tokio::time::sleep(grace) => false,
    };
    sweeper.abort();
    let _ = sweeper.await;
    // The last senders of the queue go with the router and the state: the model thread
    // finishes what is queued and ends. Connections still open past the grace period hold
    // their own senders; the process exits without waiting for them.
    drop(app);
    drop(state);
    if drained {
        let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    } else {
        tracing::warn!("grace period over; exiting with requests in flight");
    }
    println!("hulu serve: stopped");
    Ok(())
}
