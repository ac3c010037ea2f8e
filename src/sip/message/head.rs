//! Splitting a datagram into start line, header lines and the bytes after the blank
//! line. Header lines come from `ezk-sip-types`' `PullParser` (which joins folded lines)
//! and `Line` (name/value split); values are unfolded and stored in a `Headers` map.

use super::parse::ParseError;
use super::start_line::{parse_start_line, StartLine};
use crate::sip::header_value::unfold;
use bytes::Bytes;
use ezk_sip_types::msg::{Line, PullParser};
use ezk_sip_types::Headers;

/// A message split into its parts; `rest` is everything after the blank line.
pub(super) struct RawMessage<'a> {
    pub start: StartLine,
    pub headers: Headers,
    pub rest: &'a [u8],
}

/// Splits `data` into start line, headers and the bytes after the head.
pub(super) fn split_message(data: &[u8]) -> Result<RawMessage<'_>, ParseError> {
    let data = skip_leading_line_breaks(data);
    if data.is_empty() {
        return Err(ParseError::Empty);
    }
    let (head_len, body_start) = find_head_end(data).ok_or(ParseError::NoHeadEnd)?;
    let head = data.get(..head_len).ok_or(ParseError::NoHeadEnd)?;
    let head = std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;
    // A clean CRLF CRLF terminator lets the pull parser see the end of the head
    // whatever line ends the sender used.
    let mut buffer = String::with_capacity(head.len() + 4);
    buffer.push_str(head);
    buffer.push_str("\r\n\r\n");
    let src = Bytes::from(buffer);
    let text = std::str::from_utf8(&src).map_err(|_| ParseError::NotUtf8)?;

    let mut lines = PullParser::new(text.as_bytes(), 0);
    let start_line = next_line(&mut lines)?.ok_or(ParseError::BadStartLine)?;
    let start = parse_start_line(&src, start_line)?;

    let mut headers = Headers::new();
    while let Some(line) = next_line(&mut lines)? {
        let (_, parsed) = Line::parse(&src, line).map_err(|_| ParseError::BadHeaderLine)?;
        if parsed.name.as_print_str().is_empty() {
            return Err(ParseError::BadHeaderLine);
        }
        headers.insert(parsed.name, unfold(parsed.value.as_str()));
    }
    Ok(RawMessage {
        start,
        headers,
        rest: data.get(body_start..).unwrap_or_default(),
    })
}

fn next_line<'a>(lines: &mut PullParser<'a>) -> Result<Option<&'a str>, ParseError> {
    match lines.next() {
        None => Ok(None),
        Some(Err(_)) => Err(ParseError::BadHeaderLine),
        Some(Ok(line)) => std::str::from_utf8(line)
            .map(Some)
            .map_err(|_| ParseError::NotUtf8),
    }
}

fn skip_leading_line_breaks(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|byte| !matches!(byte, b'\r' | b'\n'))
        .unwrap_or(data.len());
    data.get(start..).unwrap_or_default()
}

/// Finds the blank line ending the head. Returns the head length (without the last
/// header line's terminator) and where the body starts. A datagram ending right after a
/// header line's terminator is accepted as a head without body.
fn find_head_end(data: &[u8]) -> Option<(usize, usize)> {
    let mut index = 0;
    while let Some(offset) = data.get(index..)?.iter().position(|&byte| byte == b'\n') {
        let newline = index + offset;
        let after = newline + 1;
        let blank_len = match (data.get(after), data.get(after + 1)) {
            (Some(b'\n'), _) => Some(1),
            (Some(b'\r'), Some(b'\n')) => Some(2),
            (None, _) => Some(0),
            _ => None,
        };
        if let Some(blank_len) = blank_len {
            let head_len = match newline.checked_sub(1).and_then(|before| data.get(before)) {
                Some(b'\r') => newline - 1,
                _ => newline,
            };
            return Some((head_len, after + blank_len));
        }
        index = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_head_end_for_any_line_ending() {
        assert_eq!(find_head_end(b"A\r\n\r\nB"), Some((1, 5)));
        assert_eq!(find_head_end(b"A\n\nB"), Some((1, 3)));
        assert_eq!(find_head_end(b"A\r\n\nB"), Some((1, 4)));
        assert_eq!(find_head_end(b"A\n\r\nB"), Some((1, 4)));
        assert_eq!(find_head_end(b"A\r\nB\r\n"), Some((4, 6)));
        assert_eq!(find_head_end(b"A\r\nB"), None);
        assert_eq!(find_head_end(b"\n"), Some((0, 1)));
    }

    #[test]
    fn skips_leading_crlf() {
        assert_eq!(skip_leading_line_breaks(b"\r\n\r\nX"), b"X");
        assert_eq!(skip_leading_line_breaks(b"\r\n"), b"");
    }
}
