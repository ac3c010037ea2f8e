//! Incoming responses: only our BYEs have client transactions; everything else is
//! counted and dropped.

use super::Endpoint;
use crate::sip::event::TerminatedReason;
use crate::sip::message::Response;
use crate::sip::method::Method;
use crate::sip::transaction::ClientResponse;
use crate::time::Time;

impl Endpoint {
    pub(super) fn on_response(&mut self, now: Time, response: Response) {
        let head = &response.head;
        let tx = (head.cseq.method == Method::Bye)
            .then(|| self.client_txs.get_mut(&head.top_via.branch))
            .flatten();
        let Some(tx) = tx else {
            self.stats.unmatched_responses += 1;
            return;
        };
        if tx.on_response(now, response.status) == ClientResponse::Final {
            if let Some(call) = tx.call.take() {
                self.terminate(&call, TerminatedReason::ByeCompleted);
            }
        }
    }
}
