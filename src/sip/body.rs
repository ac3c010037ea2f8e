//! Finding the SDP in a SIP body: a plain `application/sdp` body, or the
//! `application/sdp` part of a `multipart/mixed` body (SIP-I/SIP-T trunks send SDP
//! together with ISUP this way).

use crate::sip::header_value::find_param;

/// The SDP bytes of a body with the given Content-Type, if any. A body without
/// Content-Type is assumed to be SDP.
pub(crate) fn extract_sdp<'a>(content_type: Option<&str>, body: &'a [u8]) -> Option<&'a [u8]> {
    if body.is_empty() {
        return None;
    }
    let Some(content_type) = content_type else {
        return Some(body);
    };
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if mime.eq_ignore_ascii_case("application/sdp") {
        return Some(body);
    }
    if mime.len() > 10 && mime.get(..10)?.eq_ignore_ascii_case("multipart/") {
        let boundary = find_param(content_type, "boundary").filter(|b| !b.is_empty())?;
        return multipart_sdp(body, boundary);
    }
    None
}

fn multipart_sdp<'a>(body: &'a [u8], boundary: &str) -> Option<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut rest = body;
    // Skip the preamble up to the first delimiter.
    let first = find(rest, delimiter)?;
    rest = rest.get(first + delimiter.len()..)?;
    loop {
        if rest.starts_with(b"--") {
            return None;
        }
        let end = find(rest, delimiter)?;
        let part = rest.get(..end)?;
        if let Some(sdp) = sdp_part(part) {
            return Some(sdp);
        }
        rest = rest.get(end + delimiter.len()..)?;
    }
}

/// The body of one part if its Content-Type is application/sdp.
fn sdp_part(part: &[u8]) -> Option<&[u8]> {
    let part = strip_line_break_prefix(part);
    let (headers, content) = match find(part, b"\r\n\r\n") {
        Some(end) => (part.get(..end)?, part.get(end + 4..)?),
        None => {
            let end = find(part, b"\n\n")?;
            (part.get(..end)?, part.get(end + 2..)?)
        }
    };
    let headers = std::str::from_utf8(headers).ok()?;
    let is_sdp = headers.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            let name = name.trim();
            (name.eq_ignore_ascii_case("content-type") || name.eq_ignore_ascii_case("c"))
                && value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .eq_ignore_ascii_case("application/sdp")
        })
    });
    // The line break before the next delimiter belongs to the delimiter.
    let content = content
        .strip_suffix(b"\r\n")
        .or_else(|| content.strip_suffix(b"\n"))
        .unwrap_or(content);
    is_sdp.then_some(content)
}

fn strip_line_break_prefix(part: &[u8]) -> &[u8] {
    part.strip_prefix(b"\r\n")
        .or_else(|| part.strip_prefix(b"\n"))
        .unwrap_or(part)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_untyped_bodies() {
        assert_eq!(
            extract_sdp(Some("application/sdp"), b"v=0\r\n"),
            Some(&b"v=0\r\n"[..])
        );
        assert_eq!(
            extract_sdp(Some("Application/SDP; charset=x"), b"v=0"),
            Some(&b"v=0"[..])
        );
        assert_eq!(extract_sdp(None, b"v=0"), Some(&b"v=0"[..]));
        assert_eq!(extract_sdp(Some("application/sdp"), b""), None);
        assert_eq!(extract_sdp(Some("text/plain"), b"hello"), None);
    }

    #[test]
    fn multipart_body_with_isup() {
        let body = b"preamble\r\n--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 1 RTP/AVP 0\r\n\r\n\
--unique-boundary-1\r\nContent-Type: application/ISUP;version=itu-t92+\r\n\r\n\x01\x02\r\n--unique-boundary-1--\r\n";
        let sdp = extract_sdp(Some("multipart/mixed;boundary=unique-boundary-1"), body);
        assert_eq!(sdp, Some(&b"v=0\r\nm=audio 1 RTP/AVP 0\r\n"[..]));
        let quoted = extract_sdp(
            Some("multipart/mixed; boundary=\"unique-boundary-1\""),
            body,
        );
        assert!(quoted.is_some());
    }

    #[test]
    fn multipart_without_sdp_or_boundary() {
        let body = b"--b\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b--\r\n";
        assert_eq!(extract_sdp(Some("multipart/mixed;boundary=b"), body), None);
        assert_eq!(extract_sdp(Some("multipart/mixed"), body), None);
        assert_eq!(extract_sdp(Some("multipart/mixed;boundary=zz"), body), None);
    }
}
