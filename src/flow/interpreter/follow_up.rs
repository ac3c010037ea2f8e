//! `on_complete_flow_id`: when a flow completes (its end, a stop, a hangup —
//! also the caller's — but not a failure), the next flow starts in a new
//! session with the variables inherited and
//! `voipbin.activeflow.complete_count` incremented, at most
//! `ON_COMPLETE_CHAIN_LIMIT` flows in a chain.

use std::sync::Arc;

use crate::flow::interpreter::{Session, State};
use crate::flow::limits::ON_COMPLETE_CHAIN_LIMIT;
use crate::flow::trace::{StartReason, TraceEvent};
use crate::flow::vars::{
    VOIPBIN_ACTIVEFLOW_FLOW_ID, VOIPBIN_ACTIVEFLOW_ID, VOIPBIN_COMPLETE_COUNT,
};

impl Session {
    /// The follow-up session of a completed flow, once: `None` while the flow
    /// runs, after a failure, without `on_complete_flow_id`, at the chain
    /// limit, or when the flow is not published (the last two are traced as
    /// `OnCompleteSkipped`). The new session has not started; the call layer
    /// starts it (the call itself may be gone: after-call work).
    pub fn take_follow_up(&mut self) -> Option<Session> {
        let State::Ended(reason) = &self.state else {
            return None;
        };
        if reason.is_failure() || self.follow_up_taken {
            return None;
        }
        let flow_id = self.root.on_complete_flow_id()?.to_owned();
        self.follow_up_taken = true;
        let count = self.complete_count.saturating_add(1);
        if count >= ON_COMPLETE_CHAIN_LIMIT {
            self.trace.push(|| TraceEvent::OnCompleteSkipped {
                flow_id,
                reason: format!("the chain already ran {ON_COMPLETE_CHAIN_LIMIT} flows"),
            });
            return None;
        }
        let Some(program) = self.env.flow(&flow_id).cloned() else {
            self.trace.push(|| TraceEvent::OnCompleteSkipped {
                flow_id,
                reason: "the flow is not published".to_owned(),
            });
            return None;
        };
        let mut vars = self.vars.clone();
        vars.set(VOIPBIN_COMPLETE_COUNT, &count.to_string());
        vars.set(VOIPBIN_ACTIVEFLOW_ID, &self.facts.activeflow_id(count));
        vars.set(VOIPBIN_ACTIVEFLOW_FLOW_ID, program.id());
        Some(Session::with_vars(
            program,
            Arc::clone(&self.env),
            self.facts.clone(),
            vars,
            count,
            StartReason::OnComplete,
        ))
    }
}
