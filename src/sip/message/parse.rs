//! `parse_message`: one UDP datagram to a [`Message`], with the mandatory headers
//! checked and the body bounded by Content-Length (RFC 3261 §7, §18.3).
//!
//! What is refused (each a [`ParseError`], which the dispatcher turns into 400 with a
//! `Warning` naming it, 416 or 505, or a counted drop):
//! - a head that is not UTF-8, holds a control character (NUL, BEL, a bare CR…) other
//!   than a `\`-escaped one inside a quoted string, or never ends;
//! - a missing or unreadable Via, From, To, Call-ID or CSeq; Max-Forwards is optional
//!   (peers omit it in practice) but must be a number 0–255 when present;
//! - a single-valued header (From, To, Call-ID, CSeq, Max-Forwards, Content-Length,
//!   Content-Type) given twice, even with the same value: only headers whose value is a
//!   comma-separated list may repeat (RFC 3261 §7.3.1);
//! - a Via element other than the top one, a Contact, or parameters of Via, From, To or
//!   Contact that the §25.1 grammar does not allow, or a Content-Type that is not a
//!   media type (only the headers the parser reads are checked);
//! - a CSeq method other than the request line's (§8.1.1.5);
//! - a Content-Length that is not a decimal number or exceeds the bytes that follow
//!   (§18.3); bytes beyond it are ignored.
//!
//! Everything the §25 grammar allows is accepted: LWS around separators, folded lines,
//! compact and any-case header names, LF-only line ends, leading line breaks.

use super::call_id::call_id_value;
use super::grammar::{is_media_type, is_param_list};
use super::head::{split_message, RawMessage};
use super::known::{KnownHeaders, Single};
use super::start_line::StartLine;
use super::HeaderMap;
use super::{CSeq, EchoHeaders, Message, MessageHead, Request, Response, TopVia};
use crate::sip::header_value::split_list;
use crate::sip::method::{is_token, Method};
use crate::sip::name_addr::NameAddr;
use bytes::Bytes;
use ezk_sip_types::Name;
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
    /// The request line names a SIP version other than 2.0; the dispatcher answers 505.
    #[error("SIP version not supported")]
    UnsupportedVersion,
    /// A header line has no `name:` (empty name or no colon), or a CR without LF.
    #[error("malformed header line")]
    BadHeaderLine,
    /// The head holds a control character (NUL, BEL, DEL…) outside a `\`-escape.
    #[error("control character in the message head")]
    ControlCharacter,
    /// A mandatory header (Via, From, To, Call-ID or CSeq, named by the value) is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header (named by the value) is empty or unreadable.
    #[error("malformed {0} header")]
    MalformedHeader(&'static str),
    /// A single-valued header (named by the value) appears twice (RFC 3261 §7.3.1).
    #[error("{0} header given twice")]
    DuplicateHeader(&'static str),
    /// The CSeq method differs from the request line's method.
    #[error("CSeq method differs from the request method")]
    CSeqMethodMismatch,
    /// Content-Length is not a decimal number.
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
    let head = read_head(headers, rest)?;
    match start {
        StartLine::Request {
            method,
            uri,
            sip_uri,
        } => {
            if head.cseq.method != method {
                return Err(ParseError::CSeqMethodMismatch);
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

/// The Max-Forwards value of a header map (RFC 3261 §20.22: 0–255), `None` if absent;
/// [`ParseError::MalformedHeader`] if it is not such a number.
pub(crate) fn max_forwards(headers: &HeaderMap) -> Result<Option<u8>, ParseError> {
    headers
        .get_raw(&Name::MAX_FORWARDS)
        .next()
        .map(|value| parse_max_forwards(value.as_str()))
        .transpose()
}

fn parse_max_forwards(value: &str) -> Result<u8, ParseError> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(ParseError::MalformedHeader("Max-Forwards"));
    }
    match value.trim_start_matches('0') {
        "" => Ok(0),
        digits => digits
            .parse()
            .map_err(|_| ParseError::MalformedHeader("Max-Forwards")),
    }
}

/// Reads From or To: a name-addr or addr-spec whose parameters are generic-params
/// (RFC 3261 §25.1); a `tag=` without a value is malformed (`tag-param = "tag" EQUAL
/// token`, RFC 3261 §25.1), not a missing tag.
fn parse_party(value: &str, label: &'static str) -> Result<NameAddr, ParseError> {
    let party = NameAddr::parse(value).map_err(|_| ParseError::MalformedHeader(label))?;
    if !is_param_list(&party.params) {
        return Err(ParseError::MalformedHeader(label));
    }
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

/// Whether the Contact elements are `STAR` alone or each a name-addr / addr-spec with
/// generic-params (RFC 3261 §25.1 `Contact`). No Contact at all is fine.
fn is_contact_list(contacts: &[&str]) -> bool {
    if let [star] = contacts {
        if star.trim() == "*" {
            return true;
        }
    }
    contacts
        .iter()
        .all(|value| NameAddr::parse(value).is_ok_and(|contact| is_param_list(&contact.params)))
}

/// The body: `rest` cut to Content-Length, or all of it without one.
fn bound_body(content_length: Option<&str>, rest: &[u8]) -> Result<Bytes, ParseError> {
    let Some(value) = content_length else {
        return Ok(Bytes::copy_from_slice(rest));
    };
    let declared: usize = value
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

/// A mandatory single-valued header's value, trimmed and not empty.
fn required<'a>(single: &Single<'a>, label: &'static str) -> Result<&'a str, ParseError> {
    match single.first.map(str::trim) {
        Some("") => Err(ParseError::MalformedHeader(label)),
        Some(value) => Ok(value),
        None => Err(ParseError::MissingHeader(label)),
    }
}

fn read_head(headers: HeaderMap, rest: &[u8]) -> Result<MessageHead, ParseError> {
    let known = KnownHeaders::of(&headers);
    // Two Content-Lengths leave the body's end ambiguous, even when they agree.
    if known.content_length.repeated {
        return Err(if known.content_length.conflicting {
            ParseError::DuplicateHeader("Content-Length")
        } else {
            ParseError::BadContentLength
        });
    }
    if let Some(label) = known.repeated() {
        return Err(ParseError::DuplicateHeader(label));
    }
    let body = bound_body(known.content_length.first, rest)?;
    let vias: Vec<String> = known
        .via
        .iter()
        .flat_map(|value| split_list(value))
        .map(str::to_owned)
        .collect();
    // Every Via must be one (§25.1 `Via = ( "Via" / "v" ) HCOLON via-parm *(COMMA
    // via-parm)`), not only the top one that transactions are matched on.
    let mut parsed_vias = vias.iter().map(|via| TopVia::parse_strict(via));
    let top_via = parsed_vias
        .next()
        .ok_or(ParseError::MissingHeader("Via"))?
        .ok_or(ParseError::MalformedHeader("Via"))?;
    if parsed_vias.any(|via| via.is_none()) {
        return Err(ParseError::MalformedHeader("Via"));
    }

    let from = required(&known.from, "From")?;
    let to = required(&known.to, "To")?;
    let call_id = known
        .call_id
        .first
        .ok_or(ParseError::MissingHeader("Call-ID"))?;
    let call_id = call_id_value(call_id)
        .filter(|call_id| !call_id.contains(char::is_whitespace))
        .ok_or(ParseError::MalformedHeader("Call-ID"))?
        .to_owned();
    let cseq = required(&known.cseq, "CSeq")?;
    let cseq = parse_cseq(cseq).ok_or(ParseError::MalformedHeader("CSeq"))?;
    if let Some(value) = known.max_forwards.first {
        parse_max_forwards(value)?;
    }
    let parsed_from = parse_party(from, "From")?;
    let parsed_to = parse_party(to, "To")?;

    let record_route = known
        .record_route
        .iter()
        .flat_map(|value| split_list(value))
        .map(str::to_owned)
        .collect();
    let contacts: Vec<&str> = known
        .contact
        .iter()
        .flat_map(|value| split_list(value))
        .collect();
    if !is_contact_list(&contacts) {
        return Err(ParseError::MalformedHeader("Contact"));
    }
    let contact = contacts
        .first()
        .and_then(|value| NameAddr::parse(value).ok());
    let content_type = known
        .content_type
        .first
        .map(|value| value.trim().to_owned());
    if content_type
        .as_deref()
        .is_some_and(|value| !is_media_type(value))
    {
        return Err(ParseError::MalformedHeader("Content-Type"));
    }
    let (from, to) = (from.to_owned(), to.to_owned());
    drop(known);

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
