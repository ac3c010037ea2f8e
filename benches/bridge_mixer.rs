//! The bridge and the conference mixer: one packet relayed undecoded (the
//! rewrite alone, and through two media sessions), against one packet
//! transcoded through two sessions (jitter buffer, decode, live audio,
//! encode); and one 20 ms mixer tick at 3, 10 and 50 participants, reported
//! per participant (criterion's element throughput), which must stay flat;
//! and the recording writer: 10 s of one call's audio (50 chunks of 200 ms)
//! opened, appended and closed as WAV, MP3 and Ogg/Opus, mono and dual,
//! reported per second of call audio.

use std::net::SocketAddr;

use callplane::call::{RecordingFormat, RecordingWork};
use callplane::media::{
    parse_rtp, BridgeSide, Codec, MediaConfig, MediaOutput, MediaSession, Mixer, MixerOutput,
    OutStream, ParticipantId, Relay, MIX_INTERVAL,
};
use callplane::shard::RecordingWriter;
use callplane::time::Time;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIDE: BridgeSide = BridgeSide {
    codec: Codec::Pcmu,
    codec_pt: 0,
    dtmf_pt: Some(101),
};

fn config(ssrc: u32, port: u16, codec: Codec) -> MediaConfig {
    let remote: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    MediaConfig {
        codec,
        codec_pt: codec.payload_type(),
        dtmf_pt: Some(101),
        remote,
        ssrc,
        initial_sequence: 100,
        initial_timestamp: 1000,
        jitter_min: MediaConfig::JITTER_MIN,
        jitter_max: MediaConfig::JITTER_MAX,
        rtcp_mux: true,
        ntp_at_zero: 0,
        rtcp_seed: 1,
    }
}

/// A far end's steady PCMU stream: a tone coded once, each packet's header
/// written per packet (so the bench measures the bridge, not the test audio).
struct FarStream {
    packet: [u8; 172],
}

impl FarStream {
    fn new() -> FarStream {
        let mut packet = [0u8; 172];
        packet[0] = 0x80;
        packet[8..12].copy_from_slice(&0xFA4u32.to_be_bytes());
        for (i, byte) in packet[12..].iter_mut().enumerate() {
            *byte = Codec::Pcmu.encode_sample(((i as f64 * 0.3).sin() * 8000.0) as i16);
        }
        FarStream { packet }
    }

    /// Packet `n` of the stream.
    fn packet(&mut self, n: u64) -> &[u8] {
        self.packet[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        self.packet[4..8].copy_from_slice(&((n * 160) as u32).to_be_bytes());
        &self.packet
    }
}

fn drain(session: &mut MediaSession, buf: &mut [u8]) -> usize {
    let mut sent = 0;
    loop {
        match session.poll_output(buf) {
            MediaOutput::Transmit(len) => sent += len,
            MediaOutput::Timeout(_) => return sent,
            _ => {}
        }
    }
}

fn relay_rewrite(c: &mut Criterion) {
    let mut relay = Relay::new();
    let mut far = FarStream::new();
    let mut out = [0u8; 1500];
    let to = BridgeSide {
        dtmf_pt: Some(96),
        ..SIDE
    };
    let mut n = 0u64;
    c.bench_function("bridge relay: rewrite one packet", |b| {
        b.iter(|| {
            n += 1;
            let datagram = far.packet(n);
            let parsed = parse_rtp(datagram).unwrap();
            let stream = OutStream {
                ssrc: 5,
                next_sequence: n as u16,
                timestamp: (n * 160) as u32,
            };
            let now = Time::from_micros(n * 20_000);
            black_box(relay.rewrite(now, &parsed, &SIDE, &to, stream, black_box(&mut out)))
        })
    });
}

/// One packet of the far end through the source session into the sink's
/// stream, relayed (`relay`) or transcoded (PCMU in, `sink_codec` out).
fn bridge_sessions(c: &mut Criterion, relay: bool, sink_codec: Codec, name: &str) {
    let mut source = MediaSession::new(config(1, 6000, Codec::Pcmu), Time::ZERO);
    let mut sink = MediaSession::new(config(2, 6002, sink_codec), Time::ZERO);
    let from: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    let mut buf = vec![0u8; 2048];
    match relay {
        true => {
            source.set_relay(true);
            sink.set_relay(true);
        }
        false => {
            source.subscribe_audio();
            sink.set_live_audio(true);
        }
    }
    drain(&mut source, &mut buf);
    drain(&mut sink, &mut buf);
    let mut far = FarStream::new();
    let mut n = 0u64;
    c.bench_function(name, |b| {
        b.iter(|| {
            n += 1;
            let now = Time::from_micros(n * 20_000);
            source.handle_rtp(now, from, far.packet(n));
            if relay {
                let side = BridgeSide::from(source.config());
                if let Some(datagram) = source.take_relayed() {
                    sink.relay_packet(now, &side, datagram);
                }
            }
            loop {
                match source.poll_output(&mut buf) {
                    MediaOutput::Audio(_) => sink.send_audio(source.received_audio()),
                    MediaOutput::Timeout(_) => break,
                    _ => {}
                }
            }
            sink.handle_timeout(now);
            black_box(drain(&mut sink, &mut buf))
        })
    });
}

fn bridge(c: &mut Criterion) {
    relay_rewrite(c);
    bridge_sessions(
        c,
        true,
        Codec::Pcmu,
        "bridge: one packet relayed through two sessions (PCMU to PCMU)",
    );
    bridge_sessions(
        c,
        false,
        Codec::Pcma,
        "bridge: one packet transcoded through two sessions (PCMU to PCMA)",
    );
    bridge_sessions(
        c,
        false,
        Codec::Opus,
        "bridge: one packet transcoded through two sessions (PCMU to Opus)",
    );
}

fn mixer(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixer tick per participant");
    for participants in [3u32, 10, 50] {
        let mut mixer = Mixer::new(participants as usize, Time::ZERO);
        for id in 0..participants {
            mixer.join(ParticipantId(id)).unwrap();
        }
        let frames: Vec<[i16; 160]> = (0..participants)
            .map(|p| {
                std::array::from_fn(|i| {
                    (((i as f64) * 0.05 * f64::from(p + 1)).sin() * 6000.0) as i16
                })
            })
            .collect();
        let mut now = Time::ZERO;
        group.throughput(Throughput::Elements(u64::from(participants)));
        group.bench_with_input(
            BenchmarkId::from_parameter(participants),
            &participants,
            |b, _| {
                b.iter(|| {
                    for (id, frame) in frames.iter().enumerate() {
                        mixer.handle_frame(ParticipantId(id as u32), frame).unwrap();
                    }
                    mixer.handle_timeout(now);
                    now += MIX_INTERVAL;
                    let mut heard = 0i64;
                    loop {
                        match mixer.poll_output() {
                            MixerOutput::Frame(id) => {
                                heard += i64::from(mixer.frame_for(id).map_or(0, |f| f[0]))
                            }
                            MixerOutput::Recording => {}
                            MixerOutput::Timeout(_) => break,
                        }
                    }
                    black_box(heard)
                })
            },
        );
    }
    group.finish();
}

/// Seconds of audio each measured recording holds.
const RECORDED_SECONDS: u64 = 10;

fn recording_writer(c: &mut Criterion) {
    let dir =
        std::env::temp_dir().join(format!("callplane-bench-recording-{}", std::process::id()));
    let mut group = c.benchmark_group("recording writer per call-second");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECORDED_SECONDS));
    for (format, name) in [
        (RecordingFormat::Wav, "wav"),
        (RecordingFormat::Mp3, "mp3"),
        (RecordingFormat::Ogg, "ogg"),
    ] {
        for channels in [1u16, 2] {
            let chunk: Vec<i16> = (0..1600 * usize::from(channels))
                .map(|i| ((i as f64 * 0.07).sin() * 9000.0) as i16)
                .collect();
            let id = format!("{name} {}", if channels == 1 { "mono" } else { "dual" });
            let mut n = 0u64;
            group.bench_function(&id, |b| {
                b.iter_custom(|iterations| {
                    let run = dir.join(format!("{name}-{channels}-{n}"));
                    n += 1;
                    std::fs::create_dir_all(&run).unwrap();
                    // Room for every item: nothing is dropped, the writer's own pace is measured.
                    let capacity = (iterations as usize + 1) * (RECORDED_SECONDS as usize * 5 + 2);
                    let (writer, sink) = RecordingWriter::with_capacity(&run, capacity).unwrap();
                    let started = std::time::Instant::now();
                    for call in 0..iterations {
                        let file: std::sync::Arc<str> = format!("recordings/{call}.{name}").into();
                        sink.submit(RecordingWork::Open {
                            file: file.clone(),
                            format,
                            channels,
                        });
                        for _ in 0..RECORDED_SECONDS * 5 {
                            sink.submit(RecordingWork::Append {
                                file: file.clone(),
                                samples: chunk.clone(),
                            });
                        }
                        sink.submit(RecordingWork::Close {
                            file,
                            metadata: None,
                        });
                    }
                    drop(sink);
                    let stats = writer.stats().clone();
                    writer.finish();
                    let elapsed = started.elapsed();
                    assert_eq!(
                        stats.dropped.load(std::sync::atomic::Ordering::Relaxed),
                        0,
                        "no work dropped"
                    );
                    let _ = std::fs::remove_dir_all(&run);
                    elapsed
                })
            });
        }
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bridge, mixer, recording_writer);
criterion_main!(benches);
