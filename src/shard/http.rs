//! Outbound HTTP for flows (`httpRequest`, `webhook_send`), done by a small
//! pool of worker threads so that no shard ever blocks on the network.
//!
//! A shard hands a request over with the call it belongs to; a worker performs
//! it with a deadline and posts the result back into that shard's inbox, which
//! wakes the shard. Response bodies are capped: a flow needs a JSON object, not
//! a download. `ureq` is used because a blocking client on a few dedicated
//! threads is all this needs; an async runtime would be a second event loop.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::call::{CallHandle, HttpRequest, HttpResult};

use super::{ShardMsg, ShardPeer};

/// Largest response body kept; the rest is discarded.
const MAX_BODY: u64 = 256 * 1024;

struct Job {
    call: CallHandle,
    request: HttpRequest,
    /// Where the result goes; `None` for fire-and-forget requests, whose
    /// results must never reach a flow that waits for a later request.
    reply_to: Option<ShardPeer>,
}

/// The pool; cloneable handle for every shard.
#[derive(Clone)]
pub struct HttpPool {
    sender: Sender<Job>,
    /// Requests submitted and not yet taken by a worker (the metrics' queue depth).
    queued: Arc<AtomicUsize>,
}

/// The pool's threads, joined at shutdown.
pub struct HttpWorkers {
    threads: Vec<JoinHandle<()>>,
}

impl HttpPool {
    /// Starts `workers` threads.
    pub fn start(workers: usize) -> std::io::Result<(HttpPool, HttpWorkers)> {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let queued = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for index in 0..workers.max(1) {
            let receiver = receiver.clone();
            let queued = queued.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("http-{index}"))
                    .spawn(move || work(receiver, queued))?,
            );
        }
        Ok((HttpPool { sender, queued }, HttpWorkers { threads }))
    }

    /// Requests waiting for a worker.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// The live count behind [`HttpPool::queue_depth`], for a reader that must
    /// not hold the pool (holding it keeps the workers from exiting).
    pub fn queue_counter(&self) -> Arc<AtomicUsize> {
        self.queued.clone()
    }

    /// Queues a request; its result reaches `reply_to` (if any) as [`ShardMsg::Http`].
    pub fn submit(&self, call: CallHandle, request: HttpRequest, reply_to: Option<ShardPeer>) {
        let job = Job {
            call,
            request,
            reply_to,
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = self.sender.send(job) {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            let job = err.0;
            if let Some(peer) = job.reply_to {
                peer.send(ShardMsg::Http {
                    call: job.call,
                    result: HttpResult::Failed("the HTTP workers have stopped".into()),
                });
            }
        }
    }
}

impl HttpWorkers {
    /// Waits for the workers once every pool handle is dropped.
    pub fn finish(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn work(receiver: Arc<Mutex<Receiver<Job>>>, queued: Arc<AtomicUsize>) {
    loop {
        let job = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        queued.fetch_sub(1, Ordering::Relaxed);
        let result = perform(&job.request);
        match job.reply_to {
            Some(peer) => peer.send(ShardMsg::Http {
                call: job.call,
                result,
            }),
            None => {
                if let HttpResult::Failed(reason) = result {
                    log::warn!(
                        "fire-and-forget request to {} failed: {reason}",
                        job.request.url
                    );
                }
            }
        }
    }
}

/// Performs one request; any status is a response, only transport failures fail.
pub(crate) fn perform(request: &HttpRequest) -> HttpResult {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(request.timeout.max(Duration::from_millis(1))))
        .http_status_as_error(false)
        .build()
        .into();
    let method = request.method.to_ascii_uppercase();
    let mut builder = ureq::http::Request::builder()
        .method(method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = request.body.clone().unwrap_or_default();
    let built = match builder.body(body) {
        Ok(built) => built,
        Err(err) => return HttpResult::Failed(format!("bad request: {err}")),
    };
    match agent.run(built) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut text = String::new();
            let read = response
                .body_mut()
                .as_reader()
                .take(MAX_BODY)
                .read_to_string(&mut text);
            match read {
                Ok(_) => HttpResult::Response { status, body: text },
                Err(err) => HttpResult::Failed(format!("reading the response: {err}")),
            }
        }
        Err(err) => HttpResult::Failed(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A one-shot HTTP server on loopback that answers with `status` and `body`
    /// and returns the request line and body it received.
    fn serve_once(status: u16, body: &'static str) -> (String, JoinHandle<(String, String)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut received = vec![0u8; length];
            reader.read_exact(&mut received).unwrap();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            (request_line, String::from_utf8(received).unwrap())
        });
        (url, thread)
    }

    #[test]
    fn posts_and_reads_a_json_response() {
        let (url, server) = serve_once(200, r#"{"name":"John"}"#);
        let result = perform(&HttpRequest {
            method: "post".into(),
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(r#"{"caller":"+4420"}"#.into()),
            timeout: Duration::from_secs(5),
        });
        let (line, body) = server.join().unwrap();
        assert!(line.starts_with("POST /hook"), "{line}");
        assert_eq!(body, r#"{"caller":"+4420"}"#);
        assert_eq!(
            result,
            HttpResult::Response {
                status: 200,
                body: r#"{"name":"John"}"#.into()
            }
        );
    }

    #[test]
    fn error_status_is_a_response_not_a_failure() {
        let (url, server) = serve_once(503, "busy");
        let result = perform(&HttpRequest {
            method: "GET".into(),
            url,
            headers: vec![],
            body: None,
            timeout: Duration::from_secs(5),
        });
        server.join().unwrap();
        assert_eq!(
            result,
            HttpResult::Response {
                status: 503,
                body: "busy".into()
            }
        );
    }

    #[test]
    fn unreachable_host_fails_with_a_reason() {
        // A port nobody listens on (bound then dropped).
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let result = perform(&HttpRequest {
            method: "GET".into(),
            url: format!("http://127.0.0.1:{port}/"),
            headers: vec![],
            body: None,
            timeout: Duration::from_secs(2),
        });
        assert!(
            matches!(result, HttpResult::Failed(ref reason) if !reason.is_empty()),
            "{result:?}"
        );
    }
}
