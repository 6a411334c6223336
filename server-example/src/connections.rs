//! Serving connections: the accept loop with its connection cap, hyper's HTTP/1 connection
//! settings (header-read timeout, keep-alive), the idle keep-alive timeout, the body-read and
//! request timeouts around the router, and graceful shutdown. See docs/OPERATING.md.

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
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
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
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
        let io = Guarded::new(stream, permit);
        tokio::spawn(serve_connection(
            io,
            peer,
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
    peer: SocketAddr,
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
    let hyper_service =
        hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            // The client's address, for the per-address limits (`crate::rate_limits`).
            req.extensions_mut().insert(ConnectInfo(peer));
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
///
/// It also gives hyper's own error responses the contract's JSON body. hyper answers a
/// request it cannot parse (400 for a bad request line, URI or header value, 414, 431) itself,
/// before any service runs, with an empty body, and offers no hook to change it; the router's
/// error responses always carry a JSON body, so an outgoing response head with one of those
/// statuses and `content-length: 0` is hyper's, and is rewritten here on its way out.
struct Guarded {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    /// A rewritten error response not yet fully written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
}

impl Guarded {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit) -> Self {
        Guarded {
            stream,
            _slot: slot,
            pending: None,
        }
    }

    /// Writes out the pending rewritten response, if any.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
            if *done == bytes.len() {
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `head` (hyper's error response) in its rewritten form: all of it counts as
    /// written, the rewritten bytes go out as the socket takes them.
    fn take_rewritten(&mut self, cx: &mut Context<'_>, head: &[u8], rewritten: Vec<u8>) -> usize {
        self.pending = Some((rewritten, 0));
        // Errors and back-pressure surface on the next write or flush.
        let _ = self.poll_pending(cx);
        head.len()
    }
}

/// The error body of a parse error hyper answered itself, by status.
fn parse_error_body(status: &[u8]) -> Option<&'static str> {
    Some(match status {
        b"400" => {
            r#"{"detail":"The request could not be parsed as HTTP (request line, URI or header).","code":"bad_request"}"#
        }
        b"414" => r#"{"detail":"The request URI is too long.","code":"uri_too_long"}"#,
        b"431" => {
            r#"{"detail":"The request headers are too large.","code":"request_header_fields_too_large"}"#
        }
        _ => return None,
    })
}

/// hyper's response head for a request it could not parse, rewritten with a JSON body; `None`
/// for any other bytes.
fn rewrite_parse_error(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let body = parse_error_body(rest.get(..3)?)?;
    // The whole head, and nothing after it.
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if end != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?;
    let lower = head.to_ascii_lowercase();
    if lower.contains("\r\ncontent-type:") {
        return None;
    }
    let at = lower.find("\r\ncontent-length: 0\r\n")?;
    let mut out = String::with_capacity(head.len() + body.len() + 48);
    out.push_str(&head[..at]);
    out.push_str("\r\ncontent-type: application/json");
    out.push_str(&format!("\r\ncontent-length: {}", body.len()));
    out.push_str(&head[at + "\r\ncontent-length: 0".len()..]);
    out.push_str(body);
    Some(out.into_bytes())
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
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some(rewritten) = rewrite_parse_error(buf) {
            return Poll::Ready(Ok(this.take_rewritten(cx, buf, rewritten)));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        // hyper queues a response head as a slice of its own.
        let first = bufs.iter().position(|b| !b.is_empty()).unwrap_or(0);
        if let Some(head) = bufs.get(first)
            && let Some(rewritten) = rewrite_parse_error(head)
        {
            return Poll::Ready(Ok(this.take_rewritten(cx, head, rewritten)));
        }
        // An error head further on goes out by itself in a later call.
        let upto = bufs
            .iter()
            .skip(first + 1)
            .position(|b| rewrite_parse_error(b).is_some())
            .map_or(bufs.len(), |i| first + 1 + i);
        Pin::new(&mut this.stream).poll_write_vectored(cx, &bufs[..upto])
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite_parse_error;

    #[test]
    fn hypers_empty_parse_error_heads_get_a_json_body_and_nothing_else_changes() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sat, 05 Dec 2026 18:57:18 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite_parse_error(head).unwrap()).unwrap();
        let (head_out, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head_out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head_out.contains("\r\nconnection: close\r\n"));
        assert!(head_out.contains("\r\ncontent-type: application/json\r\n"));
        assert!(head_out.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        assert!(head_out.ends_with("GMT"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], "request_header_fields_too_large");
        // A response with a body, another status, or a partial head is left alone.
        for other in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"{\"detail\":\"HTTP/1.1 400 \"}",
        ] {
            assert!(rewrite_parse_error(other).is_none());
        }
    }
}
