//! `parse_message`: one UDP datagram to a [`Message`], with the mandatory headers
//! checked and the body bounded by Content-Length (RFC 3261 §7, §18.3).

use super::call_id::call_id_value;
use super::head::{split_message, RawMessage};
use super::start_line::StartLine;
use super::{CSeq, EchoHeaders, Message, MessageHead, Request, Response, TopVia};
use crate::sip::header_value::split_list;
use crate::sip::method::{is_token, Method};
use crate::sip::name_addr::NameAddr;
use bytes::Bytes;
use ezk_sip_types::{Headers, Name};
use thiserror::Error;

/// Why a datagram is not a usable SIP message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The datagram is empty or holds only line breaks (keep-alive CRLFs).
    #[error("datagram holds no message")]
    Empty,
    /// The start line or a header line is not valid UTF-8 (the body may be anything).
    #[error("message head is not UTF-8")]
    NotUtf8,
    /// The head never ends: no blank line follows the headers and the datagram does not
    /// end right after a line break (a cut-off datagram).
    #[error("no blank line ends the message head")]
    NoHeadEnd,
    /// The first line is neither `METHOD uri SIP/2.0` (method a token) nor
    /// `SIP/2.0 code reason` with a code in 100–699.
    #[error("malformed start line")]
    BadStartLine,
    /// The Request-URI has a scheme other than `sip`/`sips` (e.g. `tel:`); the
    /// dispatcher answers such a request 416 instead of 400.
    #[error("Request-URI scheme is not sip or sips")]
    UnsupportedUriScheme,
    /// A header line has no `name:` (empty name or no colon), or a CR without LF.
    #[error("malformed header line")]
    BadHeaderLine,
    /// A mandatory header (Via, From, To, Call-ID or CSeq, named by the value) is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A mandatory header (named by the value) is empty, unreadable or repeated (From,
    /// To, Call-ID, CSeq), has a `tag=` without a value (From, To), or the CSeq method
    /// differs from the request line's.
    #[error("malformed {0} header")]
    MalformedHeader(&'static str),
    /// Content-Length is not a decimal number, or appears twice.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// Content-Length promises more bytes than follow the head (a truncated datagram).
    #[error("body shorter than Content-Length ({declared} > {available})")]
    BodyTruncated {
        /// The Content-Length value, in bytes.
        declared: usize,
        /// The bytes actually present after the blank line.
        available: usize,
    },
}

/// Parses one datagram. Compact header names, folded headers and LF-only line ends are
/// accepted; the body is cut to Content-Length (or runs to the end of the datagram when
/// Content-Length is absent, RFC 3261 §18.3).
pub fn parse_message(data: &[u8]) -> Result<Message, ParseError> {
    let RawMessage {
        start,
        headers,
        rest,
    } = split_message(data)?;
    let body = bound_body(&headers, rest)?;
    let head = read_head(headers, body)?;
    match start {
        StartLine::Request {
            method,
            uri,
            sip_uri,
        } => {
            if head.cseq.method != method {
                return Err(ParseError::MalformedHeader("CSeq"));
            }
            Ok(Message::Request(Request {
                method,
                uri,
                sip_uri,
                head,
            }))
        }
        StartLine::Response { status, reason } => Ok(Message::Response(Response {
            status,
            reason,
            head,
        })),
    }
}

fn bound_body(headers: &Headers, rest: &[u8]) -> Result<Bytes, ParseError> {
    let mut values = headers.get_raw(&Name::CONTENT_LENGTH);
    let Some(value) = values.next() else {
        return Ok(Bytes::copy_from_slice(rest));
    };
    // Two Content-Lengths leave the body's end ambiguous, even when they agree.
    if values.next().is_some() {
        return Err(ParseError::BadContentLength);
    }
    let declared: usize = value
        .as_str()
        .trim()
        .parse()
        .map_err(|_| ParseError::BadContentLength)?;
    match rest.get(..declared) {
        Some(body) => Ok(Bytes::copy_from_slice(body)),
        None => Err(ParseError::BodyTruncated {
            declared,
            available: rest.len(),
        }),
    }
}

/// The value of a header that may appear once (From, To, Call-ID, CSeq: RFC 3261 §7.3.1
/// allows repeating only headers whose value is a comma-separated list); a second one
/// makes the header malformed.
fn single_value(headers: &Headers, name: &Name, label: &'static str) -> Result<String, ParseError> {
    let mut values = headers.get_raw(name);
    match (values.next(), values.next()) {
        (Some(value), None) if !value.as_str().trim().is_empty() => {
            Ok(value.as_str().trim().to_owned())
        }
        (Some(_), _) => Err(ParseError::MalformedHeader(label)),
        (None, _) => Err(ParseError::MissingHeader(label)),
    }
}

/// Reads From or To; a `tag=` without a value is malformed (`tag-param = "tag" EQUAL
/// token`, RFC 3261 §25.1), not a missing tag.
fn parse_party(value: &str, label: &'static str) -> Result<NameAddr, ParseError> {
    let party = NameAddr::parse(value).map_err(|_| ParseError::MalformedHeader(label))?;
    let empty_tag = party.params.split(';').skip(1).any(|param| {
        param.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("tag") && value.trim().is_empty()
        })
    });
    if empty_tag {
        return Err(ParseError::MalformedHeader(label));
    }
    Ok(party)
}

fn read_head(headers: Headers, body: Bytes) -> Result<MessageHead, ParseError> {
    let vias: Vec<String> = headers
        .get_raw(&Name::VIA)
        .flat_map(|value| split_list(value.as_str()))
        .map(str::to_owned)
        .collect();
    let top_via = vias
        .first()
        .ok_or(ParseError::MissingHeader("Via"))
        .and_then(|via| TopVia::parse(via).ok_or(ParseError::MalformedHeader("Via")))?;

    let from = single_value(&headers, &Name::FROM, "From")?;
    let to = single_value(&headers, &Name::TO, "To")?;
    let call_id = single_value(&headers, &Name::CALL_ID, "Call-ID")?;
    let call_id = call_id_value(&call_id)
        .filter(|call_id| !call_id.contains(char::is_whitespace))
        .ok_or(ParseError::MalformedHeader("Call-ID"))?
        .to_owned();
    let cseq_text = single_value(&headers, &Name::CSEQ, "CSeq")?;
    let cseq = parse_cseq(&cseq_text).ok_or(ParseError::MalformedHeader("CSeq"))?;
    let parsed_from = parse_party(&from, "From")?;
    let parsed_to = parse_party(&to, "To")?;

    let record_route = headers
        .get_raw(&Name::RECORD_ROUTE)
        .flat_map(|value| split_list(value.as_str()))
        .map(str::to_owned)
        .collect();
    let contact = headers
        .get_raw(&Name::CONTACT)
        .flat_map(|value| split_list(value.as_str()))
        .next()
        .and_then(|value| NameAddr::parse(value).ok());
    let content_type = headers
        .get_raw(&Name::CONTENT_TYPE)
        .next()
        .map(|value| value.as_str().trim().to_owned());

    Ok(MessageHead {
        echo: EchoHeaders {
            vias,
            from,
            to,
            call_id,
            cseq: format!("{} {}", cseq.seq, cseq.method),
        },
        top_via,
        from: parsed_from,
        to: parsed_to,
        cseq,
        record_route,
        contact,
        content_type,
        headers,
        body,
    })
}

/// Reads `<number> <method>`; the number must fit in 31 bits (RFC 3261 §8.1.1.5).
pub(super) fn parse_cseq(value: &str) -> Option<CSeq> {
    let mut parts = value.split_whitespace();
    let (Some(number), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    if !number.bytes().all(|byte| byte.is_ascii_digit()) || !is_token(method) {
        return None;
    }
    let seq: u32 = number.parse().ok().filter(|seq| *seq < 1 << 31)?;
    Some(CSeq {
        seq,
        method: Method::from_token(method),
    })
}

#[cfg(test)]
mod tests;
