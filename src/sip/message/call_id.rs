//! The Call-ID peek the IO shell uses to dispatch a datagram to the shard that owns its
//! call, without a full parse.
//!
//! Every message of a call must reach the same shard, so the peek must find exactly the
//! Call-ID the parser will find. It therefore uses the parser's own header scanner
//! ([`locate_head`], [`HeadLines`], [`split_header_line`] in `head.rs`) and the parser's
//! name matching (`ezk-sip-types`' `Name::CALL_ID`, which knows the compact `i` and
//! ignores case), and reads the value with [`call_id_value`], which the parser uses too.
//! It only stops early (at the first Call-ID header) and borrows instead of copying and
//! unfolding: for every message the parser accepts, the trimmed raw value is byte for
//! byte the parser's Call-ID, because a value with a fold inside it would hold whitespace
//! after unfolding, which the parser refuses.

use super::head::{locate_head, split_header_line, HeadLines};
use ezk_sip_types::Name;

/// Returns the value of the first `Call-ID` (or compact `i`) header of a datagram, as the
/// parser reads it: the same bytes as `Request::call_id()` / `Response::call_id()` for
/// every datagram that parses. Only the message head is scanned; `None` if the head
/// cannot be found or split up to that header, or the value is empty. A datagram that
/// does not parse may still yield a value (its 400 is then sent by that value's shard).
pub fn call_id_of(datagram: &[u8]) -> Option<&[u8]> {
    let (head, _) = locate_head(datagram).ok()?;
    // The first line is the start line.
    for line in HeadLines::new(head).skip(1) {
        let Ok(line) = std::str::from_utf8(line.ok()?) else {
            continue;
        };
        let Some((name, value)) = split_header_line(line) else {
            continue;
        };
        if Name::CALL_ID == *name {
            return call_id_value(value).map(str::as_bytes);
        }
    }
    None
}

/// The Call-ID in a raw or unfolded `Call-ID` header value: the value without surrounding
/// whitespace (line breaks of a fold included); `None` if nothing is left. Whitespace
/// inside is left for the parser to refuse (RFC 3261 §25.1: `callid = word [ "@" word ]`).
pub(super) fn call_id_value(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests;
