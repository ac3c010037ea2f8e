//! Small text helpers for header values: unfolding, splitting comma lists and reading
//! `;name=value` parameters. Everything here works on already-decoded `&str`s and never
//! panics.

/// Joins folded continuation lines (CRLF or LF followed by whitespace) into single spaces
/// and trims the result.
pub(crate) fn unfold(value: &str) -> String {
    if !value.contains(['\r', '\n']) {
        return value.trim().to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            while chars
                .next_if(|next| matches!(next, '\r' | '\n' | ' ' | '\t'))
                .is_some()
            {}
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

/// Splits a header value holding a comma-separated list (Via, Record-Route, Contact...),
/// ignoring commas inside quoted strings and `<...>`. Empty elements are dropped.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut angle_depth = 0usize;
    let mut start = 0;
    for (index, c) in value.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '<' => angle_depth += 1,
            '>' => angle_depth = angle_depth.saturating_sub(1),
            ',' if angle_depth == 0 => {
                push_trimmed(&mut parts, value.get(start..index));
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    push_trimmed(&mut parts, value.get(start..));
    parts
}

fn push_trimmed<'a>(parts: &mut Vec<&'a str>, part: Option<&'a str>) {
    if let Some(part) = part.map(str::trim).filter(|part| !part.is_empty()) {
        parts.push(part);
    }
}

/// Finds parameter `name` (case-insensitive) in a `;a=b;c` parameter string. Returns
/// `Some("")` for a parameter present without value. Quotes around a value are removed.
pub(crate) fn find_param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').skip(1).find_map(|param| {
        let (key, value) = match param.split_once('=') {
            Some((key, value)) => (key.trim(), value.trim()),
            None => (param.trim(), ""),
        };
        if key.eq_ignore_ascii_case(name) {
            Some(value.trim_matches('"'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_continuation_lines() {
        assert_eq!(unfold("a,\r\n  b,\n\tc "), "a, b, c");
        assert_eq!(unfold("  plain  "), "plain");
        assert_eq!(unfold("x  y"), "x  y");
    }

    #[test]
    fn splits_lists_outside_quotes_and_brackets() {
        assert_eq!(
            split_list("\"a, b\" <sip:x@y;p=1,2>, <sip:z>;lr , "),
            vec!["\"a, b\" <sip:x@y;p=1,2>", "<sip:z>;lr"]
        );
        assert_eq!(
            split_list("SIP/2.0/UDP a;branch=1,SIP/2.0/UDP b"),
            vec!["SIP/2.0/UDP a;branch=1", "SIP/2.0/UDP b"]
        );
    }

    #[test]
    fn finds_params() {
        assert_eq!(find_param(";tag=abc;lr", "TAG"), Some("abc"));
        assert_eq!(find_param(";tag=abc;lr", "lr"), Some(""));
        assert_eq!(find_param(";tag=abc", "x"), None);
        assert_eq!(find_param("", "tag"), None);
    }
}
