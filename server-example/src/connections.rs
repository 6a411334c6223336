//! Serving connections: the accept loop with its connection cap, hyper's HTTP/1 connection
//! settings (header-read timeout, keep-alive), the idle keep-alive timeout, the body-read and
//! request timeouts around the router, and graceful shutdown. See docs/OPERATING.md.

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The limits of [`serve`] (each one a `chat-server` option).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// From the moment a connection waits for a request (just opened, or its previous
    /// response sent) to the end of that request's head.
    pub header_read: Duration,
    /// Longest wait for the next piece of a request body.
    pub body_read: Duration,
    /// A keep-alive connection without a request in progress for this long is closed.
    pub keep_alive_idle: Duration,
    /// A request not answered within this long is answered 503.
    pub request: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish (upgraded WebSocket connections are not waited for).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection task holds a sender; `recv` answers `None` once all have ended.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let service = tower::ServiceBuilder::new()
        .layer(RequestBodyTimeoutLayer::new(limits.body_read))
        .service(router);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the accept: beyond the cap, connections wait in the kernel's
        // listen backlog instead of taking a file descriptor and memory here.
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or a connection reset before its accept: wait
                    // a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    drop(permit);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let io = Guarded {
            stream,
            _slot: permit,
        };
        tokio::spawn(serve_connection(
            io,
            service.clone(),
            http.clone(),
            limits.keep_alive_idle,
            stop_rx.clone(),
            alive_tx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
}

/// Whether a request is in progress on a connection, and since when it has none.
struct Activity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }
    fn end(&self) {
        *self.idle_since.lock() = Instant::now();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    /// When the connection will have been idle for `limit`, if no request is in progress.
    fn idle_deadline(&self, limit: Duration) -> Option<Instant> {
        (self.in_flight.load(Ordering::SeqCst) == 0).then(|| *self.idle_since.lock() + limit)
    }
}

type Service = tower_http::timeout::RequestBodyTimeout<Router>;

async fn serve_connection(
    io: Guarded,
    service: Service,
    http: hyper::server::conn::http1::Builder,
    keep_alive_idle: Duration,
    mut stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
    });
    let tracked = activity.clone();
    let hyper_service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let service = service.clone();
        let activity = tracked.clone();
        activity.begin();
        async move {
            let res = service.oneshot(req).await;
            activity.end();
            res
        }
    });
    let conn = http
        .serve_connection(TokioIo::new(io), hyper_service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        // While a request is in progress the idle timer is off: check again shortly.
        let deadline = activity
            .idle_deadline(keep_alive_idle)
            .unwrap_or_else(|| Instant::now() + keep_alive_idle);
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep_until(deadline), if !closing => {
                if activity
                    .idle_deadline(keep_alive_idle)
                    .is_some_and(|d| d <= Instant::now())
                {
                    // Closes the connection at once when it is between requests; else after
                    // the request being read.
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            _ = stop.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// A served connection's socket, holding its slot of the connection cap for as long as the
/// socket lives (through a WebSocket upgrade too).
struct Guarded {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
