//! RFC 3261 §25.1 checks for the parts of header values that the typed readings take
//! leniently: header parameter lists (`*( SEMI generic-param )`, as in Via, From, To and
//! Contact) and media types (Content-Type). The parser refuses a message whose values
//! fail them, as the grammar asks.

use crate::sip::method::is_token;

/// Whether `params` (empty, or starting with `;`) is `*( SEMI generic-param )`:
/// `generic-param = token [ EQUAL gen-value ]`, `gen-value = token / host /
/// quoted-string`, with optional whitespace around `;` and `=`.
pub(super) fn is_param_list(params: &str) -> bool {
    let params = params.trim();
    if params.is_empty() {
        return true;
    }
    let Some(params) = params.strip_prefix(';') else {
        return false;
    };
    split_outside_quotes(params, ';')
        .into_iter()
        .all(|param| is_generic_param(param.trim()))
}

fn is_generic_param(param: &str) -> bool {
    match param.split_once('=') {
        None => is_token(param),
        Some((name, value)) => {
            let (name, value) = (name.trim(), value.trim());
            // `via-received = "received" EQUAL (IPv4address / IPv6address)`: an IPv6
            // address without brackets, as RFC 3261 §18.2.1 has it written.
            let received_ipv6 = name.eq_ignore_ascii_case("received")
                && value.parse::<std::net::Ipv6Addr>().is_ok();
            is_token(name) && (is_gen_value(value) || received_ipv6)
        }
    }
}

/// `token / host / quoted-string`; a host name or IPv4 address is made of token
/// characters, so only the IPv6 reference needs its own case.
fn is_gen_value(value: &str) -> bool {
    is_token(value) || is_quoted_string(value) || is_ipv6_reference(value)
}

fn is_ipv6_reference(value: &str) -> bool {
    value
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .is_some_and(|inner| inner.parse::<std::net::Ipv6Addr>().is_ok())
}

/// `DQUOTE *(qdtext / quoted-pair) DQUOTE`.
fn is_quoted_string(value: &str) -> bool {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return false,
            _ => {}
        }
    }
    !escaped
}

/// Whether `value` is `m-type SLASH m-subtype *( SEMI m-parameter )` with
/// `m-parameter = token EQUAL ( token / quoted-string )`.
pub(super) fn is_media_type(value: &str) -> bool {
    let mut parts = split_outside_quotes(value, ';').into_iter();
    let Some((m_type, m_subtype)) = parts.next().and_then(|media| media.split_once('/')) else {
        return false;
    };
    is_token(m_type.trim())
        && is_token(m_subtype.trim())
        && parts.all(|param| {
            param.split_once('=').is_some_and(|(name, value)| {
                let value = value.trim();
                is_token(name.trim()) && (is_token(value) || is_quoted_string(value))
            })
        })
}

/// `text` split at every `separator` that is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_quotes, mut escaped, mut start) = (false, false, 0);
    for (index, c) in text.char_indices() {
        if in_quotes {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == separator {
            parts.push(text.get(start..index).unwrap_or_default());
            start = index + c.len_utf8();
        }
    }
    parts.push(text.get(start..).unwrap_or_default());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_lists() {
        for good in [
            "",
            ";tag=abc",
            ";lr",
            " ; tag = 98asjd8 ; lr",
            ";received=192.0.2.1;rport=5060;maddr=[2001:db8::1]",
            ";received=2001:db8::7",
            ";+sip.instance=\"<urn:uuid:1;2>\";q=0.7",
            ";x=\"a \\\" b\"",
            ";ta%=et",
        ] {
            assert!(is_param_list(good), "{good:?}");
        }
        for bad in [
            ";received=;tag=br",
            "; =tricky",
            ";;",
            ";tag=a;",
            ";ta&=",
            ";tag=2229p:sipp@127.0",
            ";.0.1:5061",
            ";branch=z9hG4bKbbbAX-fORWARDS: 70",
            ";bran&&ch=z9hG4bK",
            "tag=a",
            ";x=\"open",
            ";x=[::1",
            ";maddr=2001:db8::7",
        ] {
            assert!(!is_param_list(bad), "{bad:?}");
        }
    }

    #[test]
    fn media_types() {
        for good in [
            "application/sdp",
            "multipart/mixed;boundary=zz",
            "Application / SDP ; charset = \"utf-8\"",
            "application/dtmf-relay",
        ] {
            assert!(is_media_type(good), "{good:?}");
        }
        for bad in [
            "",
            "Application+SDP",
            "applic[tion/sdp",
            "application/?dp",
            "ac: ication/sdp",
            "multipart/mixed;boundary=",
            "application/dtmf-reltion=160",
            "text/plain;charset",
        ] {
            assert!(!is_media_type(bad), "{bad:?}");
        }
    }
}
