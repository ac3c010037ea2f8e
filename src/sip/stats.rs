//! Counters the dispatcher and the dialogs keep; plain numbers for the shell to export.

/// Monotonic counters since the dispatcher was created (a dialog's are folded in
/// when the dispatcher drops it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SipStats {
    /// Datagrams handed to `handle_datagram`.
    pub datagrams: u64,
    /// Datagrams holding only line breaks / NULs (keep-alives), ignored.
    pub keepalives: u64,
    /// Requests parsed.
    pub requests: u64,
    /// Responses parsed.
    pub responses: u64,
    /// Malformed requests answered with 400 Bad Request.
    pub malformed_answered_400: u64,
    /// Requests with a non-SIP Request-URI answered with 416.
    pub unsupported_uri_answered_416: u64,
    /// INVITEs with a `sips:` Request-URI that arrived over UDP or TCP,
    /// answered with 416 (RFC 3261 §26.2.2: sips must travel over TLS).
    pub sips_over_insecure_416: u64,
    /// Malformed requests naming another SIP version, answered with 505.
    pub unsupported_version_answered_505: u64,
    /// Requests with Max-Forwards 0 answered with 483 (RFC 3261 §8.2 checks).
    pub too_many_hops_answered_483: u64,
    /// Merged requests (§8.2.2.2) answered with 482 by the dispatcher.
    pub merged_answered_482: u64,
    /// New INVITEs with a body type or encoding we do not take, answered with 415.
    pub unsupported_body_answered_415: u64,
    /// Malformed datagrams that could not be answered.
    pub malformed_dropped: u64,
    /// Retransmissions sent: timer-driven (2xx, non-2xx finals, our BYE) or a stored
    /// response resent for a retransmitted request.
    pub retransmits_sent: u64,
    /// Retransmitted requests answered from a transaction (no new processing).
    pub request_retransmits_absorbed: u64,
    /// Responses that matched no client transaction.
    pub unmatched_responses: u64,
    /// ACKs that matched no transaction or dialog.
    pub unmatched_acks: u64,
    /// New INVITEs handed to the call layer (`Routed::NewInvite`).
    pub calls_offered: u64,
    /// Final responses to INVITE never acknowledged (Timer H).
    pub ack_timeouts: u64,
    /// Our BYEs that got no final response (Timer F).
    pub bye_timeouts: u64,
    /// Responses and requests queued for sending, retransmissions included.
    pub transmits: u64,
    /// Outbound calls placed (INVITEs sent, not counting digest retries).
    pub calls_placed: u64,
    /// 401/407 challenges answered with a new INVITE.
    pub auth_challenges_answered: u64,
    /// 2xx from further forks of our INVITE, acknowledged and ended with BYE.
    pub forks_released: u64,
    /// Retransmissions not sent because the message travels on a stream
    /// (requests and non-2xx responses are not retransmitted over TCP).
    pub retransmits_suppressed: u64,
    /// Messages that arrived framed on a stream connection (TCP).
    pub stream_messages: u64,
    /// Requests we would have sent over UDP that went over TCP for their size
    /// (RFC 3261 §18.1.1: over 1300 bytes).
    pub moved_to_tcp: u64,
    /// Session refreshes (RFC 4028) we sent.
    pub session_refreshes_sent: u64,
    /// Sessions ended with BYE because no refresh came in time, or ours failed.
    pub session_expiries: u64,
    /// Reliable provisional responses (RFC 3262) we sent, first copies only.
    pub reliable_provisionals_sent: u64,
    /// Retransmissions of our reliable provisionals awaiting their PRACK.
    pub reliable_provisionals_resent: u64,
    /// PRACKs that acknowledged one of our reliable provisionals.
    pub pracks_received: u64,
    /// PRACKs whose `RAck` matched nothing outstanding (answered 481).
    pub unmatched_pracks: u64,
    /// Reliable provisionals never PRACKed within 64·T1 (the INVITE got a 5xx).
    pub prack_timeouts: u64,
    /// PRACKs we sent for a far end's reliable provisionals.
    pub pracks_sent: u64,
    /// Requests the shell could not deliver (stream connection refused, TLS
    /// handshake failed), answered at once with a local 503 (§8.1.3.1).
    pub transport_errors: u64,
}

impl SipStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &SipStats) {
        self.datagrams += other.datagrams;
        self.keepalives += other.keepalives;
        self.requests += other.requests;
        self.responses += other.responses;
        self.malformed_answered_400 += other.malformed_answered_400;
        self.unsupported_uri_answered_416 += other.unsupported_uri_answered_416;
        self.sips_over_insecure_416 += other.sips_over_insecure_416;
        self.unsupported_version_answered_505 += other.unsupported_version_answered_505;
        self.too_many_hops_answered_483 += other.too_many_hops_answered_483;
        self.merged_answered_482 += other.merged_answered_482;
        self.unsupported_body_answered_415 += other.unsupported_body_answered_415;
        self.malformed_dropped += other.malformed_dropped;
        self.retransmits_sent += other.retransmits_sent;
        self.request_retransmits_absorbed += other.request_retransmits_absorbed;
        self.unmatched_responses += other.unmatched_responses;
        self.transport_errors += other.transport_errors;
        self.unmatched_acks += other.unmatched_acks;
        self.calls_offered += other.calls_offered;
        self.ack_timeouts += other.ack_timeouts;
        self.bye_timeouts += other.bye_timeouts;
        self.transmits += other.transmits;
        self.calls_placed += other.calls_placed;
        self.auth_challenges_answered += other.auth_challenges_answered;
        self.forks_released += other.forks_released;
        self.retransmits_suppressed += other.retransmits_suppressed;
        self.stream_messages += other.stream_messages;
        self.moved_to_tcp += other.moved_to_tcp;
        self.session_refreshes_sent += other.session_refreshes_sent;
        self.session_expiries += other.session_expiries;
        self.reliable_provisionals_sent += other.reliable_provisionals_sent;
        self.reliable_provisionals_resent += other.reliable_provisionals_resent;
        self.pracks_received += other.pracks_received;
        self.unmatched_pracks += other.unmatched_pracks;
        self.prack_timeouts += other.prack_timeouts;
        self.pracks_sent += other.pracks_sent;
    }
}
