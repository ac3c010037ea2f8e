//! The dispatcher and its dialogs fed message sequences, driven as the call layer
//! drives them, on a fake clock.
//!
//! Input: datagrams separated by [`SEP`]; the byte right after each separator is a
//! control byte for the datagram that follows it (the first datagram has control 0):
//!
//! - bits 4–6: advance the clock by that many × 500 ms first (timers that come due
//!   run before the datagram);
//! - bit 3: then also jump to the next deadline and run it;
//! - bit 7: the datagram comes from an IPv6 source instead of the usual one;
//! - bits 0–2: the call-layer operation after the datagram, on the newest live
//!   dialog: 0 none, 1 ring, 2 answer, 3 reject (486; a new INVITE in this datagram
//!   is rejected through the dispatcher instead of accepted), 4 hang up, 5 answer its
//!   re-INVITE, 6 refuse its re-INVITE, 7 hang up every dialog.
//!
//! So that in-dialog sequences are reachable, `$TAG` in a datagram becomes the To
//! tag of our latest response, `$BRANCH` the Via branch and `$CSEQ` the CSeq number
//! of our latest request (a BYE).
//!
//! Checks: nothing panics; after every input the outputs are drained until
//! `Timeout`, and no timeout lies before the input's `now` (after a timeout input:
//! none at or before it); every transmit is non-empty and parses (400/416/505 may
//! echo broken headers); each dialog reports `Terminated` at most once; at the end, once
//! every dialog is hung up and the clock runs far ahead, every dialog has
//! terminated and the dispatcher holds nothing.

#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use callplane::sip::message::{parse_message, Message};
use callplane::sip::{
    Dialog, DialogEvent, DialogOutput, DialogOwner, Dispatcher, DispatcherOutput, Routed,
    SipSettings, SipTimers, Transmit,
};
use callplane::time::Time;
use libfuzzer_sys::fuzz_target;

/// Separates the datagrams of one input.
const SEP: &[u8] = b"\0--next--\0";

const ANSWER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A dialog the driver holds, as a call would.
struct Held {
    /// `None` once terminated and handed back to the dispatcher.
    dialog: Option<Dialog>,
    deadline: Time,
    terminated: bool,
}

struct Driver {
    dispatcher: Dispatcher,
    dispatcher_deadline: Time,
    dialogs: Vec<Held>,
    now: Time,
    last_tag: Vec<u8>,
    last_branch: Vec<u8>,
    last_cseq: Vec<u8>,
}

impl Driver {
    fn new() -> Driver {
        let settings = SipSettings {
            local_addr: "127.0.0.1:5060".parse().expect("a socket address"),
            user_agent: "callplane-fuzz".into(),
            timers: SipTimers::default(),
            session_timer: Default::default(),
        };
        Driver {
            dispatcher: Dispatcher::new(settings, 7),
            dispatcher_deadline: Time::NEVER,
            dialogs: Vec::new(),
            now: Time::ZERO,
            last_tag: b"0".to_vec(),
            last_branch: b"z9hG4bK0".to_vec(),
            last_cseq: b"1".to_vec(),
        }
    }

    fn next_deadline(&self) -> Time {
        self.dialogs
            .iter()
            .filter(|held| held.dialog.is_some())
            .map(|held| held.deadline)
            .fold(self.dispatcher_deadline, Time::min)
    }

    /// Runs every timer due at `now`, as the shell does before the next input.
    fn run_due(&mut self) {
        let mut rounds = 0;
        while self.next_deadline() <= self.now {
            rounds += 1;
            assert!(rounds < 1000, "timers at {:?} never settle", self.now);
            let now = self.now;
            if self.dispatcher_deadline <= now {
                self.dispatcher.handle_timeout(now);
                self.drain_dispatcher(true);
            }
            for index in 0..self.dialogs.len() {
                let held = &mut self.dialogs[index];
                if held.deadline <= now {
                    if let Some(dialog) = held.dialog.as_mut() {
                        dialog.handle_timeout(now);
                        self.drain_dialog(index, true);
                    }
                }
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.run_due();
    }

    fn check_timeout(&self, at: Time, after_timeout: bool) {
        if after_timeout {
            assert!(at > self.now, "timeout {at:?} not after {:?}", self.now);
        } else {
            assert!(at >= self.now, "timeout {at:?} before {:?}", self.now);
        }
    }

    fn drain_dispatcher(&mut self, after_timeout: bool) {
        loop {
            match self.dispatcher.poll_output() {
                DispatcherOutput::Transmit(transmit) => self.check_transmit(&transmit),
                DispatcherOutput::Timeout(at) => {
                    self.check_timeout(at, after_timeout);
                    self.dispatcher_deadline = at;
                    return;
                }
            }
        }
    }

    fn drain_dialog(&mut self, index: usize, after_timeout: bool) {
        let mut terminated = false;
        loop {
            let Some(dialog) = self.dialogs[index].dialog.as_mut() else {
                return;
            };
            match dialog.poll_output() {
                DialogOutput::Transmit(transmit) => self.check_transmit(&transmit),
                DialogOutput::Event(DialogEvent::Terminated(_)) => {
                    assert!(
                        !self.dialogs[index].terminated && !terminated,
                        "a dialog reported Terminated twice"
                    );
                    terminated = true;
                }
                DialogOutput::Event(_) => {}
                DialogOutput::Timeout(at) => {
                    self.check_timeout(at, after_timeout);
                    self.dialogs[index].deadline = at;
                    break;
                }
            }
        }
        if terminated {
            // The call layer hands a terminated dialog back at once.
            let held = &mut self.dialogs[index];
            held.terminated = true;
            if let Some(dialog) = held.dialog.take() {
                self.dispatcher.release(dialog);
                self.drain_dispatcher(false);
            }
        }
    }

    fn check_transmit(&mut self, transmit: &Transmit) {
        assert!(!transmit.payload.is_empty(), "empty transmit");
        let echoes_garbage = [&b"SIP/2.0 400 "[..], b"SIP/2.0 416 ", b"SIP/2.0 505 "]
            .iter()
            .any(|status| transmit.payload.starts_with(status));
        match parse_message(&transmit.payload) {
            Ok(Message::Response(response)) => {
                if let Some(tag) = response.head.to.tag() {
                    self.last_tag = tag.as_bytes().to_vec();
                }
            }
            Ok(Message::Request(request)) => {
                self.last_branch = request.head.top_via.branch.as_bytes().to_vec();
                self.last_cseq = request.head.cseq.seq.to_string().into_bytes();
            }
            Err(error) => assert!(
                echoes_garbage,
                "unparseable output ({error}): {}",
                String::from_utf8_lossy(&transmit.payload)
            ),
        }
    }

    fn datagram(&mut self, control: u8, data: &[u8]) {
        self.advance(Duration::from_millis(u64::from((control >> 4) & 0x7) * 500));
        if control & 0x08 != 0 {
            let next = self.next_deadline();
            if next != Time::NEVER {
                self.now = self.now.max(next);
                self.run_due();
            }
        }
        let source: SocketAddr = if control & 0x80 != 0 {
            "[2001:db8::7]:5070".parse().expect("a socket address")
        } else {
            "127.0.0.1:5061".parse().expect("a socket address")
        };
        let data = self.substitute(data);
        let operation = control & 0x07;
        let now = self.now;
        match self.dispatcher.handle_datagram(now, source, &data) {
            None => {}
            Some(Routed::NewInvite(invite)) => {
                if operation == 3 {
                    let _ = self.dispatcher.reject(now, *invite, 486);
                } else {
                    let owner = DialogOwner(self.dialogs.len() as u64);
                    let dialog = self.dispatcher.accept(*invite, owner);
                    self.dialogs.push(Held {
                        dialog: Some(dialog),
                        deadline: Time::NEVER,
                        terminated: false,
                    });
                    self.drain_dialog(self.dialogs.len() - 1, false);
                }
            }
            Some(Routed::Dialog { owner, message }) => {
                let index = usize::try_from(owner.0).expect("owners are indexes");
                let dialog = self.dialogs[index].dialog.as_mut();
                let dialog = dialog.expect("no message routed to a released dialog");
                dialog.handle_message(now, message);
                self.drain_dialog(index, false);
            }
        }
        self.drain_dispatcher(false);
        self.operate(operation);
    }

    fn operate(&mut self, operation: u8) {
        let now = self.now;
        if operation == 7 {
            for index in 0..self.dialogs.len() {
                if let Some(dialog) = self.dialogs[index].dialog.as_mut() {
                    let _ = dialog.hangup(now);
                    self.drain_dialog(index, false);
                }
            }
            return;
        }
        let Some(index) = self.dialogs.iter().rposition(|held| held.dialog.is_some()) else {
            return;
        };
        let Some(dialog) = self.dialogs[index].dialog.as_mut() else {
            return;
        };
        let _ = match operation {
            1 => dialog.ring(now),
            2 => dialog.answer(now, ANSWER),
            3 => dialog.reject(now, 486),
            4 => dialog.hangup(now),
            5 => {
                let _ = dialog.take_reoffer();
                dialog.answer_reinvite(now, ANSWER)
            }
            6 => dialog.reject_reinvite(now, 488),
            _ => Ok(()),
        };
        self.drain_dialog(index, false);
    }

    fn substitute(&self, data: &[u8]) -> Vec<u8> {
        let data = replace(data, b"$TAG", &self.last_tag);
        let data = replace(&data, b"$BRANCH", &self.last_branch);
        replace(&data, b"$CSEQ", &self.last_cseq)
    }

    /// Hangs every dialog up and runs the clock far ahead: everything must end.
    fn finish(&mut self) {
        self.operate(7);
        // Every transaction ends within 64·T1 (32 s) of its last input; BYE adds one more.
        let end = self.now + Duration::from_secs(200);
        loop {
            let next = self.next_deadline();
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            self.run_due();
        }
        for held in &self.dialogs {
            assert!(held.terminated, "a dialog never terminated");
        }
        assert_eq!(self.dispatcher.lingering_dialogs(), 0, "dialogs linger");
        assert_eq!(self.dispatcher.own_transactions(), 0, "transactions linger");
    }
}

fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(at) = rest.windows(from.len()).position(|window| window == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Splits the input into (control, datagram) records.
fn records(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut records = Vec::new();
    let mut control = 0;
    let mut rest = data;
    loop {
        match rest.windows(SEP.len()).position(|window| window == SEP) {
            Some(at) => {
                records.push((control, &rest[..at]));
                let after = &rest[at + SEP.len()..];
                control = after.first().copied().unwrap_or(0);
                rest = after.get(1..).unwrap_or_default();
            }
            None => {
                records.push((control, rest));
                return records;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut driver = Driver::new();
    for (control, datagram) in records(data).into_iter().take(64) {
        driver.datagram(control, datagram);
    }
    driver.finish();
});
