//! `creditpool-load`: the load generator of the public-query benchmark (issue 6,
//! docs/benchmarks.md). A separate process from the server, on loopback: it reads the
//! enterprises of the same data folder, then keeps `--concurrency` requests in flight
//! for each workload in turn — exact lookup by code, fuzzy search by part of a name, PDF
//! credit report — and prints each one's latency percentiles and throughput.
//!
//! Each request in flight has its own kept-alive HTTP/1.1 connection, driven by hyper's
//! connection-level client: the generator shares the machine's cores with the server,
//! so it spends as little of them as it can (no pool, no URL parsing per request).
//!
//! ```sh
//! creditpool-load --url http://127.0.0.1:8080 --data DIR --concurrency 64 --requests 20000
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use datafusion::arrow::array::AsArray;
use datafusion::prelude::SessionContext;

#[derive(Parser, Debug)]
#[command(
    name = "creditpool-load",
    about = "Load generator of the public-query benchmark"
)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The data folder the server serves (the load is drawn from its enterprises).
    #[arg(long)]
    data: std::path::PathBuf,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests per workload (PDF reports: a tenth of it, at least 500).
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Workloads to run: code, name, pdf (the JSON API's), records (a subject's
    /// disclosed records as JSON), and the pages showing the same: code-page and
    /// name-page (`/search`), subject-page (`/subjects/{uscc}`). A page's workload sends
    /// the very requests of its JSON twin's, in the same order.
    #[arg(long, value_delimiter = ',', default_value = "code,name,pdf")]
    workloads: Vec<String>,
}

/// A tiny deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn enterprises(data: &std::path::Path) -> Result<Vec<(String, String)>> {
    let catalog = catalog::Catalog::open(data).context("opening the data folder")?;
    let ctx = SessionContext::new();
    catalog.register(&ctx, &["enterprises"]).await?;
    let batches = ctx
        .sql("SELECT uscc, name FROM enterprises WHERE status = 'active'")
        .await?
        .collect()
        .await?;
    let mut out = Vec::new();
    for b in &batches {
        let cast = |i: usize| {
            datafusion::arrow::compute::cast(
                b.column(i),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
        };
        let (codes, names) = (cast(0)?, cast(1)?);
        let (codes, names) = (codes.as_string::<i32>(), names.as_string::<i32>());
        for r in 0..b.num_rows() {
            out.push((codes.value(r).to_owned(), names.value(r).to_owned()));
        }
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no active enterprises in {}",
        data.display()
    );
    Ok(out)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The server's address and the value of the `Host` header.
#[derive(Clone)]
struct Server {
    address: String,
    host: hyper::header::HeaderValue,
}

impl Server {
    fn parse(url: &str) -> Result<Self> {
        let uri: hyper::Uri = url.parse().context("--url is not a URL")?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "--url must be an http:// address (the benchmark runs on loopback)"
        );
        let authority = uri.authority().context("--url has no host")?;
        let address = match authority.port_u16() {
            Some(_) => authority.as_str().to_owned(),
            None => format!("{}:80", authority.host()),
        };
        Ok(Self {
            address,
            host: authority.as_str().parse()?,
        })
    }

    /// A kept-alive connection, its driver spawned.
    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .with_context(|| format!("connecting to {}", self.address))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// Sends one request on `sender` and reads the whole answer; whether it succeeded.
    async fn send(
        &self,
        sender: &mut SendRequest<Empty<Bytes>>,
        method: &Method,
        path: &str,
    ) -> Result<bool> {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(hyper::header::HOST, self.host.clone())
            .body(Empty::new())?;
        sender.ready().await?;
        let response = tokio::time::timeout(Duration::from_secs(60), async {
            let response = sender.send_request(request).await?;
            let ok = response.status().is_success();
            response.into_body().collect().await?;
            anyhow::Ok(ok)
        })
        .await
        .context("no answer within 60 s")??;
        Ok(response)
    }
}

async fn run(
    server: &Server,
    name: &str,
    concurrency: usize,
    requests: Vec<(Method, String)>,
) -> Result<()> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        connections.push(server.connect().await?);
    }
    let started = Instant::now();
    let mut workers = Vec::new();
    for mut sender in connections {
        let (server, requests, next, errors) = (
            server.clone(),
            requests.clone(),
            next.clone(),
            errors.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut took = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((method, path)) = requests.get(i) else {
                    return took;
                };
                let t = Instant::now();
                let ok = match server.send(&mut sender, method, path).await {
                    Ok(ok) => ok,
                    Err(_) => {
                        // A broken connection is counted and replaced.
                        if let Ok(fresh) = server.connect().await {
                            sender = fresh;
                        }
                        false
                    }
                };
                took.push(t.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut all = Vec::with_capacity(requests.len());
    for w in workers {
        all.extend(w.await?);
    }
    let wall = started.elapsed();
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<12} {:>7} requests  {:>8.0} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  errors {}",
        all.len(),
        all.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&all, 0.50)),
        ms(percentile(&all, 0.95)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap_or(&Duration::ZERO)),
        errors.load(Ordering::Relaxed),
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.concurrency > 0 && args.requests > 0,
        "--concurrency and --requests must be at least 1"
    );
    let subjects = enterprises(&args.data).await?;
    println!(
        "{} enterprises; {} in flight; server {}",
        subjects.len(),
        args.concurrency,
        args.url
    );
    let server = Server::parse(&args.url)?;
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    for workload in &args.workloads {
        // The JSON twin of a page's workload, whose draws it repeats.
        let twin = match workload.as_str() {
            "code-page" => "code",
            "name-page" => "name",
            "subject-page" => "records",
            other => other,
        };
        anyhow::ensure!(
            matches!(twin, "code" | "name" | "pdf" | "records"),
            "unknown workload {workload}: code, name, pdf, records, code-page, name-page, subject-page"
        );
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15
            ^ twin
                .bytes()
                .fold(0u64, |h, b| h.rotate_left(7) ^ u64::from(b)));
        let page = twin != workload.as_str();
        let n = if workload == "pdf" {
            (args.requests / 10).max(500)
        } else {
            args.requests
        };
        let requests: Vec<(Method, String)> = (0..n)
            .map(|_| {
                let (code, name) = &subjects[rng.below(subjects.len())];
                let search = if page {
                    "/search?q="
                } else {
                    "/api/v1/public/subjects?q="
                };
                match twin {
                    "code" => (Method::GET, format!("{search}{code}")),
                    "records" if page => (Method::GET, format!("/subjects/{code}")),
                    "records" => (
                        Method::GET,
                        format!("/api/v1/public/subjects/{code}/records"),
                    ),
                    "name" => {
                        // Two to four characters from anywhere in a real name.
                        let chars: Vec<char> = name.chars().collect();
                        let len = 2 + rng.below(3).min(chars.len().saturating_sub(2));
                        let start = rng.below(chars.len().saturating_sub(len) + 1);
                        let part: String =
                            chars[start..start + len.min(chars.len())].iter().collect();
                        // A page shows 20 a page, as `limit=20` asks of the API.
                        let limit = if page { "" } else { "&limit=20" };
                        (Method::GET, format!("{search}{}{limit}", encode(&part)))
                    }
                    _ => (
                        Method::POST,
                        format!(
                            "/api/v1/public/subjects/{code}/reports?format=pdf&requester=bench"
                        ),
                    ),
                }
            })
            .collect();
        // Warm up the connections and the server's caches.
        run(
            &server,
            "warmup",
            args.concurrency,
            requests[..n.min(200)].to_vec(),
        )
        .await?;
        run(&server, workload, args.concurrency, requests).await?;
    }
    Ok(())
}
