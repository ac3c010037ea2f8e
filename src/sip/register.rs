//! Registering with a carrier (RFC 3261 §10): one binding of our Contact to a
//! trunk's address-of-record, kept alive by refreshing it before it expires,
//! with digest credentials for a 401/407 ([`crate::sip::digest`]) and a
//! doubling backoff after failures.
//!
//! A [`Registration`] is a small core of its own with the usual shape:
//! [`Registration::start`], [`Registration::handle_response`] (the dispatcher
//! routes responses by its Call-ID, which stays the same for every REGISTER
//! of the binding, CSeq rising) and [`Registration::handle_timeout`] in, one
//! [`Registration::poll_output`] out.
//!
//! Refresh: at half the granted expiry when it is short (≤ 20 min), else
//! 10 min before it ends — the usual practice of softphones and PBXs, so a
//! lost refresh still has time for its retransmissions and a retry.
//! Failure (a final non-2xx we cannot answer, or Timer F): retry after 30 s,
//! doubling up to 30 min (RFC 5626 §4.5's shape without the jitter, which a
//! single binding per trunk does not need).
//!
//! REGISTERs go by the trunk's transport ([`RegistrationConfig::link`]):
//! UDP, or TCP or TLS on a connection of the shell's (reused, or opened to
//! `dest`), with Via and Contact naming it; on a stream nothing is
//! retransmitted (§17.1.2.2: Timer E only on unreliable transports) and a
//! connection that cannot be made fails the REGISTER at once (a local 503,
//! [`crate::sip::Dispatcher::handle_transport_error`]), backing off as any
//! failure does.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ezk_sip_types::{Headers, Name};

use crate::sip::digest::{challenge_of, may_answer, Challenge, Credentials};
use crate::sip::event::{Link, Transmit};
use crate::sip::message::{serialize, Response};
use crate::sip::settings::SipSettings;
use crate::sip::transaction::{ClientResponse, ClientTimeout, NonInviteClientTx};
use crate::time::Time;

/// First retry after a failure.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// Longest wait between retries.
const MAX_RETRY: Duration = Duration::from_secs(1800);

/// What to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// The registrar's URI, the REGISTER's Request-URI (`sip:carrier.example`).
    pub registrar: String,
    /// The address-of-record, From and To (`sip:+4930999@carrier.example`).
    pub aor: String,
    /// Where the REGISTERs go.
    pub dest: SocketAddr,
    /// The user part of our Contact (`sip:USER@our-address`).
    pub contact_user: String,
    /// Answers a 401/407 when given.
    pub credentials: Option<Credentials>,
    /// The expiry we ask for.
    pub expires: Duration,
    /// The transport: [`Link::Udp`], or [`Link::Tcp`]`(None)` /
    /// [`Link::Tls`]`(None)` for any open connection to `dest`, else a new one.
    pub link: Link,
}

/// What a registration reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrationEvent {
    /// The registrar accepted the binding for this long.
    Registered {
        /// The expiry it granted.
        expires: Duration,
    },
    /// The REGISTER failed (with the final status, or `None` for no response);
    /// the next attempt is at `retry_at`.
    Failed {
        /// The final response's status, if one came.
        status: Option<u16>,
        /// When the next REGISTER goes out.
        retry_at: Time,
    },
}

/// What the registration wants done next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrationOutput {
    /// Send this datagram.
    Transmit(Transmit),
    /// Something happened.
    Event(RegistrationEvent),
    /// Nothing more until this instant ([`Time::NEVER`]: no timer).
    Timeout(Time),
}

#[derive(Debug)]
enum State {
    /// Not started.
    Idle,
    /// A REGISTER is out.
    Registering {
        branch: String,
        tx: NonInviteClientTx,
    },
    /// Bound; the next REGISTER goes out at `refresh_at`.
    Registered { refresh_at: Time },
    /// Waiting to retry after a failure.
    Backoff { retry_at: Time },
}

/// One binding with one registrar.
#[derive(Debug)]
pub struct Registration {
    settings: Arc<SipSettings>,
    config: RegistrationConfig,
    call_id: String,
    local_tag: String,
    cseq: u32,
    state: State,
    /// The challenge last answered, with the header our answer goes in: every
    /// later REGISTER answers it again with the next nonce count, so a
    /// refresh needs no new round trip until the registrar changes nonce.
    challenge: Option<(Name, Challenge)>,
    nonce_count: u32,
    auth_attempts: u8,
    retry_after: Duration,
    rng: fastrand::Rng,
    pending: VecDeque<RegistrationOutput>,
    /// REGISTERs sent, retries after challenges included.
    pub registers_sent: u64,
}

impl Registration {
    /// A registration with the Call-ID `call_id` (unique to the shard: the
    /// dispatcher routes its responses by it); `seed` seeds tags and branches.
    pub fn new(
        settings: Arc<SipSettings>,
        config: RegistrationConfig,
        call_id: String,
        seed: u64,
    ) -> Registration {
        let mut rng = fastrand::Rng::with_seed(seed);
        let local_tag = format!("{:016x}", rng.u64(..));
        Registration {
            settings,
            config,
            call_id,
            local_tag,
            cseq: 0,
            state: State::Idle,
            challenge: None,
            nonce_count: 0,
            auth_attempts: 0,
            retry_after: FIRST_RETRY,
            rng,
            pending: VecDeque::new(),
            registers_sent: 0,
        }
    }

    /// The Call-ID of every REGISTER of this binding.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Whether the binding currently stands.
    pub fn is_registered(&self) -> bool {
        matches!(self.state, State::Registered { .. })
    }

    /// Sends the first REGISTER.
    pub fn start(&mut self, now: Time) {
        if matches!(self.state, State::Idle) {
            self.send_register(now);
        }
    }

    /// A response the dispatcher routed here (matched by Call-ID; the branch
    /// is checked here).
    pub fn handle_response(&mut self, now: Time, response: &Response) {
        let State::Registering { branch, tx } = &mut self.state else {
            return;
        };
        if response.head.top_via.branch != *branch {
            return;
        }
        if tx.on_response(now, response.status) != ClientResponse::Final {
            return;
        }
        match response.status {
            200..=299 => self.on_registered(now, response),
            401 | 407 if self.answer_challenge(response) => self.send_register(now),
            status => self.fail(now, Some(status), retry_after_header(response)),
        }
    }

    /// Runs the timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        match &mut self.state {
            State::Idle => {}
            State::Registering { tx, .. } => {
                if tx.deadline() > now {
                    return;
                }
                match tx.on_timeout(now) {
                    ClientTimeout::Retransmit if self.config.link.is_stream() => {}
                    ClientTimeout::Retransmit => {
                        let transmit = Transmit {
                            dest: tx.dest,
                            payload: tx.request.clone(),
                            link: Link::Udp,
                        };
                        self.pending
                            .push_back(RegistrationOutput::Transmit(transmit));
                    }
                    ClientTimeout::TimedOut => self.fail(now, None, None),
                    ClientTimeout::Nothing | ClientTimeout::Expired => {}
                }
            }
            State::Registered { refresh_at }
            | State::Backoff {
                retry_at: refresh_at,
            } => {
                if *refresh_at <= now {
                    self.auth_attempts = 0;
                    self.send_register(now);
                }
            }
        }
    }

    /// The next thing to do. After every input, call until it returns `Timeout`.
    pub fn poll_output(&mut self) -> RegistrationOutput {
        if let Some(output) = self.pending.pop_front() {
            return output;
        }
        RegistrationOutput::Timeout(match &self.state {
            State::Idle => Time::NEVER,
            State::Registering { tx, .. } => tx.deadline(),
            State::Registered { refresh_at } => *refresh_at,
            State::Backoff { retry_at } => *retry_at,
        })
    }

    fn on_registered(&mut self, now: Time, response: &Response) {
        let granted = granted_expiry(response, &self.contact_uri()).unwrap_or(self.config.expires);
        let refresh_in = if granted <= Duration::from_secs(1200) {
            granted / 2
        } else {
            granted - Duration::from_secs(600)
        };
        self.retry_after = FIRST_RETRY;
        self.auth_attempts = 0;
        self.state = State::Registered {
            refresh_at: now + refresh_in,
        };
        self.pending
            .push_back(RegistrationOutput::Event(RegistrationEvent::Registered {
                expires: granted,
            }));
    }

    fn fail(&mut self, now: Time, status: Option<u16>, retry_after: Option<Duration>) {
        let wait = retry_after.unwrap_or(self.retry_after).min(MAX_RETRY);
        self.retry_after = (self.retry_after * 2).min(MAX_RETRY);
        let retry_at = now + wait;
        self.challenge = None;
        self.auth_attempts = 0;
        self.state = State::Backoff { retry_at };
        self.pending
            .push_back(RegistrationOutput::Event(RegistrationEvent::Failed {
                status,
                retry_at,
            }));
    }

    /// Prepares the Authorization for a 401/407; `false` when there is
    /// nothing (more) to answer with.
    fn answer_challenge(&mut self, response: &Response) -> bool {
        let Some((answer_name, challenge)) = challenge_of(response.status, &response.head.headers)
        else {
            return false;
        };
        if self.config.credentials.is_none() || !may_answer(self.auth_attempts, &challenge) {
            return false;
        }
        self.auth_attempts += 1;
        self.challenge = Some((answer_name, challenge));
        self.nonce_count = 0;
        true
    }

    fn contact_uri(&self) -> String {
        format!(
            "sip:{}@{}",
            self.config.contact_user, self.settings.local_addr
        )
    }

    fn send_register(&mut self, now: Time) {
        self.cseq += 1;
        let branch = crate::sip::dialog::new_branch(&mut self.rng);
        let local_addr = self.settings.local_addr;
        let link = self.config.link;
        let mut headers = Headers::with_capacity(12);
        headers.insert(
            Name::VIA,
            format!(
                "SIP/2.0/{} {local_addr};branch={branch};rport",
                link.via_name()
            ),
        );
        headers.insert(Name::MAX_FORWARDS, "70");
        headers.insert(
            Name::FROM,
            format!("<{}>;tag={}", self.config.aor, self.local_tag),
        );
        headers.insert(Name::TO, format!("<{}>", self.config.aor));
        headers.insert(Name::CALL_ID, self.call_id.as_str());
        headers.insert(Name::CSEQ, format!("{} REGISTER", self.cseq));
        headers.insert(
            Name::CONTACT,
            format!("<{}{}>", self.contact_uri(), link.uri_param()),
        );
        headers.insert(Name::EXPIRES, self.config.expires.as_secs().to_string());
        if let (Some((name, challenge)), Some(credentials)) =
            (&self.challenge, &self.config.credentials)
        {
            self.nonce_count += 1;
            let cnonce = format!("{:016x}", self.rng.u64(..));
            let value = challenge.answer(
                credentials,
                "REGISTER",
                &self.config.registrar,
                &cnonce,
                self.nonce_count,
            );
            headers.insert(name.clone(), value);
        }
        if !self.settings.user_agent.is_empty() {
            headers.insert(Name::USER_AGENT, self.settings.user_agent.as_str());
        }
        let start = format!("REGISTER {} SIP/2.0", self.config.registrar);
        let request = serialize(&start, &headers, &[]);
        let dest = self.config.dest;
        let tx = NonInviteClientTx::new(now, dest, request.clone(), self.settings.timers);
        self.state = State::Registering { branch, tx };
        self.registers_sent += 1;
        self.pending
            .push_back(RegistrationOutput::Transmit(Transmit {
                dest,
                payload: request,
                link,
            }));
    }
}

/// The expiry a 2xx grants our Contact: its `expires` parameter in the
/// matching Contact, else the Expires header (§10.2.4).
fn granted_expiry(response: &Response, contact_uri: &str) -> Option<Duration> {
    let headers = &response.head.headers;
    let from_contact = headers
        .get_raw(&Name::CONTACT)
        .flat_map(|value| value.as_str().split(','))
        .filter(|contact| contact.contains(contact_uri))
        .find_map(|contact| param_seconds(contact, "expires"));
    from_contact.or_else(|| {
        headers
            .get_raw(&Name::EXPIRES)
            .next()
            .and_then(|value| value.as_str().trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    })
}

/// A `Retry-After` on a failure (503 mostly), in seconds.
fn retry_after_header(response: &Response) -> Option<Duration> {
    response
        .head
        .headers
        .get_raw(&Name::RETRY_AFTER)
        .next()
        .and_then(|value| {
            let seconds = value.as_str().split([';', '(']).next()?.trim();
            seconds.parse::<u64>().ok()
        })
        .map(Duration::from_secs)
}

/// `;name=N` among a header value's parameters.
fn param_seconds(value: &str, name: &str) -> Option<Duration> {
    value.split(';').skip(1).find_map(|param| {
        let (key, number) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| number.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests;
