//! The SIP dispatcher of one shard: parses each datagram, absorbs what needs no
//! dialog, and routes every other message to the [`Dialog`] of its Call-ID —
//! the way quinn-proto's `Endpoint` routes datagrams to `Connection`s.
//!
//! - A message whose Call-ID names a dialog its owner holds comes back as
//!   [`Routed::Dialog`]: the owner feeds it to that dialog.
//! - A new INVITE comes back as [`Routed::NewInvite`]: the owner either
//!   [`accept`](Dispatcher::accept)s it (getting the dialog) or
//!   [`reject`](Dispatcher::reject)s it.
//! - Everything else is answered here, statelessly or in the dispatcher's own
//!   transactions (OPTIONS, 481 for unknown dialogs, 420, 400/416/505 for
//!   malformed requests, the §8.2 refusals 482/483/415 of `checks`, rejected
//!   INVITEs and their ACKs and retransmissions).
//! - A dialog whose owner is done with it but which still holds transactions
//!   is [`release`](Dispatcher::release)d back here and lingers, answering
//!   retransmissions, until its last transaction ends.
//!
//! Every message carries its [`Link`]: a UDP datagram, or a message framed on
//! a TCP connection ([`Dispatcher::handle_stream_message`]). What answers it
//! leaves by the same link (the same connection, §18.2.2); nothing is
//! retransmitted on a stream except 2xx to INVITE (§17.2.1, §13.3.1.4).
//!
//! Inputs: [`Dispatcher::handle_datagram`], [`Dispatcher::handle_stream_message`],
//! [`Dispatcher::handle_transport_error`] (a request the shell could not
//! deliver: answered at once with a local 503, `transport_error`) and
//! [`Dispatcher::handle_timeout`];
//! output: [`Dispatcher::poll_output`]. **After every input, drain
//! `poll_output` until it returns `Timeout`.** Timers (its own transactions,
//! lingering dialogs) sit in a [`DeadlineQueue`]: the next deadline is O(1), a
//! wake-up costs O(due · log n).

mod checks;
mod own;
mod transport_error;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::deadlines::{schedule, take_if_live, DeadlineQueue};
use crate::sip::body::extract_sdp;
use crate::sip::dialog::{Dialog, DialogOutput, OutboundInvite};
use crate::sip::error::SipError;
use crate::sip::event::{CallId, ConnRef, Link, Transmit};
use crate::sip::incoming::{DialogMessage, IncomingInvite, IncomingRequest};
use crate::sip::message::{
    build_response, parse_message, salvage_request, stamp_received, Message, ParseError, Request,
    Response, ResponseParts,
};
use crate::sip::method::Method;
use crate::sip::options_ping::{OptionsPing, OptionsPingConfig};
use crate::sip::register::{Registration, RegistrationConfig};
use crate::sip::sdp::Sdp;
use crate::sip::settings::SipSettings;
use crate::sip::shard_of::owner_of;
use crate::sip::stats::SipStats;
use crate::sip::transaction::TxKey;
use crate::slab::{Slab, SlabKey};
use crate::slab_index::SlabIndex;
use crate::time::Time;

use own::OwnTx;

/// An opaque number a dialog's owner chooses to find the dialog again (the call
/// layer uses its dense call handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DialogOwner(pub u64);

/// Where a datagram must go next.
#[derive(Debug)]
pub enum Routed {
    /// A new INVITE: accept or reject it.
    NewInvite(Box<IncomingInvite>),
    /// A message for the dialog `owner` holds.
    Dialog {
        /// The owner number given to [`Dispatcher::accept`].
        owner: DialogOwner,
        /// Feed this to the dialog's [`Dialog::handle_message`].
        message: DialogMessage,
    },
}

/// What the dispatcher wants done next.
#[derive(Clone, Debug, PartialEq)]
pub enum DispatcherOutput {
    /// Send this datagram.
    Transmit(Transmit),
    /// Nothing more until this instant ([`Time::NEVER`]: no timer).
    Timeout(Time),
}

#[derive(Clone, Copy, Debug)]
enum Route {
    Owned(DialogOwner),
    Lingering(SlabKey),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerRef {
    Own(SlabKey),
    Lingering(SlabKey),
}

struct Lingering {
    dialog: Dialog,
    scheduled: Option<Time>,
}

/// The SIP dispatcher of one shard. Deterministic: all randomness (tags) comes
/// from the seeded generator, all time from the arguments.
pub struct Dispatcher {
    config: Arc<SipSettings>,
    /// The settings of dialogs over TLS: `config` with the TLS port in
    /// `local_addr`, so their Via and Contact name the TLS listener.
    tls_config: Option<Arc<SipSettings>>,
    rng: fastrand::Rng,
    routes: HashMap<String, Route>,
    lingering: Slab<Lingering>,
    own: Slab<OwnTx>,
    /// `own` by transaction key (branch, sent-by, method).
    own_by_key: SlabIndex,
    /// `own` by merge key (Call-ID, From tag, CSeq, method): §8.2.2.2.
    own_by_merge: SlabIndex,
    timers: DeadlineQueue<TimerRef>,
    transmits: VecDeque<Transmit>,
    /// The link of the message (or own transaction) being handled: what the
    /// dispatcher sends in answer leaves by it.
    link: Link,
    stats: SipStats,
    /// This shard's number and the number of shards: the Call-IDs we make
    /// hash to this shard ([`owner_of`]).
    shard: (usize, usize),
}

impl Dispatcher {
    /// A dispatcher with no dialogs; `rng_seed` seeds tags and branches.
    pub fn new(config: SipSettings, rng_seed: u64) -> Dispatcher {
        Dispatcher {
            config: Arc::new(config),
            tls_config: None,
            rng: fastrand::Rng::with_seed(rng_seed),
            routes: HashMap::new(),
            lingering: Slab::new(),
            own: Slab::new(),
            own_by_key: SlabIndex::new(),
            own_by_merge: SlabIndex::new(),
            timers: DeadlineQueue::new(),
            transmits: VecDeque::new(),
            link: Link::Udp,
            stats: SipStats::default(),
            shard: (0, 1),
        }
    }

    /// Tells the dispatcher it is shard `index` of `count`, so that the
    /// Call-IDs it makes for outbound calls and registrations hash home.
    pub fn set_shard(&mut self, index: usize, count: usize) {
        self.shard = (index, count.max(1));
    }

    /// Tells the dispatcher the port of the shell's TLS listener: dialogs
    /// over TLS name it (with the advertised host) in Via and Contact.
    pub fn set_tls_port(&mut self, port: u16) {
        let mut tls = (*self.config).clone();
        tls.local_addr.set_port(port);
        self.tls_config = Some(Arc::new(tls));
    }

    /// The settings a dialog over `link` is made with.
    fn config_for(&self, link: Link) -> Arc<SipSettings> {
        match (&self.tls_config, link.is_tls()) {
            (Some(tls), true) => tls.clone(),
            _ => self.config.clone(),
        }
    }

    /// Feeds one received datagram; what it means for a dialog comes back.
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, data: &[u8]) -> Option<Routed> {
        self.handle_message(now, from, Link::Udp, data)
    }

    /// Feeds one message framed on the stream connection `conn` (whose peer is
    /// `from`); answers go back on it.
    pub fn handle_stream_message(
        &mut self,
        now: Time,
        from: SocketAddr,
        conn: ConnRef,
        data: &[u8],
    ) -> Option<Routed> {
        self.handle_message(now, from, Link::Tcp(Some(conn)), data)
    }

    /// Feeds one message that came by `link`.
    pub fn handle_message(
        &mut self,
        now: Time,
        from: SocketAddr,
        link: Link,
        data: &[u8],
    ) -> Option<Routed> {
        if link.is_stream() {
            self.stats.stream_messages += 1;
        }
        self.link = link;
        let routed = self.on_message(now, from, data);
        self.link = Link::Udp;
        routed
    }

    fn on_message(&mut self, now: Time, from: SocketAddr, data: &[u8]) -> Option<Routed> {
        if !self.link.is_stream() {
            self.stats.datagrams += 1;
        }
        if is_keepalive(data) {
            self.stats.keepalives += 1;
            return None;
        }
        match parse_message(data) {
            Ok(Message::Request(request)) => {
                self.stats.requests += 1;
                self.on_request(now, from, request)
            }
            Ok(Message::Response(response)) => {
                self.stats.responses += 1;
                self.route_response(now, response)
            }
            Err(error) => {
                self.on_malformed(from, data, &error);
                None
            }
        }
    }

    /// A response goes to the dialog of its Call-ID (fed here when it
    /// lingers), else is counted unmatched.
    fn route_response(&mut self, now: Time, response: Response) -> Option<Routed> {
        match self.routes.get(response.call_id()).copied() {
            Some(Route::Owned(owner)) => Some(Routed::Dialog {
                owner,
                message: DialogMessage::Response(Box::new(response)),
            }),
            Some(Route::Lingering(key)) => {
                let message = DialogMessage::Response(Box::new(response));
                self.feed_lingering(now, key, message);
                None
            }
            None => {
                self.stats.unmatched_responses += 1;
                None
            }
        }
    }

    /// Takes the call: a dialog for `invite`, routed to `owner` from now on;
    /// 100 Trying is its first output.
    pub fn accept(&mut self, invite: IncomingInvite, owner: DialogOwner) -> Dialog {
        let IncomingInvite {
            call_id, incoming, ..
        } = invite;
        let local_tag = self.new_tag();
        let seed = self.rng.u64(..);
        self.routes.insert(call_id.0.clone(), Route::Owned(owner));
        let config = self.config_for(incoming.link);
        Dialog::new_uas(config, call_id, incoming, local_tag, seed)
    }

    /// Places an outbound call: a dialog whose INVITE (to `invite.dest`) is
    /// its first output, routed to `owner` from now on. The Call-ID is new
    /// (random, `@` our host).
    ///
    /// Over UDP; an INVITE over 1300 bytes goes over TCP instead (§18.1.1).
    pub fn place_call(&mut self, now: Time, invite: OutboundInvite, owner: DialogOwner) -> Dialog {
        self.place_call_over(now, invite, owner, Link::Udp)
    }

    /// [`Dispatcher::place_call`] by `link`: [`Link::Tcp`]`(None)` connects
    /// to `invite.dest` (or reuses an open connection to it). A `sips:`
    /// Request-URI goes over TLS whatever `link` says, with a `sips:` Contact.
    pub fn place_call_over(
        &mut self,
        now: Time,
        invite: OutboundInvite,
        owner: DialogOwner,
        link: Link,
    ) -> Dialog {
        // A sips: Request-URI travels over TLS (RFC 3261 §26.2.2).
        let link = match is_sips(&invite.request_uri) && !link.is_tls() {
            true => Link::Tls(None),
            false => link,
        };
        let call_id = self.new_call_id();
        let local_tag = self.new_tag();
        let seed = self.rng.u64(..);
        self.stats.calls_placed += 1;
        self.routes.insert(call_id.0.clone(), Route::Owned(owner));
        Dialog::new_uac_over(
            self.config_for(link),
            call_id,
            invite,
            local_tag,
            seed,
            now,
            link,
        )
    }

    /// A registration with a carrier (its responses are routed to `owner` by
    /// its Call-ID, as a dialog's); call [`Registration::start`] to send the
    /// first REGISTER. Over TLS its Via and Contact name the TLS listener.
    pub fn register(&mut self, config: RegistrationConfig, owner: DialogOwner) -> Registration {
        let call_id = self.new_call_id();
        let seed = self.rng.u64(..);
        self.routes.insert(call_id.0.clone(), Route::Owned(owner));
        let settings = self.config_for(config.link);
        Registration::new(settings, config, call_id.0, seed)
    }

    /// OPTIONS keepalives to a trunk (their responses are routed to `owner`
    /// by its Call-ID); call [`OptionsPing::start`] to send the first.
    pub fn options_ping(&mut self, config: OptionsPingConfig, owner: DialogOwner) -> OptionsPing {
        let call_id = self.new_call_id();
        let seed = self.rng.u64(..);
        self.routes.insert(call_id.0.clone(), Route::Owned(owner));
        let settings = self.config_for(config.link);
        OptionsPing::new(settings, config, call_id.0, seed)
    }

    /// A Call-ID no dialog here uses, which hashes to this shard.
    fn new_call_id(&mut self) -> CallId {
        loop {
            let id = format!(
                "{:016x}{:08x}@{}",
                self.rng.u64(..),
                self.rng.u32(..),
                self.config.local_addr.ip()
            );
            let home = owner_of(id.as_bytes(), self.shard.1) == self.shard.0;
            if home && !self.routes.contains_key(&id) {
                return CallId(id);
            }
        }
    }

    /// Refuses a new INVITE with a final non-2xx `status` (after 100 Trying), in
    /// a transaction of the dispatcher's own that absorbs its ACK.
    pub fn reject(
        &mut self,
        now: Time,
        invite: IncomingInvite,
        status: u16,
    ) -> Result<(), SipError> {
        self.reject_with(now, invite, status, Vec::new())
    }

    /// [`Dispatcher::reject`] with extra headers in the final response (say
    /// `Retry-After` on a 503).
    pub fn reject_with(
        &mut self,
        now: Time,
        invite: IncomingInvite,
        status: u16,
        extra: Vec<(ezk_sip_types::Name, String)>,
    ) -> Result<(), SipError> {
        if !(300..=699).contains(&status) {
            return Err(SipError::InvalidStatus(status));
        }
        let incoming = invite.incoming;
        let parts = ResponseParts {
            server: &self.config.user_agent,
            ..ResponseParts::default()
        };
        let trying = build_response(&incoming.echo, 100, &parts);
        self.link = incoming.link;
        self.transmit(incoming.source, trying);
        self.refuse_invite(now, &incoming, status, extra);
        self.link = Link::Udp;
        Ok(())
    }

    /// The owner is done with `dialog`. A dialog that still holds transactions
    /// lingers here, answering retransmissions, until they end.
    pub fn release(&mut self, dialog: Dialog) {
        let mut lingering = Lingering {
            dialog,
            scheduled: None,
        };
        let deadline = drain_dialog(&mut lingering.dialog, &mut self.transmits);
        if lingering.dialog.is_finished() {
            self.forget(&lingering.dialog);
            return;
        }
        let call_id = lingering.dialog.call_id().0.clone();
        let key = self.lingering.insert(lingering);
        self.routes.insert(call_id, Route::Lingering(key));
        if let Some(entry) = self.lingering.get_mut(key) {
            schedule(
                &mut self.timers,
                &mut entry.scheduled,
                deadline,
                TimerRef::Lingering(key),
            );
        }
    }

    /// Runs every timer of the dispatcher due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.link = Link::Udp;
        while let Some((at, timer)) = self.timers.pop_due(now) {
            match timer {
                TimerRef::Own(key) => self.run_own_timer(now, at, key),
                TimerRef::Lingering(key) => {
                    let Some(entry) = self.lingering.get_mut(key) else {
                        continue;
                    };
                    if !take_if_live(&mut entry.scheduled, at) {
                        continue;
                    }
                    entry.dialog.handle_timeout(now);
                    self.settle_lingering(key);
                }
            }
        }
    }

    /// The next thing to do. After every input, call until it returns `Timeout`.
    pub fn poll_output(&mut self) -> DispatcherOutput {
        match self.transmits.pop_front() {
            Some(transmit) => DispatcherOutput::Transmit(transmit),
            None => DispatcherOutput::Timeout(self.timers.next().unwrap_or(Time::NEVER)),
        }
    }

    /// Counters: the dispatcher's own, plus those of every dialog it has been
    /// handed back (dialogs still with their owners are not counted yet). Walks
    /// the lingering dialogs: for reports, not for the packet path.
    pub fn stats(&self) -> SipStats {
        let mut stats = self.stats.clone();
        for key in self.lingering.keys() {
            if let Some(entry) = self.lingering.get(key) {
                stats.add(entry.dialog.stats());
            }
        }
        stats
    }

    /// Dialogs released by their owners that still answer retransmissions.
    pub fn lingering_dialogs(&self) -> usize {
        self.lingering.len()
    }

    /// Lingering dialogs still hanging up (our BYE not yet answered or timed
    /// out). Walks the lingering dialogs: for a shutdown's drain, not for the
    /// packet path.
    pub fn dialogs_hanging_up(&self) -> usize {
        self.lingering
            .keys()
            .filter_map(|key| self.lingering.get(key))
            .filter(|entry| !entry.dialog.is_terminated())
            .count()
    }

    /// Transactions the dispatcher holds of its own (outside any dialog).
    pub fn own_transactions(&self) -> usize {
        self.own.len()
    }

    fn on_request(&mut self, now: Time, source: SocketAddr, request: Request) -> Option<Routed> {
        let key = TxKey::for_request(&request.head, &request.method);
        let mut echo = request.head.echo.clone();
        if let Some(top) = echo.vias.first_mut() {
            *top = stamp_received(top, source);
        }
        let incoming = IncomingRequest {
            source,
            link: self.link,
            key,
            echo,
            request,
        };
        match self.routes.get(incoming.request.call_id()).copied() {
            Some(Route::Owned(owner)) => Some(Routed::Dialog {
                owner,
                message: DialogMessage::Request(Box::new(incoming)),
            }),
            Some(Route::Lingering(key)) => {
                self.feed_lingering(now, key, DialogMessage::Request(Box::new(incoming)));
                None
            }
            None => self.out_of_dialog(now, incoming),
        }
    }

    /// A request whose Call-ID names no dialog.
    fn out_of_dialog(&mut self, now: Time, incoming: IncomingRequest) -> Option<Routed> {
        match incoming.request.method {
            Method::Ack => {
                self.on_stray_ack(now, &incoming);
                None
            }
            Method::Invite => {
                if self.absorb_retransmission(&incoming) || self.refuse_loop(now, &incoming) {
                    return None;
                }
                if is_sips(&incoming.request.uri) && !self.link.is_tls() {
                    // RFC 3261 §26.2.2: a sips: request travels over TLS
                    // hop by hop; over UDP/TCP its scheme is not one we
                    // serve (416, §8.2.2.1).
                    self.stats.sips_over_insecure_416 += 1;
                    self.refuse_invite(now, &incoming, 416, Vec::new());
                    return None;
                }
                let unsupported =
                    crate::sip::requirements::unsupported_extensions(&incoming.request);
                if !unsupported.is_empty() {
                    let extra = vec![(ezk_sip_types::Name::UNSUPPORTED, unsupported.join(", "))];
                    self.refuse_invite(now, &incoming, 420, extra);
                    return None;
                }
                if incoming.request.head.to.tag().is_some() {
                    self.refuse_invite(now, &incoming, 481, Vec::new());
                    return None;
                }
                if self.refuse_body(now, &incoming) {
                    return None;
                }
                let head = &incoming.request.head;
                let body = extract_sdp(head.content_type.as_deref(), &head.body);
                let has_offer = body.is_some();
                let sdp = body.and_then(|body| Sdp::parse(body).ok());
                self.stats.calls_offered += 1;
                Some(Routed::NewInvite(Box::new(IncomingInvite {
                    call_id: CallId(incoming.request.call_id().to_owned()),
                    incoming,
                    sdp,
                    has_offer,
                })))
            }
            _ => {
                self.on_stray_non_invite(now, &incoming);
                None
            }
        }
    }

    fn feed_lingering(&mut self, now: Time, key: SlabKey, message: DialogMessage) {
        if let Some(entry) = self.lingering.get_mut(key) {
            entry.dialog.handle_message(now, message);
            self.settle_lingering(key);
        }
    }

    /// Drains a lingering dialog's output, then drops or reschedules it.
    fn settle_lingering(&mut self, key: SlabKey) {
        let Some(entry) = self.lingering.get_mut(key) else {
            return;
        };
        let deadline = drain_dialog(&mut entry.dialog, &mut self.transmits);
        if entry.dialog.is_finished() {
            if let Some(entry) = self.lingering.remove(key) {
                self.forget(&entry.dialog);
            }
            return;
        }
        schedule(
            &mut self.timers,
            &mut entry.scheduled,
            deadline,
            TimerRef::Lingering(key),
        );
    }

    /// Drops the route of a finished dialog and keeps its counters.
    fn forget(&mut self, dialog: &Dialog) {
        self.stats.add(dialog.stats());
        self.routes.remove(&dialog.call_id().0);
    }

    /// Answers a request that failed to parse with 400 and a Warning (416 for a
    /// non-SIP Request-URI, 505 for another version) when it has a Via to answer
    /// to; never answers ACKs.
    fn on_malformed(&mut self, from: SocketAddr, data: &[u8], error: &ParseError) {
        let Some(mut salvaged) = salvage_request(data).filter(|s| s.method != Method::Ack) else {
            self.stats.malformed_dropped += 1;
            return;
        };
        let (status, extra) = checks::malformed_answer(error, &self.config.local_addr.to_string());
        match status {
            416 => self.stats.unsupported_uri_answered_416 += 1,
            505 => self.stats.unsupported_version_answered_505 += 1,
            _ => self.stats.malformed_answered_400 += 1,
        }
        if let Some(top) = salvaged.echo.vias.first_mut() {
            *top = stamp_received(top, from);
        }
        let tag = self.new_tag();
        let parts = ResponseParts {
            to_tag: Some(&tag),
            server: &self.config.user_agent,
            extra,
            ..ResponseParts::default()
        };
        let response = build_response(&salvaged.echo, status, &parts);
        self.transmit(from, response);
    }

    fn transmit(&mut self, dest: SocketAddr, payload: Vec<u8>) {
        self.stats.transmits += 1;
        let link = self.link;
        self.transmits.push_back(Transmit {
            dest,
            payload,
            link,
        });
    }

    /// Resends a stored response of the dispatcher's own: never on a stream
    /// (its requests are not retransmitted either, and no 2xx is stored here).
    fn retransmit(&mut self, dest: SocketAddr, payload: Vec<u8>) {
        if self.link.is_stream() {
            self.stats.retransmits_suppressed += 1;
            return;
        }
        self.stats.retransmits_sent += 1;
        self.transmit(dest, payload);
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.u64(..))
    }
}

/// Moves a dialog's transmits into `out` (its events have no one to tell) and
/// returns its next deadline.
fn drain_dialog(dialog: &mut Dialog, out: &mut VecDeque<Transmit>) -> Time {
    loop {
        match dialog.poll_output() {
            DialogOutput::Transmit(transmit) => out.push_back(transmit),
            DialogOutput::Event(_) => {}
            DialogOutput::Timeout(at) => return at,
        }
    }
}

/// Datagrams of only line breaks, spaces or NULs are keep-alives.
fn is_keepalive(data: &[u8]) -> bool {
    data.iter()
        .all(|byte| matches!(byte, b'\r' | b'\n' | b' ' | b'\t' | 0))
}

/// Whether a Request-URI has the `sips:` scheme (case-insensitive, §19.1.1).
fn is_sips(uri: &str) -> bool {
    uri.get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("sips:"))
}
