//! DTMF carried in SIP INFO bodies, as many trunks and PBXs send it instead of
//! (or besides) RFC 4733: `application/dtmf-relay` (`Signal=5` and
//! `Duration=160` lines, the Cisco form) and `application/dtmf` (the bare
//! key). Hand-written: two tiny line formats, no crate covers them.

/// What an INFO body meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InfoBody {
    /// A key press.
    Digit(char),
    /// A DTMF content type, but no key we know in it.
    Unreadable,
    /// Not a DTMF content type: answered 415.
    OtherType,
}

/// Reads the key of an INFO body with the given Content-Type.
pub(crate) fn read_info(content_type: Option<&str>, body: &[u8]) -> InfoBody {
    let mime = content_type
        .and_then(|value| value.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(body);
    let key = match mime.as_str() {
        "application/dtmf-relay" => text.lines().find_map(|line| {
            let (name, value) = line.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| value.trim().to_string())
        }),
        "application/dtmf" => text.lines().next().map(|line| line.trim().to_string()),
        _ => return InfoBody::OtherType,
    };
    match key.as_deref().and_then(key_of) {
        Some(digit) => InfoBody::Digit(digit),
        None => InfoBody::Unreadable,
    }
}

/// A key as INFO bodies write it: `0`-`9`, `*`, `#`, `A`-`D` (any case), or
/// the RFC 4733 event codes `10` (`*`) and `11` (`#`) some devices send.
fn key_of(text: &str) -> Option<char> {
    match text {
        "10" => Some('*'),
        "11" => Some('#'),
        _ => {
            let mut chars = text.chars();
            let key = chars.next()?.to_ascii_uppercase();
            (chars.next().is_none() && matches!(key, '0'..='9' | '*' | '#' | 'A'..='D'))
                .then_some(key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_forms_and_refuses_the_rest() {
        let relay = Some("application/dtmf-relay");
        assert_eq!(
            read_info(relay, b"Signal=5\r\nDuration=160\r\n"),
            InfoBody::Digit('5')
        );
        assert_eq!(read_info(relay, b"signal = #\r\n"), InfoBody::Digit('#'));
        assert_eq!(read_info(relay, b"Signal=10\r\n"), InfoBody::Digit('*'));
        assert_eq!(read_info(relay, b"Signal=d\r\n"), InfoBody::Digit('D'));
        assert_eq!(read_info(relay, b"Duration=160\r\n"), InfoBody::Unreadable);
        assert_eq!(read_info(relay, b"Signal=55\r\n"), InfoBody::Unreadable);
        assert_eq!(
            read_info(Some("Application/DTMF; x=1"), b"7"),
            InfoBody::Digit('7')
        );
        assert_eq!(
            read_info(Some("application/sdp"), b"v=0"),
            InfoBody::OtherType
        );
        assert_eq!(read_info(None, b""), InfoBody::OtherType);
    }
}
