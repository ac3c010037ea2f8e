//! SIP request methods, matched exactly as RFC 3261 §7.1 demands (method names are
//! case-sensitive, so `invite` or `INVITEX` are extension methods, not INVITE).

use std::fmt;

/// A request method.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Subscribe,
    Notify,
    Refer,
    Info,
    Update,
    Prack,
    Message,
    Publish,
    /// Any other token; answered with 501 Not Implemented.
    Other(String),
}

/// Methods the endpoint itself handles; sent in `Allow` headers.
pub const ALLOWED_METHODS: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

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
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

/// True if `s` is a non-empty SIP token.
pub fn is_token(s: &str) -> bool {
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
