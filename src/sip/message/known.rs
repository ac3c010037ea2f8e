//! The headers the parser itself reads (Via, From, To, Call-ID, CSeq, Max-Forwards,
//! Content-Length, Content-Type, Contact, Record-Route), found in one pass over the
//! message's [`HeaderMap`].
//!
//! A lookup by name compares names as strings, case-insensitively and against every
//! compact form; a dozen such lookups were a third of a parse. The map's names are
//! already resolved (`Name::from` maps `v`, `VIA`… to the one `Via`), so here each
//! entry is told apart by its canonical print name instead.

use super::HeaderMap;

/// One single-valued header: its first value and whether it is given again.
#[derive(Default)]
pub(super) struct Single<'a> {
    pub first: Option<&'a str>,
    /// Given more than once, with the same value or not: only headers whose value is
    /// a comma-separated list may repeat (RFC 3261 §7.3.1).
    pub repeated: bool,
    /// Given again with a different value.
    pub conflicting: bool,
}

impl<'a> Single<'a> {
    fn push(&mut self, value: &'a str) {
        match self.first {
            None => self.first = Some(value),
            Some(first) => {
                self.repeated = true;
                self.conflicting |= first != value;
            }
        }
    }
}

/// The values of the headers the parser reads, in message order.
#[derive(Default)]
pub(super) struct KnownHeaders<'a> {
    pub via: Vec<&'a str>,
    pub from: Single<'a>,
    pub to: Single<'a>,
    pub call_id: Single<'a>,
    pub cseq: Single<'a>,
    pub max_forwards: Single<'a>,
    pub content_length: Single<'a>,
    pub content_type: Single<'a>,
    pub contact: Vec<&'a str>,
    pub record_route: Vec<&'a str>,
}

impl<'a> KnownHeaders<'a> {
    /// Collects them from `headers` in one pass.
    pub(super) fn of(headers: &'a HeaderMap) -> KnownHeaders<'a> {
        let mut known = KnownHeaders::default();
        for (name, value) in headers.iter() {
            let value = value.as_str();
            match name.as_print_str() {
                "Via" => known.via.push(value),
                "From" => known.from.push(value),
                "To" => known.to.push(value),
                "Call-ID" => known.call_id.push(value),
                "CSeq" => known.cseq.push(value),
                "Max-Forwards" => known.max_forwards.push(value),
                "Content-Length" => known.content_length.push(value),
                "Content-Type" => known.content_type.push(value),
                "Contact" => known.contact.push(value),
                "Record-Route" => known.record_route.push(value),
                _ => {}
            }
        }
        known
    }

    /// The name of the first single-valued header given twice (Content-Length aside:
    /// the parser refuses that one first, with its own error).
    pub(super) fn repeated(&self) -> Option<&'static str> {
        [
            (&self.from, "From"),
            (&self.to, "To"),
            (&self.call_id, "Call-ID"),
            (&self.cseq, "CSeq"),
            (&self.max_forwards, "Max-Forwards"),
            (&self.content_type, "Content-Type"),
        ]
        .into_iter()
        .find_map(|(single, label)| single.repeated.then_some(label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ezk_sip_types::Name;

    #[test]
    fn compact_and_odd_case_names_land_in_their_header() {
        let mut headers = HeaderMap::default();
        for (name, value) in [
            ("v", "SIP/2.0/UDP a"),
            ("VIA", "SIP/2.0/UDP b"),
            ("f", "<sip:x@y>;tag=1"),
            ("cAlL-iD", "c1"),
            ("i", "c2"),
            ("l", "0"),
            ("Content-Length", "0"),
            ("X-Via", "not a via"),
        ] {
            headers.push(Name::from(name), value.into());
        }
        let known = KnownHeaders::of(&headers);
        assert_eq!(known.via, vec!["SIP/2.0/UDP a", "SIP/2.0/UDP b"]);
        assert_eq!(known.from.first, Some("<sip:x@y>;tag=1"));
        assert_eq!(known.call_id.first, Some("c1"));
        assert!(known.call_id.repeated);
        assert!(known.content_length.repeated);
        assert!(!known.content_length.conflicting);
        assert!(!known.from.repeated);
        assert_eq!(known.repeated(), Some("Call-ID"));
        assert!(known.to.first.is_none());
    }
}
