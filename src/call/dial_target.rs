//! Where a dialled target goes: a number through the dial trunk, or a `sip:`
//! URI straight to the address it names.
//!
//! Flow documents name targets (`dial`'s numbers, VoIPBIN `connect`
//! destinations) and caller ids with templated text, so everything here is
//! checked before it reaches a SIP header: a number is digits with an
//! optional `+` (and `*`/`#`), a URI's host is an IP address (callplane does
//! no DNS on a shard), and a caller id keeps only the characters a SIP user
//! part allows unescaped. Anything else is refused with a reason the flow
//! sees as the `failed` outcome.

use std::net::{IpAddr, SocketAddr};

use crate::sip::Credentials;

/// The trunk numbers are dialled through (`[dial] trunk`).
#[derive(Clone, Debug)]
pub struct DialTrunk {
    /// The trunk's name, for logs.
    pub name: String,
    /// Where its INVITEs go (the carrier's proxy).
    pub proxy: SocketAddr,
    /// Answers the carrier's digest challenges.
    pub credentials: Option<Credentials>,
    /// The transport its INVITEs take (the trunk's `transport`).
    pub link: crate::sip::Link,
}

/// A target made ready for an INVITE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The Request-URI.
    pub request_uri: String,
    /// Where the INVITE is sent.
    pub dest: SocketAddr,
    /// Whether it goes through the dial trunk (its credentials apply).
    pub via_trunk: bool,
}

/// Resolves `target` for an INVITE.
pub fn resolve(target: &str, trunk: Option<&DialTrunk>) -> Result<Resolved, String> {
    let target = target.trim();
    if let Some(rest) = target
        .strip_prefix("sip:")
        .or_else(|| target.strip_prefix("SIP:"))
    {
        return resolve_uri(rest);
    }
    if !is_number(target) {
        return Err(format!("{target:?} is neither a number nor a sip: URI"));
    }
    let Some(trunk) = trunk else {
        return Err(format!(
            "no [dial] trunk is configured to dial the number {target}"
        ));
    };
    Ok(Resolved {
        request_uri: format!("sip:{target}@{}", trunk.proxy),
        dest: trunk.proxy,
        via_trunk: true,
    })
}

/// `user@host[:port]` after `sip:`, with no parameters or headers.
fn resolve_uri(rest: &str) -> Result<Resolved, String> {
    let (user, host) = match rest.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, rest),
    };
    if let Some(user) = user {
        if user.is_empty() || !user.chars().all(is_user_char) {
            return Err(format!("the user part of sip:{rest} is not plain"));
        }
    }
    let dest = parse_host_port(host).ok_or_else(|| {
        format!("the host of sip:{rest} is not an IP address (callplane does no DNS)")
    })?;
    Ok(Resolved {
        request_uri: format!("sip:{rest}"),
        dest,
        via_trunk: false,
    })
}

fn parse_host_port(host: &str) -> Option<SocketAddr> {
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Some(addr);
    }
    let ip = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ip.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 5060))
}

/// Digits with an optional leading `+`; `*` and `#` allowed (feature codes).
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    !digits.is_empty()
        && digits.len() <= 32
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

/// Characters a SIP user part carries unescaped (RFC 3261 §25.1, `unreserved`
/// and a few of `user-unreserved`), less those that would need care in a
/// header (`;`, `?`, `,`).
fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()+&=$/#".contains(c)
}

/// A caller id cleaned for our From: the characters a user part allows,
/// at most 64; `anonymous` when nothing is left.
pub fn clean_caller_id(caller_id: &str) -> String {
    let cleaned: String = caller_id
        .trim()
        .chars()
        .filter(|&c| is_user_char(c) && c != '#')
        .take(64)
        .collect();
    match cleaned.is_empty() {
        true => "anonymous".to_owned(),
        false => cleaned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk() -> DialTrunk {
        DialTrunk {
            name: "carrier".into(),
            proxy: "198.51.100.7:5060".parse().unwrap(),
            credentials: None,
            link: crate::sip::Link::Udp,
        }
    }

    #[test]
    fn a_number_goes_through_the_trunk() {
        let resolved = resolve(" +4930123456 ", Some(&trunk())).unwrap();
        assert_eq!(resolved.request_uri, "sip:+4930123456@198.51.100.7:5060");
        assert_eq!(resolved.dest, trunk().proxy);
        assert!(resolved.via_trunk);
    }

    #[test]
    fn a_number_without_a_trunk_is_refused() {
        let err = resolve("1001", None).unwrap_err();
        assert!(err.contains("[dial] trunk"), "{err}");
    }

    #[test]
    fn a_sip_uri_goes_to_its_address() {
        let resolved = resolve("sip:alice@127.0.0.1:5090", None).unwrap();
        assert_eq!(resolved.request_uri, "sip:alice@127.0.0.1:5090");
        assert_eq!(resolved.dest, "127.0.0.1:5090".parse().unwrap());
        assert!(!resolved.via_trunk);
        let resolved = resolve("sip:bob@[::1]", None).unwrap();
        assert_eq!(resolved.dest, "[::1]:5060".parse().unwrap());
    }

    #[test]
    fn hostnames_and_injected_headers_are_refused() {
        assert!(resolve("sip:alice@pbx.example.com", None).is_err());
        assert!(resolve("sip:a\r\nVia: x@127.0.0.1", None).is_err());
        assert!(resolve("sip:a;maddr=1.2.3.4@127.0.0.1", None).is_err());
        assert!(resolve("12 34", Some(&trunk())).is_err());
        assert!(resolve("", Some(&trunk())).is_err());
    }

    #[test]
    fn caller_ids_are_cleaned() {
        assert_eq!(clean_caller_id("+4930 999"), "+4930999");
        assert_eq!(clean_caller_id("a\r\nb<c>"), "abc");
        assert_eq!(clean_caller_id("   "), "anonymous");
    }
}
