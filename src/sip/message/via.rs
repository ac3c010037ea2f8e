//! The topmost Via: reading it for transaction matching, and stamping
//! `received`/`rport` into it before echoing it in responses (RFC 3261 §18.2.1,
//! RFC 3581).
//!
//! Reading goes through `ezk-sip-types`' typed `Via` (its nom grammar handles LWS,
//! IPv6 references and the rest of §25), except for the plain form carriers send
//! nearly always (`SIP/2.0/UDP 192.0.2.1:5060;branch=…`), which [`plain_sent_by`]
//! reads by hand: the typed parse was a seventh of parsing a whole INVITE. The hand
//! path takes only a strict subset of what the grammar allows and hands anything else
//! to the typed parse, so the two cannot disagree on what is accepted.

use super::grammar::is_param_list;
use crate::sip::header_value::find_param;
use bytes::Bytes;
use bytesstr::BytesStr;
use ezk_sip_types::header::typed::Via;
use ezk_sip_types::header::HeaderParse;
use ezk_sip_types::host::Host;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// The fields of the topmost Via that transaction matching needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopVia {
    /// Transport token, e.g. `UDP`.
    pub transport: String,
    /// `host[:port]` as sent, host lower-cased.
    pub sent_by: String,
    /// The sent-by host if it is an IP address.
    pub sent_by_ip: Option<IpAddr>,
    /// The `branch` parameter (empty if absent).
    pub branch: String,
}

/// Magic cookie that marks RFC 3261 branch IDs.
pub(crate) const BRANCH_MAGIC_COOKIE: &str = "z9hG4bK";

impl TopVia {
    /// Reads one Via value; `None` if it is not a valid Via, or its `branch=` has no
    /// value (`via-branch = "branch" EQUAL token`). The parameter name is matched
    /// without regard to case (RFC 3261 §7.3.1).
    pub fn parse(value: &str) -> Option<TopVia> {
        TopVia::read(value, false)
    }

    /// [`TopVia::parse`], with `strict` the parameters of a Via the hand path does
    /// not read checked against the grammar too (the hand path's own parameters
    /// are plain tokens already).
    fn read(value: &str, strict: bool) -> Option<TopVia> {
        let branch = match find_param(value, "branch") {
            Some("") if has_empty_branch(value) => return None,
            Some(branch) => branch.to_owned(),
            None => String::new(),
        };
        if let Some((transport, host, port)) = plain_sent_by(value) {
            let sent_by_ip = host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
            let mut sent_by = String::with_capacity(host.len() + 6);
            sent_by.push_str(host);
            sent_by.make_ascii_lowercase();
            if let Some(port) = port {
                let _ = write!(sent_by, ":{port}");
            }
            return Some(TopVia {
                transport: transport.to_owned(),
                sent_by,
                sent_by_ip,
                branch,
            });
        }
        if strict {
            let params = value.find(';').map_or("", |start| &value[start..]);
            if !is_param_list(params) {
                return None;
            }
        }
        typed_top_via(value, branch)
    }

    /// Reads one Via value as [`TopVia::parse`] does, and also requires every parameter
    /// to be a `generic-param` (RFC 3261 §25.1 `via-params`), which the typed parse does
    /// not check; `None` for a value that is not a valid Via.
    pub(super) fn parse_strict(value: &str) -> Option<TopVia> {
        TopVia::read(value, true)
    }

    /// True if the branch carries the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch.starts_with(BRANCH_MAGIC_COOKIE)
    }
}

/// Reads a Via through `ezk-sip-types`' typed parse; `branch` was read already.
fn typed_top_via(value: &str, branch: String) -> Option<TopVia> {
    let value = BytesStr::from(value);
    let src: &Bytes = value.as_ref();
    let (rest, via) = Via::parse(src, value.as_str()).ok()?;
    if !rest.trim().is_empty() {
        return None;
    }
    let sent_by_ip = match &via.sent_by.host {
        Host::IP4(ip) => Some(IpAddr::V4(*ip)),
        Host::IP6(ip) => Some(IpAddr::V6(*ip)),
        Host::Name(_) => None,
    };
    let mut sent_by = via.sent_by.host.to_string();
    sent_by.make_ascii_lowercase();
    if let Some(port) = via.sent_by.port {
        let _ = write!(sent_by, ":{port}");
    }
    Some(TopVia {
        transport: via.transport.to_string(),
        sent_by,
        sent_by_ip,
        branch,
    })
}

/// The transport, host and port of a Via in its plain form: `SIP/2.0/` and an
/// upper-case transport, one space, a dotted IPv4 address or a host name (letters,
/// digits and inner hyphens in dot-separated labels, not all digits), an optional
/// port without leading zeros, then only `;name` or `;name=value` parameters of token
/// characters, no whitespace anywhere else. `None` for anything else, which the
/// typed parse then reads (or refuses).
fn plain_sent_by(value: &str) -> Option<(&str, &str, Option<u16>)> {
    let rest = value.strip_prefix("SIP/2.0/")?;
    let (transport, rest) = rest.split_once(' ')?;
    if !matches!(transport, "UDP" | "TCP" | "TLS" | "SCTP" | "WS" | "WSS") {
        return None;
    }
    let (sent_by, params) = rest.split_once(';').unwrap_or((rest, ""));
    let (host, port) = match sent_by.split_once(':') {
        Some((host, port)) => (host, Some(plain_port(port)?)),
        None => (sent_by, None),
    };
    let params_plain = if rest.contains(';') {
        params.split(';').all(plain_param)
    } else {
        true
    };
    (plain_host(host) && params_plain).then_some((transport, host, port))
}

fn plain_port(port: &str) -> Option<u16> {
    let digits_only = !port.is_empty() && port.bytes().all(|byte| byte.is_ascii_digit());
    if !digits_only || port.starts_with('0') || port.len() > 5 {
        return None;
    }
    port.parse().ok()
}

fn plain_host(host: &str) -> bool {
    if host
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b'.')
    {
        return host.parse::<std::net::Ipv4Addr>().is_ok();
    }
    host.split('.').all(|label| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
            && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
    })
}

fn plain_param(param: &str) -> bool {
    let is_token = |text: &str| {
        !text.is_empty()
            && text.bytes().all(|byte| {
                byte.is_ascii_alphanumeric()
                    || matches!(
                        byte,
                        b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                    )
            })
    };
    match param.split_once('=') {
        Some((name, value)) => is_token(name) && is_token(value),
        None => is_token(param),
    }
}

/// True if a `branch` parameter of `value` has an `=` but no value after it.
fn has_empty_branch(value: &str) -> bool {
    value.split(';').skip(1).any(|param| {
        param.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("branch") && value.trim().is_empty()
        })
    })
}

/// Adds `received=<source ip>` when the sent-by host is not the packet's source address,
/// and fills an empty `rport` with the source port (RFC 3581). Other text is kept.
pub fn stamp_received(via_value: &str, source: SocketAddr) -> String {
    let source_ip = source.ip().to_canonical();
    let sent_by_ip = TopVia::parse(via_value).and_then(|via| via.sent_by_ip);
    let mut segments = via_value.split(';');
    let mut out = segments.next().unwrap_or_default().trim_end().to_owned();
    let mut has_received = false;
    let mut filled_rport = false;
    for param in segments {
        let param = param.trim();
        let name = param.split('=').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("received") {
            has_received = true;
        }
        out.push(';');
        if name.eq_ignore_ascii_case("rport") && !param.contains('=') {
            out.push_str(&format!("rport={}", source.port()));
            filled_rport = true;
        } else {
            out.push_str(param);
        }
    }
    let differs = sent_by_ip.map(|ip| ip.to_canonical()) != Some(source_ip);
    if !has_received && (differs || filled_rport) {
        out.push_str(&format!(";received={source_ip}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_top_via() {
        let via = TopVia::parse("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0").unwrap();
        assert_eq!(via.transport, "UDP");
        assert_eq!(via.sent_by, "127.0.0.1:5061");
        assert_eq!(via.branch, "z9hG4bK-1234-1-0");
        assert!(via.has_rfc3261_branch());
        let named = TopVia::parse("SIP/2.0/UDP Proxy.Example.com;rport").unwrap();
        assert_eq!(named.sent_by, "proxy.example.com");
        assert_eq!(named.branch, "");
        assert!(TopVia::parse("garbage").is_none());
    }

    #[test]
    fn branch_name_is_case_insensitive_and_needs_a_value() {
        let upper = TopVia::parse("SIP/2.0/UDP 10.0.0.1;BRANCH=z9hG4bKUpper").unwrap();
        assert_eq!(upper.branch, "z9hG4bKUpper");
        assert!(upper.has_rfc3261_branch());
        let spaced = TopVia::parse("SIP/2.0/UDP 10.0.0.1 ; Branch = z9hG4bKs ;rport").unwrap();
        assert_eq!(spaced.branch, "z9hG4bKs");
        assert!(TopVia::parse("SIP/2.0/UDP 10.0.0.1;branch=").is_none());
        assert!(TopVia::parse("SIP/2.0/UDP 10.0.0.1;branch= ;rport").is_none());
        let bare = TopVia::parse("SIP/2.0/UDP 10.0.0.1;branch").unwrap();
        assert_eq!(bare.branch, "");
    }

    #[test]
    fn plain_and_typed_readings_agree() {
        let plain = [
            "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0",
            "SIP/2.0/TCP Proxy.Example.com;rport;branch=z9hG4bKx",
            "SIP/2.0/UDP 10.0.0.1",
            "SIP/2.0/TLS a-b.example:5061;received=192.0.2.1;branch=z9hG4bK.1~2",
        ];
        for value in plain {
            assert!(
                plain_sent_by(value).is_some(),
                "{value} takes the plain path"
            );
        }
        let typed_only = [
            "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKa",
            "SIP / 2.0 / UDP 10.0.0.1;branch=z9hG4bKa",
            "sip/2.0/udp 10.0.0.1;branch=z9hG4bKa",
            "SIP/2.0/UDP 10.0.0.1:05060;branch=z9hG4bKa",
            "SIP/2.0/UDP 10.0.0.1 ;branch=z9hG4bKa",
            "SIP/2.0/UDP 10.0.0.1;;branch=z9hG4bKa",
            "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa;",
            "SIP/2.0/UDP 010.0.0.1;branch=z9hG4bKa",
            "SIP/2.0/UDP -bad.example;branch=z9hG4bKa",
            "SIP/2.0/UDP 10.0.0.1;branch=\"q\"",
            "SIP/2.0/UDP 10.0.0.1:99999",
            "SIP/2.0/XYZ 10.0.0.1",
        ];
        for value in typed_only {
            assert!(
                plain_sent_by(value).is_none(),
                "{value} goes to the typed parse"
            );
        }
        for value in plain {
            let hand = TopVia::parse(value).unwrap();
            let branch = find_param(value, "branch").unwrap_or_default().to_owned();
            let typed = typed_top_via(value, branch).unwrap();
            assert_eq!(hand, typed, "{value}");
        }
    }

    #[test]
    fn strict_reading_checks_every_parameter() {
        let good = TopVia::parse_strict("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKa");
        assert_eq!(good.map(|via| via.branch), Some("z9hG4bKa".to_owned()));
        assert!(TopVia::parse_strict("SIP / 2.0 / UDP h.example ; branch = z9hG4bKb").is_some());
        for bad in [
            "SIP/2.0/UDP 127.0.0.1:5061;bran&&ch=z9hG4bK-x",
            "SIP/2.0/UDP 127.0.0.1:5061;b=",
            "SIP/2.0/UDP 127.0.0.1:5060;br4bK-x;",
            "SIP/2.0/UDP sip7.example.com;branch=z9hG4bKbbAX-fORWARDS: 70",
            "SIP/2.0/UDP sip word word",
            "SIP/2.0m-to",
        ] {
            assert!(TopVia::parse_strict(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn stamps_received_and_rport() {
        let source: SocketAddr = "10.0.0.9:5070".parse().unwrap();
        assert_eq!(
            stamp_received("SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKa", source),
            "SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKa"
        );
        assert_eq!(
            stamp_received("SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKa", source),
            "SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKa;received=10.0.0.9"
        );
        assert_eq!(
            stamp_received("SIP/2.0/UDP host.example;rport;branch=z9hG4bKa", source),
            "SIP/2.0/UDP host.example;rport=5070;branch=z9hG4bKa;received=10.0.0.9"
        );
    }
}
