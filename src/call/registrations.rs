//! The carrier registrations one shard keeps ([`sip::Registration`], one per
//! `[[trunk]]` with `register = true`; the shell gives them all to shard 0),
//! run as [`TrunkAgents`], with their log lines and counters.

use super::trunk_agents::{TrunkAgents, REGISTRATION_OWNER};
use crate::sip::message::Response;
use crate::sip::{
    self, DialogOwner, Dispatcher, Registration, RegistrationConfig, RegistrationEvent,
};
use crate::time::Time;

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegistrationStats {
    /// Bindings accepted (first registrations and refreshes).
    pub registered: u64,
    /// REGISTERs that failed (the binding retries with backoff).
    pub failed: u64,
}

/// A shard's registrations.
pub(crate) struct Registrations {
    agents: TrunkAgents<Registration>,
    pub(crate) stats: RegistrationStats,
}

impl Registrations {
    /// One registration per config, its responses routed by `dispatcher`.
    pub(crate) fn new(
        configs: &[RegistrationConfig],
        dispatcher: &mut Dispatcher,
    ) -> Registrations {
        Registrations {
            agents: TrunkAgents::new(configs, REGISTRATION_OWNER, |config, owner| {
                dispatcher.register(config.clone(), owner)
            }),
            stats: RegistrationStats::default(),
        }
    }

    /// Sends every first REGISTER on the host's first input.
    pub(crate) fn start_once(&mut self, now: Time) {
        self.agents.start_once(now);
    }

    /// A response for the registration `owner` names; `false` if `owner` is
    /// not a registration's.
    pub(crate) fn on_response(
        &mut self,
        now: Time,
        owner: DialogOwner,
        response: &Response,
    ) -> bool {
        self.agents.on_response(now, owner, response)
    }

    /// Runs the registrations' timers if one is due.
    pub(crate) fn on_timeout(&mut self, now: Time) {
        self.agents.on_timeout(now);
    }

    /// The next datagram any registration wants sent; `None` once all are
    /// drained (then [`Registrations::deadline`] is current).
    pub(crate) fn poll_transmit(&mut self) -> Option<sip::Transmit> {
        let stats = &mut self.stats;
        self.agents.poll_transmit(|registration, event| {
            log_event(registration, &event);
            match event {
                RegistrationEvent::Registered { .. } => stats.registered += 1,
                RegistrationEvent::Failed { .. } => stats.failed += 1,
            }
        })
    }

    /// The earliest registration timer (at once before the first input).
    pub(crate) fn deadline(&self) -> Time {
        self.agents.deadline()
    }

    /// Whether every registration currently stands.
    pub(crate) fn all_registered(&self) -> bool {
        self.agents.iter().all(Registration::is_registered)
    }
}

fn log_event(registration: &Registration, event: &RegistrationEvent) {
    match event {
        RegistrationEvent::Registered { expires } => log::info!(
            "registered ({}): for {} s",
            registration.call_id(),
            expires.as_secs()
        ),
        RegistrationEvent::Failed { status, retry_at } => log::warn!(
            "registration ({}) failed ({}); retrying at t={} s",
            registration.call_id(),
            status.map_or("no response".to_owned(), |s| s.to_string()),
            retry_at.as_millis() / 1000
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{SipSettings, SipTimers};

    #[test]
    fn a_registration_asks_for_a_first_input_at_once_and_then_sends_its_register() {
        let settings = SipSettings {
            local_addr: "127.0.0.1:5060".parse().unwrap(),
            user_agent: String::new(),
            timers: SipTimers::default(),
            session_timer: Default::default(),
        };
        let mut dispatcher = Dispatcher::new(settings, 3);
        let config = RegistrationConfig {
            registrar: "sip:carrier.example".into(),
            aor: "sip:acct@carrier.example".into(),
            dest: "192.0.2.5:5060".parse().unwrap(),
            contact_user: "acct".into(),
            credentials: None,
            expires: std::time::Duration::from_secs(600),
            link: crate::sip::Link::Udp,
        };
        let mut registrations = Registrations::new(&[config], &mut dispatcher);
        assert_eq!(
            registrations.deadline(),
            Time::ZERO,
            "a quiet shard still starts it"
        );
        assert!(
            registrations.poll_transmit().is_none(),
            "nothing before the first input"
        );
        registrations.start_once(Time::from_millis(5));
        let register = registrations.poll_transmit().expect("the first REGISTER");
        assert!(register
            .payload
            .starts_with(b"REGISTER sip:carrier.example SIP/2.0\r\n"));
        assert!(registrations.poll_transmit().is_none());
        assert!(
            registrations.deadline() > Time::from_millis(5),
            "Timer E next"
        );
        assert!(Registrations::new(&[], &mut dispatcher).deadline() == Time::NEVER);
    }
}
