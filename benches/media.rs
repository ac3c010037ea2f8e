//! The per-packet work of the media plane: G.711 encode/decode of one 20 ms
//! frame, Opus encode/decode of one 20 ms frame (and encoding a prompt once, per
//! second of audio, against encoding it per call), resampling 20 ms between 8 and
//! 48 kHz, one frame transcoded from PCMU to Opus, RFC 4733 detection of one telephone-event packet, Goertzel in-band
//! DTMF detection of one 20 ms frame, one prompt frame written as an RTP packet
//! by a media session, one packet through the jitter buffer (pushed in, then
//! its frame played out, decoded or not), and one RTCP report built and parsed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use callplane::media::{
    Codec, Compound, DtmfDetector, Format, InbandDtmfConfig, InbandDtmfDetector, JitterBuffer,
    JitterConfig, JitterOutput, MediaConfig, MediaOutput, MediaSession, OpusDecoder, OpusEncoder,
    Prompt, Rate, Resampler, RtcpPacket, RtcpSession, RtpPacket, Sent, Transcoder,
};
use callplane::time::Time;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn g711(c: &mut Criterion) {
    let pcm: Vec<i16> = (0..160)
        .map(|i| ((i as f64 * 0.2).sin() * 12000.0) as i16)
        .collect();
    for (codec, law) in [(Codec::Pcmu, "ulaw"), (Codec::Pcma, "alaw")] {
        let mut encoded = [0u8; 160];
        let mut decoded = [0i16; 160];
        codec.encode(&pcm, &mut encoded);
        c.bench_function(&format!("g711 {law} encode 20 ms"), |b| {
            b.iter(|| black_box(codec).encode(black_box(&pcm), black_box(&mut encoded)))
        });
        c.bench_function(&format!("g711 {law} decode 20 ms"), |b| {
            b.iter(|| black_box(codec).decode(black_box(&encoded), black_box(&mut decoded)))
        });
    }
}

/// Speech-like test audio at 48 kHz: two partials with a slow envelope.
fn wide_voice(samples: usize) -> Vec<i16> {
    (0..samples)
        .map(|i| {
            let t = i as f64 / 48_000.0;
            let tau = 2.0 * std::f64::consts::PI;
            let envelope = 0.6 + 0.4 * (tau * 3.0 * t).sin();
            (envelope * (6000.0 * (tau * 220.0 * t).sin() + 2500.0 * (tau * 1320.0 * t).sin()))
                as i16
        })
        .collect()
}

fn opus(c: &mut Criterion) {
    let audio = wide_voice(48_000);
    let frames: Vec<&[i16]> = audio.chunks(960).collect();
    let mut encoder = OpusEncoder::new().unwrap();
    let mut packet = [0u8; 160];
    let mut next = 0;
    c.bench_function("opus encode 20 ms (48 kHz mono, 32 kbit/s, fec)", |b| {
        b.iter(|| {
            next = (next + 1) % frames.len();
            encoder
                .encode(black_box(frames[next]), &mut packet)
                .unwrap()
        })
    });
    let mut encoder = OpusEncoder::new().unwrap();
    let packets: Vec<Vec<u8>> = frames
        .iter()
        .map(|frame| {
            let len = encoder.encode(frame, &mut packet).unwrap();
            packet[..len].to_vec()
        })
        .collect();
    let mut decoder = OpusDecoder::new().unwrap();
    let mut out = [0i16; 960];
    let mut next = 0;
    c.bench_function("opus decode 20 ms", |b| {
        b.iter(|| {
            next = (next + 1) % packets.len();
            decoder.decode(black_box(&packets[next]), &mut out).unwrap()
        })
    });
    let mut next = 0;
    c.bench_function("opus conceal 20 ms from the next packet's fec", |b| {
        b.iter(|| {
            next = (next + 1) % packets.len();
            decoder
                .conceal(Some(black_box(&packets[next])), &mut out)
                .unwrap()
        })
    });
    // A prompt is encoded once when the catalog loads; this is that cost per second
    // of prompt (resample to 48 kHz, then 50 Opus frames).
    let narrow: Vec<i16> = audio.iter().step_by(6).copied().collect();
    let mut group = c.benchmark_group("prompt");
    group.sample_size(10);
    group.bench_function("opus-encode one second of prompt at load", |b| {
        b.iter(|| Prompt::from_samples("bench", None, black_box(narrow.clone())).opus_packets())
    });
    group.finish();
}

fn resample(c: &mut Criterion) {
    let wide = wide_voice(960 * 50);
    let narrow: Vec<i16> = wide.iter().step_by(6).copied().collect();
    let mut up = Resampler::new(Rate::Hz8000, Rate::Hz48000);
    let mut out = [0i16; 960];
    let mut next = 0;
    c.bench_function("resample 20 ms 8 -> 48 kHz", |b| {
        b.iter(|| {
            next = (next + 1) % 50;
            up.process(black_box(&narrow[next * 160..(next + 1) * 160]), &mut out)
        })
    });
    let mut down = Resampler::new(Rate::Hz48000, Rate::Hz8000);
    let mut out = [0i16; 160];
    c.bench_function("resample 20 ms 48 -> 8 kHz", |b| {
        b.iter(|| {
            next = (next + 1) % 50;
            down.process(black_box(&wide[next * 960..(next + 1) * 960]), &mut out)
        })
    });
    // The other integer ratios: ×2 and ÷3 (wideband to and from Opus's 48 kHz).
    let mut up2 = Resampler::new(Rate::Hz8000, Rate::Hz16000);
    let mut out = [0i16; 320];
    c.bench_function("resample 20 ms 8 -> 16 kHz", |b| {
        b.iter(|| {
            next = (next + 1) % 50;
            up2.process(black_box(&narrow[next * 160..(next + 1) * 160]), &mut out)
        })
    });
    let mut down3 = Resampler::new(Rate::Hz48000, Rate::Hz16000);
    c.bench_function("resample 20 ms 48 -> 16 kHz", |b| {
        b.iter(|| {
            next = (next + 1) % 50;
            down3.process(black_box(&wide[next * 960..(next + 1) * 960]), &mut out)
        })
    });
    let mut transcoder = Transcoder::new(Format::Pcmu, Format::Opus).unwrap();
    let pcmu: Vec<u8> = narrow
        .iter()
        .map(|&s| Codec::Pcmu.encode_sample(s))
        .collect();
    let mut packet = [0u8; 160];
    c.bench_function("transcode 20 ms pcmu -> opus", |b| {
        b.iter(|| {
            next = (next + 1) % 50;
            transcoder
                .transcode(black_box(&pcmu[next * 160..(next + 1) * 160]), &mut packet)
                .unwrap()
        })
    });
}

fn dtmf(c: &mut Criterion) {
    let mut detector = DtmfDetector::default();
    let mut timestamp = 0u32;
    c.bench_function("rfc4733 detect one packet", |b| {
        b.iter(|| {
            timestamp = timestamp.wrapping_add(800);
            let start = detector.handle_packet(timestamp, true, black_box(&[1, 10, 0, 160]));
            let end = detector.handle_packet(timestamp, false, black_box(&[1, 0x8a, 3, 32]));
            (start, end)
        })
    });
}

fn goertzel(c: &mut Criterion) {
    // One second of audio: digit 5 for 100 ms, then speech-like noise, repeated; the
    // bench cycles through its 50 frames.
    let audio: Vec<i16> = (0..8000)
        .map(|i| {
            let t = f64::from(i) / 8000.0;
            let tau = 2.0 * std::f64::consts::PI;
            if i % 2000 < 800 {
                (4000.0 * ((tau * 770.0 * t).sin() + (tau * 1336.0 * t).sin())) as i16
            } else {
                (3000.0 * (tau * 150.0 * t).sin() * (tau * 3.0 * t).sin()) as i16
            }
        })
        .collect();
    let frames: Vec<&[i16]> = audio.chunks(160).collect();
    let mut detector = InbandDtmfDetector::new(InbandDtmfConfig::default());
    let mut next = 0;
    c.bench_function("goertzel in-band dtmf detect 20 ms frame", |b| {
        b.iter(|| {
            next = (next + 1) % frames.len();
            detector.handle_frame(black_box(frames[next]))
        })
    });
}

fn session_frame(c: &mut Criterion) {
    let remote: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    let samples: Vec<i16> = (0..8000 * 60)
        .map(|i| ((i as f64 * 0.1).sin() * 8000.0) as i16)
        .collect();
    let prompt = Arc::new(Prompt::from_samples("bench", None, samples));
    let mut session = MediaSession::new(
        MediaConfig {
            codec: Codec::Pcmu,
            codec_pt: 0,
            dtmf_pt: Some(101),
            remote,
            ssrc: 1,
            initial_sequence: 0,
            initial_timestamp: 0,
            jitter_min: MediaConfig::JITTER_MIN,
            jitter_max: MediaConfig::JITTER_MAX,
            rtcp_mux: false,
            ntp_at_zero: 0,
            rtcp_seed: 1,
        },
        Time::ZERO,
    );
    session.play(prompt.clone());
    let mut now = Time::ZERO;
    let mut buf = [0u8; 2048];
    c.bench_function("media session: one prompt frame as RTP", |b| {
        b.iter(|| {
            now += Duration::from_millis(20);
            if !session.is_playing() {
                session.play(prompt.clone());
            }
            session.handle_timeout(now);
            let mut sent = 0;
            loop {
                match session.poll_output(&mut buf) {
                    MediaOutput::Transmit(len) => sent += len,
                    MediaOutput::Event(_) | MediaOutput::Rtcp { .. } | MediaOutput::Audio(_) => {}
                    MediaOutput::Timeout(_) => break,
                }
            }
            assert!(sent > 0, "a frame is due every 20 ms");
            sent
        })
    });
}

fn jitter(c: &mut Criterion) {
    for decoding in [true, false] {
        jitter_stream(c, decoding);
    }
}

fn jitter_stream(c: &mut Criterion, decoding: bool) {
    let mut buffer = JitterBuffer::new(JitterConfig::default(), Codec::Pcmu);
    buffer.set_decoding(decoding);
    let name = match decoding {
        true => "jitter buffer: push one packet, play one frame",
        false => "jitter buffer: push one packet, play one frame, no decoding",
    };
    let payload: Vec<u8> = (0..160)
        .map(|i| Codec::Pcmu.encode_sample(((i as f64 * 0.2).sin() * 8000.0) as i16))
        .collect();
    let mut out = [0i16; 160];
    let mut n = 0u64;
    // A steady stream: packet n arrives at n·20 ms, and the frame due then is played.
    c.bench_function(name, |b| {
        b.iter(|| {
            let now = Time::from_micros(n * 20_000);
            let packet = RtpPacket {
                payload_type: 0,
                marker: n == 0,
                sequence: n as u16,
                timestamp: (n * 160) as u32,
                ssrc: 7,
                payload: black_box(&payload),
            };
            n += 1;
            buffer.handle_packet(now, &packet);
            let mut frames = 0;
            while let JitterOutput::Frame(kind) = buffer.poll_output(&mut out) {
                black_box(kind);
                frames += 1;
            }
            assert_eq!(frames, 1, "one frame is due per packet");
            out[0]
        })
    });
}

fn rtcp(c: &mut Criterion) {
    // Our session, having received a stream, writes SR + block + SDES; the far end's
    // session parses it (its stats read the block about its stream).
    let mut ours = RtcpSession::new(0xA, 3_900_000_000 << 32, 1, Time::ZERO);
    let mut theirs = RtcpSession::new(0xB, 3_900_000_000 << 32, 2, Time::ZERO);
    for n in 0..50u16 {
        let packet = RtpPacket {
            payload_type: 0,
            marker: false,
            sequence: n,
            timestamp: u32::from(n) * 160,
            ssrc: 0xB,
            payload: &[],
        };
        ours.on_rtp(Time::from_millis(u64::from(n) * 20), &packet, true);
    }
    let mut buf = [0u8; 256];
    // Checked before the benchmark, which a filter may skip.
    let setup = Time::from_millis(500);
    let len = ours
        .write_report(setup, &Sent::default(), false, &mut buf)
        .unwrap();
    theirs.handle_rtcp(setup, &buf[..len]);
    assert!(
        theirs.stats().reports_received > 0,
        "the far end reads our report"
    );
    let mut packets = 0u64;
    c.bench_function("rtcp: build one SR+RR block+SDES, parse it", |b| {
        b.iter(|| {
            packets += 50;
            let now = Time::from_millis(packets * 20);
            let sent = Sent {
                packets,
                octets: packets * 160,
                rtp_timestamp: packets as u32 * 160,
            };
            let len = ours.write_report(now, &sent, false, &mut buf).unwrap();
            theirs.handle_rtcp(now, black_box(&buf[..len]));
            len
        })
    });
    let len = ours
        .write_report(Time::from_millis(1), &Sent::default(), false, &mut buf)
        .unwrap();
    c.bench_function("rtcp: parse one compound", |b| {
        b.iter(|| {
            let mut blocks = 0;
            for packet in Compound::parse(black_box(&buf[..len])).unwrap().flatten() {
                if let RtcpPacket::SenderReport { blocks: b, .. }
                | RtcpPacket::ReceiverReport { blocks: b, .. } = packet
                {
                    blocks += b.count();
                }
            }
            blocks
        })
    });
}

/// SRTP protect and unprotect of one 20 ms PCMU packet (12-byte header, 160
/// bytes of payload), for both suites: AES-CM over 160 bytes and one HMAC-SHA1.
fn srtp(c: &mut Criterion) {
    use callplane::media::{Srtp, SrtpKey, SrtpSuite};
    for suite in SrtpSuite::ALL {
        let ours = SrtpKey::from_bytes([0x11; 30]);
        let theirs = SrtpKey::from_bytes([0x22; 30]);
        let mut sender = Srtp::new(suite, &ours, &theirs);
        let mut receiver = Srtp::new(suite, &theirs, &ours);
        let mut packet = [0u8; 192];
        packet[..12].copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4]);
        let mut seq = 1u16;
        c.bench_function(&format!("srtp_protect_160_{}", suite.name()), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                black_box(sender.protect_rtp(&mut packet, 172))
            })
        });
        // Unprotect needs fresh packets (the replay window refuses repeats):
        // protect and unprotect in each iteration, and subtract the former.
        let mut wire = [0u8; 192];
        c.bench_function(
            &format!("srtp_protect_unprotect_160_{}", suite.name()),
            |b| {
                b.iter(|| {
                    seq = seq.wrapping_add(1);
                    wire[..12].copy_from_slice(&packet[..12]);
                    wire[2..4].copy_from_slice(&seq.to_be_bytes());
                    let len = sender.protect_rtp(&mut wire, 172).unwrap_or(172);
                    black_box(receiver.unprotect_rtp(&mut wire[..len]))
                })
            },
        );
    }
}

criterion_group!(
    benches,
    g711,
    opus,
    resample,
    dtmf,
    goertzel,
    session_frame,
    jitter,
    srtp,
    rtcp
);
criterion_main!(benches);
