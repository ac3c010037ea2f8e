//! A cheap Call-ID peek for dispatching datagrams to the core that owns a call, without
//! a full parse.

/// Returns the value of the first `Call-ID` (or compact `i`) header of a datagram, trimmed.
/// Only the message head is scanned; `None` if absent or empty.
pub fn call_id_of(datagram: &[u8]) -> Option<&[u8]> {
    let mut lines = datagram.split(|&byte| byte == b'\n');
    // Skip leading empty lines and the start line.
    lines.find(|line| !trim(line).is_empty())?;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = trim(name);
        if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
            let value = trim(value.get(1..).unwrap_or_default());
            return Some(value).filter(|value| !value.is_empty());
        }
    }
    None
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(start, |last| last + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_full_and_compact_names() {
        let msg = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID:  abc@h \r\n\r\n";
        assert_eq!(call_id_of(msg), Some(&b"abc@h"[..]));
        let compact = b"\r\nBYE sip:a@b SIP/2.0\ni:xyz\nf: <sip:a@b>\n\n";
        assert_eq!(call_id_of(compact), Some(&b"xyz"[..]));
        let upper = b"SIP/2.0 200 OK\r\nCALL-ID: Q\r\n\r\n";
        assert_eq!(call_id_of(upper), Some(&b"Q"[..]));
    }

    #[test]
    fn stops_at_the_body_and_handles_garbage() {
        let in_body = b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n\r\nCall-ID: body\r\n";
        assert_eq!(call_id_of(in_body), None);
        assert_eq!(call_id_of(b""), None);
        assert_eq!(call_id_of(b"\xff\xfe"), None);
        assert_eq!(call_id_of(b"X\r\nCall-ID:\r\n\r\n"), None);
        assert_eq!(call_id_of(b"X\r\nSubject: Call-ID: no\r\n"), None);
    }
}
