//! The peek against the parser: for every generated message the parser accepts, the
//! peek must return exactly the parser's Call-ID (folded, compact, oddly cased, padded,
//! repeated headers, CRLF and bare LF line ends), and it must never panic.

use super::*;
use crate::sip::message::{parse_message, Message};
use proptest::prelude::*;

#[test]
fn finds_full_and_compact_names() {
    let msg = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID:  abc@h \r\n\r\n";
    assert_eq!(call_id_of(msg), Some(&b"abc@h"[..]));
    let compact = b"\r\nBYE sip:a@b SIP/2.0\ni:xyz\nf: <sip:a@b>\n\n";
    assert_eq!(call_id_of(compact), Some(&b"xyz"[..]));
    let upper = b"SIP/2.0 200 OK\r\nCALL-ID: Q\r\n\r\n";
    assert_eq!(call_id_of(upper), Some(&b"Q"[..]));
    let folded = b"BYE sip:a@b SIP/2.0\r\ncAlL-iD :\r\n \t q@h\t\r\n \r\nTo: x\r\n\r\n";
    assert_eq!(call_id_of(folded), Some(&b"q@h"[..]));
}

#[test]
fn stops_at_the_body_and_handles_garbage() {
    let in_body = b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n\r\nCall-ID: body\r\n";
    assert_eq!(call_id_of(in_body), None);
    assert_eq!(call_id_of(b""), None);
    assert_eq!(call_id_of(b"\xff\xfe"), None);
    assert_eq!(call_id_of(b"X\r\nCall-ID:\r\n\r\n"), None);
    assert_eq!(call_id_of(b"X\r\nSubject: Call-ID: no\r\n"), None);
    // The start line is never a header, even when it looks like one.
    assert_eq!(call_id_of(b"Call-ID: a\r\nTo: x\r\n\r\n"), None);
    // A lone CR ends the scan, as it ends the parse.
    assert_eq!(call_id_of(b"X\r\nTo: a\rb\r\nCall-ID: c\r\n\r\n"), None);
}

/// Returns the Call-ID the parser reads, or `None` if it refuses the datagram.
fn parsed_call_id(data: &[u8]) -> Option<String> {
    match parse_message(data).ok()? {
        Message::Request(request) => Some(request.call_id().to_owned()),
        Message::Response(response) => Some(response.call_id().to_owned()),
    }
}

/// Checks the peek against the parser; returns whether the parser accepted `data`.
fn check(data: &[u8]) -> bool {
    let peeked = call_id_of(data);
    match parsed_call_id(data) {
        Some(call_id) => {
            assert_eq!(
                peeked,
                Some(call_id.as_bytes()),
                "{:?}",
                String::from_utf8_lossy(data)
            );
            true
        }
        None => false,
    }
}

const START_LINES: &[&str] = &["INVITE sip:1000@127.0.0.1:5060 SIP/2.0", "SIP/2.0 200 OK"];

/// Call-ID header lines (name, separator, value as written), with `{EOL}` standing for
/// the message's line end.
const CALL_ID_LINES: &[&str] = &[
    "Call-ID: a-1@h",
    "i:a-1@h",
    "I: a-1@h",
    "cAlL-iD: a-1@h",
    "CALL-ID\t:\ta-1@h",
    "call-id  :  a-1@h   ",
    "Call-ID: a-1@h \t ",
    "Call-ID:{EOL} a-1@h",
    "Call-ID:{EOL}\ta-1@h",
    "i:{EOL} {EOL}\t a-1@h{EOL} ",
    "Call-ID: a-1@h{EOL}\t",
    " Call-ID: a-1@h",
    "Call-ID: \u{a0}a-1@h\u{2003}",
    "Call-ID: ü-1@h",
    "Call-ID: a 1@h",
    "Call-ID: a-1{EOL} @h",
    "Call-ID:",
    "Call-ID:{EOL} ",
    "Call-IDx: a-1@h",
    "Call-ID a-1@h",
];

/// A second Call-ID header, or other headers that could be mistaken for one.
const EXTRA_LINES: &[&str] = &[
    "",
    "Call-ID: other@h",
    "i: other@h",
    "X-Call-ID: other@h",
    "Subject: Call-ID: other@h",
    "Subject: x{EOL} Call-ID: other@h",
];

const EOLS: &[&str] = &["\r\n", "\n"];

fn message(start: &str, call_id: &str, extra: &str, eol: &str, call_id_first: bool) -> String {
    let cseq = if start.starts_with("SIP/") {
        "1 BYE"
    } else {
        "1 INVITE"
    };
    let mut lines = vec![start.to_owned()];
    let call_id = call_id.replace("{EOL}", eol);
    if call_id_first {
        lines.push(call_id.clone());
    }
    lines.extend([
        "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1".to_owned(),
        "From: <sip:a@h>;tag=1".to_owned(),
        "To: <sip:b@h>".to_owned(),
    ]);
    if !call_id_first {
        lines.push(call_id);
    }
    if !extra.is_empty() {
        lines.push(extra.replace("{EOL}", eol));
    }
    lines.push(format!("CSeq: {cseq}"));
    lines.push("Content-Length: 17".to_owned());
    format!("{}{eol}{eol}Call-ID: in-body\r\n", lines.join(eol))
}

#[test]
fn the_peek_reads_the_call_id_the_parser_reads() {
    let mut accepted = 0;
    let mut accepted_folded = 0;
    for start in START_LINES {
        for call_id in CALL_ID_LINES {
            for extra in EXTRA_LINES {
                for eol in EOLS {
                    for first in [true, false] {
                        for leading in ["", "\r\n"] {
                            let data =
                                format!("{leading}{}", message(start, call_id, extra, eol, first));
                            if check(data.as_bytes()) {
                                accepted += 1;
                                accepted_folded += usize::from(call_id.contains("{EOL}"));
                            }
                        }
                    }
                }
            }
        }
    }
    // The table is not vacuous: most variants parse, folded ones included (a second
    // Call-ID header makes the parser refuse the message).
    assert!(accepted >= 800, "only {accepted} messages parsed");
    assert!(
        accepted_folded >= 240,
        "only {accepted_folded} folded parsed"
    );
}

#[test]
fn a_second_call_id_is_refused_and_the_peek_reads_the_first() {
    let data = message(
        START_LINES[0],
        "i: first@h",
        "Call-ID: second@h",
        "\r\n",
        false,
    );
    assert_eq!(
        parse_message(data.as_bytes()).unwrap_err(),
        crate::sip::message::ParseError::MalformedHeader("Call-ID")
    );
    // The shard of the first Call-ID answers the 400.
    assert_eq!(call_id_of(data.as_bytes()), Some(&b"first@h"[..]));
}

/// Bytes that change how a head splits into lines and headers.
const NOISE: &[&str] = &[
    "\r\n", "\n", "\r", " ", "\t", ":", "i", "\r\n ", "\n\t", "\u{a0}", "\0",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Generated messages with random noise inserted anywhere: whenever the parser accepts
    /// the result, the peek agrees with it; nothing panics.
    #[test]
    fn mutated_messages_agree_with_the_parser(
        start in 0..START_LINES.len(),
        call_id in 0..CALL_ID_LINES.len(),
        extra in 0..EXTRA_LINES.len(),
        eol in 0..EOLS.len(),
        first: bool,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0..NOISE.len()), 0..4),
    ) {
        let mut data = message(
            START_LINES[start],
            CALL_ID_LINES[call_id],
            EXTRA_LINES[extra],
            EOLS[eol],
            first,
        )
        .into_bytes();
        for (at, noise) in edits {
            let at = at.index(data.len() + 1);
            data.splice(at..at, NOISE[noise].bytes());
        }
        check(&data);
    }

    /// Arbitrary bytes never make the peek panic, and agree with the parser when it
    /// accepts them.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        check(&data);
    }
}
