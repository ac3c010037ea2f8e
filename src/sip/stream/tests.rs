use super::*;

const INVITE: &[u8] = b"INVITE sip:1000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bK-1\r\n\
Call-ID: 1@h\r\n\
Content-Length: 5\r\n\r\nhello";
const BYE: &[u8] = b"BYE sip:1000@127.0.0.1 SIP/2.0\r\n\
Call-ID: 1@h\r\n\
l:0\r\n\r\n";

fn framer() -> StreamFramer {
    StreamFramer::new(StreamLimits::default())
}

/// Everything `next` yields now, as owned values.
fn drain(framer: &mut StreamFramer) -> Result<Vec<Option<Vec<u8>>>, StreamError> {
    let mut out = Vec::new();
    while let Some(framed) = framer.next_frame()? {
        out.push(match framed {
            Framed::Message(message) => Some(message.to_vec()),
            Framed::Ping => None,
        });
    }
    Ok(out)
}

#[test]
fn a_message_split_at_every_byte_position_comes_out_whole_once() {
    let stream = [INVITE, BYE].concat();
    for split in 0..=stream.len() {
        let mut framer = framer();
        framer.push(&stream[..split]).unwrap();
        let mut got = drain(&mut framer).unwrap();
        framer.push(&stream[split..]).unwrap();
        got.extend(drain(&mut framer).unwrap());
        assert_eq!(
            got,
            vec![Some(INVITE.to_vec()), Some(BYE.to_vec())],
            "split at {split}"
        );
        assert_eq!(framer.buffered(), 0);
    }
}

#[test]
fn one_byte_at_a_time() {
    let mut framer = framer();
    let mut got = Vec::new();
    for byte in [INVITE, &b"\r\n\r\n"[..], BYE].concat() {
        framer.push(&[byte]).unwrap();
        got.extend(drain(&mut framer).unwrap());
    }
    assert_eq!(got, vec![Some(INVITE.to_vec()), None, Some(BYE.to_vec())]);
}

#[test]
fn several_messages_in_one_push() {
    let mut framer = framer();
    framer.push(&[INVITE, BYE, INVITE].concat()).unwrap();
    let got = drain(&mut framer).unwrap();
    assert_eq!(
        got,
        vec![
            Some(INVITE.to_vec()),
            Some(BYE.to_vec()),
            Some(INVITE.to_vec())
        ]
    );
}

#[test]
fn keepalive_pings_are_reported_and_single_crlfs_skipped() {
    let mut framer = framer();
    // A ping, a pong (single CRLF) before a message, a ping after it.
    framer
        .push(&[&b"\r\n\r\n"[..], b"\r\n", BYE, b"\r\n\r\n"].concat())
        .unwrap();
    assert_eq!(
        drain(&mut framer).unwrap(),
        vec![None, Some(BYE.to_vec()), None]
    );
    // A half ping waits for its second half.
    framer.push(b"\r\n").unwrap();
    assert_eq!(drain(&mut framer).unwrap(), vec![]);
    framer.push(b"\r\n").unwrap();
    assert_eq!(drain(&mut framer).unwrap(), vec![None]);
    assert_eq!(PONG, b"\r\n");
}

#[test]
fn a_missing_content_length_fails_the_stream() {
    let mut framer = framer();
    framer
        .push(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n")
        .unwrap();
    assert_eq!(framer.next_frame(), Err(StreamError::MissingContentLength));
    // Sticky: a good message after it is never framed.
    assert_eq!(framer.push(BYE), Err(StreamError::MissingContentLength));
    assert_eq!(framer.next_frame(), Err(StreamError::MissingContentLength));
}

#[test]
fn bad_content_lengths_fail_the_stream() {
    for head in [
        &b"BYE sip:a@b SIP/2.0\r\nContent-Length: ten\r\n\r\n"[..],
        b"BYE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n",
        b"BYE sip:a@b SIP/2.0\r\nContent-Length:\r\n\r\n",
        b"BYE sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\n",
    ] {
        let mut framer = framer();
        framer.push(head).unwrap();
        assert_eq!(
            framer.next_frame(),
            Err(StreamError::BadContentLength),
            "{}",
            String::from_utf8_lossy(head)
        );
    }
}

#[test]
fn folded_and_spaced_content_length_headers_are_read() {
    let mut framer = framer();
    framer
        .push(b"BYE sip:a@b SIP/2.0\r\ncontent-length :\r\n 2\r\n\r\nok")
        .unwrap();
    let got = drain(&mut framer).unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].as_ref().unwrap().ends_with(b"\r\n\r\nok"));
}

#[test]
fn a_head_without_end_over_the_limit_fails_without_growing() {
    let limits = StreamLimits {
        max_head: 1024,
        max_body: 1024,
    };
    let mut framer = StreamFramer::new(limits);
    framer.push(b"INVITE sip:a@b SIP/2.0\r\nX: ").unwrap();
    let chunk = [b'a'; 512];
    let mut failed = None;
    for _ in 0..100 {
        if let Err(error) = framer.push(&chunk) {
            failed = Some(error);
            break;
        }
        if let Err(error) = framer.next_frame() {
            failed = Some(error);
            break;
        }
        assert!(framer.buffered() <= limits.max_head + limits.max_body + chunk.len());
    }
    assert_eq!(failed, Some(StreamError::HeadTooLong));
    assert_eq!(framer.buffered(), 0, "the buffer is given back");
}

#[test]
fn a_body_over_the_limit_fails_before_it_is_buffered() {
    let mut framer = framer();
    framer
        .push(b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 99999999999999999999999\r\n\r\n")
        .unwrap();
    assert_eq!(framer.next_frame(), Err(StreamError::BodyTooLong));
    let mut framer = StreamFramer::new(StreamLimits {
        max_head: 1024,
        max_body: 10,
    });
    framer
        .push(b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 11\r\n\r\n")
        .unwrap();
    assert_eq!(framer.next_frame(), Err(StreamError::BodyTooLong));
}

#[test]
fn a_head_at_the_limit_is_taken() {
    let limits = StreamLimits {
        max_head: BYE.len(),
        max_body: 0,
    };
    let mut framer = StreamFramer::new(limits);
    framer.push(BYE).unwrap();
    assert_eq!(framer.next_frame(), Ok(Some(Framed::Message(BYE))));
}
