//! The HTTP/1.1 server loop: accepts TCP connections and serves the router on
//! each with hyper, closing connections whose request head stalls.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Pause after an accept error that is not the peer's doing, such as
/// running out of file descriptors, so the loop does not spin on it.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Serves `router` on connections from `listener` until `shutdown`
/// resolves, then waits for open connections to finish their requests.
/// Idle connections close at once, and one still sending its request head
/// closes within `header_read_timeout`.
///
/// Every connection must deliver a complete request head within
/// `header_read_timeout`, counted from when it opens and again from the end
/// of each response, or hyper closes it. So the timeout also ends idle
/// keep-alive connections. Request bodies have their own idle timeout in
/// [`crate::body`]. Handlers see the peer address as
/// `ConnectInfo<SocketAddr>`.
///
/// Only HTTP/1.x is served, because hyper's header read timeout covers
/// HTTP/1 connections only.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(error) if is_peer_error(&error) => {
                tracing::debug!(%error, "a connection failed before it was accepted");
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };

        let service = TowerToHyperService::new(router.clone().map_request(
            move |request: Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                log_connection_error(&error, peer, header_read_timeout);
            }
        });
    }

    drop(listener);
    let open = graceful.count();
    if open > 0 {
        tracing::info!(connections = open, "waiting for open connections to finish");
    }
    graceful.shutdown().await;
}

/// Logs why hyper closed a connection. Timeouts and broken connections are
/// routine on the open internet, so they go to the debug level.
fn log_connection_error(error: &hyper::Error, peer: SocketAddr, header_read_timeout: Duration) {
    if error.is_timeout() {
        tracing::debug!(
            %peer,
            timeout_ms = header_read_timeout.as_millis() as u64,
            "closed a connection that sent no complete request head in time"
        );
    } else {
        tracing::debug!(%peer, %error, "connection closed with an error");
    }
}

/// Returns whether an accept error concerns only the connection being
/// accepted, so the next accept can go ahead at once.
fn is_peer_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Instant;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use super::*;

    const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(300);

    /// Bound on any wait in these tests, so a server that never closes a
    /// connection fails the test instead of hanging it.
    const GENEROUS_BOUND: Duration = Duration::from_secs(60);

    async fn peer_address(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
        peer.to_string()
    }

    /// Starts the loop on a loopback port. Sending on the returned channel stops it.
    async fn start() -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new().route("/peer", get(peer_address));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, HEADER_READ_TIMEOUT, async {
            let _ = stopped.await;
        }));
        (address, stop, server)
    }

    /// Reads until the server closes the connection and returns what it sent.
    async fn read_until_closed(stream: &mut TcpStream) -> String {
        let mut received = Vec::new();
        tokio::time::timeout(GENEROUS_BOUND, stream.read_to_end(&mut received))
            .await
            .expect("the server kept the connection open")
            .unwrap();
        String::from_utf8_lossy(&received).into_owned()
    }

    #[tokio::test]
    async fn stalled_head_is_closed_after_timeout() {
        let (address, _stop, _server) = start().await;
        let opened = Instant::now();
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nHost: loca")
            .await
            .unwrap();

        let received = read_until_closed(&mut stream).await;

        assert!(
            opened.elapsed() >= HEADER_READ_TIMEOUT,
            "closed after {:?}",
            opened.elapsed()
        );
        assert!(!received.contains("200 OK"), "{received:?}");
    }

    #[tokio::test]
    async fn handler_sees_peer_address() {
        let (address, _stop, _server) = start().await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        let local = stream.local_addr().unwrap();
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();

        let received = read_until_closed(&mut stream).await;

        assert!(received.starts_with("HTTP/1.1 200 OK"), "{received:?}");
        assert!(received.ends_with(&local.to_string()), "{received:?}");
    }

    #[tokio::test]
    async fn shutdown_stops_accepting() {
        let (address, stop, server) = start().await;

        stop.send(()).unwrap();
        tokio::time::timeout(GENEROUS_BOUND, server)
            .await
            .expect("the server loop did not stop")
            .unwrap();

        let refused = TcpStream::connect(address).await;
        assert!(refused.is_err(), "the listener still accepts connections");
    }
}
