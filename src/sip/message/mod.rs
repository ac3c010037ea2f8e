//! SIP messages over UDP: parsing a datagram into a [`Request`] or [`Response`]
//! (built on `ezk-sip-types`' line parser, header map and typed headers), serializing
//! outgoing messages, and the cheap Call-ID peek the IO shell uses for dispatch.

mod build;
mod call_id;
mod grammar;
mod head;
mod header_map;
mod known;
mod parse;
mod salvage;
mod start_line;
mod via;

pub use build::{build_response, reason_phrase, serialize, serialize_lines, ResponseParts};
pub use call_id::call_id_of;
pub use header_map::HeaderMap;
pub(crate) use parse::max_forwards;
pub use parse::{parse_message, ParseError};
pub use salvage::{salvage_request, Salvaged};
pub(crate) use start_line::is_request_uri;
pub use via::{stamp_received, TopVia};

use crate::sip::method::Method;
use crate::sip::name_addr::NameAddr;
use bytes::Bytes;
use ezk_sip_types::uri::SipUri;

/// A parsed datagram.
#[derive(Clone, Debug)]
pub enum Message {
    /// The datagram started with a request line (`METHOD uri SIP/2.0`).
    Request(Request),
    /// The datagram started with a status line (`SIP/2.0 code reason`), status 100–699.
    Response(Response),
}

/// The raw header values a response copies from its request (RFC 3261 §8.2.6.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EchoHeaders {
    /// Every Via value, in order (comma lists split into their elements).
    pub vias: Vec<String>,
    /// The first From value, trimmed, tag included.
    pub from: String,
    /// The first To value, trimmed; [`build_response`] appends the tag it is given when
    /// this value has none.
    pub to: String,
    /// The Call-ID value without surrounding whitespace.
    pub call_id: String,
    /// The CSeq value. From the parser it is rewritten as `<seq> <METHOD>` (single
    /// space); from [`salvage_request`] it is the raw trimmed value.
    pub cseq: String,
}

/// A parsed CSeq header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number; the parser refuses values of 2^31 and above (§8.1.1.5).
    pub seq: u32,
    /// The method named in CSeq; for a request the parser requires it to equal the
    /// request line's method, for a response it names the request being answered.
    pub method: Method,
}

/// Everything requests and responses share: the mandatory headers (raw and parsed),
/// the dialog-related headers, all headers (unfolded) and the body.
#[derive(Clone, Debug)]
pub struct MessageHead {
    /// Via, From, To, Call-ID and CSeq as text, for echoing into responses.
    pub echo: EchoHeaders,
    /// The first Via element, parsed: its branch and sent-by match transactions.
    pub top_via: TopVia,
    /// The From header parsed (the caller's URI and tag for an inbound request).
    pub from: NameAddr,
    /// The To header parsed; it carries no tag on a dialog-creating INVITE.
    pub to: NameAddr,
    /// The CSeq header parsed.
    pub cseq: CSeq,
    /// Record-Route values in order, as written.
    pub record_route: Vec<String>,
    /// The first Contact value, if present and readable.
    pub contact: Option<NameAddr>,
    /// Content-Type value, if present.
    pub content_type: Option<String>,
    /// All header lines, unfolded, compact names resolved.
    pub headers: HeaderMap,
    /// The body, bounded by Content-Length.
    pub body: Bytes,
}

/// A parsed request.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method of the request line (equal to `head.cseq.method`).
    pub method: Method,
    /// The Request-URI as written.
    pub uri: String,
    /// The Request-URI, parsed.
    pub sip_uri: SipUri,
    /// Headers and body.
    pub head: MessageHead,
}

/// A parsed response.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code, 100–699 (the parser refuses anything else).
    pub status: u16,
    /// The reason phrase as sent; may be empty, never interpreted.
    pub reason: String,
    /// Headers and body.
    pub head: MessageHead,
}

impl Request {
    /// The Call-ID value.
    pub fn call_id(&self) -> &str {
        &self.head.echo.call_id
    }

    /// Writes the request back out (CRLF line ends, fresh Content-Length).
    pub fn to_bytes(&self) -> Vec<u8> {
        serialize_lines(
            &format!("{} {} SIP/2.0", self.method, self.uri),
            self.head.headers.iter(),
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
        serialize_lines(
            &format!("SIP/2.0 {} {}", self.status, self.reason),
            self.head.headers.iter(),
            &self.head.body,
        )
    }
}
