//! Connection handling of the real `docsnap-server` binary over raw TCP on
//! loopback: stalled request heads, keep-alive, idle connections and
//! shutdown while a client stalls.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tests::Server;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The header read timeout the servers in these tests run with.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Bound on every wait for the server to close a connection, so a server
/// that never closes it fails the test instead of hanging it.
const GENEROUS_BOUND: Duration = Duration::from_secs(60);

/// Half of a request head: the request line and part of a header, with no
/// blank line to end it.
const HALF_HEAD: &[u8] = b"POST /process HTTP/1.1\r\nHost: localhost\r\nContent-Type: appl";

fn start_server(dir: &tempfile::TempDir) -> Server {
    Server::start(dir.path(), &["--header-read-timeout", "1s"], &[])
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.base_url.trim_start_matches("http://"))
        .await
        .unwrap()
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

/// Reads one response with a `Content-Length` body and returns its status line and body.
async fn read_response(reader: &mut BufReader<&mut TcpStream>) -> (String, String) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).await.unwrap();

    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }

    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    (
        status_line.trim_end().to_owned(),
        String::from_utf8(body).unwrap(),
    )
}

#[tokio::test]
async fn stalled_head_is_closed_after_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir);

    let opened = Instant::now();
    let mut stalled = connect(&server).await;
    stalled.write_all(HALF_HEAD).await.unwrap();

    // Another client is served while the stalled one keeps its connection open.
    let response = reqwest::get(server.url("/check_status")).await.unwrap();
    assert_eq!(response.status(), 200);

    let received = read_until_closed(&mut stalled).await;
    let open_for = opened.elapsed();
    assert!(
        open_for >= HEADER_READ_TIMEOUT,
        "closed after {open_for:?}, before the timeout"
    );
    assert!(!received.contains(" 200 "), "{received:?}");

    let response = reqwest::get(server.url("/check_status")).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn keep_alive_serves_requests_then_idles_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir);
    let mut stream = connect(&server).await;
    let request = b"GET /check_status HTTP/1.1\r\nHost: localhost\r\n\r\n";

    let mut reader = BufReader::new(&mut stream);
    reader.get_mut().write_all(request).await.unwrap();
    let (status, body) = read_response(&mut reader).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, r#"{"server_status":"ok"}"#);

    reader.get_mut().write_all(request).await.unwrap();
    let (status, _) = read_response(&mut reader).await;
    assert_eq!(
        status, "HTTP/1.1 200 OK",
        "second request on the connection"
    );
    let idle_since = Instant::now();

    let received = read_until_closed(&mut stream).await;
    let idle_for = idle_since.elapsed();
    assert!(
        idle_for >= HEADER_READ_TIMEOUT,
        "closed after {idle_for:?} idle, before the timeout"
    );
    assert_eq!(received, "", "nothing is sent on an idle connection");
}

#[tokio::test]
async fn shutdown_completes_despite_stalled_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir);
    let mut stalled = connect(&server).await;
    stalled.write_all(HALF_HEAD).await.unwrap();
    // One loop accepts connections in order, so once a request on a later
    // connection gets its response, the stalled connection has been accepted.
    let response = reqwest::get(server.url("/check_status")).await.unwrap();
    assert_eq!(response.status(), 200);

    let stopped = tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();

    assert!(stopped, "server exited with an error");
}

#[test]
fn zero_header_read_timeout_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(tests::server_binary())
        .args(["--header-read-timeout", "0", "--data-dir"])
        .arg(dir.path())
        .arg("keygen")
        .env_remove("DOCSNAP_HEADER_READ_TIMEOUT")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid header_read_timeout 0s"),
        "{stderr}"
    );
    assert!(stderr.contains("--header-read-timeout"), "{stderr}");
}
