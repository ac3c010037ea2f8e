//! Splitting a datagram into start line, header lines and the bytes after the blank
//! line. This is the one header scanner of the SIP stack: [`split_message`] (the parser)
//! and [`call_id_of`](super::call_id_of) (the dispatch peek) both find the head with
//! [`locate_head`], cut it into logical lines with [`HeadLines`] (folded continuation
//! lines stay inside their line, RFC 3261 §7.3.1) and split each line with
//! [`split_header_line`]. The parser then unfolds the values into a [`HeaderMap`],
//! each under the `ezk-sip-types` `Name` that resolves compact and oddly cased names.
//!
//! The line splitting used to be `ezk-sip-types`' `PullParser` and `Line::parse`; they
//! need the head copied into a `Bytes` buffer with a clean `CRLF CRLF` appended (the pull
//! parser reads past the head otherwise), which the per-datagram peek cannot afford. The
//! functions here follow the same rules on a borrowed head.

use super::header_map::HeaderMap;
use super::parse::ParseError;
use super::start_line::{parse_start_line, StartLine};
use crate::sip::header_value::unfold;
use bytes::Bytes;
use bytesstr::BytesStr;
use ezk_sip_types::Name;

/// A message split into its parts; `rest` is everything after the blank line.
pub(super) struct RawMessage<'a> {
    pub start: StartLine,
    pub headers: HeaderMap,
    pub rest: &'a [u8],
}

/// Splits `data` into start line, headers and the bytes after the head. The head is
/// copied once into a `Bytes`; the start line and every unfolded header value point
/// into it (`ezk-sip-types` wants its values in `Bytes`).
pub(super) fn split_message(data: &[u8]) -> Result<RawMessage<'_>, ParseError> {
    let (head, rest) = locate_head(data)?;
    std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;
    if has_control_character(head) {
        return Err(ParseError::ControlCharacter);
    }
    let src = Bytes::copy_from_slice(head);
    let mut lines = HeadLines::new(&src);
    let start_line = as_text(lines.next().ok_or(ParseError::BadStartLine)??)?;
    let start = parse_start_line(&src, start_line)?;

    let mut headers = HeaderMap::with_capacity(16);
    for line in lines {
        let (name, value) = split_header_line(as_text(line?)?).ok_or(ParseError::BadHeaderLine)?;
        headers.push(header_name(name), header_value(&src, value));
    }
    Ok(RawMessage {
        start,
        headers,
        rest,
    })
}

/// A header value without surrounding whitespace: a slice of `src` (which `value`
/// must lie in), or an unfolded copy when it is folded.
fn header_value(src: &Bytes, value: &str) -> BytesStr {
    if value.contains(['\r', '\n']) {
        BytesStr::from(unfold(value))
    } else {
        BytesStr::from_parse(src, value.trim())
    }
}

/// The names of the headers carrier trunks send most, with their compact forms,
/// in about the order of how often they come.
static COMMON_NAMES: [(&str, Name); 29] = [
    ("via", Name::VIA),
    ("from", Name::FROM),
    ("to", Name::TO),
    ("call-id", Name::CALL_ID),
    ("cseq", Name::CSEQ),
    ("contact", Name::CONTACT),
    ("max-forwards", Name::MAX_FORWARDS),
    ("content-length", Name::CONTENT_LENGTH),
    ("content-type", Name::CONTENT_TYPE),
    ("record-route", Name::RECORD_ROUTE),
    ("route", Name::ROUTE),
    ("allow", Name::ALLOW),
    ("supported", Name::SUPPORTED),
    ("user-agent", Name::USER_AGENT),
    ("subject", Name::SUBJECT),
    ("require", Name::REQUIRE),
    ("session-expires", Name::SESSION_EXPIRES),
    ("v", Name::VIA),
    ("f", Name::FROM),
    ("t", Name::TO),
    ("i", Name::CALL_ID),
    ("m", Name::CONTACT),
    ("l", Name::CONTENT_LENGTH),
    ("c", Name::CONTENT_TYPE),
    ("k", Name::SUPPORTED),
    ("s", Name::SUBJECT),
    ("x", Name::SESSION_EXPIRES),
    ("e", Name::CONTENT_ENCODING),
    ("server", Name::SERVER),
];

/// The `Name` `ezk-sip-types` gives `name` (`Name::from` walks its whole table of
/// ~170 names; the common ones are found here first).
fn header_name(name: &str) -> Name {
    COMMON_NAMES
        .iter()
        .find(|(common, _)| common.eq_ignore_ascii_case(name))
        .map(|(_, known)| known.clone())
        .unwrap_or_else(|| Name::from(name))
}

/// Whether the head holds a control character other than HT, CR and LF that is not
/// escaped by a `\\` (a quoted-pair, which RFC 3261 §25.1 allows inside quoted
/// strings). A bare CR is left for [`HeadLines`] to refuse.
fn has_control_character(head: &[u8]) -> bool {
    let is_control =
        |byte: u8| (byte < 0x20 && !matches!(byte, b'\t' | b'\r' | b'\n')) || byte == 0x7f;
    // Without early exit the common case (no control character) vectorizes.
    if !head
        .iter()
        .fold(false, |found, &byte| found | is_control(byte))
    {
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
    fn common_names_are_the_names_ezk_gives() {
        for (common, known) in &COMMON_NAMES {
            let upper = common.to_ascii_uppercase();
            for spelling in [*common, upper.as_str()] {
                assert_eq!(
                    header_name(spelling).as_print_str(),
                    Name::from(spelling).as_print_str()
                );
            }
            assert_eq!(known.as_print_str(), Name::from(*common).as_print_str());
        }
        assert_eq!(header_name("X-Custom").as_print_str(), "X-Custom");
    }

    #[test]
    fn values_are_trimmed_and_unfolded() {
        let src = Bytes::from_static(b"  a b  |x,\r\n y ");
        let text = std::str::from_utf8(&src).unwrap();
        assert_eq!(header_value(&src, &text[..7]), "a b");
        assert_eq!(header_value(&src, &text[8..]), "x, y");
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
