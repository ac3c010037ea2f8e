//! Session timers (RFC 4028): reading `Session-Expires` (compact `x`) with its
//! `refresher`, `Min-SE` and `Supported: timer` from a request, deciding the
//! interval and who refreshes, the headers of our 2xx, and the clock a dialog
//! keeps between refreshes.
//!
//! Choices (the RFC leaves them to the UAS):
//! - a `Session-Expires` below our minimum (or below the request's own
//!   `Min-SE`) is answered 422 with `Min-SE` (the larger of the two);
//! - the caller refreshes only when it asks to (`refresher=uac`) and supports
//!   timers; in every other case we refresh (`refresher=uas`);
//! - the interval is the caller's, lowered to our configured
//!   `session_expires` when that is smaller (never below any `Min-SE`);
//! - a caller that asks for no timer gets one only when `session_expires`
//!   is configured (> 0), and then we refresh;
//! - a refresh without `Session-Expires` keeps the timer the dialog has;
//! - our 2xx carries `Session-Expires: N;refresher=uac|uas`, and
//!   `Require: timer` when the caller supports timers.
//!
//! Roles are kept absolute ([`Refresher::Peer`], [`Refresher::Us`]): in a
//! request the far end sends, `uac` is the far end; in one we send, us.

use std::time::Duration;

use ezk_sip_types::Name;

use crate::sip::header_value::{find_param, split_list};
use crate::sip::message::MessageHead;
use crate::sip::settings::SessionTimerSettings;
use crate::time::Time;

/// The option tag of session timers.
pub(crate) const TIMER_TAG: &str = "timer";

/// Who sends the refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refresher {
    /// The far end of the dialog.
    Peer,
    /// callplane.
    Us,
}

/// What a request said about session timers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerRequest {
    /// `Session-Expires` in seconds and its `refresher` (`uac`: the sender).
    pub session_expires: Option<(u32, Option<Refresher>)>,
    /// `Min-SE` in seconds.
    pub min_se: Option<u32>,
    /// `timer` is in `Supported` or `Require`.
    pub supported: bool,
}

impl TimerRequest {
    /// Reads a request the far end sent. Unreadable values count as absent.
    pub(crate) fn read(head: &MessageHead) -> TimerRequest {
        let headers = &head.headers;
        let session_expires = headers
            .get_raw(&Name::SESSION_EXPIRES)
            .next()
            .and_then(|value| parse_session_expires(value.as_str(), Refresher::Peer));
        let min_se = headers
            .get_raw(&Name::MIN_SE)
            .next()
            .and_then(|value| parse_delta(value.as_str()));
        let supported = [Name::SUPPORTED, Name::REQUIRE].iter().any(|name| {
            headers.get_raw(name).any(|value| {
                split_list(value.as_str())
                    .iter()
                    .any(|tag| tag.eq_ignore_ascii_case(TIMER_TAG))
            })
        });
        TimerRequest {
            session_expires,
            min_se,
            supported,
        }
    }

    /// The `Min-SE` of a 422 when the asked interval is too brief; `None`
    /// when it is acceptable (or none was asked for).
    pub(crate) fn too_brief(&self, settings: &SessionTimerSettings) -> Option<u32> {
        let (asked, _) = self.session_expires?;
        let floor = settings.min_se.max(self.min_se.unwrap_or(0));
        (asked < floor).then_some(floor)
    }

    /// The timer for a dialog given this request (already checked with
    /// [`TimerRequest::too_brief`]) and the timer it has (`current`).
    pub(crate) fn negotiate(
        &self,
        settings: &SessionTimerSettings,
        current: Option<SessionTimer>,
    ) -> Option<SessionTimer> {
        let floor = settings.min_se.max(self.min_se.unwrap_or(0));
        match self.session_expires {
            Some((asked, refresher)) => {
                let interval = match settings.session_expires {
                    ours if ours > 0 && ours < asked => ours.max(floor),
                    _ => asked,
                };
                let refresher = match refresher {
                    Some(Refresher::Peer) if self.supported => Refresher::Peer,
                    _ => Refresher::Us,
                };
                Some(SessionTimer {
                    interval,
                    refresher,
                    require: self.supported,
                })
            }
            None if current.is_some() => current,
            None if settings.session_expires > 0 => Some(SessionTimer {
                interval: settings.session_expires.max(floor),
                refresher: Refresher::Us,
                require: self.supported,
            }),
            None => None,
        }
    }
}

/// A negotiated session timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionTimer {
    /// The session interval in seconds.
    pub interval: u32,
    pub refresher: Refresher,
    /// The far end supports timers: our 2xx carries `Require: timer`.
    pub require: bool,
}

impl SessionTimer {
    /// The headers of our 2xx to the request that negotiated this timer.
    pub(crate) fn response_headers(&self) -> Vec<(Name, String)> {
        let role = match self.refresher {
            Refresher::Peer => "uac",
            Refresher::Us => "uas",
        };
        let mut headers = vec![(
            Name::SESSION_EXPIRES,
            format!("{};refresher={role}", self.interval),
        )];
        if self.require {
            headers.push((Name::REQUIRE, TIMER_TAG.to_owned()));
        }
        headers
    }

    /// The headers of a refresh we send (we are the refresher: `uac`).
    pub(crate) fn request_headers(&self) -> Vec<(Name, String)> {
        vec![
            (
                Name::SESSION_EXPIRES,
                format!("{};refresher=uac", self.interval),
            ),
            (Name::SUPPORTED, TIMER_TAG.to_owned()),
        ]
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval))
    }
}

/// A dialog's session clock: when the session was last refreshed and what
/// is due next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionClock {
    pub timer: SessionTimer,
    /// When the session expires without a refresh.
    pub expires_at: Time,
    /// When we send our refresh (we refresh) or give up waiting for the
    /// far end's (it refreshes): `expires − min(32 s, interval / 3)`.
    pub due_at: Time,
}

impl SessionClock {
    /// The clock of a session refreshed (or started) at `now`.
    pub(crate) fn start(now: Time, timer: SessionTimer) -> SessionClock {
        let interval = timer.interval();
        let due_at = match timer.refresher {
            Refresher::Us => now + interval / 2,
            Refresher::Peer => now + (interval - (interval / 3).min(Duration::from_secs(32))),
        };
        SessionClock {
            timer,
            expires_at: now + interval,
            due_at,
        }
    }
}

/// `delta-seconds *(;param)` with the `refresher` parameter; `uac` names
/// `sender`.
fn parse_session_expires(value: &str, sender: Refresher) -> Option<(u32, Option<Refresher>)> {
    let delta = parse_delta(value)?;
    let params = value.find(';').and_then(|at| value.get(at..)).unwrap_or("");
    let refresher = match find_param(params, "refresher") {
        Some(role) if role.eq_ignore_ascii_case("uac") => Some(sender),
        Some(role) if role.eq_ignore_ascii_case("uas") => Some(match sender {
            Refresher::Peer => Refresher::Us,
            Refresher::Us => Refresher::Peer,
        }),
        _ => None,
    };
    Some((delta, refresher))
}

/// The `Session-Expires` of a 2xx to a refresh we sent: interval and
/// refresher (`uac`: us).
pub(crate) fn read_response(head: &MessageHead) -> Option<(u32, Option<Refresher>)> {
    head.headers
        .get_raw(&Name::SESSION_EXPIRES)
        .next()
        .and_then(|value| parse_session_expires(value.as_str(), Refresher::Us))
}

/// The `Min-SE` of a 422 to a refresh we sent.
pub(crate) fn read_min_se(head: &MessageHead) -> Option<u32> {
    head.headers
        .get_raw(&Name::MIN_SE)
        .next()
        .and_then(|value| parse_delta(value.as_str()))
}

/// The leading delta-seconds of a header value (at most 10 digits, a
/// positive number that fits a `u32`).
fn parse_delta(value: &str) -> Option<u32> {
    let digits = value.split(';').next()?.trim();
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|delta| *delta > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse_message, Message};

    fn head(extra: &str) -> MessageHead {
        let data = format!(
            "INVITE sip:1000@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\
From: <sip:bob@192.0.2.1>;tag=rt\r\nTo: <sip:1000@10.0.0.1>\r\nCall-ID: s1\r\n\
CSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse_message(data.as_bytes()) {
            Ok(Message::Request(request)) => request.head,
            other => panic!("{other:?}"),
        }
    }

    fn settings(min_se: u32, session_expires: u32) -> SessionTimerSettings {
        SessionTimerSettings {
            min_se,
            session_expires,
        }
    }

    #[test]
    fn reads_compact_and_long_forms() {
        let request = TimerRequest::read(&head(
            "x: 1800;refresher=uac\r\nMin-SE: 120\r\nk: 100rel, timer\r\n",
        ));
        assert_eq!(
            request,
            TimerRequest {
                session_expires: Some((1800, Some(Refresher::Peer))),
                min_se: Some(120),
                supported: true,
            }
        );
        let request = TimerRequest::read(&head("Session-Expires: 600 ; Refresher = UAS\r\n"));
        assert_eq!(request.session_expires, Some((600, Some(Refresher::Us))));
        assert!(!request.supported);
        for bad in ["abc", "-5", "0", "99999999999", ""] {
            let request = TimerRequest::read(&head(&format!("Session-Expires: {bad}\r\n")));
            assert_eq!(request.session_expires, None, "{bad:?}");
        }
    }

    #[test]
    fn too_brief_intervals_get_the_larger_min_se() {
        let ours = settings(90, 0);
        let brief = TimerRequest::read(&head("Session-Expires: 60\r\n"));
        assert_eq!(brief.too_brief(&ours), Some(90));
        let theirs = TimerRequest::read(&head("Session-Expires: 100\r\nMin-SE: 200\r\n"));
        assert_eq!(theirs.too_brief(&ours), Some(200));
        let fine = TimerRequest::read(&head("Session-Expires: 90\r\n"));
        assert_eq!(fine.too_brief(&ours), None);
        assert_eq!(TimerRequest::default().too_brief(&ours), None);
    }

    #[test]
    fn the_caller_refreshes_only_when_it_asks_and_supports_timers() {
        let ours = settings(90, 0);
        let asks = TimerRequest::read(&head(
            "Session-Expires: 300;refresher=uac\r\nSupported: timer\r\n",
        ));
        let timer = asks.negotiate(&ours, None).unwrap();
        assert_eq!(
            timer,
            SessionTimer {
                interval: 300,
                refresher: Refresher::Peer,
                require: true
            }
        );
        assert_eq!(
            timer.response_headers(),
            vec![
                (Name::SESSION_EXPIRES, "300;refresher=uac".to_owned()),
                (Name::REQUIRE, "timer".to_owned())
            ]
        );
        let silent = TimerRequest::read(&head("Session-Expires: 300\r\nSupported: timer\r\n"));
        assert_eq!(
            silent.negotiate(&ours, None).unwrap().refresher,
            Refresher::Us
        );
        let uas = TimerRequest::read(&head(
            "Session-Expires: 300;refresher=uas\r\nSupported: timer\r\n",
        ));
        assert_eq!(uas.negotiate(&ours, None).unwrap().refresher, Refresher::Us);
        // A proxy asked for the timer; the caller does not support it.
        let proxy = TimerRequest::read(&head("Session-Expires: 300;refresher=uac\r\n"));
        let timer = proxy.negotiate(&ours, None).unwrap();
        assert_eq!((timer.refresher, timer.require), (Refresher::Us, false));
        assert_eq!(
            timer.response_headers(),
            vec![(Name::SESSION_EXPIRES, "300;refresher=uas".to_owned())]
        );
    }

    #[test]
    fn our_interval_lowers_theirs_and_applies_when_they_ask_none() {
        let ours = settings(90, 120);
        let long = TimerRequest::read(&head("Session-Expires: 1800\r\nMin-SE: 150\r\n"));
        assert_eq!(long.negotiate(&ours, None).unwrap().interval, 150);
        let none = TimerRequest::read(&head(""));
        let timer = none.negotiate(&ours, None).unwrap();
        assert_eq!((timer.interval, timer.refresher), (120, Refresher::Us));
        assert_eq!(none.negotiate(&settings(90, 0), None), None);
        // A refresh without Session-Expires keeps what the dialog has.
        let current = SessionTimer {
            interval: 400,
            refresher: Refresher::Peer,
            require: true,
        };
        assert_eq!(
            none.negotiate(&settings(90, 0), Some(current)),
            Some(current)
        );
    }

    #[test]
    fn the_clock_is_due_at_half_when_we_refresh_and_before_expiry_when_they_do() {
        let start = Time::from_millis(1_000);
        let ours = SessionClock::start(
            start,
            SessionTimer {
                interval: 90,
                refresher: Refresher::Us,
                require: false,
            },
        );
        assert_eq!(ours.due_at, Time::from_millis(46_000));
        assert_eq!(ours.expires_at, Time::from_millis(91_000));
        let theirs = SessionClock::start(
            start,
            SessionTimer {
                interval: 90,
                refresher: Refresher::Peer,
                require: true,
            },
        );
        assert_eq!(theirs.due_at, Time::from_millis(61_000), "90 − 90/3");
        let long = SessionClock::start(
            start,
            SessionTimer {
                interval: 1800,
                refresher: Refresher::Peer,
                require: true,
            },
        );
        assert_eq!(long.due_at, Time::from_millis(1_769_000), "1800 − 32");
    }

    #[test]
    fn responses_to_our_refresh_name_us_as_uac() {
        let response = head("Session-Expires: 200;refresher=uac\r\nMin-SE: 150\r\n");
        assert_eq!(read_response(&response), Some((200, Some(Refresher::Us))));
        assert_eq!(read_min_se(&response), Some(150));
    }
}
