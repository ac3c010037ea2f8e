//! Where a response goes when the connection its request came on has closed
//! (RFC 3261 §18.2.2): "the server SHOULD open a connection to the IP
//! address in the `received` parameter, if present, using the port in the
//! `sent-by` value, or the default port for that transport, if no port is
//! specified". Read from the serialized response's top Via, so the shell can
//! ask at the moment it finds the connection gone. Sans-IO; no DNS: a sent-by
//! that names a host and has no `received` gives `None` (the response is
//! dropped and counted).

use std::net::{IpAddr, SocketAddr};

/// The address to connect to for `response` (a serialized SIP response),
/// or `None` when its top Via names no reachable address.
pub fn reconnect_target(response: &[u8]) -> Option<SocketAddr> {
    let head_end = find(response, b"\r\n\r\n").unwrap_or(response.len());
    let head = std::str::from_utf8(response.get(..head_end)?).ok()?;
    let value = head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("via") || name.eq_ignore_ascii_case("v")).then_some(value)
    })?;
    let top = value.split(',').next()?.trim();
    let (protocol, rest) = top.split_once(char::is_whitespace)?;
    let transport = protocol.rsplit('/').next()?.trim();
    let default_port = if transport.eq_ignore_ascii_case("tls") {
        5061
    } else {
        5060
    };
    let mut parts = rest.trim().split(';');
    let sent_by = parts.next()?.trim();
    let received = parts.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("received")
            .then(|| value.trim().trim_start_matches('[').trim_end_matches(']'))
    });
    let (host, port) = split_host_port(sent_by)?;
    let port = port.unwrap_or(default_port);
    let ip: IpAddr = match received {
        Some(received) => received.parse().ok()?,
        None => host.parse().ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// `host[:port]`, `[v6]:port` or `[v6]`.
fn split_host_port(sent_by: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = sent_by.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.trim().parse().ok()?),
            None => None,
        };
        return Some((host, port));
    }
    match sent_by.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.trim().parse().ok()?))),
        None => Some((sent_by, None)),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(via: &str) -> Vec<u8> {
        format!("SIP/2.0 200 OK\r\n{via}\r\nCall-ID: a\r\nContent-Length: 0\r\n\r\n").into_bytes()
    }

    #[test]
    fn received_address_with_the_sent_by_port() {
        let r = response(
            "Via: SIP/2.0/TCP client.example:5070;branch=z9hG4bK1;received=192.0.2.7;rport=40123",
        );
        assert_eq!(
            reconnect_target(&r),
            Some("192.0.2.7:5070".parse().unwrap())
        );
    }

    #[test]
    fn sent_by_ip_without_received_and_the_default_port_per_transport() {
        let tcp = response("Via: SIP/2.0/TCP 192.0.2.8;branch=z9hG4bK1");
        assert_eq!(
            reconnect_target(&tcp),
            Some("192.0.2.8:5060".parse().unwrap())
        );
        let tls = response("v: SIP/2.0/TLS 192.0.2.8;branch=z9hG4bK1");
        assert_eq!(
            reconnect_target(&tls),
            Some("192.0.2.8:5061".parse().unwrap())
        );
    }

    #[test]
    fn only_the_top_via_counts() {
        let r = response("Via: SIP/2.0/TLS [2001:db8::1]:5071;branch=z9hG4bK1, SIP/2.0/TLS 192.0.2.9:5061;branch=z9hG4bK0");
        assert_eq!(
            reconnect_target(&r),
            Some("[2001:db8::1]:5071".parse().unwrap())
        );
    }

    #[test]
    fn a_host_name_without_received_or_no_via_gives_none() {
        let named = response("Via: SIP/2.0/TCP client.example:5070;branch=z9hG4bK1");
        assert_eq!(reconnect_target(&named), None);
        assert_eq!(
            reconnect_target(b"SIP/2.0 200 OK\r\nCall-ID: a\r\n\r\n"),
            None
        );
        assert_eq!(reconnect_target(b"\xff\xfe"), None);
        let bad_port = response("Via: SIP/2.0/TCP 192.0.2.8:99999;branch=z9hG4bK1");
        assert_eq!(reconnect_target(&bad_port), None);
    }
}
