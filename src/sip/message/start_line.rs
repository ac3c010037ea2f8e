//! The first line of a message: `Method SP Request-URI SP SIP/2.0` or
//! `SIP/2.0 SP Status-Code SP Reason-Phrase`, read with `ezk-sip-types`' `MessageLine`
//! plus the stricter checks it does not make (exact method token, URI scheme, version,
//! status range). The version is matched without regard to case (RFC 3261 §7.1); a
//! spelling other than `SIP/2.0` is rewritten before `MessageLine` reads the line, since
//! it only knows the upper-case one.

use super::parse::ParseError;
use crate::sip::method::{is_token, Method};
use bytes::Bytes;
use ezk_sip_types::msg::MessageLine;
use ezk_sip_types::parse::Parse;
use ezk_sip_types::uri::SipUri;

/// A parsed start line.
pub(super) enum StartLine {
    Request {
        method: Method,
        uri: String,
        sip_uri: SipUri,
    },
    Response {
        status: u16,
        reason: String,
    },
}

/// Parses `line`, which must lie inside `src`.
pub(super) fn parse_start_line(src: &Bytes, line: &str) -> Result<StartLine, ParseError> {
    if let Some(upper) = with_upper_case_version(line) {
        let src = Bytes::from(upper);
        let line = std::str::from_utf8(&src).map_err(|_| ParseError::BadStartLine)?;
        return parse_start_line(&src, line);
    }
    if line.starts_with("SIP/") {
        return parse_status_line(src, line);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadStartLine);
    };
    if !is_token(method) {
        return Err(ParseError::BadStartLine);
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(if is_other_version(version) {
            ParseError::UnsupportedVersion
        } else {
            ParseError::BadStartLine
        });
    }
    let scheme = uri.split(':').next().unwrap_or_default();
    if !(scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")) {
        return Err(if uri.contains(':') && is_scheme(scheme) {
            ParseError::UnsupportedUriScheme
        } else {
            ParseError::BadStartLine
        });
    }
    if !has_valid_escapes(uri) {
        return Err(ParseError::BadStartLine);
    }
    match MessageLine::parse(src)(line) {
        Ok((rest, MessageLine::Request(request_line))) if rest.trim().is_empty() => {
            Ok(StartLine::Request {
                method: Method::from_token(method),
                uri: uri.to_owned(),
                sip_uri: request_line.uri,
            })
        }
        _ => Err(ParseError::BadStartLine),
    }
}

/// Whether `uri` passes as the Request-URI of a request line this parser accepts
/// (so that a request we build with it parses on our side too).
pub(crate) fn is_request_uri(uri: &str) -> bool {
    let src = Bytes::from(format!("BYE {uri} SIP/2.0"));
    std::str::from_utf8(&src)
        .is_ok_and(|line| matches!(parse_start_line(&src, line), Ok(StartLine::Request { .. })))
}

/// Whether every `%` of `uri` starts an escape, `"%" HEXDIG HEXDIG` (RFC 3261 §25.1
/// `escaped`); the URI type reads `%6l` or a `%` at the end as text.
fn has_valid_escapes(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    bytes.iter().enumerate().all(|(index, &byte)| {
        byte != b'%'
            || (bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(index + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// RFC 3986 `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(scheme: &str) -> bool {
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `SIP/<digits>.<digits>` (any case): a version, just not ours (answered 505).
fn is_other_version(version: &str) -> bool {
    let Some(number) = version
        .get(..4)
        .filter(|prefix| prefix.eq_ignore_ascii_case("SIP/"))
        .and_then(|_| version.get(4..))
    else {
        return false;
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    number
        .split_once('.')
        .is_some_and(|(major, minor)| all_digits(major) && all_digits(minor))
}

/// `line` with its version spelled `SIP/2.0`, if it is spelled in another case (a status
/// line's first word, a request line's last one); `None` if there is nothing to rewrite.
fn with_upper_case_version(line: &str) -> Option<String> {
    const VERSION: &str = "SIP/2.0";
    let is_other_spelling = |word: &str| word.eq_ignore_ascii_case(VERSION) && word != VERSION;
    let first = line.split_whitespace().next()?;
    if is_other_spelling(first) && line.starts_with(first) {
        return Some(format!("{VERSION}{}", line.get(first.len()..)?));
    }
    let trimmed = line.trim_end();
    let last = trimmed.split_whitespace().next_back()?;
    if is_other_spelling(last) {
        let head = trimmed.get(..trimmed.len() - last.len())?;
        return Some(format!("{head}{VERSION}{}", line.get(trimmed.len()..)?));
    }
    None
}

fn parse_status_line(src: &Bytes, line: &str) -> Result<StartLine, ParseError> {
    match MessageLine::parse(src)(line) {
        Ok((rest, MessageLine::Response(status_line))) if rest.trim().is_empty() => {
            let status = status_line.code.into_u16();
            if !(100..=699).contains(&status) || !line.starts_with("SIP/2.0 ") {
                return Err(ParseError::BadStartLine);
            }
            Ok(StartLine::Response {
                status,
                reason: status_line
                    .reason
                    .map(|reason| reason.to_string())
                    .unwrap_or_default(),
            })
        }
        _ => Err(ParseError::BadStartLine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<StartLine, ParseError> {
        let src = Bytes::copy_from_slice(line.as_bytes());
        let text = std::str::from_utf8(&src).unwrap();
        parse_start_line(&src, text)
    }

    #[test]
    fn request_lines() {
        match parse("INVITE sip:1000@127.0.0.1:5060 SIP/2.0") {
            Ok(StartLine::Request { method, uri, .. }) => {
                assert_eq!(method, Method::Invite);
                assert_eq!(uri, "sip:1000@127.0.0.1:5060");
            }
            _ => panic!("expected a request line"),
        }
        assert!(matches!(
            parse("INVITE tel:+15551234 SIP/2.0"),
            Err(ParseError::UnsupportedUriScheme)
        ));
        assert!(matches!(
            parse("INVITE sip:a@b SIP/3.0"),
            Err(ParseError::UnsupportedVersion)
        ));
        assert!(is_request_uri("sip:1000@127.0.0.1:5061;transport=udp"));
        // Found by the dispatcher fuzz target: Contact URIs the URI type reads
        // but a request line with them does not parse.
        assert!(!is_request_uri("sip:r;"));
        assert!(!is_request_uri("sip:caller@127.0.0.1:5061;tag="));
        assert!(!is_request_uri("sip:a b"));
        assert!(matches!(
            parse("INVITE <sip:a@b> SIP/2.0"),
            Err(ParseError::BadStartLine)
        ));
        assert!(matches!(
            parse("INVITE sip:a@b SIP/x"),
            Err(ParseError::BadStartLine)
        ));
        assert!(matches!(
            parse("INVITE sip:a@b"),
            Err(ParseError::BadStartLine)
        ));
        assert!(matches!(
            parse("IN(VITE sip:a@b SIP/2.0"),
            Err(ParseError::BadStartLine)
        ));
        // Found comparing with sofia-sip: a `%` must start two hex digits.
        assert!(parse("INVITE sip:%61lice%20smith@192.0.2.1 SIP/2.0").is_ok());
        for bad in [
            "INVITE sip:%61lice%0smith@192.0.2.1 SIP/2.0",
            "INVITE sip:%6lice@192.0.2.1 SIP/2.0",
            "INVITE sip:alice@192.0.2.1;x=% SIP/2.0",
        ] {
            assert!(matches!(parse(bad), Err(ParseError::BadStartLine)), "{bad}");
        }
    }

    #[test]
    fn the_version_is_case_insensitive() {
        match parse("OPTIONS sip:a@b sip/2.0") {
            Ok(StartLine::Request { method, uri, .. }) => {
                assert_eq!(method, Method::Options);
                assert_eq!(uri, "sip:a@b");
            }
            _ => panic!("expected a request line"),
        }
        match parse("Sip/2.0 180 Ringing") {
            Ok(StartLine::Response { status, reason }) => {
                assert_eq!(status, 180);
                assert_eq!(reason, "Ringing");
            }
            _ => panic!("expected a status line"),
        }
        assert!(matches!(
            parse("sip/3.0 200 OK"),
            Err(ParseError::BadStartLine)
        ));
        assert!(matches!(
            parse("INVITE sip:a@b sip/2.1"),
            Err(ParseError::UnsupportedVersion)
        ));
    }

    #[test]
    fn status_lines() {
        match parse("SIP/2.0 487 Request Terminated") {
            Ok(StartLine::Response { status, reason }) => {
                assert_eq!(status, 487);
                assert_eq!(reason, "Request Terminated");
            }
            _ => panic!("expected a status line"),
        }
        assert!(matches!(
            parse("SIP/2.0 99 Low"),
            Err(ParseError::BadStartLine)
        ));
        assert!(matches!(
            parse("SIP/2.0 abc"),
            Err(ParseError::BadStartLine)
        ));
    }
}
