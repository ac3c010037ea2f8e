//! Which shard owns a SIP message: a stable hash of its Call-ID.
//!
//! A trunk sends all its calls from one address, so the kernel's
//! SO_REUSEPORT hashing would put them all on one socket; the shard that
//! receives a datagram looks up the Call-ID and hands the datagram to the
//! owner, so every message of a call meets the same core.

pub use crate::sip::owner_of;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_owns_everything() {
        assert_eq!(owner_of(b"abc", 1), 0);
        assert_eq!(owner_of(b"", 0), 0);
    }

    #[test]
    fn stable_and_spread() {
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            let id = format!("{i}-1234@127.0.0.1");
            let owner = owner_of(id.as_bytes(), 4);
            assert_eq!(owner, owner_of(id.as_bytes(), 4));
            counts[owner] += 1;
        }
        for count in counts {
            assert!(count > 800, "uneven spread {counts:?}");
        }
    }

    /// An INVITE whose Call-ID header is folded onto a continuation line, and the BYE
    /// of the same dialog written with the compact `i:` name, on one line.
    const FOLDED_INVITE: &[u8] = b"INVITE sip:1000@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-7-1\r\n\
From: <sip:sipp@127.0.0.1:5061>;tag=7\r\n\
To: <sip:1000@127.0.0.1:5060>\r\n\
Call-ID:\r\n\t7-folded@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n";
    const COMPACT_BYE: &[u8] = b"BYE sip:1000@127.0.0.1:5060 SIP/2.0\r\n\
v: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-7-2\r\n\
f: <sip:sipp@127.0.0.1:5061>;tag=7\r\n\
t: <sip:1000@127.0.0.1:5060>;tag=9\r\n\
i: 7-folded@127.0.0.1\r\n\
CSeq: 2 BYE\r\n\
l: 0\r\n\r\n";

    #[test]
    fn a_folded_call_id_invite_and_its_bye_reach_the_same_shard() {
        use crate::sip::call_id_of;
        use crate::sip::message::{parse_message, Message};
        // Both messages parse, with the same Call-ID.
        for data in [FOLDED_INVITE, COMPACT_BYE] {
            match parse_message(data) {
                Ok(Message::Request(request)) => {
                    assert_eq!(request.call_id(), "7-folded@127.0.0.1");
                }
                other => panic!("expected a request, got {other:?}"),
            }
        }
        let owner = owner_of(b"7-folded@127.0.0.1", 4);
        let shard = |data| call_id_of(data).map(|id| owner_of(id, 4));
        assert_eq!(shard(FOLDED_INVITE), Some(owner), "INVITE");
        assert_eq!(shard(COMPACT_BYE), Some(owner), "BYE");
    }
}
