//! `Require` (RFC 3261 §8.2.2.3): callplane supports no option tags, so every
//! tag a request requires is answered 420 with `Unsupported`.

use ezk_sip_types::Name;

use crate::sip::header_value::split_list;
use crate::sip::message::Request;

/// Option tags in the request's Require headers (all of them are unsupported).
pub(crate) fn unsupported_extensions(request: &Request) -> Vec<String> {
    request
        .head
        .headers
        .get_raw(&Name::REQUIRE)
        .flat_map(|value| split_list(value.as_str()))
        .map(str::to_owned)
        .collect()
}
