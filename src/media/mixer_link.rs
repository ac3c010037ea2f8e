//! The link of a conference participant whose call lives on another shard:
//! two bounded channels between the participant's shard and the mixer's, one
//! carrying its 20 ms frames to the mixer, one carrying its mix-minus frames
//! back. Neither side ever blocks: a send onto a full channel drops the frame
//! and counts it, so a stalled shard costs the conference a gap in one
//! participant's audio, never a late tick.
//!
//! Made with `std::sync::mpsc::sync_channel`, the bounded channel the shards
//! already use for their inboxes: its buffer is allocated once, at the
//! link's creation, so a frame crossing allocates nothing.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};

use crate::media::mixer::Frame;

/// Frames each direction holds: 60 ms of slack between the two shards' ticks.
pub const LINK_FRAMES: usize = 3;

/// Counters of one end of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames sent.
    pub sent: u64,
    /// Frames dropped because the channel was full.
    pub dropped_full: u64,
    /// Frames received.
    pub received: u64,
}

/// Why a frame did not cross.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The channel is full: the frame was dropped (counted).
    #[error("the cross-shard frame channel is full; frame dropped")]
    Full,
    /// The other end is gone (its call or the conference ended).
    #[error("the other end of the cross-shard link is gone")]
    Closed,
}

/// One end of a link: sends frames one way, receives the other way.
#[derive(Debug)]
pub struct LinkEnd {
    out: SyncSender<Frame>,
    inbound: Receiver<Frame>,
    stats: LinkStats,
}

/// A link of `capacity` frames each way (at least one): the participant's
/// end (to its call's shard) and the mixer's end (to the conference's shard).
pub fn link(capacity: usize) -> (LinkEnd, LinkEnd) {
    let (to_mixer, from_participant) = sync_channel(capacity.max(1));
    let (to_participant, from_mixer) = sync_channel(capacity.max(1));
    let participant = LinkEnd {
        out: to_mixer,
        inbound: from_mixer,
        stats: LinkStats::default(),
    };
    let mixer = LinkEnd {
        out: to_participant,
        inbound: from_participant,
        stats: LinkStats::default(),
    };
    (participant, mixer)
}

impl LinkEnd {
    /// Sends one frame without blocking; a full channel drops it (counted).
    pub fn send(&mut self, frame: &Frame) -> Result<(), LinkError> {
        match self.out.try_send(*frame) {
            Ok(()) => {
                self.stats.sent += 1;
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.stats.dropped_full += 1;
                Err(LinkError::Full)
            }
            Err(TrySendError::Disconnected(_)) => Err(LinkError::Closed),
        }
    }

    /// The oldest frame the other end sent, if one is waiting.
    pub fn receive(&mut self) -> Result<Option<Frame>, LinkError> {
        match self.inbound.try_recv() {
            Ok(frame) => {
                self.stats.received += 1;
                Ok(Some(frame))
            }
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(LinkError::Closed),
        }
    }

    /// The newest frame waiting, the older ones skipped (a tick takes one
    /// frame; a backlog would only add delay).
    pub fn receive_latest(&mut self) -> Result<Option<Frame>, LinkError> {
        let mut latest = None;
        while let Some(frame) = self.receive()? {
            latest = Some(frame);
        }
        Ok(latest)
    }

    /// The counters.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mixer::{Mixer, MixerOutput, ParticipantId};
    use crate::time::Time;

    #[test]
    fn a_full_channel_drops_and_counts_without_blocking() {
        let (mut participant, mut mixer) = link(2);
        assert_eq!(participant.send(&[1; 160]), Ok(()));
        assert_eq!(participant.send(&[2; 160]), Ok(()));
        assert_eq!(participant.send(&[3; 160]), Err(LinkError::Full));
        assert_eq!(participant.stats().dropped_full, 1);
        assert_eq!(participant.stats().sent, 2);
        assert_eq!(mixer.receive().map(|f| f.map(|f| f[0])), Ok(Some(1)));
        assert_eq!(mixer.receive().map(|f| f.map(|f| f[0])), Ok(Some(2)));
        assert_eq!(mixer.receive(), Ok(None));
        assert_eq!(mixer.stats().received, 2);
    }

    #[test]
    fn a_gone_end_is_reported() {
        let (mut participant, mixer) = link(1);
        drop(mixer);
        assert_eq!(participant.send(&[0; 160]), Err(LinkError::Closed));
        assert_eq!(participant.receive(), Err(LinkError::Closed));
    }

    #[test]
    fn a_participant_on_another_shard_is_mixed_and_hears_the_others() {
        let (mut remote, mut home) = link(LINK_FRAMES);
        let (local, far) = (ParticipantId(1), ParticipantId(2));
        let mut mixer = Mixer::new(4, Time::ZERO);
        mixer.join(local).unwrap();
        mixer.join(far).unwrap();
        let mut now = Time::ZERO;
        // Past the join tones.
        for _ in 0..12 {
            mixer.handle_timeout(now);
            while !matches!(mixer.poll_output(), MixerOutput::Timeout(_)) {}
            now += crate::media::mixer::MIX_INTERVAL;
        }
        // The other shard sends its frame; the mixer's shard takes it at the tick.
        remote.send(&[300; 160]).unwrap();
        mixer.handle_frame(local, &[1000; 160]).unwrap();
        if let Some(frame) = home.receive_latest().unwrap() {
            mixer.handle_frame(far, &frame).unwrap();
        }
        mixer.handle_timeout(now);
        loop {
            match mixer.poll_output() {
                MixerOutput::Frame(id) if id == far => {
                    let frame = *mixer.frame_for(far).unwrap();
                    home.send(&frame).unwrap();
                }
                MixerOutput::Frame(id) => {
                    assert_eq!(mixer.frame_for(id).unwrap()[0], 300);
                }
                MixerOutput::Recording => {}
                MixerOutput::Timeout(_) => break,
            }
        }
        let back = remote.receive().unwrap().expect("the mix came back");
        assert!(
            back.iter().all(|s| *s == 1000),
            "hears the local one, not itself"
        );
    }
}
