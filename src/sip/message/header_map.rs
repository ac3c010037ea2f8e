//! The header lines of a parsed message, in the order they came: [`HeaderMap`].
//!
//! The parser used to fill `ezk-sip-types`' `Headers`, a multimap whose every insert
//! walks the entries already there comparing names as strings (each against every
//! compact form of the other): about a fifth of parsing a carrier INVITE. The parser
//! resolves each name once (compact and odd-cased names to the one canonical
//! [`Name`]) and appends the line here; lookups keep `Headers`' name semantics.

use bytesstr::BytesStr;
use ezk_sip_types::Name;

/// Header lines as (resolved name, unfolded value), in message order; a comma list on
/// one line stays one value.
#[derive(Clone, Debug, Default)]
pub struct HeaderMap {
    entries: Vec<(Name, BytesStr)>,
}

impl HeaderMap {
    /// An empty map with room for `capacity` lines.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Appends one header line.
    pub fn push(&mut self, name: Name, value: BytesStr) {
        self.entries.push((name, value));
    }

    /// The values of every line named `name` (compact forms and case ignored, as
    /// `ezk-sip-types` compares names), in message order.
    pub fn get_raw<'a>(&'a self, name: &Name) -> impl Iterator<Item = &'a BytesStr> + 'a {
        let name = name.clone();
        self.entries
            .iter()
            .filter(move |(entry, _)| same_name(entry, &name))
            .map(|(_, value)| value)
    }

    /// Whether some line is named `name`.
    pub fn contains(&self, name: &Name) -> bool {
        self.entries.iter().any(|(entry, _)| same_name(entry, name))
    }

    /// Every line, in message order.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &BytesStr)> + '_ {
        self.entries.iter().map(|(name, value)| (name, value))
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(Name, BytesStr)> for HeaderMap {
    fn from_iter<T: IntoIterator<Item = (Name, BytesStr)>>(iter: T) -> Self {
        Self {
            entries: iter.into_iter().collect(),
        }
    }
}

/// Names compare equal when their printed forms match without regard to case (the
/// common case, and a cheap test), or when `ezk-sip-types` says so (a custom name
/// matched by one of its parse strings).
fn same_name(entry: &Name, wanted: &Name) -> bool {
    entry
        .as_print_str()
        .eq_ignore_ascii_case(wanted.as_print_str())
        || entry == wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(lines: &[(&str, &str)]) -> HeaderMap {
        lines
            .iter()
            .map(|(name, value)| (Name::from(*name), BytesStr::from(*value)))
            .collect()
    }

    #[test]
    fn lookups_resolve_compact_and_cased_names() {
        let headers = map(&[("v", "a"), ("From", "f"), ("VIA", "b"), ("X-Thing", "x")]);
        let vias: Vec<&str> = headers.get_raw(&Name::VIA).map(|v| v.as_str()).collect();
        assert_eq!(vias, ["a", "b"]);
        assert!(headers.contains(&Name::from("x-thing")));
        assert!(!headers.contains(&Name::TO));
        assert_eq!(headers.get_raw(&Name::from("f")).count(), 1);
    }

    #[test]
    fn iteration_keeps_message_order() {
        let headers = map(&[("Via", "a"), ("From", "f"), ("Via", "b")]);
        let order: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (name.as_print_str(), value.as_str()))
            .collect();
        assert_eq!(order, [("Via", "a"), ("From", "f"), ("Via", "b")]);
        assert_eq!(headers.len(), 3);
    }
}
