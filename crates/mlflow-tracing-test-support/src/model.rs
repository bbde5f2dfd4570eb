//! [`StandInModel`]: an OpenAI-compatible chat completions server on 127.0.0.1, answering
//! like a model that calls `get_weather` once and then answers, with token usage on each
//! reply. The agent examples (`tracing_agent`, `examples/rig-agent`) run against it, with no
//! network.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use serde_json::{Value, json};

/// The stand-in model server, serving on a thread of its own until the process ends.
#[derive(Debug)]
pub struct StandInModel {
    address: String,
}

impl StandInModel {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = Self::serve(stream);
            }
        });
        Ok(StandInModel { address })
    }

    /// The base URL an OpenAI client takes: `POST {base_url}/chat/completions`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// `host:port` it listens on.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// One request, one response, then the connection closes.
    fn serve(stream: TcpStream) -> io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let (status, reply) = if request_line.starts_with("POST /v1/chat/completions ") {
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            ("200 OK", Self::reply(&request))
        } else {
            let error =
                format!("the stand-in serves POST /v1/chat/completions, not {request_line}");
            (
                "404 Not Found",
                json!({"error": {"message": error.trim_end()}}),
            )
        };
        let reply = reply.to_string();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )
    }

    /// A tool call to `get_weather` until the conversation holds its result, then the answer.
    fn reply(request: &Value) -> Value {
        let messages = request["messages"].as_array().cloned().unwrap_or_default();
        let called = messages.iter().any(|m| m["role"] == "tool");
        let (message, finish, usage) = if called {
            let answer = "It is 21 °C and clear in Zürich.";
            (
                json!({"role": "assistant", "content": answer}),
                "stop",
                (231, 12),
            )
        } else {
            let call = json!({"id": "call_1", "type": "function", "function":
                {"name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}});
            (
                json!({"role": "assistant", "content": null, "tool_calls": [call]}),
                "tool_calls",
                (182, 17),
            )
        };
        json!({
            "id": format!("chatcmpl-{}", messages.len()),
            "object": "chat.completion",
            "created": 1_767_225_600,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1,
                      "total_tokens": usage.0 + usage.1},
        })
    }
}
