//! End-to-end Opus calls against the callplane binary, under both io backends: a
//! sipp caller that offers only `opus/48000/2` (RFC 7587).
//!
//! - With telephone-event/48000: the answer must be Opus, and the audio callplane
//!   sends must be the welcome prompt. The test decodes the captured RTP with
//!   libopus itself (`audiopus`, decoding straight to 8 kHz, so none of
//!   callplane's own resampling is involved) and correlates it with the prompt
//!   WAV; it also checks the stream's 48 kHz timestamps and 20 ms pacing.
//! - Without telephone-event: the caller's keys are in-band. The test answers
//!   callplane's RTP from the advertised port with its own Opus stream (encoded
//!   here from generated tones: silence, then digit 1 during the menu), and the
//!   flow must take the sales branch.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Channels, MutSignals, SampleRate};
use common::{Backend, Server, ServerOptions, Sipp, SippRun, TestDir};

/// The payload type the scenarios offer Opus on.
const OPUS_PT: u8 = 96;
/// Samples of 20 ms at 8 kHz (the prompts' rate) and at 48 kHz (Opus's clock).
const NARROW_FRAME: usize = 160;
const WIDE_FRAME: usize = 960;
/// The least normalised correlation between the decoded stream and the prompt.
const MIN_CORRELATION: f64 = 0.75;
/// When the test presses 1, after callplane's first packet: during the menu
/// prompt (the welcome prompt lasts about 1.5 s).
const KEY_AT: Duration = Duration::from_millis(3000);
/// How long the key is held.
const KEY_LENGTH: Duration = Duration::from_millis(200);

common::for_each_backend! {
    opus_caller_hears_the_welcome_prompt => opus_prompt;
    opus_caller_presses_1_in_band => opus_inband_digit;
}

fn opus_prompt(backend: Backend) {
    let dir = TestDir::new(&format!("opus-prompt-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let sipp = Sipp::new("uac_opus.xml", "uac_opus", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(45));
    let listener = common::RtpListener::bind(sipp.audio_port());
    let run = sipp.run();
    let capture = listener.finish();
    run.assert_passed(1);
    let answer = answer_sdp(&run);
    assert!(
        answer.contains("a=rtpmap:96 opus/48000/2\na=fmtp:96 useinbandfec=1"),
        "Opus with in-band FEC answered:\n{answer}"
    );
    assert!(
        answer.contains("a=rtpmap:97 telephone-event/48000"),
        "telephone-event at the Opus clock answered:\n{answer}"
    );

    let mut packets = capture.with_payload_type(OPUS_PT);
    assert!(packets.len() >= 250, "{}", capture.summary());
    // In sending order: sequence numbers counted from the first to arrive (they
    // start at random and may wrap during the call).
    let base = packets
        .iter()
        .min_by_key(|packet| packet.arrived)
        .map_or(0, |packet| packet.sequence);
    packets.sort_by_key(|packet| packet.sequence.wrapping_sub(base));
    for pair in packets.windows(2) {
        if pair[1].sequence == pair[0].sequence.wrapping_add(1) {
            assert_eq!(
                pair[1].timestamp.wrapping_sub(pair[0].timestamp),
                WIDE_FRAME as u32,
                "48 kHz timestamps, 20 ms per packet"
            );
        }
    }
    assert!(packets
        .iter()
        .all(|packet| (1..=160).contains(&packet.payload.len())));
    let first = packets
        .iter()
        .map(|packet| packet.arrived)
        .min()
        .expect("packets");
    let last = packets
        .iter()
        .map(|packet| packet.arrived)
        .max()
        .expect("packets");
    let expected = Duration::from_millis(20 * (packets.len() as u64 - 1));
    let paced = last.duration_since(first);
    assert!(
        paced + Duration::from_millis(300) >= expected
            && paced <= expected + Duration::from_millis(300),
        "{} packets over {paced:?}",
        packets.len()
    );

    // Decode with libopus to 8 kHz, and look for the welcome prompt at the start.
    let mut decoder = Decoder::new(SampleRate::Hz8000, Channels::Mono).unwrap();
    let mut heard = Vec::new();
    let mut frame = [0i16; NARROW_FRAME];
    for packet in &packets {
        let packet = Packet::try_from(packet.payload.as_slice()).unwrap();
        let signals = MutSignals::try_from(&mut frame[..]).unwrap();
        let samples = decoder.decode(Some(packet), signals, false).unwrap();
        assert_eq!(samples, NARROW_FRAME);
        heard.extend_from_slice(&frame);
    }
    let prompt = read_prompt("welcome.wav");
    let (correlation, lag) = best_correlation(&prompt, &heard, 800);
    assert!(
        correlation >= MIN_CORRELATION,
        "the decoded stream matches the welcome prompt with correlation {correlation:.3} only (best lag {lag})"
    );
    let level = |samples: &[i16]| {
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    };
    let ratio = level(&heard[lag..lag + prompt.len()]) / level(&prompt);
    assert!(
        (0.7..1.4).contains(&ratio),
        "the prompt's level is kept (ratio {ratio:.2})"
    );

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "{cdrs:#?}");
    cdrs[0].assert_nodes_in_order(&["entry", "welcome", "menu", "goodbye"]);
    assert_eq!(
        cdrs[0].str("hangup_cause"),
        "normal_clearing",
        "{}",
        cdrs[0].json
    );
}

fn opus_inband_digit(backend: Backend) {
    let dir = TestDir::new(&format!("opus-inband-{}", backend.cli_value()));
    let server = Server::start(backend, dir.path(), &ServerOptions::default());
    let sipp = Sipp::new("uac_opus_inband.xml", "uac_opus_inband", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(45));
    let caller = OpusCaller::start(sipp.audio_port());
    let run = sipp.run();
    let (received, sent) = caller.finish();
    run.assert_passed(1);
    let answer = answer_sdp(&run);
    assert!(
        !answer.contains("telephone-event"),
        "no telephone-event offered, none answered:\n{answer}"
    );
    assert!(
        received >= 100,
        "callplane's Opus stream reached the caller: {received}"
    );
    assert!(sent >= 100, "the caller sent its stream: {sent}");

    let cdrs = server.wait_for_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "{cdrs:#?}");
    let cdr = &cdrs[0];
    assert_eq!(cdr.digits(), vec!["1".to_string()], "{}", cdr.json);
    cdr.assert_nodes_in_order(&["entry", "welcome", "menu", "sales", "goodbye"]);
}

/// The 200 OK's SDP as sipp received it.
fn answer_sdp(run: &SippRun) -> String {
    run.received_messages()
        .into_iter()
        .find(|message| {
            message.trim_start().starts_with("SIP/2.0 200") && message.contains("m=audio")
        })
        .unwrap_or_else(|| panic!("no 200 OK with SDP\n{}", run.diagnostics()))
}

/// A shipped prompt's 8 kHz samples.
fn read_prompt(name: &str) -> Vec<i16> {
    let path = format!("{}/prompts/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    reader.samples::<i16>().map(Result::unwrap).collect()
}

/// The highest normalised correlation of `want` against `got` shifted by 0..=`max_lag`
/// samples, and that lag.
fn best_correlation(want: &[i16], got: &[i16], max_lag: usize) -> (f64, usize) {
    assert!(
        got.len() >= want.len() + max_lag,
        "the stream is long enough"
    );
    let mut best = (f64::MIN, 0);
    for lag in 0..=max_lag {
        let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
        for (&x, &y) in want.iter().zip(&got[lag..]) {
            let (x, y) = (f64::from(x), f64::from(y));
            xy += x * y;
            xx += x * x;
            yy += y * y;
        }
        let correlation = xy / (xx * yy).sqrt().max(1.0);
        if correlation > best.0 {
            best = (correlation, lag);
        }
    }
    best
}

/// The caller's media: a socket on its advertised audio port that counts
/// callplane's packets and, from the first of them, sends its own 20 ms Opus
/// stream back to their source (symmetric RTP), with digit 1 at [`KEY_AT`].
struct OpusCaller {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<(usize, usize)>,
}

impl OpusCaller {
    fn start(port: u16) -> OpusCaller {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let encoder =
                Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Voip).unwrap();
            let mut buf = [0u8; 2048];
            let mut received = 0;
            let mut sent = 0;
            let mut peer: Option<(SocketAddr, Instant)> = None;
            let mut next_send = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                if let Ok((len, from)) = socket.recv_from(&mut buf) {
                    if len > 12 && buf[1] & 0x7f == OPUS_PT {
                        received += 1;
                        if peer.is_none() {
                            peer = Some((from, Instant::now()));
                            next_send = Instant::now();
                        }
                    }
                }
                let Some((dest, start)) = peer else { continue };
                let now = Instant::now();
                if now < next_send {
                    continue;
                }
                next_send += Duration::from_millis(20);
                let elapsed = now.duration_since(start);
                let pressing = elapsed >= KEY_AT && elapsed < KEY_AT + KEY_LENGTH;
                let pcm = frame_of(sent, pressing);
                let mut packet = [0u8; 12 + 400];
                packet[0] = 0x80;
                packet[1] = OPUS_PT | if sent == 0 { 0x80 } else { 0 };
                packet[2..4].copy_from_slice(&(sent as u16).to_be_bytes());
                packet[4..8].copy_from_slice(&((sent * WIDE_FRAME) as u32).to_be_bytes());
                packet[8..12].copy_from_slice(&0x0A0B_0C0Du32.to_be_bytes());
                let len = encoder.encode(&pcm, &mut packet[12..]).unwrap();
                socket.send_to(&packet[..12 + len], dest).unwrap();
                sent += 1;
            }
            (received, sent)
        });
        OpusCaller { stop, thread }
    }

    /// Stops; returns the packets received and sent.
    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Frame `n` of the caller's audio at 48 kHz: DTMF 1 (697 + 1209 Hz, about
/// −13 dBm0 each) while `pressing`, else silence.
fn frame_of(n: usize, pressing: bool) -> [i16; WIDE_FRAME] {
    let mut pcm = [0i16; WIDE_FRAME];
    if pressing {
        for (i, sample) in pcm.iter_mut().enumerate() {
            let t = (n * WIDE_FRAME + i) as f64 / 48_000.0;
            let tau = 2.0 * std::f64::consts::PI;
            *sample = (7000.0 * (tau * 697.0 * t).sin() + 7000.0 * (tau * 1209.0 * t).sin()) as i16;
        }
    }
    pcm
}
