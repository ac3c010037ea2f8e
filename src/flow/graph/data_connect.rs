//! `data` of the node-graph kinds that connect the caller: dial, ringGroup,
//! enqueue, forward, transfer, conference, voicemail. Destination ids are
//! recorded as references for `check_references`.

use std::time::Duration;

use crate::flow::directive::ConnectKind;
use crate::flow::program::{ConnectStep, ReferenceKind, Step};
use crate::flow::read::{Fields, Read, Sink};
use crate::flow::template::Template;

/// Default `timeoutSec` of dial, forward and transfer.
pub(super) const DEFAULT_RING_TIMEOUT_SEC: u32 = 30;

fn connect(kind: ConnectKind, target: Template, timeout: Option<Duration>) -> ConnectStep {
    ConnectStep {
        kind,
        targets: vec![target],
        source: None,
        timeout,
        early_media: false,
        flow_id: None,
        flow: None,
    }
}

/// `dial` (`number`, `callerId`, `timeoutSec`), `forward` (same) and
/// `transfer` (`target`, `timeoutSec`).
pub(crate) fn read_dial_like(data: &Fields<'_>, kind: ConnectKind, sink: &mut Sink) -> Read<Step> {
    let target_key = if kind == ConnectKind::Transfer {
        "target"
    } else {
        "number"
    };
    data.warn_unknown(
        &["kind", "label", target_key, "callerId", "timeoutSec"],
        &mut sink.warnings,
    );
    let target = data.required_template(target_key, &mut sink.errors);
    let caller_id = data.optional_template("callerId", &mut sink.errors);
    let timeout = data.seconds_or("timeoutSec", 1, DEFAULT_RING_TIMEOUT_SEC, &mut sink.errors);
    let mut step = connect(kind, target?, Some(timeout?));
    step.source = caller_id?;
    Ok(Step::Connect(step))
}

/// `ringGroup` (`ringGroupId`), `enqueue` (`queueId`), `conference`
/// (`conferenceId`), `voicemail` (`mailboxId`, `maxLengthSec`): a destination by
/// id, with an optional `timeoutSec` overriding the destination's own.
pub(crate) fn read_destination(
    data: &Fields<'_>,
    kind: ConnectKind,
    sink: &mut Sink,
) -> Read<Step> {
    let (id_key, reference, timeout_key) = match kind {
        ConnectKind::RingGroup => ("ringGroupId", ReferenceKind::RingGroup, "timeoutSec"),
        ConnectKind::Queue => ("queueId", ReferenceKind::Queue, "timeoutSec"),
        ConnectKind::Conference => ("conferenceId", ReferenceKind::Conference, ""),
        _ => ("mailboxId", ReferenceKind::Voicemail, "maxLengthSec"),
    };
    data.warn_unknown(&["kind", "label", id_key, timeout_key], &mut sink.warnings);
    let id = data.required_template(id_key, &mut sink.errors);
    let timeout = if timeout_key.is_empty() {
        Ok(None)
    } else {
        data.optional_seconds(timeout_key, 1, &mut sink.errors)
    };
    let id = id?;
    sink.reference(reference, &id, data.path_of(id_key));
    Ok(Step::Connect(connect(kind, id, timeout?)))
}
