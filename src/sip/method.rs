//! SIP request methods, matched exactly as RFC 3261 §7.1 demands (method names are
//! case-sensitive, so `invite` or `INVITEX` are extension methods, not INVITE).

use std::fmt;

/// A request method.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Starts a call (RFC 3261 §13); the only method that creates a dialog here.
    Invite,
    /// Acknowledges a final response to INVITE; never answered itself.
    Ack,
    /// Ends an established dialog (§15), sent by either side.
    Bye,
    /// Cancels a pending INVITE (§9): answered 200 (481 when no such INVITE is known);
    /// an INVITE still ringing then gets 487.
    Cancel,
    /// Capability query (§11), answered 200 with `Allow` — carriers use it as a keep-alive ping.
    Options,
    /// Binds a contact address (§10); not handled, answered 405.
    Register,
    /// Event subscription (RFC 6665); not handled, answered 405.
    Subscribe,
    /// Event notification (RFC 6665); not handled, answered 405.
    Notify,
    /// Call transfer request (RFC 3515); not handled, answered 405.
    Refer,
    /// Mid-dialog application data (RFC 6086): DTMF bodies are taken, others get 415.
    Info,
    /// Session update (RFC 3311): in a confirmed dialog an offer is answered
    /// like a re-INVITE's, no offer is a session refresh; outside a dialog, 481.
    Update,
    /// Acknowledges a reliable provisional response (RFC 3262): matched by its
    /// `RAck` in the dialog (200, else 481); outside a dialog, 481.
    Prack,
    /// Instant message (RFC 3428); not handled, answered 405.
    Message,
    /// Event state publication (RFC 3903); not handled, answered 405.
    Publish,
    /// Any other token; answered with 501 Not Implemented.
    Other(String),
}

/// Methods the endpoint itself handles; sent in `Allow` headers.
pub(crate) const ALLOWED_METHODS: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK";

impl Method {
    /// The method named by `token` (exact, case-sensitive match).
    pub fn from_token(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method name as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(token) => token,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True if `c` may appear in a SIP `token` (RFC 3261 §25.1).
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

/// True if `s` is a non-empty SIP token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_matched_exactly() {
        assert_eq!(Method::from_token("INVITE"), Method::Invite);
        assert_eq!(Method::from_token("invite"), Method::Other("invite".into()));
        assert_eq!(
            Method::from_token("INVITEX"),
            Method::Other("INVITEX".into())
        );
        assert_eq!(Method::from_token("REGISTER").as_str(), "REGISTER");
        assert_eq!(Method::Other("FOO".into()).to_string(), "FOO");
    }

    #[test]
    fn tokens() {
        assert!(is_token("z9hG4bK-1.a"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
    }
}
