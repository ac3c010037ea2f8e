//! The session's trace buffer and template expansion that reports unknown
//! variables into it.

use std::borrow::Cow;
use std::collections::VecDeque;

use crate::flow::limits::TRACE_CAP;
use crate::flow::program::NodeId;
use crate::flow::template::Template;
use crate::flow::trace::TraceEvent;
use crate::flow::vars::Vars;

/// Trace events waiting to be polled, at most [`TRACE_CAP`].
#[derive(Debug, Clone)]
pub(crate) struct TraceBuffer {
    events: VecDeque<TraceEvent>,
    dropped: u64,
    enabled: bool,
}

impl Default for TraceBuffer {
    fn default() -> TraceBuffer {
        TraceBuffer {
            events: VecDeque::new(),
            dropped: 0,
            enabled: true,
        }
    }
}

impl TraceBuffer {
    /// Turns recording on or off.
    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Records an event built by `event`, if recording is on.
    pub(crate) fn push(&mut self, event: impl FnOnce() -> TraceEvent) {
        if !self.enabled {
            return;
        }
        if self.events.len() >= TRACE_CAP {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.events.push_back(event());
    }

    /// The oldest event.
    pub(crate) fn pop(&mut self) -> Option<TraceEvent> {
        self.events.pop_front()
    }

    /// Events not recorded because the buffer was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Expands `template`; each unknown variable expands to "" and is traced for `node`.
pub(crate) fn render<'a>(
    vars: &'a Vars,
    trace: &mut TraceBuffer,
    node: &NodeId,
    template: &'a Template,
) -> Cow<'a, str> {
    template.render(vars, |name| {
        trace.push(|| TraceEvent::UnknownVariable {
            node: node.clone(),
            name: name.to_owned(),
        })
    })
}

/// Expands an optional template.
pub(crate) fn render_optional(
    vars: &Vars,
    trace: &mut TraceBuffer,
    node: &NodeId,
    template: Option<&Template>,
) -> Option<String> {
    template.map(|template| render(vars, trace, node, template).into_owned())
}
