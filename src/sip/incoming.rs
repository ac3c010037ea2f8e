//! Messages the dispatcher has parsed and keyed, on their way to the dialog
//! that owns them (or to the call layer, for a new INVITE).

use std::net::SocketAddr;

use crate::sip::event::{CallId, Link};
use ezk_sip_types::Name;

use crate::sip::message::{build_response, EchoHeaders, Request, Response, ResponseParts};
use crate::sip::name_addr::uri_user;
use crate::sip::sdp::Sdp;
use crate::sip::session_timer::TimerRequest;
use crate::sip::settings::SessionTimerSettings;
use crate::sip::transaction::TxKey;

/// A request with its server-transaction key and its echo headers, the top Via
/// already stamped with `received`/`rport` (RFC 3581).
#[derive(Clone, Debug)]
pub struct IncomingRequest {
    pub(crate) source: SocketAddr,
    /// The transport (and connection) it came by.
    pub(crate) link: Link,
    pub(crate) key: TxKey,
    pub(crate) echo: EchoHeaders,
    pub(crate) request: Request,
}

impl IncomingRequest {
    /// A bodiless response to this request with To tag `to_tag` (added when
    /// the To has none), `extra` headers and `server` as its Server header.
    pub(crate) fn response(
        &self,
        status: u16,
        to_tag: &str,
        extra: Vec<(Name, String)>,
        server: &str,
    ) -> Vec<u8> {
        self.response_with_body(status, to_tag, extra, server, None)
    }

    /// A response to this request carrying `body` (content type, bytes).
    pub(crate) fn response_with_body(
        &self,
        status: u16,
        to_tag: &str,
        extra: Vec<(Name, String)>,
        server: &str,
        body: Option<(&str, &[u8])>,
    ) -> Vec<u8> {
        let parts = ResponseParts {
            to_tag: Some(to_tag),
            extra,
            server,
            body,
        };
        build_response(&self.echo, status, &parts)
    }
}

/// A message the dispatcher routed to a dialog.
#[derive(Clone, Debug)]
pub enum DialogMessage {
    /// A request in (or aimed at) the dialog.
    Request(Box<IncomingRequest>),
    /// A response to a request the dialog sent.
    Response(Box<Response>),
}

/// An INVITE that starts a new call: hand it to
/// [`Dispatcher::accept`](crate::sip::Dispatcher::accept) or
/// [`Dispatcher::reject`](crate::sip::Dispatcher::reject).
#[derive(Clone, Debug)]
pub struct IncomingInvite {
    pub(crate) call_id: CallId,
    pub(crate) incoming: IncomingRequest,
    pub(crate) sdp: Option<Sdp>,
    pub(crate) has_offer: bool,
}

impl IncomingInvite {
    /// The Call-ID.
    pub fn call_id(&self) -> &CallId {
        &self.call_id
    }

    /// Where the INVITE came from (responses go there).
    pub fn source(&self) -> SocketAddr {
        self.incoming.source
    }

    /// The transport (and connection) the INVITE came by.
    pub fn link(&self) -> Link {
        self.incoming.link
    }

    /// User part of the Request-URI — the dialled number — user parameters removed.
    pub fn request_user(&self) -> String {
        uri_user(&self.incoming.request.uri)
    }

    /// User part of the From URI: the caller.
    pub fn from_user(&self) -> String {
        self.incoming.request.head.from.user()
    }

    /// Display name of the From header, if any.
    pub fn from_display(&self) -> Option<&str> {
        self.incoming.request.head.from.display.as_deref()
    }

    /// User part of the To URI.
    pub fn to_user(&self) -> String {
        self.incoming.request.head.to.user()
    }

    /// The parsed offer; `None` if the INVITE had none or it did not parse.
    pub fn sdp(&self) -> Option<&Sdp> {
        self.sdp.as_ref()
    }

    /// The `Min-SE` to refuse this INVITE with (422, RFC 4028 §9) when its
    /// `Session-Expires` is below `settings.min_se` or its own `Min-SE`;
    /// `None` when it is acceptable or absent.
    pub fn session_interval_too_brief(&self, settings: &SessionTimerSettings) -> Option<u32> {
        TimerRequest::read(&self.incoming.request.head).too_brief(settings)
    }

    /// Whether the INVITE carried an SDP body at all (parsable or not). One
    /// without is a late offer: we offer in the 200, the caller answers in the ACK.
    pub fn has_offer(&self) -> bool {
        self.has_offer
    }
}
