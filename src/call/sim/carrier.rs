//! The carrier: a SIP user agent client that places scripted calls at
//! callplane, the way a trunk from a phone network does.
//!
//! Per call it sends an INVITE offering PCMU + telephone-event at the call's
//! own RTP address and retransmits it on Timer A until a response arrives
//! (RFC 3261 §17.1.1, T1 = 500 ms, given up at Timer B = 64·T1). It ACKs a
//! 2xx, and ACKs it again whenever the 2xx is retransmitted (that is how a
//! lost ACK is recovered); it ACKs a final non-2xx hop by hop. After the
//! answer it sends the scripted RFC 4733 key presses (three updates and three
//! end packets, 20 ms apart, like a phone), and it may CANCEL before the
//! answer or send its own BYE, retransmitted on Timer E until a final
//! response (given up at Timer F). A BYE from callplane is answered 200, and
//! so is each retransmission of it.
//!
//! RTCP: callplane's reports arrive on the call's RTP port + 1 (or on the RTP
//! port, when the script offers `a=rtcp-mux`); each SR is answered 50 ms later
//! with an RR whose block about callplane's stream carries the scripted loss
//! and jitter and the LSR/DLSR of that SR, so callplane can measure the
//! round trip.
//!
//! Everything received is parsed with the project's parser
//! ([`parse_message`]) and counted per call in a [`CallReport`]. The carrier
//! is sans-IO like the host: datagrams in through
//! [`Carrier::handle_datagram`], timers through [`Carrier::handle_timeout`],
//! datagrams out through [`Carrier::poll_transmit`].

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::media::{is_rtcp, parse_rtp, write_receiver_report, Compound, ReportBlock, RtcpPacket};
use crate::sip::message::{
    build_response, parse_message, Message, Request, Response, ResponseParts,
};
use crate::sip::sdp::Sdp;
use crate::sip::{Method, T1, T2};
use crate::time::Time;

use super::network::Datagram;

/// Timers B and F: 64·T1.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(32);
/// Spacing of the packets of one key press.
const DIGIT_PACKET_SPACING: Duration = Duration::from_millis(20);
/// The telephone-event payload type the carrier offers.
const TELEPHONE_EVENT_PT: u8 = 101;

/// Where the carrier lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CarrierConfig {
    /// The carrier's SIP address (one for all calls, like a trunk).
    pub(crate) sip_addr: SocketAddr,
    /// Where its calls' RTP sockets are.
    pub(crate) rtp_ip: IpAddr,
    /// The first call's RTP port; each next call takes the next even port.
    pub(crate) first_rtp_port: u16,
    /// Callplane's SIP address, where INVITEs go.
    pub(crate) host_sip: SocketAddr,
}

/// The media a call's INVITE offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    /// PCMU (0) and telephone-event (101): what callplane accepts.
    PcmuWithEvents,
    /// An `m=` format list and its `a=rtpmap` lines, written as given.
    Formats { formats: String, rtpmaps: String },
    /// No SDP in the INVITE (late offer): callplane offers in its 200; with
    /// `answer_in_ack` the ACK answers PCMU + telephone-event, else it has no body.
    Late { answer_in_ack: bool },
}

/// What one call does, with times relative to its events.
#[derive(Clone, Debug)]
pub(crate) struct CallScript {
    pub(crate) call_id: String,
    /// The number dialled (the Request-URI user).
    pub(crate) dialled: String,
    /// When the first INVITE leaves.
    pub(crate) start: Time,
    pub(crate) offer: Offer,
    /// Key presses (RFC 4733 event codes: 0-9, 10 = `*`, 11 = `#`), each
    /// this long after the carrier saw the 200 OK.
    pub(crate) presses: Vec<(Duration, u8)>,
    /// Keys pressed by SIP INFO, this long after the answer.
    pub(crate) info_presses: Vec<(Duration, char)>,
    /// re-INVITEs sent this long after the answer, offering this direction
    /// (`sendrecv`, `sendonly`, `inactive`…).
    pub(crate) reinvites: Vec<(Duration, &'static str)>,
    /// re-INVITEs without an offer sent this long after the answer; their ACK
    /// answers callplane's offer with this direction.
    pub(crate) offerless_reinvites: Vec<(Duration, &'static str)>,
    /// `Session-Expires` (seconds, `refresher` parameter) and `Supported:
    /// timer` on the INVITE and the re-INVITEs.
    pub(crate) session_expires: Option<(u32, Option<&'static str>)>,
    /// The carrier's own BYE, this long after the answer.
    pub(crate) hang_up_after: Option<Duration>,
    /// A CANCEL this long after the INVITE, if no final response came by then.
    pub(crate) cancel_after: Option<Duration>,
    /// Whether 2xx responses are acknowledged at all.
    pub(crate) acknowledge: bool,
    /// Offers `a=rtcp-mux`: RTCP on the RTP port both ways.
    pub(crate) rtcp_mux: bool,
    /// What the carrier's RRs say of callplane's stream: loss fraction (1/256),
    /// cumulative loss, jitter (timestamp units).
    pub(crate) reported: (u8, i32, u32),
    /// A stream of 20 ms PCMU audio packets sent from the answer on for this
    /// long (not together with `presses`: both number their packets when the
    /// answer comes).
    pub(crate) audio: Option<Duration>,
}

impl CallScript {
    /// A call to 1000 offering PCMU + telephone-event that presses nothing and
    /// waits for callplane to hang up.
    pub(crate) fn new(call_id: &str, start: Time) -> CallScript {
        CallScript {
            call_id: call_id.to_string(),
            dialled: "1000".to_string(),
            start,
            offer: Offer::PcmuWithEvents,
            presses: Vec::new(),
            info_presses: Vec::new(),
            reinvites: Vec::new(),
            offerless_reinvites: Vec::new(),
            session_expires: None,
            hang_up_after: None,
            cancel_after: None,
            acknowledge: true,
            audio: None,
            rtcp_mux: false,
            reported: (0, 0, 0),
        }
    }

    /// Offers `a=rtcp-mux`.
    pub(crate) fn rtcp_mux(mut self) -> CallScript {
        self.rtcp_mux = true;
        self
    }

    /// Reports this loss fraction (1/256), cumulative loss and jitter of
    /// callplane's stream in its RRs.
    pub(crate) fn reporting(mut self, fraction: u8, lost: i32, jitter: u32) -> CallScript {
        self.reported = (fraction, lost, jitter);
        self
    }

    /// Streams 20 ms audio packets for `duration` from the answer on.
    pub(crate) fn stream_audio(mut self, duration: Duration) -> CallScript {
        self.audio = Some(duration);
        self
    }

    /// Presses `digit` (an event code) `after` the answer.
    pub(crate) fn press(mut self, after: Duration, digit: u8) -> CallScript {
        self.presses.push((after, digit));
        self
    }

    /// Presses `digit` `after` the answer by SIP INFO (`application/dtmf-relay`).
    pub(crate) fn press_by_info(mut self, after: Duration, digit: char) -> CallScript {
        self.info_presses.push((after, digit));
        self
    }

    /// Sends a re-INVITE `after` the answer, offering `direction`.
    pub(crate) fn reinvite(mut self, after: Duration, direction: &'static str) -> CallScript {
        self.reinvites.push((after, direction));
        self
    }

    /// Sends a re-INVITE without an offer `after` the answer; its ACK answers
    /// callplane's offer with `direction` (empty: the ACK has no body).
    pub(crate) fn reinvite_without_offer(
        mut self,
        after: Duration,
        direction: &'static str,
    ) -> CallScript {
        self.offerless_reinvites.push((after, direction));
        self
    }

    /// Asks for a session timer of `secs` (RFC 4028) with `Supported: timer`
    /// and `refresher` (`uac`, `uas`, or none) on the INVITE and re-INVITEs.
    pub(crate) fn session_timer(
        mut self,
        secs: u32,
        refresher: Option<&'static str>,
    ) -> CallScript {
        self.session_expires = Some((secs, refresher));
        self
    }

    /// Sends the carrier's BYE `after` the answer.
    pub(crate) fn hang_up_after(mut self, after: Duration) -> CallScript {
        self.hang_up_after = Some(after);
        self
    }

    /// Sends CANCEL `after` the INVITE if the call is still unanswered.
    pub(crate) fn cancel_after(mut self, after: Duration) -> CallScript {
        self.cancel_after = Some(after);
        self
    }

    /// Offers this media instead of PCMU + telephone-event.
    pub(crate) fn offer(mut self, offer: Offer) -> CallScript {
        self.offer = offer;
        self
    }

    /// Dials `number`.
    pub(crate) fn dialled(mut self, number: &str) -> CallScript {
        self.dialled = number.to_string();
        self
    }

    /// Never acknowledges the 2xx (callplane's Timer H must end the call).
    pub(crate) fn without_ack(mut self) -> CallScript {
        self.acknowledge = false;
        self
    }
}

/// What happened to one call, as the carrier saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallReport {
    /// INVITEs sent, retransmissions included.
    pub(crate) invites_sent: u32,
    /// Every response to the INVITE, in arrival order, retransmissions included.
    pub(crate) invite_responses: Vec<u16>,
    /// The first final response to the INVITE.
    pub(crate) final_status: Option<u16>,
    /// When the first 2xx arrived.
    pub(crate) answered_at: Option<Time>,
    /// The SDP of the first 2xx.
    pub(crate) answer_sdp: Option<String>,
    /// 2xx responses to the INVITE received, retransmissions included.
    pub(crate) oks_received: u32,
    /// ACKs sent (for 2xx and non-2xx), re-sent ones included.
    pub(crate) acks_sent: u32,
    /// No response to the INVITE before Timer B.
    pub(crate) invite_timed_out: bool,
    /// Telephone-event packets sent (and, with `stream_audio`, audio packets).
    pub(crate) digit_packets_sent: u32,
    /// RTP packets received from callplane.
    pub(crate) rtp_received: u32,
    /// RTP packets received whose payload is not all silence.
    pub(crate) rtp_loud: u32,
    /// Callplane's BYEs received, retransmissions included.
    pub(crate) byes_received: u32,
    /// Of those, the ones that were retransmissions (same branch as before).
    pub(crate) bye_retransmissions_seen: u32,
    /// The carrier's BYEs sent, retransmissions included.
    pub(crate) byes_sent: u32,
    /// The final response to the carrier's BYE.
    pub(crate) bye_status: Option<u16>,
    /// No final response to the carrier's BYE before Timer F.
    pub(crate) bye_timed_out: bool,
    /// CANCELs sent, retransmissions included.
    pub(crate) cancels_sent: u32,
    /// The final response to the CANCEL.
    pub(crate) cancel_status: Option<u16>,
    /// Final statuses of the INFO requests sent, in order.
    pub(crate) info_statuses: Vec<u16>,
    /// RTCP compounds received from callplane (valid ones).
    pub(crate) rtcp_received: u32,
    /// Of those, SRs.
    pub(crate) srs_received: u32,
    /// RTCP BYEs received from callplane.
    pub(crate) rtcp_byes: u32,
    /// Where callplane's RTCP came from: the RTP port (rtcp-mux) or the next one.
    pub(crate) rtcp_sources: Vec<SocketAddr>,
    /// RRs sent.
    pub(crate) rrs_sent: u32,
    /// Telephone-event packets received from callplane: (event code, E bit).
    pub(crate) events_received: Vec<(u8, bool)>,
    /// Final responses to our re-INVITEs: (status, body), in order.
    pub(crate) reinvite_answers: Vec<(u16, String)>,
    /// RTP packets received at each re-INVITE's answer (a running count).
    pub(crate) rtp_at_reinvite: Vec<u32>,
    /// `Session-Expires` and `Require` of the first 2xx to the INVITE.
    pub(crate) ok_session_expires: Option<String>,
    pub(crate) ok_require: Option<String>,
    /// Callplane's session refreshes received (INVITE or UPDATE), in order.
    pub(crate) refreshes_received: Vec<String>,
}

impl CallReport {
    /// Whether the call is over for the carrier: rejected, or a BYE (either
    /// side's) answered 2xx.
    pub(crate) fn completed(&self) -> bool {
        let rejected = self.final_status.is_some_and(|status| status >= 300);
        let bye_answered = self
            .bye_status
            .is_some_and(|status| (200..300).contains(&status));
        rejected || self.byes_received > 0 || bye_answered
    }
}

/// A doubling retransmission schedule with a deadline to give up.
#[derive(Clone, Copy, Debug)]
struct Retransmit {
    next_at: Time,
    interval: Duration,
    cap: Duration,
    give_up_at: Time,
}

impl Retransmit {
    /// Timer A (doubling without cap) and Timer B.
    fn timer_a(now: Time) -> Retransmit {
        Retransmit {
            next_at: now + T1,
            interval: T1,
            cap: Duration::MAX,
            give_up_at: now + TRANSACTION_TIMEOUT,
        }
    }

    /// Timer E (doubling up to T2) and Timer F.
    fn timer_e(now: Time) -> Retransmit {
        Retransmit {
            next_at: now + T1,
            interval: T1,
            cap: T2,
            give_up_at: now + TRANSACTION_TIMEOUT,
        }
    }

    fn next_deadline(&self) -> Time {
        self.next_at.min(self.give_up_at)
    }

    fn advance(&mut self) {
        self.interval = (self.interval * 2).min(self.cap);
        self.next_at += self.interval;
    }
}

/// A request the carrier retransmits until it is answered.
#[derive(Clone, Debug)]
struct Outgoing {
    bytes: Vec<u8>,
    timer: Retransmit,
}

/// What an outgoing request's timer says at an instant.
enum Resend {
    /// Nothing due.
    Wait,
    /// Send the request again.
    Now(Vec<u8>),
    /// The transaction timed out.
    GiveUp,
}

impl Outgoing {
    /// Sends `bytes` now and keeps them for retransmission on `timer`.
    fn send(
        slot: &mut Option<Outgoing>,
        bytes: Vec<u8>,
        timer: Retransmit,
        sent: &mut u32,
        out: &mut VecDeque<Datagram>,
        config: &CarrierConfig,
    ) {
        *sent += 1;
        out.push_back(to_host(config, bytes.clone()));
        *slot = Some(Outgoing { bytes, timer });
    }

    /// Retransmits the request in `slot` if its timer is due (counting it in
    /// `sent`); forgets it and returns `true` when the transaction timed out.
    fn resend_due(
        slot: &mut Option<Outgoing>,
        now: Time,
        sent: &mut u32,
        out: &mut VecDeque<Datagram>,
        config: &CarrierConfig,
    ) -> bool {
        match slot.as_mut().map(|outgoing| outgoing.at(now)) {
            Some(Resend::GiveUp) => {
                *slot = None;
                true
            }
            Some(Resend::Now(bytes)) => {
                *sent += 1;
                out.push_back(to_host(config, bytes));
                false
            }
            Some(Resend::Wait) | None => false,
        }
    }

    fn at(&mut self, now: Time) -> Resend {
        if self.timer.give_up_at <= now {
            Resend::GiveUp
        } else if self.timer.next_at <= now {
            self.timer.advance();
            Resend::Now(self.bytes.clone())
        } else {
            Resend::Wait
        }
    }
}

/// The dialog the 2xx created.
#[derive(Clone, Debug)]
struct Dialog {
    /// The To header of the 2xx, with callplane's tag.
    to: String,
    /// The Contact URI of the 2xx: where in-dialog requests go.
    target: String,
}

struct CarrierCall {
    script: CallScript,
    report: CallReport,
    rtp_addr: SocketAddr,
    started: bool,
    invite: Option<Outgoing>,
    dialog: Option<Dialog>,
    ack: Option<Vec<u8>>,
    host_rtp: Option<SocketAddr>,
    rtp_out: VecDeque<(Time, Vec<u8>)>,
    /// RRs waiting for their time, to callplane's RTCP address.
    rtcp_out: VecDeque<(Time, Vec<u8>)>,
    rtp_sequence: u16,
    ssrc: u32,
    /// RTP timestamp at the answer; a press's events are stamped from it.
    timestamp_base: u32,
    bye_at: Option<Time>,
    /// INFO key presses still to send, earliest first.
    info_due: VecDeque<(Time, char)>,
    /// re-INVITEs still to send, earliest first (with an offer or not).
    reinvites_due: VecDeque<(Time, &'static str, bool)>,
    /// CSeqs of the offerless re-INVITEs sent and the direction their ACK answers.
    offerless_cseqs: Vec<(u32, &'static str)>,
    /// CSeq of the last in-dialog request the carrier sent.
    cseq: u32,
    bye: Option<Outgoing>,
    cancel: Option<Outgoing>,
    /// Top Via branches of callplane's BYEs seen.
    bye_branches: Vec<String>,
}

/// The carrier and its calls.
pub(crate) struct Carrier {
    config: CarrierConfig,
    calls: Vec<CarrierCall>,
    by_call_id: BTreeMap<String, usize>,
    by_rtp_addr: BTreeMap<SocketAddr, usize>,
    /// RTCP addresses (RTP + 1) of the calls.
    by_rtcp_addr: BTreeMap<SocketAddr, usize>,
    out: VecDeque<Datagram>,
    rng: fastrand::Rng,
    /// Datagrams that belong to no call of the carrier's.
    pub(crate) stray: u64,
}

impl Carrier {
    /// A carrier with no calls; `seed` picks its SSRCs and RTP timestamps.
    pub(crate) fn new(config: CarrierConfig, seed: u64) -> Carrier {
        Carrier {
            config,
            calls: Vec::new(),
            by_call_id: BTreeMap::new(),
            by_rtp_addr: BTreeMap::new(),
            by_rtcp_addr: BTreeMap::new(),
            out: VecDeque::new(),
            rng: fastrand::Rng::with_seed(seed),
            stray: 0,
        }
    }

    /// Adds a call; it starts at its script's `start` (at the next timeout).
    pub(crate) fn place(&mut self, script: CallScript) {
        let index = self.calls.len();
        let port = self.config.first_rtp_port + 2 * index as u16;
        let rtp_addr = SocketAddr::new(self.config.rtp_ip, port);
        assert!(
            self.by_call_id
                .insert(script.call_id.clone(), index)
                .is_none(),
            "call {} placed twice",
            script.call_id
        );
        self.by_rtp_addr.insert(rtp_addr, index);
        self.by_rtcp_addr
            .insert(SocketAddr::new(rtp_addr.ip(), port + 1), index);
        let ssrc = self.rng.u32(..);
        self.calls.push(CarrierCall {
            script,
            report: CallReport::default(),
            rtp_addr,
            started: false,
            invite: None,
            dialog: None,
            ack: None,
            host_rtp: None,
            rtp_out: VecDeque::new(),
            rtcp_out: VecDeque::new(),
            rtp_sequence: self.rng.u16(..),
            ssrc,
            timestamp_base: self.rng.u32(..),
            bye_at: None,
            info_due: VecDeque::new(),
            reinvites_due: VecDeque::new(),
            offerless_cseqs: Vec::new(),
            // INFOs count from 10, clear of the INVITE's 1 and the BYE's 2.
            cseq: 9,
            bye: None,
            cancel: None,
            bye_branches: Vec::new(),
        });
    }

    /// What happened to `call_id`.
    pub(crate) fn report(&self, call_id: &str) -> &CallReport {
        match self.by_call_id.get(call_id) {
            Some(&index) => &self.calls[index].report,
            None => panic!("the carrier placed no call {call_id}"),
        }
    }

    /// Every call's report, in the order they were placed.
    pub(crate) fn reports(&self) -> impl Iterator<Item = (&str, &CallReport)> {
        self.calls
            .iter()
            .map(|call| (call.script.call_id.as_str(), &call.report))
    }

    /// The next datagram to send.
    pub(crate) fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }

    /// When [`Carrier::handle_timeout`] must run next ([`Time::NEVER`]: never).
    pub(crate) fn next_timeout(&self) -> Time {
        self.calls
            .iter()
            .map(CarrierCall::next_timeout)
            .min()
            .unwrap_or(Time::NEVER)
    }

    /// Runs every timer due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Time) {
        let config = self.config;
        for call in &mut self.calls {
            call.handle_timeout(now, &config, &mut self.out);
        }
    }

    /// A datagram that arrived for the carrier.
    pub(crate) fn handle_datagram(&mut self, now: Time, datagram: &Datagram) {
        if let Some(&index) = self.by_rtp_addr.get(&datagram.to) {
            match is_rtcp(&datagram.data) {
                true => self.calls[index].rtcp_received(now, datagram),
                false => self.calls[index].rtp_received(&datagram.data),
            }
            return;
        }
        if let Some(&index) = self.by_rtcp_addr.get(&datagram.to) {
            self.calls[index].rtcp_received(now, datagram);
            return;
        }
        if datagram.to != self.config.sip_addr {
            self.stray += 1;
            return;
        }
        let config = self.config;
        match parse_message(&datagram.data) {
            Ok(Message::Request(request)) => match self.by_call_id.get(request.call_id()) {
                Some(&index) => self.calls[index].on_request(&request, &config, &mut self.out),
                None => {
                    self.stray += 1;
                    if request.method != Method::Ack {
                        let response =
                            build_response(&request.head.echo, 481, &ResponseParts::default());
                        self.out.push_back(to_host(&config, response));
                    }
                }
            },
            Ok(Message::Response(response)) => match self.by_call_id.get(response.call_id()) {
                Some(&index) => {
                    self.calls[index].on_response(now, &response, &config, &mut self.out)
                }
                None => self.stray += 1,
            },
            Err(_) => self.stray += 1,
        }
    }
}

fn to_host(config: &CarrierConfig, data: Vec<u8>) -> Datagram {
    Datagram {
        from: config.sip_addr,
        to: config.host_sip,
        data,
    }
}

impl CarrierCall {
    fn next_timeout(&self) -> Time {
        if !self.started {
            return self.script.start;
        }
        let invite = self
            .invite
            .as_ref()
            .map_or(Time::NEVER, |o| o.timer.next_deadline());
        let cancel_at = match (self.script.cancel_after, self.cancel.is_some()) {
            (Some(after), false) if self.report.final_status.is_none() => self.script.start + after,
            _ => Time::NEVER,
        };
        let cancel = self
            .cancel
            .as_ref()
            .map_or(Time::NEVER, |o| o.timer.next_deadline());
        let rtp = self.rtp_out.front().map_or(Time::NEVER, |(at, _)| *at);
        let rtcp = self.rtcp_out.front().map_or(Time::NEVER, |(at, _)| *at);
        let bye_at = self.bye_at.unwrap_or(Time::NEVER);
        let info_at = self.info_due.front().map_or(Time::NEVER, |(at, _)| *at);
        let reinvite_at = self
            .reinvites_due
            .front()
            .map_or(Time::NEVER, |(at, _, _)| *at);
        let bye = self
            .bye
            .as_ref()
            .map_or(Time::NEVER, |o| o.timer.next_deadline());
        invite
            .min(cancel_at)
            .min(cancel)
            .min(rtp)
            .min(rtcp)
            .min(bye_at)
            .min(bye)
            .min(info_at)
            .min(reinvite_at)
    }

    fn handle_timeout(&mut self, now: Time, config: &CarrierConfig, out: &mut VecDeque<Datagram>) {
        if !self.started {
            if self.script.start > now {
                return;
            }
            self.started = true;
            let invite = self.invite_request(config);
            let timer = Retransmit::timer_a(now);
            let sent = &mut self.report.invites_sent;
            Outgoing::send(&mut self.invite, invite, timer, sent, out, config);
        }
        let sent = &mut self.report.invites_sent;
        if Outgoing::resend_due(&mut self.invite, now, sent, out, config) {
            self.report.invite_timed_out = true;
        }
        if let Some(after) = self.script.cancel_after {
            let due = self.script.start + after <= now;
            if due && self.cancel.is_none() && self.report.final_status.is_none() {
                let cancel = self.cancel_request(config);
                let timer = Retransmit::timer_e(now);
                let sent = &mut self.report.cancels_sent;
                Outgoing::send(&mut self.cancel, cancel, timer, sent, out, config);
            }
        }
        let sent = &mut self.report.cancels_sent;
        Outgoing::resend_due(&mut self.cancel, now, sent, out, config);
        while let Some((at, _)) = self.rtp_out.front() {
            if *at > now {
                break;
            }
            let Some((_, packet)) = self.rtp_out.pop_front() else {
                break;
            };
            if let Some(host_rtp) = self.host_rtp {
                self.report.digit_packets_sent += 1;
                out.push_back(Datagram {
                    from: self.rtp_addr,
                    to: host_rtp,
                    data: packet,
                });
            }
        }
        while self.rtcp_out.front().is_some_and(|(at, _)| *at <= now) {
            let Some((_, packet)) = self.rtcp_out.pop_front() else {
                break;
            };
            if let Some(host_rtp) = self.host_rtp {
                let (from, to) = match self.script.rtcp_mux {
                    true => (self.rtp_addr, host_rtp),
                    false => (
                        SocketAddr::new(self.rtp_addr.ip(), self.rtp_addr.port() + 1),
                        SocketAddr::new(host_rtp.ip(), host_rtp.port() + 1),
                    ),
                };
                self.report.rrs_sent += 1;
                out.push_back(Datagram {
                    from,
                    to,
                    data: packet,
                });
            }
        }
        while self
            .reinvites_due
            .front()
            .is_some_and(|(at, _, _)| *at <= now)
        {
            let Some((_, direction, offer)) = self.reinvites_due.pop_front() else {
                break;
            };
            if let Some(reinvite) = self.reinvite_request(config, direction, offer) {
                out.push_back(to_host(config, reinvite));
            }
        }
        while self.info_due.front().is_some_and(|(at, _)| *at <= now) {
            let Some((_, digit)) = self.info_due.pop_front() else {
                break;
            };
            if let Some(info) = self.info_request(config, digit) {
                out.push_back(to_host(config, info));
            }
        }
        if self.bye_at.is_some_and(|at| at <= now) {
            self.bye_at = None;
            // Callplane hung up first: nothing to do.
            if self.report.byes_received == 0 {
                if let Some(bye) = self.bye_request(config) {
                    let timer = Retransmit::timer_e(now);
                    let sent = &mut self.report.byes_sent;
                    Outgoing::send(&mut self.bye, bye, timer, sent, out, config);
                }
            }
        }
        let sent = &mut self.report.byes_sent;
        if Outgoing::resend_due(&mut self.bye, now, sent, out, config) {
            self.report.bye_timed_out = true;
        }
    }

    /// Callplane's RTCP: counted; an SR is answered 50 ms later with an RR.
    fn rtcp_received(&mut self, now: Time, datagram: &Datagram) {
        let Ok(compound) = Compound::parse(&datagram.data) else {
            return;
        };
        self.report.rtcp_received += 1;
        self.report.rtcp_sources.push(datagram.from);
        for packet in compound.flatten() {
            match packet {
                RtcpPacket::SenderReport { ssrc, info, .. } => {
                    self.report.srs_received += 1;
                    let hold = Duration::from_millis(50);
                    let (fraction_lost, cumulative_lost, jitter) = self.script.reported;
                    let block = ReportBlock {
                        ssrc,
                        fraction_lost,
                        cumulative_lost,
                        highest_seq: 0,
                        jitter,
                        last_sr: (info.ntp >> 16) as u32,
                        delay_since_last_sr: (hold.as_micros() * 65_536 / 1_000_000) as u32,
                    };
                    let mut rr = [0u8; 64];
                    if let Some(len) = write_receiver_report(&mut rr, self.ssrc, &[block]) {
                        self.rtcp_out.push_back((now + hold, rr[..len].to_vec()));
                    }
                }
                RtcpPacket::Bye { .. } => self.report.rtcp_byes += 1,
                _ => {}
            }
        }
    }

    fn rtp_received(&mut self, data: &[u8]) {
        self.report.rtp_received += 1;
        if let Ok(packet) = parse_rtp(data) {
            if packet.payload_type == TELEPHONE_EVENT_PT {
                self.report.events_received.push((
                    packet.payload.first().copied().unwrap_or(u8::MAX),
                    packet.payload.get(1).is_some_and(|flags| flags & 0x80 != 0),
                ));
                return;
            }
            // 0xFF and 0x7F are PCMU silence.
            if packet.payload.iter().any(|&b| b != 0xFF && b != 0x7F) {
                self.report.rtp_loud += 1;
            }
        }
    }

    fn on_request(
        &mut self,
        request: &Request,
        config: &CarrierConfig,
        out: &mut VecDeque<Datagram>,
    ) {
        match request.method {
            Method::Bye => {
                self.report.byes_received += 1;
                let branch = request.head.top_via.branch.clone();
                if self.bye_branches.contains(&branch) {
                    self.report.bye_retransmissions_seen += 1;
                } else {
                    self.bye_branches.push(branch);
                }
                // Our own hangup is moot now.
                self.bye_at = None;
                let ok = build_response(&request.head.echo, 200, &ResponseParts::default());
                out.push_back(to_host(config, ok));
            }
            Method::Ack => {}
            Method::Invite | Method::Update => {
                self.report
                    .refreshes_received
                    .push(request.method.as_str().to_string());
                let ok = build_response(&request.head.echo, 200, &ResponseParts::default());
                out.push_back(to_host(config, ok));
            }
            _ => {
                let ok = build_response(&request.head.echo, 200, &ResponseParts::default());
                out.push_back(to_host(config, ok));
            }
        }
    }

    fn on_response(
        &mut self,
        now: Time,
        response: &Response,
        config: &CarrierConfig,
        out: &mut VecDeque<Datagram>,
    ) {
        let status = response.status;
        match response.head.cseq.method {
            Method::Invite if response.head.cseq.seq != 1 && status >= 200 => {
                let body = String::from_utf8_lossy(&response.head.body).to_string();
                self.report.reinvite_answers.push((status, body));
                self.report.rtp_at_reinvite.push(self.report.rtp_received);
                if let Some(ack) = self.ack_for_reinvite(config, response) {
                    self.report.acks_sent += 1;
                    out.push_back(to_host(config, ack));
                }
            }
            Method::Invite if response.head.cseq.seq != 1 => {}
            Method::Invite => self.on_invite_response(now, response, config, out),
            Method::Bye if status >= 200 => {
                self.bye = None;
                self.report.bye_status.get_or_insert(status);
            }
            Method::Info if status >= 200 => self.report.info_statuses.push(status),
            Method::Cancel if status >= 200 => {
                self.cancel = None;
                self.report.cancel_status.get_or_insert(status);
            }
            _ => {}
        }
    }

    fn on_invite_response(
        &mut self,
        now: Time,
        response: &Response,
        config: &CarrierConfig,
        out: &mut VecDeque<Datagram>,
    ) {
        let status = response.status;
        self.report.invite_responses.push(status);
        // Any response stops Timer A; a final one also ends the transaction.
        if let Some(invite) = &mut self.invite {
            invite.timer.next_at = Time::NEVER;
        }
        if status < 200 {
            return;
        }
        self.invite = None;
        let first_final = self.report.final_status.is_none();
        if first_final {
            self.report.final_status = Some(status);
        }
        if (200..300).contains(&status) {
            self.report.oks_received += 1;
            if self.report.answered_at.is_none() {
                self.answered(now, response);
            }
            if !self.script.acknowledge {
                return;
            }
            if self.ack.is_none() {
                self.ack = self
                    .dialog
                    .as_ref()
                    .map(|dialog| self.ack_for_2xx(config, dialog));
            }
        } else if self.ack.is_none() {
            self.ack = Some(self.ack_for_failure(config, response));
        }
        if let Some(ack) = &self.ack {
            self.report.acks_sent += 1;
            out.push_back(to_host(config, ack.clone()));
        }
    }

    /// The first 2xx: the dialog, callplane's RTP address, the scripted presses and hangup.
    fn answered(&mut self, now: Time, response: &Response) {
        self.report.answered_at = Some(now);
        let body = String::from_utf8_lossy(&response.head.body).to_string();
        self.host_rtp = Sdp::parse(&response.head.body).ok().and_then(|sdp| {
            let media = sdp.media.first()?;
            let ip = media.connection.or(sdp.connection)?;
            Some(SocketAddr::new(ip, media.port))
        });
        self.report.answer_sdp = Some(body);
        let header = |name: &ezk_sip_types::Name| {
            let mut values = response.head.headers.get_raw(name);
            values.next().map(|value| value.as_str().to_string())
        };
        self.report.ok_session_expires = header(&ezk_sip_types::Name::SESSION_EXPIRES);
        self.report.ok_require = header(&ezk_sip_types::Name::REQUIRE);
        let target = response
            .head
            .contact
            .as_ref()
            .map(|contact| contact.uri.clone())
            .unwrap_or_else(|| format!("sip:{}@{}", self.script.dialled, "callplane"));
        self.dialog = Some(Dialog {
            to: response.head.echo.to.clone(),
            target,
        });
        let timestamp_base = self.timestamp_base;
        for &(after, digit) in &self.script.presses.clone() {
            let at = now + after;
            // One RTP timestamp per press: where the event started, at 8 kHz.
            let timestamp = timestamp_base.wrapping_add((after.as_millis() as u32).wrapping_mul(8));
            self.schedule_press(at, digit, timestamp);
        }
        if let Some(duration) = self.script.audio {
            self.schedule_audio(now, duration);
        }
        self.bye_at = self.script.hang_up_after.map(|after| now + after);
        let mut infos: Vec<(Time, char)> = self
            .script
            .info_presses
            .iter()
            .map(|&(after, digit)| (now + after, digit))
            .collect();
        infos.sort();
        self.info_due = infos.into();
        let offered = self.script.reinvites.iter().map(|&(a, d)| (a, d, true));
        let offerless = self.script.offerless_reinvites.iter();
        let mut reinvites: Vec<(Time, &'static str, bool)> = offered
            .chain(offerless.map(|&(a, d)| (a, d, false)))
            .map(|(after, direction, offer)| (now + after, direction, offer))
            .collect();
        reinvites.sort();
        self.reinvites_due = reinvites.into();
    }

    /// Three updates and three end packets, 20 ms apart, one timestamp; or,
    /// when the offer has no telephone-event, 100 ms of the key's dual tone as
    /// PCMU audio.
    fn schedule_press(&mut self, at: Time, digit: u8, timestamp: u32) {
        if !self.offers_telephone_event() {
            return self.schedule_inband_press(at, digit, timestamp);
        }
        for i in 0..6u16 {
            let end = i >= 3;
            let duration = 160 * (i.min(3) + 1);
            let mut packet = Vec::with_capacity(16);
            packet.push(0x80);
            packet.push(TELEPHONE_EVENT_PT | if i == 0 { 0x80 } else { 0 });
            packet.extend_from_slice(&self.rtp_sequence.to_be_bytes());
            packet.extend_from_slice(&timestamp.to_be_bytes());
            packet.extend_from_slice(&self.ssrc.to_be_bytes());
            packet.push(digit);
            packet.push(if end { 0x80 | 10 } else { 10 });
            packet.extend_from_slice(&duration.to_be_bytes());
            self.rtp_sequence = self.rtp_sequence.wrapping_add(1);
            let send_at = at + DIGIT_PACKET_SPACING * u32::from(i);
            let position = self.rtp_out.partition_point(|(t, _)| *t <= send_at);
            self.rtp_out.insert(position, (send_at, packet));
        }
    }

    /// One PCMU packet of a quiet hum every 20 ms from `at` for `duration`.
    fn schedule_audio(&mut self, at: Time, duration: Duration) {
        let frames = (duration.as_millis() / 20) as u32;
        for i in 0..frames {
            let mut packet = Vec::with_capacity(172);
            packet.push(0x80);
            packet.push(if i == 0 { 0x80 } else { 0 });
            packet.extend_from_slice(&self.rtp_sequence.to_be_bytes());
            let timestamp = self.timestamp_base.wrapping_add(i * 160);
            packet.extend_from_slice(&timestamp.to_be_bytes());
            packet.extend_from_slice(&self.ssrc.to_be_bytes());
            packet.extend((0..160).map(|n| crate::media::Codec::Pcmu.encode_sample((n % 40) * 50)));
            self.rtp_sequence = self.rtp_sequence.wrapping_add(1);
            let send_at = at + DIGIT_PACKET_SPACING * i;
            let position = self.rtp_out.partition_point(|(t, _)| *t <= send_at);
            self.rtp_out.insert(position, (send_at, packet));
        }
    }

    fn offers_telephone_event(&self) -> bool {
        match &self.script.offer {
            Offer::PcmuWithEvents | Offer::Late { .. } => true,
            Offer::Formats { rtpmaps, .. } => rtpmaps.contains("telephone-event"),
        }
    }

    /// Five 20 ms PCMU packets of the key's tone (event code `digit`).
    fn schedule_inband_press(&mut self, at: Time, digit: u8, timestamp: u32) {
        for i in 0..5u32 {
            let mut pcm = [0i16; 160];
            crate::media::write_tone(digit, i * 160, &mut pcm);
            let mut packet = Vec::with_capacity(172);
            packet.push(0x80);
            packet.push(0);
            packet.extend_from_slice(&self.rtp_sequence.to_be_bytes());
            packet.extend_from_slice(&timestamp.wrapping_add(i * 160).to_be_bytes());
            packet.extend_from_slice(&self.ssrc.to_be_bytes());
            packet.extend(
                pcm.iter()
                    .map(|&s| crate::media::Codec::Pcmu.encode_sample(s)),
            );
            self.rtp_sequence = self.rtp_sequence.wrapping_add(1);
            let send_at = at + DIGIT_PACKET_SPACING * i;
            let position = self.rtp_out.partition_point(|(t, _)| *t <= send_at);
            self.rtp_out.insert(position, (send_at, packet));
        }
    }

    fn local_tag(&self) -> String {
        format!("carrier-{}", self.script.call_id)
    }

    fn caller_header(&self, config: &CarrierConfig) -> String {
        format!("<sip:carrier@{}>;tag={}", config.sip_addr, self.local_tag())
    }

    fn request_uri(&self, config: &CarrierConfig) -> String {
        format!("sip:{}@{}", self.script.dialled, config.host_sip)
    }

    fn invite_branch(&self) -> String {
        format!("z9hG4bK-{}-invite", self.script.call_id)
    }

    fn offer_sdp(&self) -> String {
        let (formats, rtpmaps) = match &self.script.offer {
            Offer::PcmuWithEvents => (
                format!("0 {TELEPHONE_EVENT_PT}"),
                format!(
                    "a=rtpmap:0 PCMU/8000\r\na=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000\r\na=fmtp:{TELEPHONE_EVENT_PT} 0-15\r\n"
                ),
            ),
            Offer::Formats { formats, rtpmaps } => (formats.clone(), rtpmaps.clone()),
            Offer::Late { .. } => return String::new(),
        };
        let ip = self.rtp_addr.ip();
        let mux = if self.script.rtcp_mux {
            "a=rtcp-mux\r\n"
        } else {
            ""
        };
        format!(
            "v=0\r\no=carrier 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {formats}\r\n{rtpmaps}{mux}",
            self.rtp_addr.port()
        )
    }

    /// The SDP answer the ACK carries for a late offer (empty: no body).
    fn ack_answer_sdp(&self) -> String {
        if !matches!(
            self.script.offer,
            Offer::Late {
                answer_in_ack: true
            }
        ) {
            return String::new();
        }
        let ip = self.rtp_addr.ip();
        format!(
            "v=0\r\no=carrier 2 2 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP 0 {TELEPHONE_EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000\r\n",
            self.rtp_addr.port()
        )
    }

    fn invite_request(&self, config: &CarrierConfig) -> Vec<u8> {
        let sdp = self.offer_sdp();
        let content_type = if sdp.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch}\r\nFrom: {from}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:carrier@{via}>\r\n{session}Max-Forwards: 70\r\n{content_type}Content-Length: {len}\r\n\r\n{sdp}",
            uri = self.request_uri(config),
            via = config.sip_addr,
            branch = self.invite_branch(),
            from = self.caller_header(config),
            call_id = self.script.call_id,
            session = self.session_headers(),
            len = sdp.len(),
        )
        .into_bytes()
    }

    fn cancel_request(&self, config: &CarrierConfig) -> Vec<u8> {
        format!(
            "CANCEL {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch}\r\nFrom: {from}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            uri = self.request_uri(config),
            via = config.sip_addr,
            branch = self.invite_branch(),
            from = self.caller_header(config),
            call_id = self.script.call_id,
        )
        .into_bytes()
    }

    /// The ACK of a 2xx: its own transaction, sent to the dialog's target.
    fn ack_for_2xx(&self, config: &CarrierConfig, dialog: &Dialog) -> Vec<u8> {
        let sdp = self.ack_answer_sdp();
        let body = (!sdp.is_empty()).then_some(("application/sdp", sdp.as_str()));
        let branch = format!("z9hG4bK-{}-ack", self.script.call_id);
        self.dialog_request(config, dialog, "ACK", &branch, 1, "", body)
    }

    /// `Session-Expires` and `Supported` header lines, if the script asks a timer.
    fn session_headers(&self) -> String {
        match self.script.session_expires {
            Some((secs, Some(refresher))) => {
                format!("Session-Expires: {secs};refresher={refresher}\r\nSupported: timer\r\n")
            }
            Some((secs, None)) => format!("Session-Expires: {secs}\r\nSupported: timer\r\n"),
            None => String::new(),
        }
    }

    /// A request inside the dialog, to its target: `extra` header lines (each
    /// ending in CRLF) go after CSeq, `body` is (content type, text).
    #[allow(clippy::too_many_arguments)]
    fn dialog_request(
        &self,
        config: &CarrierConfig,
        dialog: &Dialog,
        method: &str,
        branch: &str,
        cseq: u32,
        extra: &str,
        body: Option<(&str, &str)>,
    ) -> Vec<u8> {
        let (content_type, body) = match body {
            Some((kind, text)) => (format!("Content-Type: {kind}\r\n"), text),
            None => (String::new(), ""),
        };
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{extra}Max-Forwards: 70\r\n{content_type}Content-Length: {len}\r\n\r\n{body}",
            target = dialog.target,
            via = config.sip_addr,
            from = self.caller_header(config),
            to = dialog.to,
            call_id = self.script.call_id,
            len = body.len(),
        )
        .into_bytes()
    }

    /// The ACK of a final non-2xx: part of the INVITE transaction (same branch).
    fn ack_for_failure(&self, config: &CarrierConfig, response: &Response) -> Vec<u8> {
        format!(
            "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            uri = self.request_uri(config),
            via = config.sip_addr,
            branch = self.invite_branch(),
            from = self.caller_header(config),
            to = response.head.echo.to,
            call_id = self.script.call_id,
        )
        .into_bytes()
    }

    /// A re-INVITE in the dialog offering our stream with `direction`, or
    /// (without `offer`) offering nothing.
    fn reinvite_request(
        &mut self,
        config: &CarrierConfig,
        direction: &'static str,
        offer: bool,
    ) -> Option<Vec<u8>> {
        self.dialog.as_ref()?;
        self.cseq += 1;
        if !offer {
            self.offerless_cseqs.push((self.cseq, direction));
        }
        let ip = self.rtp_addr.ip();
        let sdp = format!(
            "v=0\r\no=carrier 1 {version} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 {TELEPHONE_EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000\r\na={direction}\r\n",
            version = self.cseq,
            port = self.rtp_addr.port(),
        );
        let branch = format!("z9hG4bK-{}-re-{}", self.script.call_id, self.cseq);
        let contact = format!(
            "Contact: <sip:carrier@{}>\r\n{}",
            config.sip_addr,
            self.session_headers()
        );
        let dialog = self.dialog.as_ref()?;
        let body = offer.then_some(("application/sdp", sdp.as_str()));
        Some(self.dialog_request(config, dialog, "INVITE", &branch, self.cseq, &contact, body))
    }

    /// The ACK of a re-INVITE's final response (its own transaction for a 2xx).
    fn ack_for_reinvite(&self, config: &CarrierConfig, response: &Response) -> Option<Vec<u8>> {
        let dialog = self.dialog.as_ref()?;
        let cseq = response.head.cseq.seq;
        let branch = if response.status < 300 {
            format!("z9hG4bK-{}-re-{cseq}-ack", self.script.call_id)
        } else {
            format!("z9hG4bK-{}-re-{cseq}", self.script.call_id)
        };
        let answering = self
            .offerless_cseqs
            .iter()
            .find(|(seq, _)| *seq == cseq && response.status < 300)
            .map(|(_, direction)| *direction)
            .filter(|direction| !direction.is_empty());
        let ip = self.rtp_addr.ip();
        let answer = answering.map(|direction| {
            format!(
                "v=0\r\no=carrier 1 {cseq} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 {TELEPHONE_EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000\r\na={direction}\r\n",
                port = self.rtp_addr.port(),
            )
        });
        let body = answer.as_deref().map(|sdp| ("application/sdp", sdp));
        Some(self.dialog_request(config, dialog, "ACK", &branch, cseq, "", body))
    }

    /// An INFO carrying `digit` as `application/dtmf-relay`, in the dialog.
    fn info_request(&mut self, config: &CarrierConfig, digit: char) -> Option<Vec<u8>> {
        self.dialog.as_ref()?;
        self.cseq += 1;
        let body = format!("Signal={digit}\r\nDuration=160\r\n");
        let branch = format!("z9hG4bK-{}-info-{}", self.script.call_id, self.cseq);
        let dialog = self.dialog.as_ref()?;
        let body = Some(("application/dtmf-relay", body.as_str()));
        Some(self.dialog_request(config, dialog, "INFO", &branch, self.cseq, "", body))
    }

    /// The carrier's BYE, once there is a dialog.
    fn bye_request(&self, config: &CarrierConfig) -> Option<Vec<u8>> {
        let dialog = self.dialog.as_ref()?;
        let branch = format!("z9hG4bK-{}-bye", self.script.call_id);
        Some(self.dialog_request(config, dialog, "BYE", &branch, 2, "", None))
    }
}
