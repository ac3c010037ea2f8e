//! Transport errors (RFC 3261 §8.1.3.1, §17.1.4): a request the shell could
//! not deliver — its stream connection was refused, or its TLS handshake
//! failed (an untrusted certificate, say) — comes back here, and its client
//! transaction is told at once with a 503 made locally, instead of waiting
//! for Timer B or F.
//!
//! The 503 is routed by Call-ID exactly as a received response: the dialog
//! (or registration, or keepalive) of that Call-ID ends its transaction on
//! it. It carries a `Warning: 399` saying the request never left, so a log
//! or CDR can tell it from a 503 the far end sent.
//!
//! An INVITE's 503 is acknowledged as any non-2xx final (§17.1.1.3); that
//! ACK goes to the same destination on a new connection attempt, and when it
//! comes back undelivered too it is dropped here (no transaction waits on an
//! ACK), so one failure costs at most one more connection attempt.

use std::net::SocketAddr;

use ezk_sip_types::Name;

use super::{Dispatcher, Routed};
use crate::sip::event::Link;
use crate::sip::message::{build_response, parse_message, Message, ResponseParts};
use crate::sip::method::Method;
use crate::time::Time;

/// The status a transport error stands for (§8.1.3.1).
const TRANSPORT_ERROR_STATUS: u16 = 503;

impl Dispatcher {
    /// The shell could not deliver `data` to `dest` over `link` (a stream
    /// connection that was refused or whose TLS handshake failed). A request
    /// (other than ACK, which no transaction waits on) gets a local 503 routed
    /// to its Call-ID's dialog as if received; drain `poll_output` after it
    /// as after any input.
    pub fn handle_transport_error(
        &mut self,
        now: Time,
        dest: SocketAddr,
        link: Link,
        data: &[u8],
    ) -> Option<Routed> {
        let request = match parse_message(data) {
            Ok(Message::Request(request)) => request,
            // Responses are not retried (§18.2.2 already tried the Via) and
            // what we built ourselves always parses.
            _ => return None,
        };
        if request.method == Method::Ack {
            return None;
        }
        self.stats.transport_errors += 1;
        let warning = format!(
            "399 {} \"no {} connection to {dest}\"",
            self.config.local_addr,
            link.via_name()
        );
        let parts = ResponseParts {
            extra: vec![(Name::WARNING, warning)],
            ..ResponseParts::default()
        };
        let payload = build_response(&request.head.echo, TRANSPORT_ERROR_STATUS, &parts);
        match parse_message(&payload) {
            Ok(Message::Response(response)) => {
                self.link = link;
                let routed = self.route_response(now, response);
                self.link = Link::Udp;
                routed
            }
            _ => None,
        }
    }
}
