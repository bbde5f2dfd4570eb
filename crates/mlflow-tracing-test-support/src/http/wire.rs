//! The HTTP/1.1 wire: request heads read, bodies decompressed and decoded (protobuf or
//! OTLP/JSON), responses written.

use std::io::{self, BufRead, BufReader, Read as _, Write as _};

use flate2::read::GzDecoder;
use prost::Message;
use tonic::codegen::http::StatusCode;

use super::Conn;

/// The longest request line plus headers the HTTP receiver reads.
const MAX_HEAD: u64 = 64 * 1024;

/// A request line and its headers.
pub(super) struct Head {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) http11: bool,
    pub(super) headers: Vec<(String, String)>,
}

/// Reads a request line and headers: `None` at the end of the stream, or when the client
/// does not speak HTTP/1 (a TLS hello, the HTTP/2 preface), which closes the connection.
pub(super) fn read_head(reader: &mut BufReader<Conn>) -> io::Result<Option<Head>> {
    match reader.fill_buf()?.first() {
        Some(byte) if byte.is_ascii_uppercase() => {}
        _ => return Ok(None),
    }
    let mut limited = reader.take(MAX_HEAD);
    let line = read_line(&mut limited)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(None);
    }
    let (method, path, http11) = (method.to_owned(), path.to_owned(), version != "HTTP/1.0");
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut limited)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Ok(None);
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Some(Head {
        method,
        path,
        http11,
        headers,
    }))
}

/// One CRLF-terminated line, without the terminator.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "truncated or oversized request head",
        ));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// The lowercased media type of a `Content-Type` value, without parameters.
pub(super) fn media_type(content_type: Option<&str>) -> String {
    let value = content_type.unwrap_or_default();
    let essence = value.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// Decompresses and decodes an OTLP/HTTP body as a request of type `R`.
pub(super) fn decode_http<R: Message + Default + serde::de::DeserializeOwned>(
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<R, String> {
    let inflated;
    let body = match content_encoding.map(str::trim) {
        None | Some("" | "identity") => body,
        Some(encoding) if encoding.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            GzDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(|err| format!("bad gzip: {err}"))?;
            inflated = out;
            &inflated
        }
        Some(other) => return Err(format!("unsupported Content-Encoding {other:?}")),
    };
    match media_type(content_type).as_str() {
        "application/x-protobuf" | "application/protobuf" => {
            R::decode(body).map_err(|err| format!("bad protobuf: {err}"))
        }
        "application/json" => {
            serde_json::from_slice(body).map_err(|err| format!("bad OTLP/JSON: {err}"))
        }
        other => Err(format!("unsupported Content-Type {other:?}")),
    }
}

/// Writes a complete response.
pub(super) fn respond(
    conn: &mut Conn,
    status: u16,
    content_type: &str,
    body: &[u8],
    retry_after: Option<&str>,
    keep_alive: bool,
) -> io::Result<()> {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(retry_after) = retry_after {
        head.push_str(&format!("retry-after: {retry_after}\r\n"));
    }
    if !keep_alive {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut response = head.into_bytes();
    response.extend_from_slice(body);
    conn.write_all(&response)?;
    conn.flush()
}
