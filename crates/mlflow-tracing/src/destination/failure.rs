//! What kind of failure a request met, read from the error's type and the status code,
//! never from its message: whether to retry, split or give up, and what `doctor` says.

use std::error::Error as StdError;

/// The kind of a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(all(
        feature = "otlp-grpc",
        any(feature = "otlp-http", feature = "mlflow-server")
    )),
    allow(dead_code)
)]
pub(crate) enum Failure {
    /// No answer within the timeout.
    Timeout,
    /// No connection: refused, unreachable, the name not resolved.
    Connect,
    /// The TLS handshake failed: the certificate not trusted, mutual TLS refused.
    Tls,
    /// The peer does not speak the protocol: HTTP/1.1 sent to an HTTP/2-only (gRPC) port,
    /// or gRPC to a port that answers HTTP/1.1.
    WrongProtocol,
    /// The peer closed or reset the connection before it answered.
    Closed,
    /// An HTTP status other than 2xx.
    Http(u16),
    /// A gRPC status other than `OK`, by its code.
    Grpc(GrpcCode),
    /// The receiver refused the request as larger than it accepts (HTTP 413; gRPC
    /// `RESOURCE_EXHAUSTED` without `RetryInfo`, or `OUT_OF_RANGE`, which is what tonic's
    /// and grpc-go's servers answer to a message over their limit).
    TooLarge,
    /// Anything else: the request could not be built or encoded.
    Other,
}

/// The gRPC status codes an OTLP export can meet (numbering of `google.rpc.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
pub(crate) enum GrpcCode {
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
    /// Any other code.
    Other(i32),
}

#[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
impl GrpcCode {
    /// The code of `google.rpc.Code` number `code`.
    pub(crate) fn from_i32(code: i32) -> GrpcCode {
        match code {
            1 => GrpcCode::Cancelled,
            2 => GrpcCode::Unknown,
            3 => GrpcCode::InvalidArgument,
            4 => GrpcCode::DeadlineExceeded,
            5 => GrpcCode::NotFound,
            7 => GrpcCode::PermissionDenied,
            8 => GrpcCode::ResourceExhausted,
            9 => GrpcCode::FailedPrecondition,
            10 => GrpcCode::Aborted,
            11 => GrpcCode::OutOfRange,
            12 => GrpcCode::Unimplemented,
            13 => GrpcCode::Internal,
            14 => GrpcCode::Unavailable,
            15 => GrpcCode::DataLoss,
            16 => GrpcCode::Unauthenticated,
            other => GrpcCode::Other(other),
        }
    }

    /// Whether the OTLP specification says to retry a request that met this code (with
    /// `RESOURCE_EXHAUSTED` retried only when the receiver sends `RetryInfo`, decided by
    /// the caller).
    pub(crate) fn is_retryable(self) -> bool {
        matches!(
            self,
            GrpcCode::Cancelled
                | GrpcCode::DeadlineExceeded
                | GrpcCode::Aborted
                | GrpcCode::Unavailable
                | GrpcCode::DataLoss
        )
    }
}

/// The failure a chain of errors shows, from the innermost error that says something:
/// a TLS error, an I/O error's kind, an HTTP/1 parse error, an HTTP/2 protocol error.
pub(crate) fn of_chain(err: &(dyn StdError + 'static)) -> Option<Failure> {
    let mut found = None;
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(failure) = of_one(err) {
            found = Some(failure);
            if failure == Failure::Tls {
                break;
            }
        }
        next = err.source();
    }
    found
}

fn of_one(err: &(dyn StdError + 'static)) -> Option<Failure> {
    if err.downcast_ref::<rustls::Error>().is_some() {
        return Some(Failure::Tls);
    }
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        use std::io::ErrorKind;
        if io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return Some(Failure::Tls);
        }
        return match io.kind() {
            ErrorKind::ConnectionRefused
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::AddrNotAvailable => Some(Failure::Connect),
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => Some(Failure::Closed),
            ErrorKind::TimedOut => Some(Failure::Timeout),
            _ => None,
        };
    }
    if let Some(hyper) = err.downcast_ref::<hyper::Error>() {
        if hyper.is_parse() || hyper.is_parse_status() {
            return Some(Failure::WrongProtocol);
        }
        if hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled() {
            return Some(Failure::Closed);
        }
        if hyper.is_timeout() {
            return Some(Failure::Timeout);
        }
        // The one kind left without a cause of its own: bytes came when no HTTP/1.1
        // response was expected, as when an HTTP/2 server greets the connection first.
        if !hyper.is_user() && !hyper.is_shutdown() && hyper.source().is_none() {
            return Some(Failure::WrongProtocol);
        }
    }
    #[cfg(feature = "otlp-grpc")]
    if let Some(h2) = err.downcast_ref::<h2::Error>() {
        // The preface or a frame was refused: the peer speaks HTTP/1.1, not HTTP/2.
        if matches!(
            h2.reason(),
            Some(h2::Reason::PROTOCOL_ERROR | h2::Reason::FRAME_SIZE_ERROR)
        ) || h2.is_io()
            && h2
                .get_io()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
        {
            return Some(Failure::WrongProtocol);
        }
    }
    None
}

/// The failure a `reqwest` error shows.
#[cfg(any(feature = "otlp-http", feature = "mlflow-server"))]
pub(crate) fn of_reqwest(err: &reqwest::Error) -> Failure {
    if err.is_timeout() {
        return Failure::Timeout;
    }
    match of_chain(err) {
        Some(failure) => failure,
        None if err.is_connect() => Failure::Connect,
        None => Failure::Other,
    }
}

/// The innermost error message (reqwest wraps hyper wraps io).
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "mlflow-server")),
    allow(dead_code)
)]
pub(crate) fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_read_by_kind() {
        use std::io::{Error, ErrorKind};
        let refused = Error::new(ErrorKind::ConnectionRefused, "no");
        assert_eq!(of_chain(&refused), Some(Failure::Connect));
        let reset = Error::new(ErrorKind::ConnectionReset, "reset by peer");
        assert_eq!(of_chain(&reset), Some(Failure::Closed));
        // The message plays no part.
        let other = Error::other("certificate connection refused HTTP/2 frame");
        assert_eq!(of_chain(&other), None);
    }

    #[test]
    fn only_the_specification_s_codes_are_retried() {
        for code in [1, 4, 10, 14, 15] {
            assert!(GrpcCode::from_i32(code).is_retryable(), "{code}");
        }
        for code in [2, 3, 5, 7, 8, 9, 11, 12, 13, 16, 99] {
            assert!(!GrpcCode::from_i32(code).is_retryable(), "{code}");
        }
    }
}
