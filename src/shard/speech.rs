//! Free-text speech for the shard's calls: a [`HostEvent::Speech`] becomes a
//! job on the speech workers (`crate::speech`), whose reply posts the prompt
//! into the owning shard's inbox as [`ShardMsg::Speech`] and wakes it, the
//! way HTTP answers come back. A refused job (queue full, no engine) is
//! answered at once, as an input the drain loop feeds straight back.
//!
//! [`HostEvent::Speech`]: crate::call::HostEvent::Speech

use crate::call::{CallHandle, Input, SpeechWanted};
use crate::speech::{SpeechPool, SpeechRequest};

use super::{ShardMsg, ShardPeer};

/// Hands `request` of `call` to `pool`; `Some` is the answer when it cannot go.
pub(super) fn submit(
    pool: Option<&SpeechPool>,
    call: CallHandle,
    request: SpeechWanted,
    reply_to: Option<ShardPeer>,
) -> Option<Input<'static>> {
    let id = request.id;
    let refused = |reason: String| {
        Some(Input::Speech {
            call,
            id,
            result: Err(reason),
        })
    };
    let Some(pool) = pool else {
        return refused("no speech engine runs".into());
    };
    let Some(peer) = reply_to else {
        return refused("the shard cannot be reached".into());
    };
    let job = SpeechRequest {
        text: request.text,
        language: request.language,
        voice: request.voice,
    };
    let reply = Box::new(move |result: Result<_, crate::speech::SpeechError>| {
        peer.send(ShardMsg::Speech {
            call,
            id,
            result: result.map_err(|err| err.to_string()),
        });
    });
    match pool.try_submit(job, reply) {
        Ok(()) => None,
        Err((error, _)) => refused(error.to_string()),
    }
}
