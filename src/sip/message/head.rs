//! Splitting a datagram into start line, header lines and the bytes after the blank
//! line. This is the one header scanner of the SIP stack: [`split_message`] (the parser)
//! and [`call_id_of`](super::call_id_of) (the dispatch peek) both find the head with
//! [`locate_head`], cut it into logical lines with [`HeadLines`] (folded continuation
//! lines stay inside their line, RFC 3261 §7.3.1) and split each line with
//! [`split_header_line`]. The parser then unfolds the values into `ezk-sip-types`'
//! `Headers` map, whose `Name` resolves compact and oddly cased names.
//!
//! The line splitting used to be `ezk-sip-types`' `PullParser` and `Line::parse`; they
//! need the head copied into a `Bytes` buffer with a clean `CRLF CRLF` appended (the pull
//! parser reads past the head otherwise), which the per-datagram peek cannot afford. The
//! functions here follow the same rules on a borrowed head.

use super::parse::ParseError;
use super::start_line::{parse_start_line, StartLine};
use crate::sip::header_value::unfold;
use bytes::Bytes;
use ezk_sip_types::{Headers, Name};

/// A message split into its parts; `rest` is everything after the blank line.
pub(super) struct RawMessage<'a> {
    pub start: StartLine,
    pub headers: Headers,
    pub rest: &'a [u8],
}

/// Splits `data` into start line, headers and the bytes after the head.
pub(super) fn split_message(data: &[u8]) -> Result<RawMessage<'_>, ParseError> {
    let (head, rest) = locate_head(data)?;
    std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;
    if has_control_character(head) {
        return Err(ParseError::ControlCharacter);
    }
    let mut lines = HeadLines::new(head);
    let start_line = lines.next().ok_or(ParseError::BadStartLine)??;
    // The start line is parsed with `ezk-sip-types`, whose values point into a `Bytes`.
    let src = Bytes::copy_from_slice(start_line);
    let start = parse_start_line(&src, as_text(&src)?)?;

    let mut headers = Headers::new();
    for line in lines {
        let (name, value) = split_header_line(as_text(line?)?).ok_or(ParseError::BadHeaderLine)?;
        headers.insert(Name::from(name), unfold(value));
    }
    Ok(RawMessage {
        start,
        headers,
        rest,
    })
}

/// Whether the head holds a control character other than HT, CR and LF that is not
/// escaped by a `\\` (a quoted-pair, which RFC 3261 §25.1 allows inside quoted
/// strings). A bare CR is left for [`HeadLines`] to refuse.
fn has_control_character(head: &[u8]) -> bool {
    let is_control =
        |byte: u8| (byte < 0x20 && !matches!(byte, b'\t' | b'\r' | b'\n')) || byte == 0x7f;
    if !head.iter().any(|&byte| is_control(byte)) {
        return false;
    }
    let mut escaped = false;
    for &byte in head {
        if is_control(byte) && !escaped {
            return true;
        }
        escaped = byte == b'\\' && !escaped;
    }
    false
}

fn as_text(line: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)
}

/// Finds the message head: leading line breaks are skipped (RFC 3261 §7.5) and the head
/// runs up to the blank line, without the last header line's terminator. Returns the
/// head and the bytes after the blank line.
pub(super) fn locate_head(data: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let data = skip_leading_line_breaks(data);
    if data.is_empty() {
        return Err(ParseError::Empty);
    }
    let (head_len, body_start) = find_head_end(data).ok_or(ParseError::NoHeadEnd)?;
    let head = data.get(..head_len).ok_or(ParseError::NoHeadEnd)?;
    Ok((head, data.get(body_start..).unwrap_or_default()))
}

/// The logical lines of a head found by [`locate_head`]: the start line, then one line
/// per header. A line ends at LF or CRLF unless the next byte is a space or tab, in which
/// case the next line continues it (folding) and the line break stays in the line for
/// [`unfold`] to replace. A CR not followed by LF is an error ([`ParseError::BadHeaderLine`])
/// and ends the iteration.
pub(super) struct HeadLines<'a> {
    rest: &'a [u8],
}

impl<'a> HeadLines<'a> {
    pub(super) fn new(head: &'a [u8]) -> Self {
        Self { rest: head }
    }
}

impl<'a> Iterator for HeadLines<'a> {
    type Item = Result<&'a [u8], ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        let mut from = 0;
        loop {
            let Some(offset) = rest
                .get(from..)
                .and_then(|tail| tail.iter().position(|&byte| matches!(byte, b'\r' | b'\n')))
            else {
                self.rest = &[];
                return Some(Ok(rest));
            };
            let line_end = from + offset;
            let newline = match rest.get(line_end) {
                Some(b'\r') if rest.get(line_end + 1) == Some(&b'\n') => line_end + 1,
                Some(b'\r') => {
                    self.rest = &[];
                    return Some(Err(ParseError::BadHeaderLine));
                }
                _ => line_end,
            };
            if matches!(rest.get(newline + 1), Some(b' ' | b'\t')) {
                from = newline + 1;
                continue;
            }
            self.rest = rest.get(newline + 1..).unwrap_or_default();
            return Some(Ok(rest.get(..line_end).unwrap_or_default()));
        }
    }
}

/// Splits a header line into its name and raw value, as `ezk-sip-types`' `Line::parse`
/// does: optional whitespace, a name of token characters, optional whitespace, `:`,
/// optional whitespace, then the value (still folded, not trimmed at the end). `None`
/// when the name is empty or no colon follows it.
pub(super) fn split_header_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let name_end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
    let (name, rest) = line.split_at(name_end);
    let value = rest
        .trim_start_matches(|c: char| c.is_ascii_whitespace())
        .strip_prefix(':')?
        .trim_start_matches(|c: char| c.is_ascii_whitespace());
    (!name.is_empty()).then_some((name, value))
}

/// The characters `ezk-sip-types` accepts in a header name: RFC 3261 token characters,
/// with any Unicode letter or digit standing in for ALPHA / DIGIT.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '`' | '\'' | '~' | '+'
        )
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
    fn control_characters_only_escaped() {
        assert!(!has_control_character(b"A: b\tc\r\n d"));
        assert!(has_control_character(b"A: b\0c"));
        assert!(has_control_character(b"A: b\x07"));
        assert!(has_control_character(b"A: \x7f"));
        assert!(!has_control_character(b"A: \"x\\\0y\\\x7f\""));
        assert!(has_control_character(b"A: \"x\\\\\0\""));
    }

    #[test]
    fn skips_leading_crlf() {
        assert_eq!(skip_leading_line_breaks(b"\r\n\r\nX"), b"X");
        assert_eq!(skip_leading_line_breaks(b"\r\n"), b"");
    }
}
