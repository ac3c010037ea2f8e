//! sofia-sip as a test oracle: parses one datagram with libsofia-sip-ua (the SIP stack
//! inside FreeSWITCH) the way its UDP transport and transaction layer do, and reports
//! the verdict and the compared fields as an [`Outcome`].
//!
//! The steps follow sofia's own receive path: `tport_recv_dgram` commits the datagram
//! into a fresh `msg_t` of the SIP message class with end-of-stream set, `tport_parse`
//! runs `msg_extract` (an incomplete message counts as an error on a datagram), and
//! `agent_recv_request` / `agent_recv_response` refuse a message whose header errors hit
//! nta's default bad-request / bad-response mask, that carries the fatal-error or
//! too-large flag, that fails `sip_sanity_check`, or whose protocol version is not
//! `SIP/2.0` (a request gets 505, a response is dropped). What passes all of that is
//! what nta goes on to match against its transactions. Later checks of nta that are
//! transport or transaction policy rather than parsing are not modelled: the top Via's
//! transport must be the receiving socket's, and responses to ACK are dropped.

mod ffi;
pub mod outcome;

use outcome::{Fields, Outcome};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};

/// Owns a `msg_t` and destroys it when dropped.
struct Msg(*mut ffi::msg_t);

impl Drop for Msg {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `msg_create` and is destroyed once.
        unsafe { ffi::msg_destroy(self.0) }
    }
}

/// nta's default mask of header classes whose parse errors refuse a request
/// (`nta_agent_create`: everything but the response, proxy, registrar, caller-preference
/// and privacy headers).
fn bad_request_mask() -> c_uint {
    use ffi::sip_bad_mask::*;
    !(sip_mask_response | sip_mask_proxy | sip_mask_registrar | sip_mask_pref | sip_mask_privacy)
}

/// nta's default mask for responses (the same with the request headers instead).
fn bad_response_mask() -> c_uint {
    use ffi::sip_bad_mask::*;
    !(sip_mask_request | sip_mask_proxy | sip_mask_registrar | sip_mask_pref | sip_mask_privacy)
}

/// Parses `data` as one UDP datagram.
pub fn parse(data: &[u8]) -> Outcome {
    // `tport_recv_dgram` drops runts of one byte or less before parsing.
    if data.len() <= 1 {
        return Outcome::Rejected("runt datagram".to_owned());
    }
    // SAFETY: every pointer handed to sofia comes from sofia and lives in `msg`, which
    // outlives every use; the datagram is copied into the buffer sofia allocated with
    // the requested size; the structures read are the ones the bindings describe.
    unsafe {
        let raw = ffi::msg_create(
            ffi::sip_default_mclass(),
            ffi::msg_flg_user::MSG_FLG_CANONIC as c_int,
        );
        if raw.is_null() {
            return Outcome::Rejected("msg_create failed".to_owned());
        }
        let msg = Msg(raw);
        let Ok(len) = ffi::usize_t::try_from(data.len()) else {
            return Outcome::Rejected("datagram too large".to_owned());
        };
        let buffer = ffi::msg_buf_alloc(msg.0, len).cast::<u8>();
        if buffer.is_null() {
            return Outcome::Rejected("msg_buf_alloc failed".to_owned());
        }
        std::ptr::copy_nonoverlapping(data.as_ptr(), buffer, data.len());
        ffi::msg_buf_commit(msg.0, len, 1);

        match ffi::msg_extract(msg.0) {
            0 => return Outcome::Rejected("incomplete message".to_owned()),
            n if n < 0 => return Outcome::Rejected("msg_extract failed".to_owned()),
            _ => {}
        }
        let sip = ffi::msg_public(msg.0, ffi::SIP_PROTOCOL_TAG as *mut c_void).cast::<ffi::sip_t>();
        let Some(sip) = sip.as_ref() else {
            return Outcome::Rejected("no SIP object".to_owned());
        };
        verdict(&msg, sip)
    }
}

/// nta's acceptance checks, then the fields of an accepted message.
///
/// # Safety
/// `sip` must be the SIP object of `msg`.
unsafe fn verdict(msg: &Msg, sip: &ffi::sip_t) -> Outcome {
    let (start, mask) = if let Some(request) = sip.sip_request.as_ref() {
        (
            text(request.rq_method_name).unwrap_or_default(),
            bad_request_mask(),
        )
    } else if let Some(status) = sip.sip_status.as_ref() {
        (status.st_status.to_string(), bad_response_mask())
    } else {
        return Outcome::Rejected("neither request nor response".to_owned());
    };
    let flags = sip.sip_flags as c_uint;
    if flags & ffi::msg_flg_parser::MSG_FLG_TOOLARGE as c_uint != 0 {
        return Outcome::Rejected("too large".to_owned());
    }
    let errors = ffi::msg_extract_errors(msg.0) & mask;
    if errors != 0 {
        return Outcome::Rejected(format!("bad header: {}", bad_headers(sip)));
    }
    if flags & ffi::msg_flg_parser::MSG_FLG_ERROR as c_uint != 0 {
        return Outcome::Rejected(format!("fatal parse error: {}", bad_headers(sip)));
    }
    if ffi::sip_sanity_check(sip) < 0 {
        return Outcome::Rejected("fails sip_sanity_check".to_owned());
    }
    let version = match (sip.sip_request.as_ref(), sip.sip_status.as_ref()) {
        (Some(request), _) => text(request.rq_version),
        (None, Some(status)) => text(status.st_version),
        (None, None) => None,
    };
    if !version
        .as_deref()
        .is_some_and(|version| version.eq_ignore_ascii_case("SIP/2.0"))
    {
        return Outcome::Rejected(format!("version {version:?} is not SIP/2.0"));
    }
    Outcome::Accepted(Fields {
        start,
        call_id: sip.sip_call_id.as_ref().and_then(|id| text(id.i_id)),
        cseq: sip.sip_cseq.as_ref().map(|cseq| {
            format!(
                "{} {}",
                cseq.cs_seq,
                text(cseq.cs_method_name).unwrap_or_default()
            )
        }),
        from_tag: sip.sip_from.as_ref().and_then(|from| text(from.a_tag)),
        to_tag: sip.sip_to.as_ref().and_then(|to| text(to.a_tag)),
        via_branch: sip.sip_via.as_ref().and_then(|via| text(via.v_branch)),
        content_length: sip
            .sip_content_length
            .as_ref()
            .map(|length| u64::from(length.l_length)),
        body_len: sip
            .sip_payload
            .as_ref()
            .map_or(0, |payload| payload.pl_len as usize),
    })
}

/// The names of the headers sofia could not parse, as nta logs them: the list holds
/// error entries (which carry the header's name, or none for a line that is no header)
/// and headers of their own class.
///
/// # Safety
/// `sip` must be a parsed SIP object.
unsafe fn bad_headers(sip: &ffi::sip_t) -> String {
    let error_class = std::ptr::addr_of!(ffi::sip_error_class).cast::<ffi::msg_hclass_t>();
    let mut names = Vec::new();
    let mut entry = sip.sip_error;
    while let Some(error) = entry.as_ref() {
        let class = error.er_common[0].h_class;
        let name = if class == error_class {
            text(error.er_name)
        } else {
            class.as_ref().and_then(|class| text(class.hc_name))
        };
        names.push(name.unwrap_or_else(|| "(not a header)".to_owned()));
        entry = error.er_next;
    }
    if names.is_empty() {
        "(none recorded)".to_owned()
    } else {
        names.join(", ")
    }
}

/// A NUL-terminated string of sofia's, lossily decoded; `None` for a null pointer.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string.
unsafe fn text(ptr: *const c_char) -> Option<String> {
    (!ptr.is_null()).then(|| CStr::from_ptr(ptr).to_string_lossy().into_owned())
}
