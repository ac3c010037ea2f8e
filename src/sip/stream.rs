//! Framing SIP on a stream transport (TCP, and TLS's plaintext): one reassembly buffer
//! per connection turns the bytes read into whole messages (RFC 3261 §18.3).
//!
//! A message is its head up to the first blank line (`CRLF CRLF`) and then
//! exactly `Content-Length` bytes of body. On a stream the header is
//! mandatory (full `Content-Length` or compact `l`): a head without it is a
//! [`StreamError::MissingContentLength`], and the connection must be closed,
//! since nothing tells where the next message starts. Bytes of CR/LF between
//! messages are skipped; a double CRLF "ping" (RFC 5626 §4.4.1) comes out as
//! [`Framed::Ping`], which the shell answers with one CRLF.
//!
//! Memory is bounded: a head longer than [`StreamLimits::max_head`] or a body
//! longer than [`StreamLimits::max_body`] is an error before it is buffered,
//! so a peer streaming an endless header costs at most the limits.
//!
//! Sans-IO: [`StreamFramer::push`] takes bytes, [`StreamFramer::next_frame`] yields
//! what is complete; the shell closes the connection on any error.

use std::fmt;

mod reconnect;
pub use reconnect::reconnect_target;

/// How much one connection may buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    /// Longest head (start line and headers, with the blank line).
    pub max_head: usize,
    /// Largest `Content-Length` accepted.
    pub max_body: usize,
}

impl Default for StreamLimits {
    fn default() -> StreamLimits {
        StreamLimits {
            max_head: 16 * 1024,
            max_body: 64 * 1024,
        }
    }
}

/// Why a stream cannot be framed any further (close the connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamError {
    /// No blank line within [`StreamLimits::max_head`] bytes.
    HeadTooLong,
    /// A `Content-Length` over [`StreamLimits::max_body`].
    BodyTooLong,
    /// A head without `Content-Length` (§18.3: mandatory on streams).
    MissingContentLength,
    /// A `Content-Length` that is not a number, or two that differ.
    BadContentLength,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamError::HeadTooLong => "SIP head over the limit",
            StreamError::BodyTooLong => "Content-Length over the limit",
            StreamError::MissingContentLength => "no Content-Length on a stream",
            StreamError::BadContentLength => "malformed Content-Length",
        })
    }
}

impl std::error::Error for StreamError {}

/// One thing framed out of the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed<'a> {
    /// One complete SIP message (head and body), for the dispatcher.
    Message(&'a [u8]),
    /// A double-CRLF keep-alive ping: answer with [`PONG`].
    Ping,
}

/// The answer to a keep-alive ping (RFC 5626 §4.4.1).
pub const PONG: &[u8] = b"\r\n";

/// The reassembly buffer of one connection.
#[derive(Debug)]
pub struct StreamFramer {
    limits: StreamLimits,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out (dropped at the next push).
    consumed: usize,
    /// Bytes after `consumed` known to hold no blank line yet.
    scanned: usize,
    /// The current message's head length and body length, once its head is complete.
    framed: Option<(usize, usize)>,
    /// Sticky: once framing failed, nothing more comes out.
    failed: Option<StreamError>,
}

impl StreamFramer {
    /// An empty buffer with these limits.
    pub fn new(limits: StreamLimits) -> StreamFramer {
        StreamFramer {
            limits,
            buf: Vec::new(),
            consumed: 0,
            scanned: 0,
            framed: None,
            failed: None,
        }
    }

    /// Appends bytes read from the connection (call [`StreamFramer::next_frame`]
    /// until it yields nothing after every push, so that at most one partial
    /// message plus this chunk is held). Fails (and stays failed) when the
    /// partial message has outgrown the limits.
    pub fn push(&mut self, data: &[u8]) -> Result<(), StreamError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.consumed > 0 {
            self.buf.drain(..self.consumed);
            self.consumed = 0;
        }
        // With `next_frame` drained after every push, what is held is part of one
        // message; more than the limits means it can never complete.
        if self.buf.len() > self.limits.max_head + self.limits.max_body {
            return self.fail(StreamError::HeadTooLong);
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The next complete message or ping, `Ok(None)` until more bytes are
    /// pushed. After an error, the connection must be closed.
    pub fn next_frame(&mut self) -> Result<Option<Framed<'_>>, StreamError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.framed.is_none() {
            // Line breaks between messages: a ping, a pong, or padding.
            loop {
                let rest = &self.buf[self.consumed..];
                if rest.starts_with(b"\r\n\r\n") {
                    self.consumed += 4;
                    self.scanned = 0;
                    return Ok(Some(Framed::Ping));
                }
                match rest {
                    [b'\n', ..] => self.consumed += 1,
                    [b'\r', b'\n', next, ..] if *next != b'\r' => self.consumed += 2,
                    [b'\r', b'\n', b'\r', next, ..] if *next != b'\n' => self.consumed += 2,
                    // Wait: it may yet become a ping.
                    [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] => return Ok(None),
                    _ => break,
                }
                self.scanned = 0;
            }
            let rest = &self.buf[self.consumed..];
            let from = self.scanned.saturating_sub(3);
            match find_blank_line(&rest[from..]) {
                Some(at) => {
                    let head = from + at + 4;
                    if head > self.limits.max_head {
                        return self.fail(StreamError::HeadTooLong);
                    }
                    let body = match content_length(&rest[..head]) {
                        Ok(body) => body,
                        Err(error) => return self.fail(error),
                    };
                    if body > self.limits.max_body {
                        return self.fail(StreamError::BodyTooLong);
                    }
                    self.framed = Some((head, body));
                }
                None => {
                    if rest.len() > self.limits.max_head {
                        return self.fail(StreamError::HeadTooLong);
                    }
                    self.scanned = rest.len();
                    return Ok(None);
                }
            }
        }
        let Some((head, body)) = self.framed else {
            return Ok(None);
        };
        let start = self.consumed;
        if self.buf.len() - start < head + body {
            return Ok(None);
        }
        self.framed = None;
        self.scanned = 0;
        self.consumed = start + head + body;
        Ok(Some(Framed::Message(&self.buf[start..start + head + body])))
    }

    /// Bytes held for messages not yet complete.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.consumed
    }

    fn fail<T>(&mut self, error: StreamError) -> Result<T, StreamError> {
        self.failed = Some(error);
        self.buf = Vec::new();
        self.consumed = 0;
        Err(error)
    }
}

/// Where the first `CRLF CRLF` starts.
fn find_blank_line(data: &[u8]) -> Option<usize> {
    data.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The body length a head declares: `Content-Length` or compact `l`, folded
/// values allowed; several must agree.
fn content_length(head: &[u8]) -> Result<usize, StreamError> {
    let mut found: Option<usize> = None;
    let mut lines = head.split(|&b| b == b'\n').peekable();
    // The start line.
    lines.next();
    while let Some(line) = lines.next() {
        let line = trim(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        if !name.eq_ignore_ascii_case(b"content-length") && !name.eq_ignore_ascii_case(b"l") {
            continue;
        }
        let mut value: Vec<u8> = trim(&line[colon + 1..]).to_vec();
        // Continuation lines (RFC 3261 §7.3.1 folding).
        while let Some(next) = lines.peek() {
            if matches!(next.first(), Some(b' ' | b'\t')) {
                value.push(b' ');
                value.extend_from_slice(trim(next));
                lines.next();
            } else {
                break;
            }
        }
        let text = std::str::from_utf8(trim(&value)).map_err(|_| StreamError::BadContentLength)?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StreamError::BadContentLength);
        }
        // Too many digits for any limit: over the body limit, not malformed.
        let length = text.parse::<usize>().unwrap_or(usize::MAX);
        if found.is_some_and(|earlier| earlier != length) {
            return Err(StreamError::BadContentLength);
        }
        found = Some(length);
    }
    found.ok_or(StreamError::MissingContentLength)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |at| at + 1);
    &bytes[start..end.max(start)]
}

#[cfg(test)]
mod tests;
