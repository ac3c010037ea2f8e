//! The drain loop, written once: after an input, move everything the host
//! wants done into the shell until it says when to wake up. The shard's event
//! loop and the tests' simulated network both run their hosts through it.

use crate::time::Time;

use super::host::{Host, HostEvent, Input, Output, Transmit};

/// What a shell does with a host's output.
pub trait HostIo {
    /// Send `data` (the transmit's bytes) from the transmit's socket.
    fn transmit(&mut self, transmit: Transmit, data: &[u8]);
    /// Carry out `event`. An input to feed back at once — a failed bind — is
    /// returned, and the host gets it before its next output is taken.
    fn event(&mut self, event: HostEvent) -> Option<Input<'static>>;
}

/// Drains `host` into `io` until it returns `Timeout`, and returns that
/// deadline ([`Time::NEVER`]: none). `buf` receives each datagram; it must hold
/// any SIP datagram (64 KiB).
pub fn drain(host: &mut Host, now: Time, buf: &mut [u8], io: &mut impl HostIo) -> Time {
    loop {
        match host.poll_output(buf) {
            Output::Transmit(transmit) => {
                let len = transmit.len.min(buf.len());
                io.transmit(transmit, &buf[..len]);
            }
            Output::Event(event) => {
                if let Some(input) = io.event(event) {
                    host.handle_input(now, input);
                }
            }
            Output::Timeout(at) => return at,
        }
    }
}
