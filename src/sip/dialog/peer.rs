//! The far end of an inbound dialog as its INVITE described it (RFC 3261 §12):
//! tags, remote target, route set, local CSeq and whether it allows UPDATE, plus
//! building the responses to the INVITE and the requests we send in the dialog
//! (BYE, ACK, our session refreshes).

use super::outbound::OutboundInvite;
use crate::sip::event::Link;
use crate::sip::header_value::split_list;
use crate::sip::message::{build_response, serialize, EchoHeaders, MessageHead, ResponseParts};
use crate::sip::name_addr::{uri_has_lr, NameAddr};
use crate::sip::transaction::TxKey;
use ezk_sip_types::{Headers, Name};
use std::net::SocketAddr;

/// The identifiers and routing of one dialog.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// Source of the INVITE: responses and our BYE go there.
    pub source: SocketAddr,
    /// Headers to echo in responses to the INVITE (top Via already stamped).
    pub echo: EchoHeaders,
    pub invite_key: TxKey,
    pub invite_cseq: u32,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// Request-URI for requests we send in the dialog: their Contact, else their From
    /// URI, else the INVITE's source address (only sip/sips URIs qualify).
    pub remote_target: String,
    /// Record-Route values of the INVITE, in order, echoed in 18x/2xx responses.
    pub record_route: Vec<String>,
    /// The route set for our requests: the Record-Route values whose URI is a valid
    /// SIP URI (anything else could not be routed to anyway).
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    /// The transport of the dialog: our Via and Contact name it, and every
    /// message of the dialog leaves by it.
    pub link: Link,
    /// The far end's `Allow` lists UPDATE: our session refreshes use it.
    pub allows_update: bool,
    /// The dialog was made by a `sips:` Request-URI: our Contact is a
    /// `sips:` URI too (RFC 3261 §8.1.1.8, §12.1.1; RFC 5630 §3.1.3).
    pub sips: bool,
}

impl Peer {
    /// The peer of an INVITE whose headers are `head` (with `echo` already stamped).
    pub(crate) fn new(
        source: SocketAddr,
        head: &MessageHead,
        echo: EchoHeaders,
        invite_key: TxKey,
        local_tag: String,
    ) -> Peer {
        let remote_target = head
            .contact
            .iter()
            .chain(std::iter::once(&head.from))
            .map(|name_addr| name_addr.uri.clone())
            .find(|uri| is_sip_uri(uri))
            .unwrap_or_else(|| format!("sip:{source}"));
        Peer {
            source,
            echo,
            invite_key,
            invite_cseq: head.cseq.seq,
            local_tag,
            remote_tag: head.from.tag().map(str::to_owned),
            remote_target,
            record_route: head.record_route.clone(),
            route_set: head
                .record_route
                .iter()
                .filter(|route| NameAddr::parse(route).is_ok_and(|route| is_sip_uri(&route.uri)))
                .cloned()
                .collect(),
            local_cseq: 0,
            link: Link::Udp,
            allows_update: allows_update(head),
            sips: false,
        }
    }

    /// Our Contact in this dialog: `<sips:callplane@ADDR>` for a `sips:`
    /// dialog (which TLS carries hop by hop, so no transport parameter:
    /// RFC 5630 §3.1.3), else `<sip:callplane@ADDR>` with the link's
    /// `;transport=`.
    pub(crate) fn contact(&self, local_addr: SocketAddr) -> String {
        match self.sips {
            true => format!("<sips:callplane@{local_addr}>"),
            false => format!("<sip:callplane@{local_addr}{}>", self.link.uri_param()),
        }
    }

    /// True if a request with these headers belongs to this dialog (tags match).
    pub(crate) fn matches_in_dialog(&self, head: &MessageHead) -> bool {
        head.to.tag() == Some(self.local_tag.as_str())
            && head.from.tag() == self.remote_tag.as_deref()
    }

    /// A response to the INVITE. Dialog-creating responses (18x, 2xx) carry Contact
    /// and the Record-Route set (§12.1.1).
    pub(crate) fn invite_response(
        &self,
        status: u16,
        local_addr: SocketAddr,
        server: &str,
        sdp: Option<&str>,
        mut extra: Vec<(Name, String)>,
    ) -> Vec<u8> {
        if (101..300).contains(&status) {
            extra.push((Name::CONTACT, self.contact(local_addr)));
            for route in &self.record_route {
                extra.push((Name::RECORD_ROUTE, route.clone()));
            }
        }
        let parts = ResponseParts {
            to_tag: Some(&self.local_tag),
            extra,
            server,
            body: sdp.map(|sdp| ("application/sdp", sdp.as_bytes())),
        };
        build_response(&self.echo, status, &parts)
    }

    /// Builds the next BYE of this dialog (§15.1.1, route set per §12.2.1.1) with Via
    /// branch `branch`.
    pub(crate) fn build_bye(
        &mut self,
        branch: &str,
        local_addr: SocketAddr,
        user_agent: &str,
    ) -> Vec<u8> {
        self.local_cseq += 1;
        let cseq = self.local_cseq;
        self.build_request("BYE", cseq, branch, local_addr, user_agent)
    }

    /// A bodiless request `method` in the dialog with CSeq `cseq` (an ACK
    /// takes its INVITE's number; everything else the next local one).
    pub(crate) fn build_request(
        &self,
        method: &str,
        cseq: u32,
        branch: &str,
        local_addr: SocketAddr,
        user_agent: &str,
    ) -> Vec<u8> {
        self.build_request_with(method, cseq, branch, local_addr, user_agent, &[], None)
    }

    /// [`Peer::build_request`] with `extra` headers and a `body` (content
    /// type, text).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build_request_with(
        &self,
        method: &str,
        cseq: u32,
        branch: &str,
        local_addr: SocketAddr,
        user_agent: &str,
        extra: &[(Name, String)],
        body: Option<(&str, &str)>,
    ) -> Vec<u8> {
        let (request_uri, routes) = self.request_target();
        let mut headers = Headers::with_capacity(12 + routes.len() + extra.len());
        headers.insert(
            Name::VIA,
            format!(
                "SIP/2.0/{} {local_addr};branch={branch};rport",
                self.link.via_name()
            ),
        );
        headers.insert(Name::MAX_FORWARDS, "70");
        headers.insert(
            Name::FROM,
            format!("{};tag={}", strip_tag(&self.echo.to), self.local_tag),
        );
        headers.insert(Name::TO, self.echo.from.as_str());
        headers.insert(Name::CALL_ID, self.echo.call_id.as_str());
        headers.insert(Name::CSEQ, format!("{cseq} {method}"));
        for route in routes {
            headers.insert(Name::ROUTE, route);
        }
        if !user_agent.is_empty() {
            headers.insert(Name::USER_AGENT, user_agent);
        }
        for (name, value) in extra {
            headers.insert(name.clone(), value.as_str());
        }
        let body = match body {
            Some((content_type, text)) => {
                headers.insert(Name::CONTENT_TYPE, content_type);
                text.as_bytes()
            }
            None => &[],
        };
        serialize(&format!("{method} {request_uri} SIP/2.0"), &headers, body)
    }

    /// The peer of a dialog we are creating with `invite`: our From and its
    /// To, the Request-URI as remote target, the preloaded route set, and its
    /// `dest` for every request until the 2xx says otherwise.
    pub(crate) fn new_uac(
        invite: &OutboundInvite,
        call_id: &str,
        local_tag: String,
        invite_key: TxKey,
        cseq: u32,
    ) -> Peer {
        Peer {
            source: invite.dest,
            echo: EchoHeaders {
                vias: Vec::new(),
                from: invite.to.clone(),
                to: invite.from.clone(),
                call_id: call_id.to_owned(),
                cseq: String::new(),
            },
            invite_key,
            invite_cseq: cseq,
            local_tag,
            remote_tag: None,
            remote_target: invite.request_uri.clone(),
            record_route: Vec::new(),
            route_set: invite.route.clone(),
            local_cseq: cseq,
            link: Link::Udp,
            allows_update: false,
            sips: is_sips_uri(&invite.request_uri),
        }
    }

    /// The 2xx to our INVITE (`head`) fixes the dialog (§12.1.2): the remote
    /// tag and To, the remote target from its Contact, the route set from its
    /// Record-Route in reverse. Requests keep going to `dest` when a route
    /// set or no usable Contact exists; otherwise to the Contact's address
    /// when it is an IP literal (no DNS in the core).
    pub(crate) fn confirm_uac(&mut self, head: &MessageHead) {
        self.remote_tag = head.to.tag().map(str::to_owned);
        self.echo.from = head.echo.to.clone();
        self.invite_cseq = head.cseq.seq;
        self.allows_update = allows_update(head);
        if let Some(contact) = head.contact.as_ref().filter(|c| is_sip_uri(&c.uri)) {
            self.remote_target = contact.uri.clone();
        }
        let routes: Vec<String> = head
            .record_route
            .iter()
            .rev()
            .filter(|route| NameAddr::parse(route).is_ok_and(|route| is_sip_uri(&route.uri)))
            .cloned()
            .collect();
        if !routes.is_empty() || !head.record_route.is_empty() {
            self.route_set = routes;
        }
        if self.route_set.is_empty() {
            if let Some(addr) = uri_socket_addr(&self.remote_target) {
                self.source = addr;
            }
        }
    }

    /// Request-URI and Route values: loose routing when the first route has `lr`,
    /// strict routing (first route becomes the Request-URI) otherwise.
    fn request_target(&self) -> (String, Vec<String>) {
        let first_route = self
            .route_set
            .first()
            .and_then(|route| NameAddr::parse(route).ok());
        match first_route {
            Some(first) if !uri_has_lr(&first.uri) && is_sip_uri(&first.uri) => {
                let mut routes: Vec<String> = self.route_set.iter().skip(1).cloned().collect();
                routes.push(format!("<{}>", self.remote_target));
                (first.uri, routes)
            }
            _ => (self.remote_target.clone(), self.route_set.clone()),
        }
    }
}

/// Whether the message's `Allow` lists UPDATE.
fn allows_update(head: &MessageHead) -> bool {
    head.headers
        .get_raw(&Name::ALLOW)
        .flat_map(|value| split_list(value.as_str()))
        .any(|method| method == "UPDATE")
}

/// The `host:port` of a sip URI whose host is an IP literal (port 5060 when
/// absent).
fn uri_socket_addr(uri: &str) -> Option<SocketAddr> {
    let rest = uri.split_once(':')?.1;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host_port = host_port.split([';', '?']).next()?;
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Some(addr);
    }
    let host = host_port.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 5060))
}

/// Whether `uri` has the `sips:` scheme (case-insensitive, §19.1.1).
pub(crate) fn is_sips_uri(uri: &str) -> bool {
    uri.trim_start()
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("sips:"))
}

/// True if `uri` is a sip/sips URI our own parser accepts as a Request-URI.
fn is_sip_uri(uri: &str) -> bool {
    crate::sip::message::is_request_uri(uri)
}

/// Removes a `tag` parameter from a From/To value (our To never has one, but a
/// stray one must not be doubled).
fn strip_tag(value: &str) -> String {
    match NameAddr::parse(value) {
        Ok(name_addr) if name_addr.tag().is_some() => {
            let params: String = name_addr
                .params
                .split(';')
                .skip(1)
                .filter(|param| {
                    let name = param.split('=').next().unwrap_or_default().trim();
                    !name.eq_ignore_ascii_case("tag")
                })
                .map(|param| format!(";{param}"))
                .collect();
            let display = name_addr
                .display
                .map(|display| {
                    format!(
                        "\"{}\" ",
                        display.replace('\\', "\\\\").replace('"', "\\\"")
                    )
                })
                .unwrap_or_default();
            format!("{display}<{}>{params}", name_addr.uri)
        }
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse_message, Message};

    fn invite(extra: &str) -> MessageHead {
        let data = format!(
            "INVITE sip:1000@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\
From: \"Bob\" <sip:bob@192.0.2.1>;tag=rt\r\nTo: <sip:1000@10.0.0.1>\r\nCall-ID: d1\r\n\
CSeq: 5 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse_message(data.as_bytes()) {
            Ok(Message::Request(request)) => request.head,
            other => panic!("{other:?}"),
        }
    }

    fn call(head: &MessageHead) -> Peer {
        Peer::new(
            "192.0.2.1:5060".parse().unwrap(),
            head,
            head.echo.clone(),
            TxKey::for_request(head, &crate::sip::Method::Invite),
            "lt".into(),
        )
    }

    fn bye_text(call: &mut Peer) -> String {
        String::from_utf8(call.build_bye("z9hG4bKb", "10.0.0.1:5060".parse().unwrap(), "cp"))
            .unwrap()
    }

    /// Found by the dispatcher fuzz target: a Contact URI the URI type reads but
    /// a request line does not made a BYE no one (we included) could parse.
    #[test]
    fn a_contact_that_makes_no_request_line_is_passed_over() {
        for contact in ["<sip:r;>", "<sip:caller@192.0.2.1:5061;tag=>"] {
            let mut call = call(&invite(&format!("Contact: {contact}\r\n")));
            let text = bye_text(&mut call);
            assert!(
                text.starts_with("BYE sip:bob@192.0.2.1 SIP/2.0\r\n"),
                "{text}"
            );
            assert!(parse_message(text.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn bye_uses_contact_and_loose_routes() {
        let head = invite(
            "Contact: <sip:bob@192.0.2.1:5062>\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\n",
        );
        let mut call = call(&head);
        let text = bye_text(&mut call);
        assert!(
            text.starts_with("BYE sip:bob@192.0.2.1:5062 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb;rport\r\n"));
        assert!(text.contains("From: <sip:1000@10.0.0.1>;tag=lt\r\n"));
        assert!(text.contains("To: \"Bob\" <sip:bob@192.0.2.1>;tag=rt\r\n"));
        assert!(text.contains("CSeq: 1 BYE\r\n"));
        assert!(text.contains("Route: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n"));
        assert!(text.contains("Max-Forwards: 70\r\n"));
        assert!(bye_text(&mut call).contains("CSeq: 2 BYE\r\n"));
    }

    #[test]
    fn bye_falls_back_to_from_uri_and_strict_routes() {
        let head = invite("Record-Route: <sip:strict.example>\r\n");
        let mut call = call(&head);
        let text = bye_text(&mut call);
        assert!(
            text.starts_with("BYE sip:strict.example SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("Route: <sip:bob@192.0.2.1>\r\n"));
    }

    #[test]
    fn bye_goes_to_the_source_when_no_sip_uri_is_known() {
        let mut head = invite("");
        head.from = NameAddr::parse("<tel:+4930123>;tag=rt").unwrap();
        let mut call = call(&head);
        assert!(bye_text(&mut call).starts_with("BYE sip:192.0.2.1:5060 SIP/2.0\r\n"));
    }

    #[test]
    fn dialog_matching_and_responses() {
        let head = invite("");
        let call = call(&head);
        assert!(!call.matches_in_dialog(&head));
        let response = call.invite_response(
            200,
            "10.0.0.1:5060".parse().unwrap(),
            "cp",
            Some("v=0\r\n"),
            Vec::new(),
        );
        let text = String::from_utf8(response).unwrap();
        assert!(text.contains("To: <sip:1000@10.0.0.1>;tag=lt\r\n"));
        assert!(text.contains("Contact: <sip:callplane@10.0.0.1:5060>\r\n"));
        assert!(text.contains("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"));
        let rejected = String::from_utf8(call.invite_response(
            486,
            "10.0.0.1:5060".parse().unwrap(),
            "cp",
            None,
            Vec::new(),
        ))
        .unwrap();
        assert!(!rejected.contains("Contact"));
    }

    #[test]
    fn strips_existing_tags() {
        assert_eq!(
            strip_tag("\"A\" <sip:a@b>;tag=x;foo=1"),
            "\"A\" <sip:a@b>;foo=1"
        );
        assert_eq!(strip_tag("<sip:a@b>"), "<sip:a@b>");
    }
}
