//! The bindings `build.rs` generates with bindgen from the installed sofia-sip headers
//! (only the message parser's entry points and the `sip_t` structures), and the link to
//! libsofia-sip-ua. Nothing here is written by hand except the link and the constant
//! below.

#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    unreachable_pub,
    clippy::all
)]

include!(concat!(env!("OUT_DIR"), "/sofia_bindings.rs"));

/// `SIP_PROTOCOL_TAG` of `<sofia-sip/sip.h>` ('SIP '), a pointer-valued macro bindgen
/// cannot translate; `msg_public(msg, SIP_PROTOCOL_TAG)` is what the inline
/// `sip_object()` does.
pub(crate) const SIP_PROTOCOL_TAG: usize = 0x5349_5020;

#[link(name = "sofia-sip-ua")]
unsafe extern "C" {}
