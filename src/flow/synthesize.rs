//! Synthesized flows: a route that points straight at a destination (queue,
//! voicemail, conference, ring group, forward) runs a flow built here, through
//! the same interpreter as any other. The destination's configured exit (a
//! queue's `timeout_dest`, a ring group's or forward's `no_answer_dest`) is
//! followed into further nodes, up to [`SYNTHESIS_DEPTH_LIMIT`] destinations;
//! the last one's exit is left out. Node ids are `KIND:ID` (`queue:support`),
//! with `#N` appended when a destination comes back in the chain.

use std::time::Duration;

use crate::flow::destinations::{Destination, DestinationCatalog, DestinationKind};
use crate::flow::directive::ConnectKind;
use crate::flow::handle::{BUSY, NO_ANSWER, TIMEOUT};
use crate::flow::limits::SYNTHESIS_DEPTH_LIMIT;
use crate::flow::program::{
    ConnectStep, Exits, FlowFormat, NodeIndex, Program, ProgramNode, Reference, Step,
};
use crate::flow::template::Template;

/// The one-node (or chained) flow for a route to `destination`. A destination
/// missing from `catalog` still gets its node (the call layer reports the
/// failure); `check_references` finds it beforehand.
pub fn synthesize(destination: &Destination, catalog: &DestinationCatalog) -> Program {
    let mut chain = vec![destination.clone()];
    while chain.len() < SYNTHESIS_DEPTH_LIMIT {
        match chain.last().and_then(|last| catalog.exit_of(last)) {
            Some(exit) => chain.push(exit.clone()),
            None => break,
        }
    }
    let mut ids: Vec<String> = Vec::new();
    let mut nodes = Vec::new();
    let mut references = Vec::new();
    for (index, hop) in chain.iter().enumerate() {
        let base = format!("{}:{}", hop.kind.name(), hop.id);
        let repeats = ids
            .iter()
            .filter(|id| id.split('#').next() == Some(base.as_str()))
            .count();
        let id = if repeats == 0 {
            base
        } else {
            format!("{base}#{}", repeats + 1)
        };
        ids.push(id.clone());
        let next = (index + 1 < chain.len()).then(|| NodeIndex((index + 1) as u32));
        let exit_handles: &[&str] = match hop.kind {
            DestinationKind::Queue => &[TIMEOUT],
            DestinationKind::RingGroup | DestinationKind::Forward => &[NO_ANSWER, BUSY],
            DestinationKind::Voicemail | DestinationKind::Conference => &[],
        };
        let by_handle = next
            .map(|next| {
                exit_handles
                    .iter()
                    .map(|handle| ((*handle).to_owned(), next))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(kind) = hop.kind.reference_kind() {
            references.push(Reference {
                kind,
                id: hop.id.clone(),
                path: id.clone(),
            });
        }
        nodes.push(ProgramNode {
            id: id.into(),
            step: Step::Connect(connect_step(hop, catalog)),
            exits: Exits::new(by_handle, None),
        });
    }
    let flow_id = format!("synth:{}:{}", destination.kind.name(), destination.id);
    let name = format!("{} {}", destination.kind.name(), destination.id);
    match Program::new(flow_id.clone(), name.clone(), 1, NodeIndex(0), nodes) {
        Ok(program) => program
            .with_format(FlowFormat::Synthesized)
            .with_references(references),
        // The chain is valid by construction; a hangup-only flow stands in otherwise.
        Err(_) => Program::hangup_only(flow_id, name).with_format(FlowFormat::Synthesized),
    }
}

fn seconds(seconds: Option<u32>) -> Option<Duration> {
    seconds.map(|seconds| Duration::from_secs(u64::from(seconds)))
}

fn connect_step(destination: &Destination, catalog: &DestinationCatalog) -> ConnectStep {
    let id = destination.id.as_str();
    let (kind, target, timeout) = match destination.kind {
        DestinationKind::Queue => (
            ConnectKind::Queue,
            id.to_owned(),
            seconds(catalog.queue(id).and_then(|queue| queue.timeout_sec)),
        ),
        DestinationKind::RingGroup => (
            ConnectKind::RingGroup,
            id.to_owned(),
            seconds(catalog.ring_group(id).and_then(|group| group.timeout_sec)),
        ),
        DestinationKind::Forward => match catalog.forward(id) {
            Some(forward) => (
                ConnectKind::Forward,
                forward.number.clone(),
                seconds(forward.timeout_sec),
            ),
            None => (ConnectKind::Forward, id.to_owned(), None),
        },
        DestinationKind::Voicemail => (
            ConnectKind::Voicemail,
            id.to_owned(),
            seconds(
                catalog
                    .voicemail(id)
                    .and_then(|mailbox| mailbox.max_length_sec),
            ),
        ),
        DestinationKind::Conference => (ConnectKind::Conference, id.to_owned(), None),
    };
    ConnectStep {
        kind,
        targets: vec![Template::literal(target)],
        source: None,
        timeout,
        early_media: false,
        flow_id: None,
        flow: None,
    }
}
