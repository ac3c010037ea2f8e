//! Parser tests: sipp-style INVITE, compact and folded headers, LF-only line ends and
//! the error cases.

use super::*;

pub(crate) const SIPP_SDP: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

fn sipp_invite() -> String {
    format!(
        "INVITE sip:1000@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=1234SIPpTag001\r\n\
To: <sip:1000@127.0.0.1:5060>\r\n\
Call-ID: 1-1234@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   {}\r\n\
\r\n{SIPP_SDP}",
        SIPP_SDP.len()
    )
}

fn request(data: &[u8]) -> Request {
    match parse_message(data) {
        Ok(Message::Request(request)) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn parses_sipp_invite() {
    let invite = request(sipp_invite().as_bytes());
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.uri, "sip:1000@127.0.0.1:5060");
    assert_eq!(invite.call_id(), "1-1234@127.0.0.1");
    let head = &invite.head;
    assert_eq!(
        head.echo.vias,
        vec!["SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0"]
    );
    assert_eq!(head.top_via.branch, "z9hG4bK-1234-1-0");
    assert_eq!(
        head.echo.from,
        "sipp <sip:sipp@127.0.0.1:5061>;tag=1234SIPpTag001"
    );
    assert_eq!(head.from.tag(), Some("1234SIPpTag001"));
    assert_eq!(head.to.tag(), None);
    assert_eq!(head.echo.cseq, "1 INVITE");
    assert_eq!(head.cseq.seq, 1);
    assert_eq!(
        head.contact.as_ref().map(|c| c.uri.as_str()),
        Some("sip:sipp@127.0.0.1:5061")
    );
    assert_eq!(head.content_type.as_deref(), Some("application/sdp"));
    assert_eq!(&head.body[..], SIPP_SDP.as_bytes());
}

#[test]
fn round_trips_through_serialize() {
    let invite = request(sipp_invite().as_bytes());
    let again = request(&invite.to_bytes());
    assert_eq!(again.head.echo, invite.head.echo);
    assert_eq!(again.head.body, invite.head.body);
    let text = String::from_utf8(invite.to_bytes()).unwrap();
    assert!(text.contains(&format!("Content-Length: {}\r\n\r\n", SIPP_SDP.len())));
    assert!(!text.replace("\r\n", "").contains('\r'));
}

#[test]
fn compact_headers() {
    let data = "BYE sip:a@b SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n\
f: <sip:x@y>;tag=1\r\n\
t: <sip:a@b>;tag=2\r\n\
i: compact-id\r\n\
CSeq: 2 BYE\r\n\
m: <sip:x@10.0.0.1>\r\n\
c: text/plain\r\n\
l: 3\r\n\r\nabcdef";
    let bye = request(data.as_bytes());
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.call_id(), "compact-id");
    assert_eq!(bye.head.to.tag(), Some("2"));
    assert_eq!(
        bye.head.contact.as_ref().map(|c| c.uri.as_str()),
        Some("sip:x@10.0.0.1")
    );
    assert_eq!(bye.head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(&bye.head.body[..], b"abc");
}

#[test]
fn folded_headers_and_via_lists() {
    let data = "OPTIONS sip:a@b SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKtop,\r\n  SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKmid\r\n\
Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKlast\r\n\
From:\r\n <sip:x@y>;tag=1\r\n\
To: <sip:a@b>\r\n\
Call-ID: folded\r\n\
CSeq: 7\r\n\tOPTIONS\r\n\
Record-Route: <sip:p1;lr>,\r\n <sip:p2;lr>\r\n\
Content-Length: 0\r\n\r\n";
    let options = request(data.as_bytes());
    assert_eq!(
        options.head.echo.vias,
        vec![
            "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKtop",
            "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKmid",
            "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKlast"
        ]
    );
    assert_eq!(options.head.echo.from, "<sip:x@y>;tag=1");
    assert_eq!(options.head.cseq.seq, 7);
    assert_eq!(
        options.head.record_route,
        vec!["<sip:p1;lr>", "<sip:p2;lr>"]
    );
    assert!(options.head.body.is_empty());
}

#[test]
fn lf_only_line_ends() {
    let data = sipp_invite().replace("\r\n", "\n");
    let content_length = SIPP_SDP.replace("\r\n", "\n").len();
    let data = data.replace(
        &format!("Content-Length:   {}", SIPP_SDP.len()),
        &format!("Content-Length: {content_length}"),
    );
    let invite = request(data.as_bytes());
    assert_eq!(invite.call_id(), "1-1234@127.0.0.1");
    assert_eq!(invite.head.body.len(), content_length);
    assert!(invite.head.body.starts_with(b"v=0\n"));
}

#[test]
fn body_without_content_length_runs_to_the_end() {
    let data = sipp_invite().replace(&format!("Content-Length:   {}\r\n", SIPP_SDP.len()), "");
    let invite = request(data.as_bytes());
    assert_eq!(&invite.head.body[..], SIPP_SDP.as_bytes());
}

#[test]
fn parses_responses() {
    let data = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKours\r\n\
From: <sip:1000@h>;tag=a\r\nTo: <sip:x@y>;tag=b\r\nCall-ID: r1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    match parse_message(data.as_bytes()) {
        Ok(Message::Response(response)) => {
            assert_eq!(response.status, 200);
            assert_eq!(response.reason, "OK");
            assert_eq!(response.head.top_via.branch, "z9hG4bKours");
            assert_eq!(response.head.cseq.method, Method::Bye);
            assert!(String::from_utf8(response.to_bytes())
                .unwrap()
                .starts_with("SIP/2.0 200 OK\r\n"));
        }
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn missing_call_id_is_an_error() {
    let data = sipp_invite().replace("Call-ID: 1-1234@127.0.0.1\r\n", "");
    assert_eq!(
        parse_message(data.as_bytes()).unwrap_err(),
        ParseError::MissingHeader("Call-ID")
    );
}

#[test]
fn truncated_body_is_an_error() {
    let data = sipp_invite();
    let cut = &data.as_bytes()[..data.len() - 10];
    assert_eq!(
        parse_message(cut).unwrap_err(),
        ParseError::BodyTruncated {
            declared: SIPP_SDP.len(),
            available: SIPP_SDP.len() - 10
        }
    );
}

#[test]
fn other_errors() {
    let invite = sipp_invite();
    let cases: Vec<(String, ParseError)> = vec![
        (
            invite.replace(
                &format!("Content-Length:   {}", SIPP_SDP.len()),
                "Content-Length: x",
            ),
            ParseError::BadContentLength,
        ),
        (
            invite.replace("CSeq: 1 INVITE", "CSeq: 1 BYE"),
            ParseError::CSeqMethodMismatch,
        ),
        (
            invite.replace("CSeq: 1 INVITE", "CSeq: one INVITE"),
            ParseError::MalformedHeader("CSeq"),
        ),
        (
            invite.replace("To: <sip:1000@127.0.0.1:5060>", "To: <sip:1000"),
            ParseError::MalformedHeader("To"),
        ),
        (
            invite.replace("Via: SIP/2.0/UDP", "Via: HTTP/1.1"),
            ParseError::MalformedHeader("Via"),
        ),
        (
            invite.replace("Subject: Performance Test", "Subject Performance Test"),
            ParseError::BadHeaderLine,
        ),
        (
            invite.replace("sip:1000@127.0.0.1:5060 SIP/2.0", "tel:1000 SIP/2.0"),
            ParseError::UnsupportedUriScheme,
        ),
        ("\r\n\r\n".to_owned(), ParseError::Empty),
        (
            "INVITE sip:a@b SIP/2.0\r\nVia: x".to_owned(),
            ParseError::NoHeadEnd,
        ),
    ];
    for (data, expected) in cases {
        assert_eq!(
            parse_message(data.as_bytes()).unwrap_err(),
            expected,
            "{data}"
        );
    }
    assert_eq!(
        parse_message(b"\xff\xfe\r\n\r\n").unwrap_err(),
        ParseError::NotUtf8
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for data in [
        &b"hello"[..],
        b"\0\0\0\0",
        b"SIP/2.0\r\n\r\n",
        b"INVITE\r\n\r\n",
        b"INVITE sip: SIP/2.0\r\n\r\n",
        b":\r\n:\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"A\r\n\rB\r\n\r\n",
    ] {
        assert!(parse_message(data).is_err(), "{data:?}");
    }
}

#[test]
fn single_headers_may_not_repeat() {
    let invite = sipp_invite();
    let second_length = format!("Max-Forwards: 70\r\nl: {}\r\n", SIPP_SDP.len());
    let cases: Vec<(&str, &str, ParseError)> = vec![
        (
            "Call-ID: 1-1234@127.0.0.1\r\n",
            "Call-ID: 1-1234@127.0.0.1\r\ni: other@127.0.0.1\r\n",
            ParseError::DuplicateHeader("Call-ID"),
        ),
        (
            "CSeq: 1 INVITE\r\n",
            "CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n",
            ParseError::DuplicateHeader("CSeq"),
        ),
        (
            "To: <sip:1000@127.0.0.1:5060>\r\n",
            "To: <sip:1000@127.0.0.1:5060>\r\nt: <sip:2000@127.0.0.1>\r\n",
            ParseError::DuplicateHeader("To"),
        ),
        (
            "Max-Forwards: 70\r\n",
            "Max-Forwards: 70\r\nFrom: <sip:other@127.0.0.1>;tag=2\r\n",
            ParseError::DuplicateHeader("From"),
        ),
        (
            "Max-Forwards: 70\r\n",
            &second_length,
            ParseError::BadContentLength,
        ),
        // The same value twice is no better: only list-valued headers may repeat.
        (
            "CSeq: 1 INVITE\r\n",
            "CSeq: 1 INVITE\r\nCSeq: 1 INVITE\r\n",
            ParseError::DuplicateHeader("CSeq"),
        ),
        (
            "Max-Forwards: 70\r\n",
            "Max-Forwards: 70\r\nMax-Forwards: 70\r\n",
            ParseError::DuplicateHeader("Max-Forwards"),
        ),
    ];
    for (line, doubled, expected) in cases {
        let data = invite.replace(line, doubled);
        assert_eq!(
            parse_message(data.as_bytes()).unwrap_err(),
            expected,
            "{data}"
        );
    }
}

#[test]
fn an_empty_tag_is_malformed() {
    let invite = sipp_invite();
    let empty_to = invite.replace(
        "To: <sip:1000@127.0.0.1:5060>",
        "To: <sip:1000@127.0.0.1:5060>;tag=",
    );
    assert_eq!(
        parse_message(empty_to.as_bytes()).unwrap_err(),
        ParseError::MalformedHeader("To")
    );
    let empty_from = invite.replace(";tag=1234SIPpTag001", "; TAG = ");
    assert_eq!(
        parse_message(empty_from.as_bytes()).unwrap_err(),
        ParseError::MalformedHeader("From")
    );
    // A bare `tag` (a generic-param without value) is read as no tag.
    let bare = invite.replace(";tag=1234SIPpTag001", ";tag");
    assert_eq!(request(bare.as_bytes()).head.from.tag(), None);
}

#[test]
fn lower_case_version_and_branch_name() {
    let data = sipp_invite()
        .replace(" SIP/2.0\r\nVia", " sip/2.0\r\nVia")
        .replace(";branch=", ";Branch=");
    let invite = request(data.as_bytes());
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.head.top_via.branch, "z9hG4bK-1234-1-0");
    let empty_branch = sipp_invite().replace("branch=z9hG4bK-1234-1-0", "branch=");
    assert_eq!(
        parse_message(empty_branch.as_bytes()).unwrap_err(),
        ParseError::MalformedHeader("Via")
    );
}

#[test]
fn values_outside_the_grammar_are_refused() {
    let invite = sipp_invite();
    let cases: Vec<(&str, &str, ParseError)> = vec![
        (
            "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0\r\n",
            "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0\r\nVia: SIP/2.0m-to\r\n",
            ParseError::MalformedHeader("Via"),
        ),
        (
            "branch=z9hG4bK-1234-1-0",
            "bran&&ch=z9hG4bK-1234-1-0",
            ParseError::MalformedHeader("Via"),
        ),
        (
            "Contact: sip:sipp@127.0.0.1:5061\r\n",
            "Contact: sip:sipp@127.0;.0.1:5061\r\n",
            ParseError::MalformedHeader("Contact"),
        ),
        (
            "Contact: sip:sipp@127.0.0.1:5061\r\n",
            "Contact: <sip:caller@127nt-Length: 0\r\n",
            ParseError::MalformedHeader("Contact"),
        ),
        (
            "Content-Type: application/sdp\r\n",
            "Content-Type: applic[tion/sdp\r\n",
            ParseError::MalformedHeader("Content-Type"),
        ),
        (
            ";tag=1234SIPpTag001",
            ";received=;tag=1234SIPpTag001",
            ParseError::MalformedHeader("From"),
        ),
        (
            "To: <sip:1000@127.0.0.1:5060>\r\n",
            "To: <sip:1000@127.0.0.1:5060>;ta&=\r\n",
            ParseError::MalformedHeader("To"),
        ),
    ];
    for (line, changed, expected) in cases {
        let data = invite.replace(line, changed);
        assert_eq!(
            parse_message(data.as_bytes()).unwrap_err(),
            expected,
            "{data}"
        );
    }
    // What the grammar allows still parses: a second Via, a Contact list with
    // parameters, a STAR Contact, a quoted media-type parameter.
    let allowed = invite
        .replace(
            "Contact: sip:sipp@127.0.0.1:5061\r\n",
            "Contact: <sip:a@h>;expires=60;+sip.instance=\"<urn:x>\", sip:b@h;q=0.5\r\n\
Via: SIP / 2.0 / TCP proxy.example ; branch = z9hG4bKp ; received=[2001:db8::1]\r\n",
        )
        .replace(
            "Content-Type: application/sdp",
            "Content-Type: application/sdp ; charset=\"utf-8\"",
        );
    assert!(parse_message(allowed.as_bytes()).is_ok(), "{allowed}");
    let star = invite.replace("Contact: sip:sipp@127.0.0.1:5061\r\n", "Contact: *\r\n");
    assert!(parse_message(star.as_bytes()).is_ok());
}
