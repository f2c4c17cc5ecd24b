//! Load-test client for docsnap-server: makes a page image, seals requests,
//! and drives `POST /process` submissions over loopback with keep-alive connections.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use docsnap_core::envelope::{Cipher, Mgf1Digest, encode_base64, seal_request};
use docsnap_core::types::TaskKind;
use image::{ImageFormat, Rgb, RgbImage};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USAGE: &str = "usage:
  docsnap-load image --out FILE [--kib 200]
  docsnap-load seal --addr HOST:PORT --image FILE --out DIR
  docsnap-load submit --addr HOST:PORT --image FILE [--count 1000] [--connections 8] [--max-seconds 30]";

/// Client id of every benchmark request; the content differs per request, so each creates a task.
const CLIENT_ID: &str = "5b0f6c1e-0d1a-4c1b-9a57-loadbench0001";

#[derive(Debug, Default)]
struct Args {
    out: Option<PathBuf>,
    image: Option<PathBuf>,
    addr: Option<String>,
    kib: usize,
    count: usize,
    connections: usize,
    max_seconds: u64,
}

fn parse_args(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let mut args = Args {
        kib: 200,
        count: 1000,
        connections: 8,
        max_seconds: 30,
        ..Args::default()
    };
    while let Some(flag) = raw.next() {
        let value = raw
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<usize>()
                .with_context(|| format!("{flag} {value} is not a whole number"))
        };
        match flag.as_str() {
            "--out" => args.out = Some(value.clone().into()),
            "--image" => args.image = Some(value.clone().into()),
            "--addr" => args.addr = Some(value.clone()),
            "--kib" => args.kib = number()?,
            "--count" => args.count = number()?.clamp(1, 100_000),
            "--connections" => args.connections = number()?.clamp(1, 256),
            "--max-seconds" => args.max_seconds = number()?.clamp(1, 600) as u64,
            other => bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

fn required<T: Clone>(value: &Option<T>, flag: &str) -> anyhow::Result<T> {
    value
        .clone()
        .with_context(|| format!("{flag} is required\n{USAGE}"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut raw = std::env::args().skip(1);
    let command = raw.next().unwrap_or_default();
    let args = parse_args(raw)?;
    match command.as_str() {
        "image" => make_image(&required(&args.out, "--out")?, args.kib),
        "seal" => seal_one(&args).await,
        "submit" => submit(&args).await,
        _ => bail!("{USAGE}"),
    }
}

/// Writes a scanned-page-like JPEG (text bars on paper with sensor noise)
/// whose size is the closest of a few qualities to `kib`.
fn make_image(out: &PathBuf, kib: usize) -> anyhow::Result<()> {
    let (width, height) = (1240u32, 1754u32);
    let mut state: u32 = 0x1234_5678;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 24) as u8
    };
    let page = RgbImage::from_fn(width, height, |x, y| {
        let line = (y / 24) % 3 != 2 && y > 120 && y < height - 120;
        let word = (x / 9 + y / 24 * 7) % 11 < 8 && x > 100 && x < width - 100;
        let ink = line && word && (y % 24) > 6 && (y % 24) < 20;
        let base = if ink { 40 } else { 226 };
        let n = noise();
        Rgb([base + n, base + n, base + n / 2])
    });

    let mut best: Option<Vec<u8>> = None;
    for quality in [30u8, 45, 60, 70, 80, 88, 94] {
        let mut bytes = Vec::new();
        let encoder =
            image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut bytes), quality);
        page.write_with_encoder(encoder)?;
        let distance = |b: &Vec<u8>| (b.len() as i64 - (kib * 1024) as i64).abs();
        if best.as_ref().is_none_or(|b| distance(&bytes) < distance(b)) {
            best = Some(bytes);
        }
    }
    let bytes = best.context("no JPEG encoded")?;
    image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg)?;
    std::fs::write(out, &bytes).with_context(|| format!("failed to write {}", out.display()))?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}

/// Seals one `doc` submission of `image` under the server's public key, as a JSON body.
fn sealed_body(public_key_pem: &str, image: &[u8]) -> anyhow::Result<(String, String)> {
    let payload =
        json!({"to_process": [encode_base64(image)], "file_lib": {"docs": [], "forms": []}});
    let (sealed, _key) = seal_request(
        public_key_pem,
        CLIENT_ID,
        TaskKind::Doc,
        Cipher::A256Gcm,
        &payload,
        Mgf1Digest::Sha256,
    )?;
    let submit = json!({
        "client_id": CLIENT_ID, "type": "doc", "cipher": "A256GCM", "has_content": true,
        "SHA256": sealed.sha256, "content": sealed.content, "aes_key": sealed.aes_key,
    });
    let poll = json!({
        "client_id": CLIENT_ID, "type": "doc", "has_content": false, "SHA256": sealed.sha256,
    });
    Ok((submit.to_string(), poll.to_string()))
}

/// Writes `submit.json` and `poll.json` for one task, for curl and wrk.
async fn seal_one(args: &Args) -> anyhow::Result<()> {
    let addr = required(&args.addr, "--addr")?;
    let out = required(&args.out, "--out")?;
    let image = read_image(args)?;
    let pem = fetch_public_key(&addr).await?;
    let (submit, poll) = sealed_body(&pem, &image)?;
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("submit.json"), submit)?;
    std::fs::write(out.join("poll.json"), poll)?;
    println!("wrote {}/submit.json and poll.json", out.display());
    Ok(())
}

fn read_image(args: &Args) -> anyhow::Result<Vec<u8>> {
    let path = required(&args.image, "--image")?;
    std::fs::read(&path).with_context(|| format!("failed to read --image {}", path.display()))
}

async fn fetch_public_key(addr: &str) -> anyhow::Result<String> {
    let mut conn = Connection::open(addr).await?;
    let (status, body) = conn.request("GET", "/public_key", "").await?;
    if status != 200 {
        bail!(
            "GET /public_key on {addr} returned {status}; is it a docsnap server with the protocol role?"
        );
    }
    Ok(String::from_utf8(body)?)
}

/// Seals `count` distinct submissions, then sends them over `connections`
/// keep-alive connections and prints throughput and latency percentiles.
async fn submit(args: &Args) -> anyhow::Result<()> {
    let addr = required(&args.addr, "--addr")?;
    let image = read_image(args)?;
    let pem = fetch_public_key(&addr).await?;

    let sealing = Instant::now();
    let mut bodies = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        bodies.push(sealed_body(&pem, &image)?.0);
    }
    let body_bytes = bodies.first().map_or(0, String::len);
    eprintln!(
        "sealed {} bodies of {} bytes in {:.1} s",
        bodies.len(),
        body_bytes,
        sealing.elapsed().as_secs_f64()
    );

    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let (bodies, next, addr) = (bodies.clone(), next.clone(), addr.clone());
        workers.push(tokio::spawn(async move {
            let mut conn = Connection::open(&addr).await?;
            let mut samples = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= bodies.len() || Instant::now() >= deadline {
                    return anyhow::Ok(samples);
                }
                let sent = Instant::now();
                let (status, _) = conn.request("POST", "/process", &bodies[index]).await?;
                samples.push((sent.elapsed(), status));
            }
        }));
    }
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();

    let accepted = samples.iter().filter(|(_, status)| *status == 202).count();
    let mut latencies: Vec<Duration> = samples.iter().map(|(latency, _)| *latency).collect();
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    println!(
        "requests={} accepted_202={} other={} seconds={:.2} submits_per_s={:.1} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2} body_bytes={}",
        samples.len(),
        accepted,
        samples.len() - accepted,
        elapsed,
        accepted as f64 / elapsed,
        percentile(0.50),
        percentile(0.90),
        percentile(0.99),
        percentile(1.0),
        body_bytes,
    );
    if accepted != samples.len() {
        bail!(
            "{} submissions were not accepted with 202",
            samples.len() - accepted
        );
    }
    Ok(())
}

/// A minimal HTTP/1.1 keep-alive client: enough for loopback benchmarking,
/// and far cheaper per request than a full client on a shared 2-core machine.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(addr: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("failed to connect to {addr}; is the server running?"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends one request and returns the status and body; bodies must carry Content-Length.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await?;
        self.stream.write_all(body.as_bytes()).await?;

        self.buffer.clear();
        let header_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..header_end])?.to_ascii_lowercase();
        let status: u16 = head
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .context("response has no status code")?;
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .context("response has no Content-Length")?;
        while self.buffer.len() < header_end + length {
            self.fill().await?;
        }
        Ok((
            status,
            self.buffer[header_end..header_end + length].to_vec(),
        ))
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            bail!("the server closed the connection");
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
