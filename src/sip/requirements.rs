//! `Require` (RFC 3261 §8.2.2.3): callplane supports two option tags, `timer`
//! (session timers, RFC 4028) and `100rel` (reliable provisional responses,
//! RFC 3262); every other tag a request requires is answered 420 with
//! `Unsupported`.

use ezk_sip_types::Name;

use crate::sip::dialog::REL100_TAG;
use crate::sip::header_value::split_list;
use crate::sip::message::Request;
use crate::sip::session_timer::TIMER_TAG;

/// The option tags we support, for `Supported` in an answer to OPTIONS
/// (RFC 3261 §11.2).
pub(crate) fn supported_tags() -> String {
    format!("{REL100_TAG}, {TIMER_TAG}")
}

/// Option tags in the request's Require headers that we do not support.
pub(crate) fn unsupported_extensions(request: &Request) -> Vec<String> {
    request
        .head
        .headers
        .get_raw(&Name::REQUIRE)
        .flat_map(|value| split_list(value.as_str()))
        .filter(|tag| !tag.eq_ignore_ascii_case(TIMER_TAG) && !tag.eq_ignore_ascii_case(REL100_TAG))
        .map(str::to_owned)
        .collect()
}
