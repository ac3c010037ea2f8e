//! SIP messages over UDP: parsing a datagram into a [`Request`] or [`Response`]
//! (built on `ezk-sip-types`' line parser, header map and typed headers), serializing
//! outgoing messages, and the cheap Call-ID peek the IO shell uses for dispatch.

mod build;
mod call_id;
mod head;
mod parse;
mod salvage;
mod start_line;
mod via;

pub use build::{build_response, reason_phrase, serialize, ResponseParts};
pub use call_id::call_id_of;
pub use parse::{parse_message, ParseError};
pub use salvage::{salvage_request, Salvaged};
pub use via::{stamp_received, TopVia};

use crate::sip::method::Method;
use crate::sip::name_addr::NameAddr;
use bytes::Bytes;
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::Headers;

/// A parsed datagram.
#[derive(Clone, Debug)]
pub enum Message {
    Request(Request),
    Response(Response),
}

/// The raw header values a response copies from its request (RFC 3261 §8.2.6.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EchoHeaders {
    /// Every Via value, in order (comma lists split into their elements).
    pub vias: Vec<String>,
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: String,
}

/// A parsed CSeq header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

/// Everything requests and responses share: the mandatory headers (raw and parsed),
/// the dialog-related headers, all headers (unfolded) and the body.
#[derive(Clone, Debug)]
pub struct MessageHead {
    pub echo: EchoHeaders,
    pub top_via: TopVia,
    pub from: NameAddr,
    pub to: NameAddr,
    pub cseq: CSeq,
    /// Record-Route values in order, as written.
    pub record_route: Vec<String>,
    /// The first Contact value, if present and readable.
    pub contact: Option<NameAddr>,
    /// Content-Type value, if present.
    pub content_type: Option<String>,
    /// All header lines, unfolded, compact names resolved.
    pub headers: Headers,
    /// The body, bounded by Content-Length.
    pub body: Bytes,
}

/// A parsed request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// The Request-URI as written.
    pub uri: String,
    /// The Request-URI, parsed.
    pub sip_uri: SipUri,
    pub head: MessageHead,
}

/// A parsed response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub head: MessageHead,
}

impl Request {
    /// The Call-ID value.
    pub fn call_id(&self) -> &str {
        &self.head.echo.call_id
    }

    /// Writes the request back out (CRLF line ends, fresh Content-Length).
    pub fn to_bytes(&self) -> Vec<u8> {
        serialize(
            &format!("{} {} SIP/2.0", self.method, self.uri),
            &self.head.headers,
            &self.head.body,
        )
    }
}

impl Response {
    /// The Call-ID value.
    pub fn call_id(&self) -> &str {
        &self.head.echo.call_id
    }

    /// Writes the response back out (CRLF line ends, fresh Content-Length).
    pub fn to_bytes(&self) -> Vec<u8> {
        serialize(
            &format!("SIP/2.0 {} {}", self.status, self.reason),
            &self.head.headers,
            &self.head.body,
        )
    }
}
