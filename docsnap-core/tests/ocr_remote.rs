//! Remote OCR clients and the pool against fake OCR servers on loopback.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use docsnap_core::ErrorKind;
use docsnap_core::ocr::remote::{
    CnOcrClient, OcrPool, PoolConfig, RemoteOcrClient, RemoteOcrConfig,
};
use docsnap_core::ocr::{BoundingBox, OcrEngine, Page, PageText, TextLine};
use serde_json::json;

/// How a fake server responds to `POST /ocr`.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Two CnOCR lines, or a `PageText` echoing the received size.
    Answer,
    /// A `PageText` for an image half the size received.
    AnswerShrunk,
    /// Sleeps far longer than any client timeout in these tests.
    Hang,
    Status(u16),
    Malformed,
    MissingResults,
}

/// What a fake server saw of one request.
#[derive(Debug, Clone, Default)]
struct Upload {
    field_names: Vec<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    png_size: Option<(u32, u32)>,
    authorization: Option<String>,
}

#[derive(Debug)]
struct FakeServer {
    behaviour: Behaviour,
    requests: AtomicUsize,
    uploads: Mutex<Vec<Upload>>,
}

impl FakeServer {
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn uploads(&self) -> Vec<Upload> {
        self.uploads.lock().unwrap().clone()
    }
}

fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).ok()?;
    Some((image.width(), image.height()))
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap().to_owned())
}

/// Builds the responses that do not depend on the request format.
async fn scripted_failure(behaviour: Behaviour) -> Option<Response> {
    match behaviour {
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Some(StatusCode::OK.into_response())
        }
        Behaviour::Status(code) => Some(
            (
                StatusCode::from_u16(code).unwrap(),
                "scripted failure of the fake OCR server",
            )
                .into_response(),
        ),
        Behaviour::Malformed => Some(
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"results": [{"text": "Invoice", "score": 0.9, "position": [[1,"#,
            )
                .into_response(),
        ),
        Behaviour::MissingResults => Some(
            axum::Json(json!({"status_code": 200, "message": "no results here"})).into_response(),
        ),
        Behaviour::Answer | Behaviour::AnswerShrunk => None,
    }
}

async fn cnocr_handler(
    State(server): State<Arc<FakeServer>>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    server.requests.fetch_add(1, Ordering::SeqCst);

    let mut upload = Upload {
        authorization: authorization(&headers),
        ..Upload::default()
    };
    while let Some(field) = multipart.next_field().await.unwrap() {
        upload
            .field_names
            .push(field.name().unwrap_or_default().to_owned());
        upload.file_name = field.file_name().map(str::to_owned);
        upload.content_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.unwrap();
        upload.png_size = png_size(&bytes);
    }
    server.uploads.lock().unwrap().push(upload);

    if let Some(response) = scripted_failure(server.behaviour).await {
        return response;
    }
    axum::Json(json!({
        "status_code": 200,
        "results": [
            {"text": "Invoice 42", "score": 0.93,
             "position": [[12.0, 5.0], [40.0, 9.0], [38.0, 21.0], [10.0, 17.0]]},
            {"text": "Total: 12.50", "score": 0.71,
             "position": [[10.0, 30.0], [50.0, 30.0], [50.0, 42.0], [10.0, 42.0]]}
        ]
    }))
    .into_response()
}

async fn docsnap_handler(
    State(server): State<Arc<FakeServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    server.requests.fetch_add(1, Ordering::SeqCst);

    let upload = Upload {
        content_type: headers
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned()),
        png_size: png_size(&body),
        authorization: authorization(&headers),
        ..Upload::default()
    };
    let Some((width, height)) = upload.png_size else {
        return (StatusCode::BAD_REQUEST, "body is not a PNG").into_response();
    };
    server.uploads.lock().unwrap().push(upload);

    if let Some(response) = scripted_failure(server.behaviour).await {
        return response;
    }
    let (width, height, scale) = match server.behaviour {
        Behaviour::AnswerShrunk => (width / 2, height / 2, 0.5),
        _ => (width, height, 1.0),
    };
    let answer = PageText {
        index: 99,
        width,
        height,
        lines: vec![TextLine {
            text: "Date of Birth: Jan 05, 1965".to_owned(),
            bbox: BoundingBox {
                x: 8.0 * scale,
                y: 4.0 * scale,
                width: 40.0 * scale,
                height: 12.0 * scale,
            },
            confidence: None,
        }],
    };
    axum::Json(answer).into_response()
}

async fn start(router: Router<Arc<FakeServer>>, behaviour: Behaviour) -> (String, Arc<FakeServer>) {
    let server = Arc::new(FakeServer {
        behaviour,
        requests: AtomicUsize::new(0),
        uploads: Mutex::new(Vec::new()),
    });
    let app = router.with_state(Arc::clone(&server));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, server)
}

async fn start_cnocr(behaviour: Behaviour) -> (String, Arc<FakeServer>) {
    start(Router::new().route("/ocr", post(cnocr_handler)), behaviour).await
}

async fn start_docsnap(behaviour: Behaviour) -> (String, Arc<FakeServer>) {
    start(
        Router::new().route("/ocr", post(docsnap_handler)),
        behaviour,
    )
    .await
}

/// Returns a base URL on loopback where nothing listens.
fn dead_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

fn test_page(index: usize) -> Page {
    let image = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    Page { index, image }
}

fn quick_config(retries: u32) -> RemoteOcrConfig {
    RemoteOcrConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        retries,
        retry_backoff: Duration::from_millis(10),
        bearer_token: None,
    }
}

/// Guards every call so a broken timeout fails the test instead of hanging it.
async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("OCR call did not finish within 30 s")
}

#[tokio::test]
async fn cnocr_parses_lines() {
    let (base, _server) = start_cnocr(Behaviour::Answer).await;
    let client = CnOcrClient::new(&base, quick_config(0)).unwrap();

    let text = bounded(client.recognize(&test_page(3))).await.unwrap();

    assert_eq!(text.index, 3);
    assert_eq!((text.width, text.height), (64, 48));
    assert_eq!(text.lines.len(), 2);
    assert_eq!(text.lines[0].text, "Invoice 42");
    assert_eq!(
        text.lines[0].bbox,
        BoundingBox {
            x: 10.0,
            y: 5.0,
            width: 30.0,
            height: 16.0
        }
    );
    assert_eq!(text.lines[0].confidence, Some(0.93));
    assert_eq!(text.lines[1].text, "Total: 12.50");
    assert_eq!(text.lines[1].confidence, Some(0.71));
    assert_eq!(text.text(), "Invoice 42\nTotal: 12.50");
}

#[tokio::test]
async fn cnocr_sends_png_in_image_field() {
    let (base, server) = start_cnocr(Behaviour::Answer).await;
    let client = CnOcrClient::new(&base, quick_config(0)).unwrap();

    bounded(client.recognize(&test_page(0))).await.unwrap();

    let uploads = server.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].field_names, vec!["image".to_owned()]);
    assert_eq!(uploads[0].png_size, Some((64, 48)));
    assert_eq!(uploads[0].content_type.as_deref(), Some("image/png"));
    assert!(
        uploads[0].file_name.is_some(),
        "file part needs a file name"
    );
    assert_eq!(uploads[0].authorization, None);
}

#[tokio::test]
async fn hanging_server_times_out() {
    let (base, server) = start_cnocr(Behaviour::Hang).await;
    let config = RemoteOcrConfig {
        request_timeout: Duration::from_millis(500),
        ..quick_config(0)
    };
    let client = CnOcrClient::new(&base, config).unwrap();

    let err = bounded(client.recognize(&test_page(0))).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::OcrFailure);
    assert!(err.is_transient(), "{err:?}");
    assert!(err.message().contains("timed out"), "{err}");
    assert!(err.message().contains(client.url()), "{err}");
    assert!(server.requests() >= 1);
}

#[tokio::test]
async fn server_error_is_retried() {
    let (base, server) = start_cnocr(Behaviour::Status(500)).await;
    let client = CnOcrClient::new(&base, quick_config(2)).unwrap();

    let err = bounded(client.recognize(&test_page(0))).await.unwrap_err();

    assert_eq!(server.requests(), 3, "one attempt and two retries");
    assert_eq!(err.kind(), ErrorKind::OcrFailure);
    assert!(err.is_transient(), "{err:?}");
    assert!(err.message().contains("500"), "{err}");
    assert!(err.message().contains(client.url()), "{err}");
    assert!(err.message().contains("after 3 attempts"), "{err}");
}

#[tokio::test]
async fn client_error_is_not_retried() {
    let (base, server) = start_cnocr(Behaviour::Status(422)).await;
    let client = CnOcrClient::new(&base, quick_config(2)).unwrap();

    let err = bounded(client.recognize(&test_page(0))).await.unwrap_err();

    assert_eq!(server.requests(), 1);
    assert_eq!(err.kind(), ErrorKind::OcrFailure);
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.message().contains("422"), "{err}");
}

#[tokio::test]
async fn malformed_json_is_permanent() {
    let (base, server) = start_cnocr(Behaviour::Malformed).await;
    let client = CnOcrClient::new(&base, quick_config(2)).unwrap();

    let err = bounded(client.recognize(&test_page(0))).await.unwrap_err();

    assert_eq!(server.requests(), 1);
    assert_eq!(err.kind(), ErrorKind::OcrFailure);
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.message().contains("malformed JSON"), "{err}");
    assert!(
        !err.message().contains("Invoice"),
        "message quotes the answer: {err}"
    );
}

#[tokio::test]
async fn missing_results_is_explained() {
    let (base, _server) = start_cnocr(Behaviour::MissingResults).await;
    let client = CnOcrClient::new(&base, quick_config(0)).unwrap();

    let err = bounded(client.recognize(&test_page(0))).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::OcrFailure);
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.message().contains("`results`"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let base = dead_base_url();
    let client = CnOcrClient::new(&base, quick_config(1)).unwrap();

    let err = bounded(client.recognize(&test_page(0))).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::OcrFailure);
    assert!(err.is_transient(), "{err:?}");
    assert!(err.message().contains("failed to connect"), "{err}");
    assert!(err.message().contains(client.url()), "{err}");
}

#[tokio::test]
async fn docsnap_client_round_trip() {
    let (base, server) = start_docsnap(Behaviour::Answer).await;
    let config = RemoteOcrConfig {
        bearer_token: Some("test-token".to_owned()),
        ..quick_config(0)
    };
    let client = RemoteOcrClient::new(&base, config).unwrap();

    let text = bounded(client.recognize(&test_page(5))).await.unwrap();

    assert_eq!(text.index, 5, "index comes from the page, not the server");
    assert_eq!((text.width, text.height), (64, 48));
    assert_eq!(text.text(), "Date of Birth: Jan 05, 1965");
    assert_eq!(
        text.lines[0].bbox,
        BoundingBox {
            x: 8.0,
            y: 4.0,
            width: 40.0,
            height: 12.0
        }
    );
    assert_eq!(text.lines[0].confidence, None);

    let uploads = server.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(uploads[0].png_size, Some((64, 48)));
    assert_eq!(
        uploads[0].authorization.as_deref(),
        Some("Bearer test-token")
    );
}

#[tokio::test]
async fn docsnap_client_scales_boxes() {
    let (base, _server) = start_docsnap(Behaviour::AnswerShrunk).await;
    let client = RemoteOcrClient::new(&base, quick_config(0)).unwrap();

    let text = bounded(client.recognize(&test_page(0))).await.unwrap();

    assert_eq!((text.width, text.height), (64, 48));
    assert_eq!(
        text.lines[0].bbox,
        BoundingBox {
            x: 8.0,
            y: 4.0,
            width: 40.0,
            height: 12.0
        }
    );
}

#[tokio::test]
async fn docsnap_client_server_error() {
    let (base, server) = start_docsnap(Behaviour::Status(503)).await;
    let client = RemoteOcrClient::new(&base, quick_config(1)).unwrap();

    let err = bounded(client.recognize(&test_page(0))).await.unwrap_err();

    assert_eq!(server.requests(), 2);
    assert!(err.is_transient(), "{err:?}");
    assert!(err.message().contains("503"), "{err}");
}

fn cnocr_engine(base: &str) -> Arc<dyn OcrEngine> {
    Arc::new(CnOcrClient::new(base, quick_config(0)).unwrap())
}

#[tokio::test]
async fn pool_fails_over_dead_endpoint() {
    let dead = dead_base_url();
    let (live, server) = start_cnocr(Behaviour::Answer).await;
    let pool = OcrPool::new(
        vec![cnocr_engine(&dead), cnocr_engine(&live)],
        PoolConfig::default(),
    )
    .unwrap();

    for index in 0..4 {
        let text = bounded(pool.recognize(&test_page(index))).await.unwrap();
        assert_eq!(text.index, index);
        assert_eq!(text.lines.len(), 2);
    }

    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn pool_round_robin() {
    let (first, first_server) = start_cnocr(Behaviour::Answer).await;
    let (second, second_server) = start_cnocr(Behaviour::Answer).await;
    let pool = OcrPool::new(
        vec![cnocr_engine(&first), cnocr_engine(&second)],
        PoolConfig::default(),
    )
    .unwrap();

    for index in 0..4 {
        bounded(pool.recognize(&test_page(index))).await.unwrap();
    }

    assert_eq!(first_server.requests(), 2);
    assert_eq!(second_server.requests(), 2);
}

#[tokio::test]
async fn pool_skips_cooling_endpoint() {
    let (failing, failing_server) = start_cnocr(Behaviour::Status(500)).await;
    let (live, live_server) = start_cnocr(Behaviour::Answer).await;
    let config = PoolConfig {
        cooldown: Duration::from_secs(600),
    };
    let pool = OcrPool::new(vec![cnocr_engine(&failing), cnocr_engine(&live)], config).unwrap();

    for index in 0..4 {
        bounded(pool.recognize(&test_page(index))).await.unwrap();
    }

    assert_eq!(
        failing_server.requests(),
        1,
        "tried again while cooling down"
    );
    assert_eq!(live_server.requests(), 4);
}

#[tokio::test]
async fn pool_retries_endpoint_after_cooldown() {
    let (failing, failing_server) = start_cnocr(Behaviour::Status(500)).await;
    let (live, live_server) = start_cnocr(Behaviour::Answer).await;
    let config = PoolConfig {
        cooldown: Duration::ZERO,
    };
    let pool = OcrPool::new(vec![cnocr_engine(&failing), cnocr_engine(&live)], config).unwrap();

    for index in 0..4 {
        bounded(pool.recognize(&test_page(index))).await.unwrap();
    }

    assert_eq!(failing_server.requests(), 2, "turns 1 and 3 start at it");
    assert_eq!(live_server.requests(), 4);
}

#[tokio::test]
async fn pool_returns_last_error() {
    let (first, first_server) = start_cnocr(Behaviour::Status(500)).await;
    let (second, second_server) = start_cnocr(Behaviour::Status(502)).await;
    let second_client = CnOcrClient::new(&second, quick_config(0)).unwrap();
    let second_url = second_client.url().to_owned();
    let pool = OcrPool::new(
        vec![cnocr_engine(&first), Arc::new(second_client)],
        PoolConfig::default(),
    )
    .unwrap();

    let err = bounded(pool.recognize(&test_page(0))).await.unwrap_err();

    assert_eq!(first_server.requests(), 1);
    assert_eq!(second_server.requests(), 1);
    assert_eq!(err.kind(), ErrorKind::OcrFailure);
    assert!(err.is_transient(), "{err:?}");
    assert!(err.message().contains(&second_url), "{err}");
    assert!(err.message().contains("502"), "{err}");
}

#[tokio::test]
async fn pool_stops_on_permanent_error() {
    let (rejecting, rejecting_server) = start_cnocr(Behaviour::Status(400)).await;
    let (live, live_server) = start_cnocr(Behaviour::Answer).await;
    let pool = OcrPool::new(
        vec![cnocr_engine(&rejecting), cnocr_engine(&live)],
        PoolConfig::default(),
    )
    .unwrap();

    let err = bounded(pool.recognize(&test_page(0))).await.unwrap_err();

    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(rejecting_server.requests(), 1);
    assert_eq!(live_server.requests(), 0);
}
