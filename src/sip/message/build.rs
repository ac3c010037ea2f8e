//! Writing messages: `serialize` (CRLF line ends, exactly one correct Content-Length)
//! and `build_response`, which copies Via/From/To/Call-ID/CSeq from a request as
//! RFC 3261 §8.2.6.2 requires.

use super::EchoHeaders;
use crate::sip::header_value::find_param;
use crate::sip::name_addr::NameAddr;
use bytesstr::BytesStr;
use ezk_sip_types::{Headers, Name, StatusCode};
use std::fmt::Write as _;

/// Writes a message: start line, headers (any Content-Length among them replaced by
/// the real body length), blank line, body. Line breaks inside values become spaces.
pub fn serialize(start_line: &str, headers: &Headers, body: &[u8]) -> Vec<u8> {
    serialize_lines(start_line, headers.iter(), body)
}

/// [`serialize`] for any sequence of header lines (a parsed message's
/// [`HeaderMap`](super::HeaderMap) among them).
pub fn serialize_lines<'a>(
    start_line: &str,
    headers: impl IntoIterator<Item = (&'a Name, &'a BytesStr)>,
    body: &[u8],
) -> Vec<u8> {
    let mut head = String::with_capacity(512);
    head.push_str(&single_line(start_line));
    head.push_str("\r\n");
    for (name, value) in headers {
        if *name == Name::CONTENT_LENGTH {
            continue;
        }
        let _ = write!(head, "{}: {}\r\n", name.as_print_str(), single_line(value));
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

fn single_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        text.replace(['\r', '\n'], " ").into()
    } else {
        text.into()
    }
}

/// The standard reason phrase for `status`.
pub fn reason_phrase(status: u16) -> &'static str {
    if let Some(text) = StatusCode::from(status).text() {
        return text;
    }
    match status {
        100..=199 => "Provisional",
        200..=299 => "OK",
        300..=399 => "Redirection",
        400..=499 => "Request Failure",
        500..=599 => "Server Failure",
        _ => "Global Failure",
    }
}

/// What goes into a response besides the echoed headers.
#[derive(Clone, Debug, Default)]
pub struct ResponseParts<'a> {
    /// Tag added to the To header when it has none.
    pub to_tag: Option<&'a str>,
    /// Extra headers, written after CSeq in this order.
    pub extra: Vec<(Name, String)>,
    /// Value of the Server header (omitted when empty).
    pub server: &'a str,
    /// Content type and body.
    pub body: Option<(&'a str, &'a [u8])>,
}

/// Builds a response to the request whose headers are `echo`; an empty From, To,
/// Call-ID or CSeq in `echo` is left out.
pub fn build_response(echo: &EchoHeaders, status: u16, parts: &ResponseParts<'_>) -> Vec<u8> {
    let mut headers = Headers::with_capacity(8 + parts.extra.len());
    for via in &echo.vias {
        headers.insert(Name::VIA, via.as_str());
    }
    // Empty only when a malformed request lacked them: then they are left out.
    if !echo.from.is_empty() {
        headers.insert(Name::FROM, echo.from.as_str());
    }
    match parts.to_tag {
        _ if echo.to.is_empty() => {}
        Some(tag) if !to_has_tag(&echo.to) => {
            headers.insert(Name::TO, format!("{};tag={tag}", echo.to));
        }
        _ => headers.insert(Name::TO, echo.to.as_str()),
    }
    for (name, value) in [(Name::CALL_ID, &echo.call_id), (Name::CSEQ, &echo.cseq)] {
        if !value.is_empty() {
            headers.insert(name, value.as_str());
        }
    }
    for (name, value) in &parts.extra {
        headers.insert(name.clone(), value.as_str());
    }
    if !parts.server.is_empty() {
        headers.insert(Name::SERVER, parts.server);
    }
    let body: &[u8] = match parts.body {
        Some((content_type, body)) => {
            headers.insert(Name::CONTENT_TYPE, content_type);
            body
        }
        None => &[],
    };
    serialize(
        &format!("SIP/2.0 {status} {}", reason_phrase(status)),
        &headers,
        body,
    )
}

/// True if a To value already carries a tag (textual fallback for unparseable values).
pub(crate) fn to_has_tag(to: &str) -> bool {
    match NameAddr::parse(to) {
        Ok(name_addr) => name_addr.tag().is_some(),
        Err(_) => find_param(to, "tag").is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> EchoHeaders {
        EchoHeaders {
            vias: vec![
                "SIP/2.0/UDP a;branch=z9hG4bK1".into(),
                "SIP/2.0/UDP b;branch=z9hG4bK2".into(),
            ],
            from: "<sip:x@y>;tag=f".into(),
            to: "<sip:1000@h>".into(),
            call_id: "c1".into(),
            cseq: "1 INVITE".into(),
        }
    }

    #[test]
    fn response_echoes_headers_and_adds_tag() {
        let parts = ResponseParts {
            to_tag: Some("mine"),
            server: "callplane",
            body: Some(("application/sdp", b"v=0\r\n")),
            ..ResponseParts::default()
        };
        let text = String::from_utf8(build_response(&echo(), 200, &parts)).unwrap();
        assert_eq!(
            text,
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP b;branch=z9hG4bK2\r\n\
From: <sip:x@y>;tag=f\r\nTo: <sip:1000@h>;tag=mine\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
Server: callplane\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"
        );
    }

    #[test]
    fn existing_to_tag_is_kept() {
        let mut echo = echo();
        echo.to = "<sip:1000@h>;tag=old".into();
        let parts = ResponseParts {
            to_tag: Some("new"),
            ..ResponseParts::default()
        };
        let text = String::from_utf8(build_response(&echo, 481, &parts)).unwrap();
        assert!(text.starts_with("SIP/2.0 481 Call/Transaction Does Not Exist\r\n"));
        assert!(text.contains("To: <sip:1000@h>;tag=old\r\n"));
        assert!(!text.contains("new"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn serialize_replaces_content_length_and_line_breaks() {
        let mut headers = Headers::new();
        headers.insert(Name::CONTENT_LENGTH, "999");
        headers.insert(Name::SUBJECT, "a\r\nb");
        let text = String::from_utf8(serialize("OPTIONS sip:a SIP/2.0", &headers, b"xy")).unwrap();
        assert_eq!(
            text,
            "OPTIONS sip:a SIP/2.0\r\nSubject: a  b\r\nContent-Length: 2\r\n\r\nxy"
        );
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(487), "Request Terminated");
        assert_eq!(reason_phrase(499), "Request Failure");
    }
}
