//! The topmost Via: reading it (through `ezk-sip-types`' typed `Via`) for transaction
//! matching, and stamping `received`/`rport` into it before echoing it in responses
//! (RFC 3261 §18.2.1, RFC 3581).

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
    /// Reads one Via value; `None` if it is not a valid Via.
    pub fn parse(value: &str) -> Option<TopVia> {
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
            branch: via
                .params
                .get_val("branch")
                .map(|branch| branch.to_string())
                .unwrap_or_default(),
        })
    }

    /// True if the branch carries the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch.starts_with(BRANCH_MAGIC_COOKIE)
    }
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
