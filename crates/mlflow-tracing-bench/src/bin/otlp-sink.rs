//! `otlp-sink`: a loopback OTLP receiver that decodes every trace request, counts its
//! spans and drops it — the receiver of `scripts/bench-compare.sh`.
//!
//! OTLP/HTTP (protobuf, HTTP/1.1 with keep-alive, a thread per connection) on
//! `--http-port`, OTLP/gRPC (tonic) on `--grpc-port`. The total of spans received so far
//! is written to `--count-file` whenever it changes (at most every 20 ms), the number of
//! requests to `<count-file>.requests`. `TCP_NODELAY`
//! is on for accepted connections unless `--no-nodelay`: a receiver that leaves it off
//! shows how a client copes with Nagle's algorithm and delayed acknowledgements.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

#[derive(Parser, Debug)]
#[command(about = "A counting OTLP receiver on loopback")]
struct Args {
    /// OTLP/HTTP port on 127.0.0.1 (0: none).
    #[arg(long, default_value_t = 0)]
    http_port: u16,
    /// OTLP/gRPC port on 127.0.0.1 (0: none).
    #[arg(long, default_value_t = 0)]
    grpc_port: u16,
    /// Where the number of spans received so far is written.
    #[arg(long)]
    count_file: PathBuf,
    /// Leave TCP_NODELAY off on accepted connections.
    #[arg(long)]
    no_nodelay: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let spans = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let nodelay = !args.no_nodelay;
    if args.http_port != 0 {
        let listener = TcpListener::bind(("127.0.0.1", args.http_port))?;
        let (spans, requests) = (spans.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_nodelay(nodelay);
                let (spans, requests) = (spans.clone(), requests.clone());
                std::thread::spawn(move || serve_http(stream, &spans, &requests));
            }
        });
    }
    if args.grpc_port != 0 {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let service = TraceServiceServer::new(Counter(spans.clone(), requests.clone()))
            .max_decoding_message_size(64 << 20);
        let incoming = runtime
            .block_on(async {
                tonic::transport::server::TcpIncoming::bind(([127, 0, 0, 1], args.grpc_port).into())
            })?
            .with_nodelay(Some(nodelay));
        runtime.spawn(tonic::transport::Server::builder().serve_with_incoming(service, incoming));
        // Serves until the process is killed.
        std::mem::forget(runtime);
    }
    let mut written = (u64::MAX, u64::MAX);
    loop {
        let now = (
            spans.load(Ordering::Relaxed),
            requests.load(Ordering::Relaxed),
        );
        if now != written {
            let tmp = args.count_file.with_extension("tmp");
            std::fs::write(&tmp, format!("{}\n", now.0))?;
            std::fs::rename(&tmp, &args.count_file)?;
            let mut requests_file = args.count_file.clone().into_os_string();
            requests_file.push(".requests");
            std::fs::write(&tmp, format!("{}\n", now.1))?;
            std::fs::rename(&tmp, requests_file)?;
            written = now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The spans of an encoded `ExportTraceServiceRequest` (`None`: not one).
fn count_spans(body: &[u8]) -> Option<u64> {
    let request = ExportTraceServiceRequest::decode(body).ok()?;
    Some(
        request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len() as u64)
            .sum(),
    )
}

/// Answers HTTP/1.1 requests on one connection until the client closes it.
fn serve_http(stream: TcpStream, spans: &AtomicU64, requests: &AtomicU64) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        let mut length = None;
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = line.trim_end();
            if header.is_empty() && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.unwrap_or(0)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let status = match count_spans(&body) {
            Some(n) => {
                spans.fetch_add(n, Ordering::Relaxed);
                requests.fetch_add(1, Ordering::Relaxed);
                "200 OK"
            }
            None => "400 Bad Request",
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// The gRPC trace service: counts, answers an empty success.
struct Counter(Arc<AtomicU64>, Arc<AtomicU64>);

#[tonic::async_trait]
impl TraceService for Counter {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let n: u64 = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len() as u64)
            .sum();
        self.0.fetch_add(n, Ordering::Relaxed);
        self.1.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}
