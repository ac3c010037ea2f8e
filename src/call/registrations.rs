//! The carrier registrations one shard keeps ([`sip::Registration`], one per
//! `[[trunk]]` with `register = true`; the shell gives them all to shard 0):
//! starting them, routing their responses, running their timers only when
//! one is due, and turning their outputs into the host's.
//!
//! Their responses reach the host as dialog messages whose
//! [`DialogOwner`] has [`REGISTRATION_OWNER`] set: call handles never do
//! (their generation would have to pass 2^31).

use crate::sip::message::Response;
use crate::sip::{
    self, DialogOwner, Dispatcher, Registration, RegistrationConfig, RegistrationEvent,
    RegistrationOutput,
};
use crate::time::Time;

/// The bit that marks a registration's owner number.
pub(crate) const REGISTRATION_OWNER: u64 = 1 << 63;

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
    list: Vec<Registration>,
    started: bool,
    /// Some registration has output not drained yet.
    dirty: bool,
    /// The earliest timer of any of them.
    deadline: Time,
    pub(crate) stats: RegistrationStats,
}

impl Registrations {
    /// One registration per config, its responses routed by `dispatcher`.
    pub(crate) fn new(
        configs: &[RegistrationConfig],
        dispatcher: &mut Dispatcher,
    ) -> Registrations {
        let list = configs
            .iter()
            .enumerate()
            .map(|(index, config)| {
                dispatcher.register(
                    config.clone(),
                    DialogOwner(REGISTRATION_OWNER | index as u64),
                )
            })
            .collect();
        Registrations {
            list,
            started: false,
            dirty: false,
            deadline: Time::NEVER,
            stats: RegistrationStats::default(),
        }
    }

    /// Sends every first REGISTER on the host's first input.
    pub(crate) fn start_once(&mut self, now: Time) {
        if self.started {
            return;
        }
        self.started = true;
        for registration in &mut self.list {
            registration.start(now);
        }
        self.dirty = !self.list.is_empty();
    }

    /// A response for the registration `owner` names; `false` if `owner` is
    /// not a registration's.
    pub(crate) fn on_response(
        &mut self,
        now: Time,
        owner: DialogOwner,
        response: &Response,
    ) -> bool {
        if owner.0 & REGISTRATION_OWNER == 0 {
            return false;
        }
        let index = (owner.0 & !REGISTRATION_OWNER) as usize;
        if let Some(registration) = self.list.get_mut(index) {
            registration.handle_response(now, response);
            self.dirty = true;
        }
        true
    }

    /// Runs the registrations' timers if one is due.
    pub(crate) fn on_timeout(&mut self, now: Time) {
        if self.deadline > now {
            return;
        }
        for registration in &mut self.list {
            registration.handle_timeout(now);
        }
        self.dirty = true;
    }

    /// The next datagram any registration wants sent; `None` once all are
    /// drained (then [`Registrations::deadline`] is current).
    pub(crate) fn poll_transmit(&mut self) -> Option<sip::Transmit> {
        if !self.dirty {
            return None;
        }
        let mut deadline = Time::NEVER;
        for registration in &mut self.list {
            loop {
                match registration.poll_output() {
                    RegistrationOutput::Transmit(transmit) => return Some(transmit),
                    RegistrationOutput::Event(event) => {
                        log_event(registration, &event);
                        match event {
                            RegistrationEvent::Registered { .. } => self.stats.registered += 1,
                            RegistrationEvent::Failed { .. } => self.stats.failed += 1,
                        }
                    }
                    RegistrationOutput::Timeout(at) => {
                        deadline = deadline.min(at);
                        break;
                    }
                }
            }
        }
        self.deadline = deadline;
        self.dirty = false;
        None
    }

    /// The earliest registration timer; before the first input, at once (so
    /// the shell feeds a timeout that starts them even on a quiet server).
    pub(crate) fn deadline(&self) -> Time {
        if !self.started && !self.list.is_empty() {
            return Time::ZERO;
        }
        self.deadline
    }

    /// Whether every registration currently stands.
    pub(crate) fn all_registered(&self) -> bool {
        self.list.iter().all(Registration::is_registered)
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
