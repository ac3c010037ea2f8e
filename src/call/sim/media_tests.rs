//! The media of whole calls over an impaired simulated trunk: what the CDR's
//! `media` object says about the stream callplane received.

use std::time::Duration;

use crate::time::Time;

use super::carrier::CallScript;
use super::network::{LinkConfig, NetworkConfig};
use super::{Sim, SimConfig};

/// Long enough for any call of these tests to end.
const IDLE_LIMIT: Time = Time::from_millis(60_000);

/// Carrier to callplane: 10-40 ms of delay (so packets 20 ms apart reorder), 3 %
/// lost, 2 % doubled; callplane to carrier clean.
fn impaired() -> NetworkConfig {
    NetworkConfig {
        to_host: LinkConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(30),
            loss: 0.03,
            duplicate: 0.02,
        },
        ..NetworkConfig::clean()
    }
}

#[test]
fn the_cdr_counts_what_the_network_did_to_the_received_stream() {
    let mut sim = Sim::new(SimConfig::demo(7).with_network(impaired()));
    sim.place(
        CallScript::new("jb-1", Time::ZERO)
            .stream_audio(Duration::from_secs(8))
            .hang_up_after(Duration::from_secs(9)),
    );
    assert!(sim.run_until_idle(IDLE_LIMIT));
    let sent = u64::from(sim.report("jb-1").digit_packets_sent);
    assert_eq!(sent, 400);
    let cdr = sim.cdr("jb-1");
    let rtp = &cdr.media.as_ref().expect("an answered call has media").rtp;
    assert!(rtp.sent > 400, "{rtp:?}");
    assert!(
        rtp.reordered > 5,
        "packets 20 ms apart with 30 ms of jitter: {rtp:?}"
    );
    assert!(rtp.lost > 2 && rtp.lost < 30, "about 3 % of 400: {rtp:?}");
    assert!(rtp.duplicated > 0 && rtp.duplicated < 25, "{rtp:?}");
    assert_eq!(
        rtp.received - rtp.duplicated + rtp.lost,
        sent,
        "every packet was received once or lost: {rtp:?}"
    );
    assert!(rtp.jitter_ms > 3.0 && rtp.jitter_ms < 20.0, "{rtp:?}");
    assert!(rtp.delay_ms >= 20 && rtp.delay_ms <= 200, "{rtp:?}");
    assert_eq!(
        rtp.decoded_frames, 0,
        "telephone-event call: nothing decoded"
    );
}
