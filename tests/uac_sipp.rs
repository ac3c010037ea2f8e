//! Outbound calls from callplane's SIP core to sipp playing the called carrier:
//! answered calls hung up by either side, a refusal, a 401 digest challenge
//! answered with credentials that sipp verifies itself (and wrong credentials
//! refused), a call cancelled while ringing, and a reliable 183 (RFC 3262)
//! that we PRACK before the carrier answers. The core is driven over a
//! real UDP socket by the small loop below, as a shard drives it.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use callplane::sip::{
    Credentials, Dialog, DialogEvent, DialogOutput, DialogOwner, Dispatcher, DispatcherOutput,
    OutboundInvite, Routed, SipSettings, SipTimers, TerminatedReason,
};
use callplane::time::Time;
use common::{Sipp, SippRun, TestDir};

const OFFER: &str = "v=0\r\no=callplane 1 1 IN IP4 127.0.0.1\r\ns=callplane\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// One outbound call driven over a UDP socket.
struct Uac {
    socket: UdpSocket,
    dispatcher: Dispatcher,
    dialog: Option<Dialog>,
    deadline: Time,
    start: Instant,
    events: Vec<DialogEvent>,
}

impl Uac {
    fn bind() -> Uac {
        Uac::bind_seeded(42)
    }

    /// A UAC whose tags, branches and Call-IDs come from `seed`.
    fn bind_seeded(seed: u64) -> Uac {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the UAC socket");
        let local_addr = socket.local_addr().expect("local address");
        let settings = SipSettings {
            local_addr,
            user_agent: "callplane-test".into(),
            timers: SipTimers::default(),
            session_timer: Default::default(),
        };
        Uac {
            socket,
            dispatcher: Dispatcher::new(settings, seed),
            dialog: None,
            deadline: Time::NEVER,
            start: Instant::now(),
            events: Vec::new(),
        }
    }

    fn now(&self) -> Time {
        Time::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn call(&mut self, target: SocketAddr, credentials: Option<Credentials>) {
        let invite = OutboundInvite {
            request_uri: format!("sip:+4930123@{target}"),
            from: "<sip:+4930999@127.0.0.1>".into(),
            to: format!("<sip:+4930123@{}>", target.ip()),
            dest: target,
            route: Vec::new(),
            sdp_offer: OFFER.into(),
            credentials,
            extra_headers: Vec::new(),
        };
        let now = self.now();
        self.dialog = Some(self.dispatcher.place_call(now, invite, DialogOwner(1)));
        self.flush();
    }

    fn hangup(&mut self) {
        let now = self.now();
        if let Some(dialog) = self.dialog.as_mut() {
            dialog.hangup(now).expect("hang up");
        }
        self.flush();
    }

    /// Sends everything queued and hands a terminated dialog back.
    fn flush(&mut self) {
        let mut ended = false;
        if let Some(dialog) = self.dialog.as_mut() {
            loop {
                match dialog.poll_output() {
                    DialogOutput::Transmit(t) => {
                        self.socket.send_to(&t.payload, t.dest).expect("send");
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
            self.deadline = Time::NEVER;
        }
        while let DispatcherOutput::Transmit(t) = self.dispatcher.poll_output() {
            self.socket.send_to(&t.payload, t.dest).expect("send");
        }
    }

    /// Runs the loop until `done` holds of the events or `limit` passes.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&[DialogEvent]) -> bool) {
        let end = Instant::now() + limit;
        let mut buf = [0u8; 65_535];
        while !done(&self.events) && Instant::now() < end {
            let sip = match self.dispatcher.poll_output() {
                DispatcherOutput::Timeout(at) => at,
                DispatcherOutput::Transmit(_) => unreachable!("flushed"),
            };
            let next = sip.min(self.deadline);
            let wait = next
                .saturating_since(self.now())
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            self.socket.set_read_timeout(Some(wait)).expect("timeout");
            if let Ok((len, from)) = self.socket.recv_from(&mut buf) {
                let now = self.now();
                match self.dispatcher.handle_datagram(now, from, &buf[..len]) {
                    Some(Routed::Dialog { message, .. }) => {
                        if let Some(dialog) = self.dialog.as_mut() {
                            dialog.handle_message(now, message);
                        }
                    }
                    Some(Routed::NewInvite(invite)) => {
                        let _ = self.dispatcher.reject(now, *invite, 486);
                    }
                    None => {}
                }
            }
            let now = self.now();
            self.dispatcher.handle_timeout(now);
            if self.deadline <= now {
                if let Some(dialog) = self.dialog.as_mut() {
                    dialog.handle_timeout(now);
                }
            }
            self.flush();
        }
    }
}

fn start(sipp: Sipp) -> (SocketAddr, thread::JoinHandle<SippRun>) {
    let address = sipp.sip_addr();
    (address, thread::spawn(move || sipp.run()))
}

fn terminated(events: &[DialogEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, DialogEvent::Terminated(_)))
}

fn answered(events: &[DialogEvent]) -> bool {
    events.contains(&DialogEvent::Answered)
}

#[test]
fn an_outbound_call_is_answered_and_the_carrier_hangs_up() {
    let dir = TestDir::new("uac-answer");
    let carrier = Sipp::new("standin_answer.xml", "carrier", dir.path())
        .set("hangup_after_ms", "500")
        .timeout(Duration::from_secs(20));
    let (target, carrier) = start(carrier);
    let mut uac = Uac::bind();
    uac.call(target, None);
    uac.run_until(Duration::from_secs(15), terminated);
    carrier.join().expect("sipp thread").assert_passed(1);
    assert_eq!(
        uac.events,
        [
            DialogEvent::Progress(180),
            DialogEvent::Answered,
            DialogEvent::RemoteHangup,
            DialogEvent::Terminated(TerminatedReason::RemoteHangup)
        ]
    );
}

#[test]
fn a_refusal_is_acknowledged() {
    let dir = TestDir::new("uac-refused");
    let carrier =
        Sipp::new("standin_reject_488.xml", "carrier", dir.path()).timeout(Duration::from_secs(20));
    let (target, carrier) = start(carrier);
    let mut uac = Uac::bind();
    uac.call(target, None);
    uac.run_until(Duration::from_secs(15), terminated);
    // sipp passes the call only once our ACK of its 488 arrived.
    carrier.join().expect("sipp thread").assert_passed(1);
    assert_eq!(
        uac.events,
        [DialogEvent::Terminated(TerminatedReason::Refused(488))]
    );
}

fn auth_call(password: &str) -> (Vec<DialogEvent>, SippRun) {
    let dir = TestDir::new(&format!("uac-auth-{password}"));
    let carrier = Sipp::new("uas_auth.xml", "carrier", dir.path())
        .set("user", "trunk1")
        .set("password", "s3cret")
        .timeout(Duration::from_secs(20));
    let (target, carrier) = start(carrier);
    let mut uac = Uac::bind();
    uac.call(
        target,
        Some(Credentials {
            username: "trunk1".into(),
            password: password.into(),
        }),
    );
    uac.run_until(Duration::from_secs(15), |e| answered(e) || terminated(e));
    if answered(&uac.events) {
        thread::sleep(Duration::from_millis(200));
        uac.hangup();
        uac.run_until(Duration::from_secs(10), terminated);
    }
    let run = carrier.join().expect("sipp thread");
    let stats = uac.dispatcher.stats();
    assert_eq!(stats.auth_challenges_answered, 1);
    (uac.events, run)
}

#[test]
fn a_401_challenge_is_answered_with_a_digest_sipp_verifies() {
    let (events, run) = auth_call("s3cret");
    run.assert_passed(1);
    assert_eq!(
        events,
        [
            DialogEvent::Answered,
            DialogEvent::Terminated(TerminatedReason::ByeCompleted)
        ],
        "{}",
        run.diagnostics()
    );
}

#[test]
fn wrong_credentials_are_refused() {
    let (events, _) = auth_call("wrong");
    assert_eq!(
        events,
        [DialogEvent::Terminated(TerminatedReason::Refused(403))]
    );
}

#[test]
fn a_ringing_call_is_cancelled() {
    let dir = TestDir::new("uac-cancel");
    let carrier =
        Sipp::new("standin_cancel.xml", "carrier", dir.path()).timeout(Duration::from_secs(20));
    let (target, carrier) = start(carrier);
    let mut uac = Uac::bind();
    uac.call(target, None);
    uac.run_until(Duration::from_secs(10), |e| {
        e.contains(&DialogEvent::Progress(180))
    });
    uac.hangup();
    uac.run_until(Duration::from_secs(10), terminated);
    // sipp passes only after our CANCEL (200) and the ACK of its 487.
    carrier.join().expect("sipp thread").assert_passed(1);
    assert_eq!(
        uac.events,
        [
            DialogEvent::Progress(180),
            DialogEvent::Terminated(TerminatedReason::CancelledLocally)
        ]
    );
}

#[test]
fn calls_complete_through_a_carrier_that_loses_a_fifth_of_its_messages() {
    let dir = TestDir::new("uac-lossy");
    // sipp -lost 20: each message sipp sends or receives is lost with 20 %
    // probability; both sides' retransmissions must carry every call through.
    let carrier = Sipp::new("standin_answer.xml", "carrier", dir.path())
        .set("hangup_after_ms", "300")
        .arg("-lost")
        .arg("20")
        .calls(5, 1, 1)
        .timeout(Duration::from_secs(120));
    let (target, carrier) = start(carrier);
    let mut uac = Uac::bind();
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        uac.call(target, None);
        uac.run_until(Duration::from_secs(60), terminated);
        outcomes.push(uac.events.last().cloned());
        uac.events.clear();
    }
    // The dialogs linger in the dispatcher, answering sipp's retransmitted
    // BYEs whose 200 was lost, until sipp is done.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !carrier.is_finished() && Instant::now() < deadline {
        uac.run_until(Duration::from_millis(200), |_| false);
    }
    let run = carrier.join().expect("sipp thread");
    run.assert_passed(5);
    assert!(
        outcomes
            .iter()
            .all(|o| *o == Some(DialogEvent::Terminated(TerminatedReason::RemoteHangup))),
        "{outcomes:?}"
    );
}

#[test]
fn a_reliable_183_from_the_carrier_is_pracked_before_the_answer() {
    let dir = TestDir::new("uac-100rel");
    let carrier =
        Sipp::new("uas_100rel.xml", "carrier", dir.path()).timeout(Duration::from_secs(20));
    let (target, carrier) = start(carrier);
    let mut uac = Uac::bind();
    uac.call(target, None);
    uac.run_until(Duration::from_secs(15), |e| answered(e) || terminated(e));
    uac.hangup();
    uac.run_until(Duration::from_secs(10), terminated);
    // sipp passes only if our INVITE said Supported: 100rel and our PRACK's
    // RAck named its 183, before it answered.
    let run = carrier.join().expect("sipp thread");
    run.assert_passed(1);
    assert_eq!(
        uac.events,
        [
            DialogEvent::Progress(183),
            DialogEvent::Answered,
            DialogEvent::Terminated(TerminatedReason::ByeCompleted)
        ],
        "{}",
        run.diagnostics()
    );
    let pracks: Vec<String> = run
        .received_messages()
        .into_iter()
        .filter(|m| m.trim_start().starts_with("PRACK sip:carrier@"))
        .collect();
    assert_eq!(
        pracks.len(),
        1,
        "one PRACK, to the 183's Contact: {pracks:?}"
    );
    assert!(pracks[0].contains("RAck: 1 1 INVITE"), "{}", pracks[0]);
}
