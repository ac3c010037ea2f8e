//! Outbound calls: the dialog a `place_call` creates, driven against a
//! scripted far end on a fake clock — retransmission, provisional and final
//! responses, the ACKs, digest challenges, CANCEL (also crossing a 200),
//! forking and hanging up.

use super::{local, parsed_request, SDP_OFFER};
use crate::sip::dialog::{Dialog, DialogEvent, DialogOutput, OutboundInvite};
use crate::sip::digest::Credentials;
use crate::sip::dispatcher::{DialogOwner, Dispatcher, DispatcherOutput, Routed};
use crate::sip::event::TerminatedReason;
use crate::sip::message::Request;
use crate::sip::settings::SipSettings;
use crate::sip::timers::SipTimers;
use crate::sip::Method;
use crate::time::Time;
use std::net::SocketAddr;

fn far_end() -> SocketAddr {
    "192.0.2.9:5080".parse().unwrap()
}

fn outbound(credentials: Option<Credentials>) -> OutboundInvite {
    OutboundInvite {
        request_uri: "sip:+4930123@192.0.2.9:5080".into(),
        from: "\"Sales\" <sip:+4930999@127.0.0.1>".into(),
        to: "<sip:+4930123@192.0.2.9>".into(),
        dest: far_end(),
        route: Vec::new(),
        sdp_offer: SDP_OFFER.into(),
        credentials,
        extra_headers: vec![(
            ezk_sip_types::Name::from("P-Asserted-Identity"),
            "<sip:+4930999@127.0.0.1>".into(),
        )],
    }
}

/// A dispatcher and the one outbound dialog it created.
struct Caller {
    dispatcher: Dispatcher,
    dialog: Option<Dialog>,
    events: Vec<DialogEvent>,
    deadline: Time,
}

impl Caller {
    fn place(invite: OutboundInvite) -> (Caller, Vec<Request>) {
        let config = SipSettings {
            local_addr: local(),
            user_agent: "callplane-test".into(),
            session_timer: Default::default(),
            timers: SipTimers::default(),
        };
        let mut dispatcher = Dispatcher::new(config, 11);
        let dialog = dispatcher.place_call(Time::ZERO, invite, DialogOwner(0));
        let mut caller = Caller {
            dispatcher,
            dialog: Some(dialog),
            events: Vec::new(),
            deadline: Time::NEVER,
        };
        let sent = caller.drain();
        (caller, sent)
    }

    /// Drains the dialog: its requests (all to the far end) are returned, its
    /// events kept; a terminated dialog goes back to the dispatcher.
    fn drain(&mut self) -> Vec<Request> {
        let mut sent = Vec::new();
        let mut ended = false;
        if let Some(dialog) = self.dialog.as_mut() {
            loop {
                match dialog.poll_output() {
                    DialogOutput::Transmit(transmit) => {
                        assert_eq!(transmit.dest, far_end());
                        sent.push(parsed_request(&transmit.payload));
                    }
                    DialogOutput::Event(event) => {
                        ended |= matches!(event, DialogEvent::Terminated(_));
                        self.events.push(event);
                    }
                    DialogOutput::Timeout(at) => {
                        self.deadline = at;
                        break;
                    }
                }
            }
        }
        if ended {
            if let Some(dialog) = self.dialog.take() {
                self.dispatcher.release(dialog);
            }
        }
        while let DispatcherOutput::Transmit(transmit) = self.dispatcher.poll_output() {
            assert_eq!(transmit.dest, far_end());
            sent.push(parsed_request(&transmit.payload));
        }
        sent
    }

    fn receive(&mut self, at_ms: u64, data: &str) -> Vec<Request> {
        let now = Time::from_millis(at_ms);
        match self
            .dispatcher
            .handle_datagram(now, far_end(), data.as_bytes())
        {
            Some(Routed::Dialog { owner, message }) => {
                assert_eq!(owner, DialogOwner(0));
                if let Some(dialog) = self.dialog.as_mut() {
                    dialog.handle_message(now, message);
                }
            }
            Some(Routed::NewInvite(_)) => panic!("not a new call"),
            None => {}
        }
        self.drain()
    }

    fn hangup(&mut self, at_ms: u64) -> Vec<Request> {
        if let Some(dialog) = self.dialog.as_mut() {
            dialog.hangup(Time::from_millis(at_ms)).unwrap();
        }
        self.drain()
    }

    /// Runs timers up to `end_ms`: (time, request) for everything sent.
    fn run_until(&mut self, end_ms: u64) -> Vec<(u64, Request)> {
        let end = Time::from_millis(end_ms);
        let mut sent = Vec::new();
        loop {
            let sip = match self.dispatcher.poll_output() {
                DispatcherOutput::Timeout(at) => at,
                DispatcherOutput::Transmit(_) => unreachable!("drained"),
            };
            let dialog = if self.dialog.is_some() {
                self.deadline
            } else {
                Time::NEVER
            };
            let at = sip.min(dialog);
            if at > end {
                return sent;
            }
            self.dispatcher.handle_timeout(at);
            if let Some(d) = self.dialog.as_mut().filter(|_| dialog <= at) {
                d.handle_timeout(at);
            }
            sent.extend(self.drain().into_iter().map(|r| (at.as_millis(), r)));
        }
    }

    fn take_events(&mut self) -> Vec<DialogEvent> {
        std::mem::take(&mut self.events)
    }
}

/// A response of the far end to `request`, with its To tag, more headers and a body.
fn reply(request: &Request, status: u16, to_tag: Option<&str>, extra: &str, body: &str) -> String {
    let echo = &request.head.echo;
    let to = match to_tag {
        Some(tag) => format!("{};tag={tag}", echo.to),
        None => echo.to.clone(),
    };
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "SIP/2.0 {status} Whatever\r\nVia: {}\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}{content_type}Content-Length: {}\r\n\r\n{body}",
        echo.vias.join(", "),
        echo.from,
        echo.call_id,
        echo.cseq,
        body.len()
    )
}

fn header<'a>(request: &'a Request, name: &str) -> Vec<&'a str> {
    request
        .head
        .headers
        .get_raw(&ezk_sip_types::Name::from(name.to_owned()))
        .map(|value| value.as_str())
        .collect()
}

const ANSWER: &str = "v=0\r\no=uas 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

#[test]
fn invite_is_retransmitted_until_a_provisional_then_answered_acknowledged_and_hung_up() {
    let (mut caller, sent) = Caller::place(outbound(None));
    let [invite] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.uri, "sip:+4930123@192.0.2.9:5080");
    assert!(invite.head.top_via.has_rfc3261_branch());
    assert!(invite.head.echo.vias[0].ends_with(";rport"));
    assert!(invite.head.from.tag().is_some());
    assert!(invite.head.to.tag().is_none());
    assert_eq!(invite.head.cseq.seq, 1);
    assert_eq!(
        header(invite, "Contact"),
        ["<sip:callplane@127.0.0.1:5060>"]
    );
    assert_eq!(
        header(invite, "P-Asserted-Identity"),
        ["<sip:+4930999@127.0.0.1>"]
    );
    assert_eq!(invite.head.body.as_ref(), SDP_OFFER.as_bytes());

    let resent = caller.run_until(1600);
    let times: Vec<u64> = resent.iter().map(|(at, _)| *at).collect();
    assert_eq!(times, [500, 1500], "Timer A doubles");
    assert!(resent
        .iter()
        .all(|(_, r)| r.to_bytes() == invite.to_bytes()));

    assert!(caller
        .receive(1700, &reply(invite, 100, None, "", ""))
        .is_empty());
    assert!(
        caller.run_until(10_000).is_empty(),
        "a provisional stops Timer A"
    );
    assert!(caller.take_events().is_empty(), "100 is not reported");

    let early = reply(invite, 183, Some("uas1"), "", ANSWER);
    assert!(caller.receive(10_100, &early).is_empty());
    assert_eq!(caller.take_events(), [DialogEvent::Progress(183)]);
    let dialog = caller.dialog.as_mut().unwrap();
    assert_eq!(dialog.early_dialogs(), 1);
    assert!(dialog.take_remote_sdp().is_some(), "early media SDP");

    let extra = "Contact: <sip:uas@192.0.2.9:5090>\r\n\
Record-Route: <sip:p2.example;lr>\r\nRecord-Route: <sip:p1.example;lr>\r\n";
    let ok = reply(invite, 200, Some("uas1"), extra, ANSWER);
    let acks = caller.receive(12_000, &ok);
    let [ack] = acks.as_slice() else {
        panic!("{acks:?}")
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, "sip:uas@192.0.2.9:5090", "the remote target");
    assert_eq!(ack.head.cseq.seq, 1);
    assert_eq!(ack.head.to.tag(), Some("uas1"));
    assert_ne!(ack.head.top_via.branch, invite.head.top_via.branch);
    assert_eq!(
        header(ack, "Route"),
        ["<sip:p1.example;lr>", "<sip:p2.example;lr>"],
        "the route set is the Record-Route reversed"
    );
    assert_eq!(caller.take_events(), [DialogEvent::Answered]);
    let answer = caller.dialog.as_mut().unwrap().take_remote_sdp().unwrap();
    assert_eq!(answer.media.first().map(|m| m.port), Some(7000));

    let again = caller.receive(12_500, &ok);
    assert_eq!(again.len(), 1, "a retransmitted 2xx gets the same ACK");
    assert_eq!(again[0].to_bytes(), ack.to_bytes());

    let byes = caller.hangup(20_000);
    let [bye] = byes.as_slice() else {
        panic!("{byes:?}")
    };
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.uri, "sip:uas@192.0.2.9:5090");
    assert_eq!(bye.head.cseq.seq, 2);
    assert_eq!(bye.head.from.tag(), invite.head.from.tag());
    assert_eq!(bye.head.to.tag(), Some("uas1"));
    caller.receive(20_050, &reply(bye, 200, None, "", ""));
    assert_eq!(
        caller.take_events(),
        [DialogEvent::Terminated(TerminatedReason::ByeCompleted)]
    );
}

#[test]
fn a_refusal_is_acknowledged_on_the_invite_branch_and_its_retransmissions_absorbed() {
    let (mut caller, sent) = Caller::place(outbound(None));
    let invite = &sent[0];
    let busy = reply(invite, 486, Some("b1"), "", "");
    let acks = caller.receive(40, &busy);
    let [ack] = acks.as_slice() else {
        panic!("{acks:?}")
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(ack.head.top_via.branch, invite.head.top_via.branch);
    assert_eq!(ack.head.cseq.seq, 1);
    assert_eq!(ack.head.to.tag(), Some("b1"));
    assert_eq!(
        caller.take_events(),
        [DialogEvent::Terminated(TerminatedReason::Refused(486))]
    );
    assert_eq!(caller.dispatcher.lingering_dialogs(), 1);
    let again = caller.receive(60, &busy);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].to_bytes(), ack.to_bytes());
    assert!(
        caller.run_until(33_000).is_empty(),
        "no retransmission after a final"
    );
    assert_eq!(caller.dispatcher.lingering_dialogs(), 0, "Timer D ended it");
}

#[test]
fn no_response_at_all_ends_with_timer_b() {
    let (mut caller, _) = Caller::place(outbound(None));
    let resent = caller.run_until(40_000);
    let times: Vec<u64> = resent.iter().map(|(at, _)| *at).collect();
    assert_eq!(times, [500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(
        caller.take_events(),
        [DialogEvent::Terminated(TerminatedReason::NoResponse)]
    );
    assert_eq!(caller.dispatcher.lingering_dialogs(), 0);
}

const CHALLENGE: &str = "WWW-Authenticate: Digest realm=\"carrier.example\", \
nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", qop=\"auth\", algorithm=MD5, opaque=\"5ccc\"\r\n";

#[test]
fn a_401_is_answered_once_with_a_new_invite_carrying_the_digest() {
    let credentials = Credentials {
        username: "trunk1".into(),
        password: "s3cret".into(),
    };
    let (mut caller, sent) = Caller::place(outbound(Some(credentials)));
    let first = &sent[0];
    let retry = caller.receive(30, &reply(first, 401, Some("a1"), CHALLENGE, ""));
    let [ack, invite] = retry.as_slice() else {
        panic!("{retry:?}")
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.head.top_via.branch, first.head.top_via.branch);
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.head.cseq.seq, 2);
    assert_ne!(invite.head.top_via.branch, first.head.top_via.branch);
    assert_eq!(invite.head.from.tag(), first.head.from.tag());
    assert_eq!(invite.call_id(), first.call_id());
    let [authorization] = header(invite, "Authorization")[..] else {
        panic!("one Authorization")
    };
    for part in [
        "username=\"trunk1\"",
        "realm=\"carrier.example\"",
        "uri=\"sip:+4930123@192.0.2.9:5080\"",
        "qop=auth",
        "nc=00000001",
        "opaque=\"5ccc\"",
    ] {
        assert!(authorization.contains(part), "{part} in {authorization}");
    }
    assert!(
        caller.take_events().is_empty(),
        "a challenge is not the end"
    );
    let again = caller.receive(40, &reply(first, 401, Some("a1"), CHALLENGE, ""));
    assert_eq!(again.len(), 1, "the retransmitted 401 gets its ACK again");
    assert_eq!(again[0].method, Method::Ack);

    let refused = caller.receive(80, &reply(invite, 401, Some("a2"), CHALLENGE, ""));
    assert_eq!(
        refused.len(),
        1,
        "ACK only: the same credentials are not sent twice"
    );
    assert_eq!(
        caller.take_events(),
        [DialogEvent::Terminated(TerminatedReason::Refused(401))]
    );
    assert_eq!(caller.dispatcher.stats().auth_challenges_answered, 1);
}

#[test]
fn a_407_gets_proxy_authorization_and_a_stale_nonce_another_try() {
    let credentials = Credentials {
        username: "trunk1".into(),
        password: "s3cret".into(),
    };
    let (mut caller, sent) = Caller::place(outbound(Some(credentials)));
    let proxy = CHALLENGE.replace("WWW-Authenticate", "Proxy-Authenticate");
    let retry = caller.receive(30, &reply(&sent[0], 407, Some("p1"), &proxy, ""));
    let invite = &retry[1];
    assert_eq!(header(invite, "Proxy-Authorization").len(), 1);
    assert!(header(invite, "Authorization").is_empty());
    let stale = proxy.replace("qop=", "stale=TRUE, qop=");
    let retry = caller.receive(60, &reply(invite, 407, Some("p2"), &stale, ""));
    assert_eq!(retry.len(), 2, "ACK and a third INVITE");
    assert_eq!(retry[1].head.cseq.seq, 3);
    let ok = reply(&retry[1], 200, Some("p3"), "", ANSWER);
    caller.receive(90, &ok);
    assert_eq!(caller.take_events(), [DialogEvent::Answered]);
}

#[test]
fn a_challenge_without_credentials_ends_the_call() {
    let (mut caller, sent) = Caller::place(outbound(None));
    let acks = caller.receive(30, &reply(&sent[0], 401, Some("a1"), CHALLENGE, ""));
    assert_eq!(acks.len(), 1);
    assert_eq!(
        caller.take_events(),
        [DialogEvent::Terminated(TerminatedReason::Refused(401))]
    );
}

#[test]
fn hanging_up_before_a_provisional_cancels_once_one_arrives() {
    let (mut caller, sent) = Caller::place(outbound(None));
    let invite = &sent[0];
    assert!(
        caller.hangup(100).is_empty(),
        "no CANCEL before a provisional (§9.1)"
    );
    let cancels = caller.receive(200, &reply(invite, 180, Some("r1"), "", ""));
    let [cancel] = cancels.as_slice() else {
        panic!("{cancels:?}")
    };
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(cancel.head.top_via.branch, invite.head.top_via.branch);
    assert_eq!(cancel.head.cseq.seq, 1);
    assert!(cancel.head.to.tag().is_none());
    assert!(caller
        .receive(250, &reply(cancel, 200, Some("r1"), "", ""))
        .is_empty());
    let acks = caller.receive(260, &reply(invite, 487, Some("r1"), "", ""));
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].method, Method::Ack);
    assert_eq!(
        caller.take_events(),
        [DialogEvent::Terminated(TerminatedReason::CancelledLocally)]
    );
}

#[test]
fn a_cancel_unanswered_by_a_final_response_gives_up_after_64_t1() {
    let (mut caller, sent) = Caller::place(outbound(None));
    caller.receive(10, &reply(&sent[0], 180, Some("r1"), "", ""));
    caller.take_events();
    let cancels = caller.hangup(1000);
    assert_eq!(cancels.len(), 1);
    caller.receive(1010, &reply(&cancels[0], 200, Some("r1"), "", ""));
    caller.run_until(40_000);
    assert_eq!(
        caller.take_events(),
        [DialogEvent::Terminated(TerminatedReason::CancelledLocally)]
    );
}

#[test]
fn a_200_crossing_our_cancel_is_acknowledged_and_ended_with_bye() {
    let (mut caller, sent) = Caller::place(outbound(None));
    let invite = &sent[0];
    caller.receive(10, &reply(invite, 180, Some("x1"), "", ""));
    let cancels = caller.hangup(500);
    assert_eq!(cancels[0].method, Method::Cancel);
    let ok = reply(
        invite,
        200,
        Some("x1"),
        "Contact: <sip:uas@192.0.2.9:5080>\r\n",
        ANSWER,
    );
    let sent = caller.receive(510, &ok);
    let methods: Vec<&Method> = sent.iter().map(|r| &r.method).collect();
    assert_eq!(methods, [&Method::Ack, &Method::Bye]);
    caller.receive(520, &reply(&cancels[0], 481, Some("x1"), "", ""));
    caller.receive(530, &reply(&sent[1], 200, None, "", ""));
    assert_eq!(
        caller.take_events(),
        [
            DialogEvent::Progress(180),
            DialogEvent::Answered,
            DialogEvent::Terminated(TerminatedReason::ByeCompleted)
        ]
    );
}

#[test]
fn forked_early_dialogs_and_a_second_2xx_which_is_acknowledged_and_released() {
    let (mut caller, sent) = Caller::place(outbound(None));
    let invite = &sent[0];
    caller.receive(10, &reply(invite, 180, Some("fa"), "", ""));
    caller.receive(20, &reply(invite, 183, Some("fb"), "", ANSWER));
    assert_eq!(caller.dialog.as_ref().unwrap().early_dialogs(), 2);
    let contact_a = "Contact: <sip:a@192.0.2.9:5080>\r\n";
    let acks = caller.receive(30, &reply(invite, 200, Some("fa"), contact_a, ANSWER));
    assert_eq!(acks.len(), 1);
    let contact_b = "Contact: <sip:b@192.0.2.9:5080>\r\n";
    let fork = caller.receive(40, &reply(invite, 200, Some("fb"), contact_b, ANSWER));
    let [ack, bye] = fork.as_slice() else {
        panic!("{fork:?}")
    };
    assert_eq!((&ack.method, &bye.method), (&Method::Ack, &Method::Bye));
    assert_eq!(ack.head.to.tag(), Some("fb"));
    assert_eq!(bye.uri, "sip:b@192.0.2.9:5080");
    assert_eq!(bye.head.to.tag(), Some("fb"));
    caller.receive(50, &reply(bye, 200, None, "", ""));
    assert_eq!(
        caller.take_events(),
        [
            DialogEvent::Progress(180),
            DialogEvent::Progress(183),
            DialogEvent::Answered
        ],
        "the released fork is not the call's business"
    );
    assert_eq!(caller.dialog.as_ref().unwrap().stats().forks_released, 1);
}

#[test]
fn the_far_end_hangs_up_an_answered_outbound_call() {
    let (mut caller, sent) = Caller::place(outbound(None));
    let invite = &sent[0];
    let ok = reply(
        invite,
        200,
        Some("h1"),
        "Contact: <sip:uas@192.0.2.9:5080>\r\n",
        ANSWER,
    );
    caller.receive(10, &ok);
    let from = format!("{};tag=h1", invite.head.echo.to);
    let to = &invite.head.echo.from;
    let bye = format!(
        "BYE sip:callplane@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5080;branch=z9hG4bKuasbye\r\n\
From: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: 7 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        invite.call_id()
    );
    let now = Time::from_millis(100);
    match caller
        .dispatcher
        .handle_datagram(now, far_end(), bye.as_bytes())
    {
        Some(Routed::Dialog { message, .. }) => {
            caller.dialog.as_mut().unwrap().handle_message(now, message)
        }
        other => panic!("{other:?}"),
    }
    let dialog = caller.dialog.as_mut().unwrap();
    let mut statuses = Vec::new();
    let mut events = Vec::new();
    loop {
        match dialog.poll_output() {
            DialogOutput::Transmit(t) => statuses.push(super::response(&t.payload).status),
            DialogOutput::Event(e) => events.push(e),
            DialogOutput::Timeout(_) => break,
        }
    }
    assert_eq!(statuses, [200]);
    assert_eq!(
        events,
        [
            DialogEvent::RemoteHangup,
            DialogEvent::Terminated(TerminatedReason::RemoteHangup)
        ]
    );
}

#[test]
fn a_reliable_provisional_is_pracked_once_and_its_retransmission_not_reported() {
    let (mut caller, sent) = Caller::place(outbound(None));
    let [invite] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(header(invite, "Supported"), ["100rel"]);
    let extra = "Require: 100rel\r\nRSeq: 4711\r\nContact: <sip:uas@192.0.2.9:5080>\r\n";
    let early = reply(invite, 183, Some("uas1"), extra, ANSWER);
    let pracks = caller.receive(100, &early);
    let [prack] = pracks.as_slice() else {
        panic!("{pracks:?}")
    };
    assert_eq!(prack.method, Method::Prack);
    assert_eq!(
        prack.uri, "sip:uas@192.0.2.9:5080",
        "the early dialog's target"
    );
    assert_eq!(header(prack, "RAck"), ["4711 1 INVITE"]);
    assert_eq!(prack.head.to.tag(), Some("uas1"));
    assert_eq!(prack.head.cseq.seq, 2);
    assert_eq!(caller.take_events(), [DialogEvent::Progress(183)]);

    // The 183 again (our PRACK crossed it): neither reported nor PRACKed.
    assert!(caller.receive(200, &early).is_empty());
    assert!(caller.take_events().is_empty());
    // The PRACK's 200 ends its transaction; no retransmission follows.
    assert!(caller
        .receive(300, &reply(prack, 200, Some("uas1"), "", ""))
        .is_empty());
    let later = caller.run_until(5_000);
    assert!(
        later.iter().all(|(_, r)| r.method != Method::Prack),
        "{later:?}"
    );
    // A new reliable provisional (next RSeq) gets its own PRACK.
    let ringing = reply(
        invite,
        180,
        Some("uas1"),
        "Require: 100rel\r\nRSeq: 4712\r\n",
        "",
    );
    let second = caller.receive(6_000, &ringing);
    assert_eq!(second.len(), 1);
    assert_eq!(header(&second[0], "RAck"), ["4712 1 INVITE"]);
    assert_eq!(second[0].head.cseq.seq, 3);
}
