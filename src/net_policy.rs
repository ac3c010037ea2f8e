//! Where outbound requests from flows (`httpRequest`, `webhook_send`, audio
//! URLs) may go: a per-workspace list of allowed and denied hosts and
//! networks, checked against every address a name resolves to (after DNS,
//! and again for each redirect's target), with loopback, link-local,
//! private and unique-local ranges, the unspecified and broadcast
//! addresses, and callplane's own addresses denied by default for flows
//! created through the API.
//!
//! Order of the rules: an explicit deny (host or network) wins; then an
//! explicit allow (host or network) admits; then the default ranges refuse;
//! anything else is allowed. Plain data and pure functions, written by hand
//! over `ipnet` (no crate offers exactly this rule set); whoever resolves
//! and connects calls [`NetPolicy::check`] for each address it would use.

use std::net::IpAddr;

use ipnet::IpNet;

/// Why a request was refused: the flow takes its failure outcome with this text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// What was refused and by which rule, e.g. `10.0.0.7 (internal.example) is a private address`.
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "outbound request refused: {}", self.reason)
    }
}

/// One workspace's rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetPolicy {
    /// Host names (exact, case-insensitive; `*.example.com` for subdomains) allowed.
    pub allow_hosts: Vec<String>,
    /// Networks allowed, even inside the default ranges.
    pub allow_nets: Vec<IpNet>,
    /// Host names refused.
    pub deny_hosts: Vec<String>,
    /// Networks refused.
    pub deny_nets: Vec<IpNet>,
    /// Refuse loopback, link-local, private, unique-local, unspecified,
    /// broadcast and multicast addresses (the default for API-created flows).
    pub deny_internal: bool,
    /// callplane's own addresses (SIP, RTP, API listeners), refused with
    /// `deny_internal`.
    pub own_addresses: Vec<IpAddr>,
}

impl NetPolicy {
    /// The policy of flows created through the API: internal and own addresses refused.
    pub fn for_api_flows(own_addresses: Vec<IpAddr>) -> NetPolicy {
        NetPolicy {
            deny_internal: true,
            own_addresses,
            ..NetPolicy::default()
        }
    }

    /// Whether a request to `host`, resolved to `addr`, may go.
    pub fn check(&self, addr: IpAddr, host: &str) -> Result<(), Refusal> {
        let addr = canonical(addr);
        let refuse = |why: &str| {
            Err(Refusal {
                reason: format!("{addr} ({host}) {why}"),
            })
        };
        if self.deny_hosts.iter().any(|rule| host_matches(rule, host)) {
            return refuse("is a denied host");
        }
        if self.deny_nets.iter().any(|net| net.contains(&addr)) {
            return refuse("is in a denied network");
        }
        if self.allow_hosts.iter().any(|rule| host_matches(rule, host))
            || self.allow_nets.iter().any(|net| net.contains(&addr))
        {
            return Ok(());
        }
        if self.deny_internal {
            if self.own_addresses.iter().any(|own| canonical(*own) == addr) {
                return refuse("is one of callplane's own addresses");
            }
            if let Some(kind) = internal_kind(addr) {
                return refuse(&format!("is a {kind} address"));
            }
        }
        Ok(())
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn host_matches(rule: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match rule.strip_prefix("*.") {
        Some(domain) => {
            host.len() > domain.len() + 1
                && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
                && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        }
        None => rule.eq_ignore_ascii_case(host),
    }
}

/// The kind of an address that is not on the public internet, if it is one.
fn internal_kind(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                Some("private")
            } else if v4.is_unspecified() || v4.is_broadcast() || a == 0 {
                Some("unspecified")
            } else if v4.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn api_flows_may_not_reach_internal_or_own_addresses() {
        let policy = NetPolicy::for_api_flows(vec![ip("203.0.113.5")]);
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("fd00::1", "private"),
            ("0.0.0.0", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
        ] {
            let refused = policy.check(ip(addr), "h").expect_err(addr);
            assert!(
                refused.reason.ends_with(&format!("is a {kind} address")),
                "{refused}"
            );
        }
        assert!(policy
            .check(ip("203.0.113.5"), "me")
            .expect_err("own")
            .reason
            .contains("own addresses"));
        assert_eq!(policy.check(ip("93.184.216.34"), "example.com"), Ok(()));
        assert_eq!(policy.check(ip("2606:2800::1"), "example.com"), Ok(()));
    }

    #[test]
    fn allow_and_deny_lists_come_before_the_defaults() {
        let mut policy = NetPolicy::for_api_flows(Vec::new());
        policy.allow_nets = vec!["10.9.0.0/16".parse().expect("net")];
        policy.allow_hosts = vec!["*.corp.example".into()];
        policy.deny_hosts = vec!["evil.example".into()];
        policy.deny_nets = vec!["198.51.100.0/24".parse().expect("net")];
        assert_eq!(policy.check(ip("10.9.1.1"), "crm"), Ok(()));
        assert_eq!(policy.check(ip("192.168.1.1"), "crm.corp.example"), Ok(()));
        assert!(policy.check(ip("192.168.1.1"), "corp.example").is_err());
        assert!(policy.check(ip("192.168.1.1"), "xcorp.example").is_err());
        assert!(policy.check(ip("93.184.216.34"), "EVIL.example.").is_err());
        assert!(policy
            .check(ip("198.51.100.7"), "crm.corp.example")
            .is_err());
        // Flows from files keep their old freedom unless rules say otherwise.
        assert_eq!(
            NetPolicy::default().check(ip("127.0.0.1"), "localhost"),
            Ok(())
        );
    }
}
