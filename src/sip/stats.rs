//! Counters the endpoint keeps; plain numbers for the shell to export.

/// Monotonic counters since the endpoint was created.
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
    /// `IncomingCall` events emitted.
    pub calls_offered: u64,
    /// Final responses to INVITE never acknowledged (Timer H).
    pub ack_timeouts: u64,
    /// Our BYEs that got no final response (Timer F).
    pub bye_timeouts: u64,
    /// Responses and requests queued for sending, retransmissions included.
    pub transmits: u64,
}
