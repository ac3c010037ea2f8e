//! Lenient `name-addr` / `addr-spec` values as found in From, To, Contact and
//! Record-Route. Kept independent of any URI scheme so that `tel:` URIs (common in
//! From headers of carrier trunks) are accepted; only the parts this module needs
//! (display name, URI text, header parameters, user part) are extracted.

use crate::sip::header_value::find_param;
use thiserror::Error;

/// A From/To/Contact/Route value split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name without quotes, if any.
    pub display: Option<String>,
    /// The URI as written (without the enclosing `<>`).
    pub uri: String,
    /// Header parameters after the URI, starting with `;` (or empty).
    pub params: String,
}

/// Why a name-addr value could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameAddrError {
    #[error("empty value")]
    Empty,
    #[error("unterminated quoted display name")]
    UnterminatedQuote,
    #[error("missing closing '>'")]
    UnterminatedAngle,
    #[error("URI has no scheme")]
    NoScheme,
    #[error("unexpected text after the URI")]
    TrailingGarbage,
}

impl NameAddr {
    /// Reads `"Display" <uri>;params`, `Display <uri>;params` or `uri;params`.
    pub fn parse(value: &str) -> Result<NameAddr, NameAddrError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(NameAddrError::Empty);
        }
        let (display, rest) = split_display(value)?;
        let (uri, params) = if let Some(inner) = rest.strip_prefix('<') {
            let close = inner.find('>').ok_or(NameAddrError::UnterminatedAngle)?;
            (&inner[..close], inner[close + 1..].trim())
        } else {
            match rest.find(';') {
                Some(semi) => (rest[..semi].trim(), &rest[semi..]),
                None => (rest, ""),
            }
        };
        let uri = uri.trim();
        if !has_scheme(uri) || uri.contains(char::is_whitespace) {
            return Err(NameAddrError::NoScheme);
        }
        if !params.is_empty() && !params.starts_with(';') {
            return Err(NameAddrError::TrailingGarbage);
        }
        Ok(NameAddr {
            display,
            uri: uri.to_owned(),
            params: params.to_owned(),
        })
    }

    /// The `tag` parameter, if present and non-empty.
    pub fn tag(&self) -> Option<&str> {
        find_param(&self.params, "tag").filter(|tag| !tag.is_empty())
    }

    /// The user part of the URI: user (or tel number) without parameters, percent-decoded.
    pub fn user(&self) -> String {
        uri_user(&self.uri)
    }
}

fn split_display(value: &str) -> Result<(Option<String>, &str), NameAddrError> {
    if let Some(quoted) = value.strip_prefix('"') {
        let mut display = String::new();
        let mut escaped = false;
        for (index, c) in quoted.char_indices() {
            if escaped {
                display.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                let rest = quoted[index + 1..].trim_start();
                if !rest.starts_with('<') {
                    return Err(NameAddrError::UnterminatedAngle);
                }
                return Ok((Some(display), rest));
            } else {
                display.push(c);
            }
        }
        return Err(NameAddrError::UnterminatedQuote);
    }
    match value.find('<') {
        Some(0) => Ok((None, value)),
        Some(open) => {
            let display = value[..open].trim();
            Ok((
                Some(display.to_owned()).filter(|d| !d.is_empty()),
                &value[open..],
            ))
        }
        None => Ok((None, value)),
    }
}

fn has_scheme(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// The user part of a `sip:`/`sips:` URI (before `@`, without password) or the number of
/// a `tel:` URI, percent-decoded, with user parameters (after `;`) removed. Empty if the
/// URI has no user part.
pub(crate) fn uri_user(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return String::new();
    };
    let user = if scheme.eq_ignore_ascii_case("tel") {
        rest
    } else if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        match rest.find('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                userinfo.split(':').next().unwrap_or(userinfo)
            }
            None => "",
        }
    } else {
        ""
    };
    let user = user.split(';').next().unwrap_or(user);
    percent_decode(user)
}

/// True if a URI carries the `lr` parameter (loose routing).
pub(crate) fn uri_has_lr(uri: &str) -> bool {
    let without_headers = uri.split('?').next().unwrap_or(uri);
    find_param(without_headers, "lr").is_some()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let hex = bytes.get(index + 1..index + 3).and_then(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        });
        match (byte, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                index += 3;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let from = NameAddr::parse("sipp <sip:sipp@127.0.0.1:5061>;tag=1234SIPpTag001").unwrap();
        assert_eq!(from.display.as_deref(), Some("sipp"));
        assert_eq!(from.uri, "sip:sipp@127.0.0.1:5061");
        assert_eq!(from.tag(), Some("1234SIPpTag001"));
        assert_eq!(from.user(), "sipp");

        let to = NameAddr::parse("<sip:1000@127.0.0.1:5060>").unwrap();
        assert_eq!(to.display, None);
        assert_eq!(to.tag(), None);
        assert_eq!(to.user(), "1000");

        let quoted =
            NameAddr::parse("\"Alice \\\"A\\\" Smith\" <tel:+15551234;npdi>;tag=x").unwrap();
        assert_eq!(quoted.display.as_deref(), Some("Alice \"A\" Smith"));
        assert_eq!(quoted.user(), "+15551234");

        let bare = NameAddr::parse("sip:sipp@127.0.0.1:5061;tag=z").unwrap();
        assert_eq!(bare.uri, "sip:sipp@127.0.0.1:5061");
        assert_eq!(bare.tag(), Some("z"));
    }

    #[test]
    fn rejects_broken_values() {
        assert_eq!(NameAddr::parse(" "), Err(NameAddrError::Empty));
        assert_eq!(
            NameAddr::parse("\"abc <sip:x>"),
            Err(NameAddrError::UnterminatedQuote)
        );
        assert_eq!(
            NameAddr::parse("<sip:x@y"),
            Err(NameAddrError::UnterminatedAngle)
        );
        assert_eq!(NameAddr::parse("no-scheme"), Err(NameAddrError::NoScheme));
        assert_eq!(
            NameAddr::parse("<sip:x@y> junk"),
            Err(NameAddrError::TrailingGarbage)
        );
    }

    #[test]
    fn user_parts() {
        assert_eq!(uri_user("sip:alice:secret@example.com"), "alice");
        assert_eq!(uri_user("sip:%2B49301234@h;user=phone"), "+49301234");
        assert_eq!(uri_user("sip:+4930;npdi@h"), "+4930");
        assert_eq!(uri_user("sip:example.com"), "");
        assert_eq!(uri_user("mailto:x@y"), "");
        assert_eq!(uri_user("%"), "");
        assert!(uri_has_lr("sip:p1.example.com;lr"));
        assert!(!uri_has_lr("sip:p1.example.com"));
    }
}
