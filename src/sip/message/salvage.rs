//! Best-effort reading of a request that failed to parse, to decide whether a
//! `400 Bad Request` can be sent: it needs a request start line and a Via to answer
//! to, and echoes whichever of From, To, Call-ID and CSeq it finds (RFC 3261 §8.2.6;
//! a request missing one of them is still told what was wrong). Deliberately lenient
//! and independent of the strict parser.

use super::EchoHeaders;
use crate::sip::header_value::split_list;
use crate::sip::method::{is_token, Method};

/// The parts of a malformed request needed to answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvaged {
    /// The method token of the start line (the dispatcher never answers an ACK).
    pub method: Method,
    /// The raw Via (split), From, To, Call-ID and CSeq values to copy into the
    /// 400/416/505; the Vias are never empty, the others are empty when absent.
    pub echo: EchoHeaders,
}

/// Salvages method and echo headers from a request that failed to parse; `None` for
/// responses and for requests without a Via.
pub fn salvage_request(data: &[u8]) -> Option<Salvaged> {
    let text = String::from_utf8_lossy(data);
    let mut lines = unfolded_head_lines(&text).into_iter();
    let start_line = lines.next()?;
    let method = start_line.split_whitespace().next()?;
    if method.starts_with("SIP/") || !is_token(method) {
        return None;
    }
    let mut echo = EchoHeaders::default();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "via" | "v" => echo
                .vias
                .extend(split_list(value).into_iter().map(str::to_owned)),
            "from" | "f" if echo.from.is_empty() => echo.from = value.to_owned(),
            "to" | "t" if echo.to.is_empty() => echo.to = value.to_owned(),
            "call-id" | "i" if echo.call_id.is_empty() => echo.call_id = value.to_owned(),
            "cseq" if echo.cseq.is_empty() => echo.cseq = value.to_owned(),
            _ => {}
        }
    }
    (!echo.vias.is_empty()).then(|| Salvaged {
        method: Method::from_token(method),
        echo,
    })
}

/// Lines of the head (up to the first empty line), continuation lines joined.
fn unfolded_head_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.trim_start_matches(['\r', '\n']).split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            break;
        }
        match lines.last_mut() {
            Some(previous) if line.starts_with([' ', '\t']) => {
                previous.push(' ');
                previous.push_str(line.trim());
            }
            _ => lines.push(line.to_owned()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salvages_a_request_with_a_bad_content_length() {
        let data = b"INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/UDP g\r\n\
f: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\nCSeq: 1\r\n INVITE\r\nl: x\r\n\r\n";
        let salvaged = salvage_request(data).unwrap();
        assert_eq!(salvaged.method, Method::Invite);
        assert_eq!(
            salvaged.echo.vias,
            vec!["SIP/2.0/UDP h;branch=z9hG4bK1", "SIP/2.0/UDP g"]
        );
        assert_eq!(salvaged.echo.cseq, "1 INVITE");
        assert_eq!(salvaged.echo.call_id, "abc");
    }

    #[test]
    fn salvages_what_is_there_of_an_incomplete_request() {
        let salvaged = salvage_request(
            b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCSeq: 1 INVITE\r\n\r\n",
        )
        .unwrap();
        assert_eq!(salvaged.echo.vias, vec!["x"]);
        assert_eq!(salvaged.echo.call_id, "");
        assert_eq!(salvaged.echo.to, "b");
    }

    #[test]
    fn refuses_responses_and_requests_without_via() {
        assert!(salvage_request(
            b"SIP/2.0 200 OK\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n\r\n"
        )
        .is_none());
        assert!(salvage_request(
            b"INVITE sip:a@b SIP/2.0\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"
        )
        .is_none());
        assert!(salvage_request(b"").is_none());
        assert!(salvage_request(b"\xff\xff\xff").is_none());
    }
}
