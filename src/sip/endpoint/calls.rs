//! The call layer's operations on a call: ring, answer, reject, hang up.

use super::Endpoint;
use crate::sip::dialog::CallState;
use crate::sip::error::SipError;
use crate::sip::event::{CallId, TerminatedReason};
use crate::sip::transaction::NonInviteClientTx;
use crate::time::Time;

/// Status sent when `hangup` is called before the call was answered.
const HANGUP_BEFORE_ANSWER_STATUS: u16 = 480;

impl Endpoint {
    /// Sends 180 Ringing (with our To tag, Contact and Record-Route).
    pub fn ring(&mut self, _now: Time, call: &CallId) -> Result<(), SipError> {
        let response = self.offered_call_response(call, 180, None)?;
        let tx = self.invite_tx_of(call)?;
        tx.send_provisional(response.clone());
        let dest = tx.dest;
        self.transmit(dest, response);
        Ok(())
    }

    /// Sends 200 OK with `sdp_answer` as body, our To tag and
    /// `Contact: <sip:callplane@local_addr>`; retransmitted until the ACK arrives.
    pub fn answer(&mut self, now: Time, call: &CallId, sdp_answer: &str) -> Result<(), SipError> {
        let response = self.offered_call_response(call, 200, Some(sdp_answer))?;
        let tx = self.invite_tx_of(call)?;
        tx.send_2xx(now, response.clone());
        let dest = tx.dest;
        self.call_mut(call)?.state = CallState::Answered;
        self.transmit(dest, response);
        Ok(())
    }

    /// Sends a final non-2xx response (300..=699, e.g. 486, 488, 503) and ends the call
    /// (`Terminated { reason: Rejected }`). The transaction keeps retransmitting it
    /// until the caller's ACK.
    pub fn reject(&mut self, now: Time, call: &CallId, status: u16) -> Result<(), SipError> {
        if !(300..=699).contains(&status) {
            return Err(SipError::InvalidStatus(status));
        }
        let response = self.offered_call_response(call, status, None)?;
        let tx = self.invite_tx_of(call)?;
        tx.send_non_2xx(now, response.clone());
        let dest = tx.dest;
        self.transmit(dest, response);
        self.terminate(call, TerminatedReason::Rejected);
        Ok(())
    }

    /// Hangs up. Answered and confirmed calls get a BYE (reported `Terminated` when it
    /// completes or times out); if the ACK has not arrived yet the BYE waits for it
    /// (§15). A call not yet answered is rejected with 480. Hanging up twice is a no-op.
    pub fn hangup(&mut self, now: Time, call: &CallId) -> Result<(), SipError> {
        let state = self.call_mut(call)?.state;
        match state {
            CallState::Offered => self.reject(now, call, HANGUP_BEFORE_ANSWER_STATUS),
            CallState::Answered => {
                self.call_mut(call)?.hangup_requested = true;
                Ok(())
            }
            CallState::Confirmed => {
                self.send_bye(now, call, true);
                Ok(())
            }
            CallState::ByeSent => Ok(()),
        }
    }

    /// Sends a BYE in the dialog of `call`. With `report`, the call stays until the BYE
    /// transaction ends and is then reported terminated.
    pub(super) fn send_bye(&mut self, now: Time, call: &CallId, report: bool) {
        let branch = self.new_branch();
        let Some(dialog) = self.calls.get_mut(call) else {
            return;
        };
        let request = dialog.build_bye(&branch, self.config.local_addr, &self.config.user_agent);
        dialog.state = CallState::ByeSent;
        let dest = dialog.source;
        let reported = report.then(|| call.clone());
        self.client_txs.insert(
            branch,
            NonInviteClientTx::new(now, dest, request.clone(), reported),
        );
        self.transmit(dest, request);
    }

    /// A response to the INVITE of a call that is still offered.
    fn offered_call_response(
        &self,
        call: &CallId,
        status: u16,
        sdp: Option<&str>,
    ) -> Result<Vec<u8>, SipError> {
        let dialog = self.calls.get(call).ok_or(SipError::UnknownCall)?;
        if dialog.state != CallState::Offered {
            return Err(SipError::WrongState);
        }
        Ok(dialog.invite_response(status, self.config.local_addr, &self.config.user_agent, sdp))
    }

    fn invite_tx_of(
        &mut self,
        call: &CallId,
    ) -> Result<&mut crate::sip::transaction::InviteServerTx, SipError> {
        let key = &self
            .calls
            .get(call)
            .ok_or(SipError::UnknownCall)?
            .invite_key;
        self.invite_txs.get_mut(key).ok_or(SipError::WrongState)
    }
}
