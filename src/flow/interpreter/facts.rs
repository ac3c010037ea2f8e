//! [`CallFacts`]: what the call layer knows about the call when a session
//! starts, turned into the built-in variables under both naming schemes, and
//! the route's `dest_xform` applied on entry.

use serde_json::{Map, Value};

use crate::flow::interpreter::Session;
use crate::flow::program::NodeId;
use crate::flow::template::Template;
use crate::flow::trace::TraceEvent;
use crate::flow::vars::{
    flatten_json, scalar_text, Vars, CALLEE, CALLER_CID, CALL_ID, VOIPBIN_ACTIVEFLOW_FLOW_ID,
    VOIPBIN_ACTIVEFLOW_ID, VOIPBIN_ACTIVEFLOW_REFERENCE_ID, VOIPBIN_CALLER_ID, VOIPBIN_CALL_ID,
    VOIPBIN_CALL_STATUS, VOIPBIN_COMPLETE_COUNT, VOIPBIN_DESTINATION_TARGET, VOIPBIN_DIGITS,
    VOIPBIN_SOURCE_TARGET,
};

/// The node id trace events use for variables set by the route's transform.
pub(super) const DEST_XFORM_NODE: &str = "dest_xform";

/// Facts about the call, passed in by the call layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFacts {
    /// The caller's number (From).
    pub caller: String,
    /// The number called (To / request URI).
    pub callee: String,
    /// The call's id (SIP Call-ID or the call layer's own).
    pub call_id: String,
    /// The activeflow id; the call id when `None`.
    pub activeflow_id: Option<String>,
    /// More variables to set, after the built-ins.
    pub extra: Vec<(String, String)>,
}

impl CallFacts {
    /// Facts for a call from `caller` to `callee` with id `call_id`.
    pub fn new(
        caller: impl Into<String>,
        callee: impl Into<String>,
        call_id: impl Into<String>,
    ) -> CallFacts {
        CallFacts {
            caller: caller.into(),
            callee: callee.into(),
            call_id: call_id.into(),
            activeflow_id: None,
            extra: Vec::new(),
        }
    }

    /// The activeflow id of the `complete_count`-th session of the call's
    /// on-complete chain: the base id, then `BASE:N`.
    pub fn activeflow_id(&self, complete_count: u32) -> String {
        let base = self.activeflow_id.as_deref().unwrap_or(&self.call_id);
        if complete_count == 0 {
            base.to_owned()
        } else {
            format!("{base}:{complete_count}")
        }
    }

    /// The built-in variables of a session running `flow_id`.
    pub(super) fn builtin_vars(&self, flow_id: &str, complete_count: u32) -> Vars {
        let mut vars = Vars::default();
        for (key, value) in [
            (CALLER_CID, self.caller.as_str()),
            (CALLEE, self.callee.as_str()),
            (CALL_ID, self.call_id.as_str()),
            (VOIPBIN_CALLER_ID, self.caller.as_str()),
            (VOIPBIN_SOURCE_TARGET, self.caller.as_str()),
            (VOIPBIN_DESTINATION_TARGET, self.callee.as_str()),
            (VOIPBIN_CALL_ID, self.call_id.as_str()),
            (VOIPBIN_DIGITS, ""),
            (VOIPBIN_CALL_STATUS, "ringing"),
            (VOIPBIN_ACTIVEFLOW_REFERENCE_ID, self.call_id.as_str()),
            (VOIPBIN_ACTIVEFLOW_FLOW_ID, flow_id),
        ] {
            vars.set(key, value);
        }
        vars.set(VOIPBIN_ACTIVEFLOW_ID, &self.activeflow_id(complete_count));
        vars.set(VOIPBIN_COMPLETE_COUNT, &complete_count.to_string());
        for (key, value) in &self.extra {
            vars.set(key, value);
        }
        vars
    }
}

impl Session {
    /// Applies a route's `dest_xform`: each string value is a template
    /// expanded against the variables so far, other scalars are taken as
    /// text, objects and arrays are flattened below their key.
    pub(super) fn apply_dest_xform(&mut self, transform: &Map<String, Value>) {
        let node = NodeId::from(DEST_XFORM_NODE);
        for (key, value) in transform {
            match value {
                Value::String(text) => {
                    let expanded = match Template::parse(text) {
                        Ok(template) => {
                            let vars = &self.vars;
                            let trace = &mut self.trace;
                            template
                                .render(vars, |name| {
                                    trace.push(|| TraceEvent::UnknownVariable {
                                        node: node.clone(),
                                        name: name.to_owned(),
                                    })
                                })
                                .into_owned()
                        }
                        Err(_) => text.clone(),
                    };
                    self.set_var(&node, key, &expanded);
                }
                Value::Object(_) | Value::Array(_) => {
                    let mut pairs = Vec::new();
                    flatten_json(key, value, &mut pairs);
                    for (key, value) in pairs {
                        self.set_var(&node, &key, &value);
                    }
                }
                scalar => self.set_var(&node, key, &scalar_text(scalar)),
            }
        }
    }
}
