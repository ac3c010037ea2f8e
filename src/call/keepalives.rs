//! The OPTIONS keepalives one shard sends to its trunks ([`sip::OptionsPing`],
//! one per `[[trunk]]` with `options_interval_s`; the shell gives them all to
//! shard 0), run as [`TrunkAgents`], with each trunk's state changes logged and
//! counted.

use super::trunk_agents::{TrunkAgents, KEEPALIVE_OWNER};
use crate::sip::message::Response;
use crate::sip::{
    self, DialogOwner, Dispatcher, OptionsPing, OptionsPingConfig, OptionsPingEvent, TrunkState,
};
use crate::time::Time;

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepaliveStats {
    /// OPTIONS sent (retransmissions not counted).
    pub options_sent: u64,
    /// OPTIONS that failed (no answer, 408, 5xx, 6xx).
    pub options_failed: u64,
    /// Trunks currently up.
    pub trunks_up: u64,
    /// Trunks currently down.
    pub trunks_down: u64,
}

/// A shard's keepalives.
pub(crate) struct Keepalives {
    agents: TrunkAgents<OptionsPing>,
}

impl Keepalives {
    /// One pinger per config, its responses routed by `dispatcher`.
    pub(crate) fn new(configs: &[OptionsPingConfig], dispatcher: &mut Dispatcher) -> Keepalives {
        Keepalives {
            agents: TrunkAgents::new(configs, KEEPALIVE_OWNER, |config, owner| {
                dispatcher.options_ping(config.clone(), owner)
            }),
        }
    }

    /// Sends every first OPTIONS on the host's first input.
    pub(crate) fn start_once(&mut self, now: Time) {
        self.agents.start_once(now);
    }

    /// A response for the pinger `owner` names; `false` if `owner` is not a
    /// keepalive's.
    pub(crate) fn on_response(
        &mut self,
        now: Time,
        owner: DialogOwner,
        response: &Response,
    ) -> bool {
        self.agents.on_response(now, owner, response)
    }

    /// Runs the pingers' timers if one is due.
    pub(crate) fn on_timeout(&mut self, now: Time) {
        self.agents.on_timeout(now);
    }

    /// The next datagram any pinger wants sent; `None` once all are drained
    /// (then [`Keepalives::deadline`] is current).
    pub(crate) fn poll_transmit(&mut self) -> Option<sip::Transmit> {
        self.agents
            .poll_transmit(|ping, event| log_event(ping, &event))
    }

    /// The earliest keepalive timer (at once before the first input).
    pub(crate) fn deadline(&self) -> Time {
        self.agents.deadline()
    }

    /// The counters, states included.
    pub(crate) fn stats(&self) -> KeepaliveStats {
        let mut stats = KeepaliveStats::default();
        for ping in self.agents.iter() {
            stats.options_sent += ping.options_sent;
            stats.options_failed += ping.options_failed;
            match ping.state() {
                TrunkState::Up => stats.trunks_up += 1,
                TrunkState::Down => stats.trunks_down += 1,
                TrunkState::Unknown => {}
            }
        }
        stats
    }

    /// Each trunk's name and state.
    pub(crate) fn states(&self) -> impl Iterator<Item = (&str, TrunkState)> {
        self.agents.iter().map(|ping| (ping.trunk(), ping.state()))
    }
}

fn log_event(ping: &OptionsPing, event: &OptionsPingEvent) {
    let OptionsPingEvent::StateChanged { state, status } = event;
    let cause = status.map_or("no response".to_owned(), |s| s.to_string());
    match state {
        TrunkState::Up => log::info!("trunk {}: up (OPTIONS answered {cause})", ping.trunk()),
        _ => log::warn!(
            "trunk {}: {} after {} OPTIONS failed in a row (last: {cause})",
            ping.trunk(),
            state.as_str(),
            ping.consecutive_failures()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse_message, Message};
    use crate::sip::{SipSettings, SipTimers};
    use std::time::Duration;

    #[test]
    fn keepalives_start_on_the_first_input_and_count_their_options() {
        let settings = SipSettings {
            local_addr: "127.0.0.1:5060".parse().unwrap(),
            user_agent: String::new(),
            timers: SipTimers::default(),
            session_timer: Default::default(),
        };
        let mut dispatcher = Dispatcher::new(settings, 3);
        let config = OptionsPingConfig {
            trunk: "carrier".into(),
            dest: "192.0.2.5:5060".parse().unwrap(),
            interval: Duration::from_secs(30),
            failures: 1,
            link: crate::sip::Link::Udp,
        };
        let mut keepalives = Keepalives::new(&[config], &mut dispatcher);
        assert_eq!(
            keepalives.deadline(),
            Time::ZERO,
            "a quiet shard still starts them"
        );
        assert!(
            keepalives.poll_transmit().is_none(),
            "nothing before the first input"
        );
        keepalives.start_once(Time::from_millis(5));
        let options = keepalives.poll_transmit().expect("the first OPTIONS");
        assert!(options
            .payload
            .starts_with(b"OPTIONS sip:192.0.2.5:5060 SIP/2.0\r\n"));
        assert!(keepalives.poll_transmit().is_none());
        assert!(keepalives.deadline() > Time::from_millis(5), "Timer E next");

        // The dispatcher routes the answer home by Call-ID.
        let Ok(Message::Request(request)) = parse_message(&options.payload) else {
            panic!("not a request")
        };
        let echo = &request.head.echo;
        let answer = format!(
            "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=p\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
            echo.vias.join(", "), echo.from, echo.to, echo.call_id, echo.cseq
        );
        let routed = dispatcher.handle_message(
            Time::from_millis(20),
            options.dest,
            sip::Link::Udp,
            answer.as_bytes(),
        );
        let Some(sip::Routed::Dialog {
            owner,
            message: sip::DialogMessage::Response(response),
        }) = routed
        else {
            panic!("not routed to the keepalive")
        };
        assert!(keepalives.on_response(Time::from_millis(20), owner, &response));
        assert!(keepalives.poll_transmit().is_none());
        assert_eq!(keepalives.deadline(), Time::from_millis(30_005));
        assert_eq!(
            keepalives.stats(),
            KeepaliveStats {
                options_sent: 1,
                options_failed: 0,
                trunks_up: 1,
                trunks_down: 0
            }
        );
        assert_eq!(
            keepalives.states().collect::<Vec<_>>(),
            vec![("carrier", TrunkState::Up)]
        );
        assert!(!keepalives.on_response(Time::from_millis(21), DialogOwner(7), &response));
        assert!(!keepalives.on_response(Time::from_millis(21), DialogOwner(1 << 63), &response));
    }
}
