//! What the differential test compares for one message, as either parser saw it:
//! accepted with the fields both must agree on, or rejected with a reason (the reasons
//! are only printed, never compared).

use std::fmt;

/// A parser's verdict on one datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The message was accepted; these are the fields read from it.
    Accepted(Fields),
    /// The message was refused; the text says why.
    Rejected(String),
}

/// The fields compared between the parsers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    /// `METHOD` for a request, the status code for a response.
    pub start: String,
    /// The Call-ID.
    pub call_id: Option<String>,
    /// `<number> <METHOD>` of CSeq.
    pub cseq: Option<String>,
    /// The From tag.
    pub from_tag: Option<String>,
    /// The To tag.
    pub to_tag: Option<String>,
    /// The branch of the topmost Via.
    pub via_branch: Option<String>,
    /// The Content-Length header's value, if the header is present.
    pub content_length: Option<u64>,
    /// The length of the body the parser cut out.
    pub body_len: usize,
}

impl Fields {
    /// `(field name, value)` for every compared field, in a fixed order.
    pub fn named(&self) -> [(&'static str, String); 8] {
        [
            ("start", self.start.clone()),
            ("call_id", show(&self.call_id)),
            ("cseq", show(&self.cseq)),
            ("from_tag", show(&self.from_tag)),
            ("to_tag", show(&self.to_tag)),
            ("via_branch", show(&self.via_branch)),
            ("content_length", show(&self.content_length)),
            ("body_len", self.body_len.to_string()),
        ]
    }
}

fn show<T: fmt::Display>(value: &Option<T>) -> String {
    match value {
        Some(value) => value.to_string(),
        None => "(none)".to_owned(),
    }
}
