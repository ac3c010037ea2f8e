//! The caller's side of the media: a UDP socket on the caller's RTP port that
//! records every packet callplane sends, RTP header parsing, G.711 µ-law
//! decoding, and the checks on the captured stream (continuity, loudness, DTMF).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One received RTP packet.
#[derive(Clone, Debug)]
pub struct RtpPacket {
    pub from: SocketAddr,
    pub arrived: Instant,
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

/// Parses an RTP packet (RFC 3550: CSRCs, header extension and padding are
/// skipped); `None` when it is not one.
pub fn parse_rtp(from: SocketAddr, arrived: Instant, data: &[u8]) -> Option<RtpPacket> {
    let first = *data.first()?;
    if first >> 6 != 2 {
        return None;
    }
    let has_padding = first & 0x20 != 0;
    let has_extension = first & 0x10 != 0;
    let csrc_count = usize::from(first & 0x0f);
    let second = *data.get(1)?;
    let word = |at: usize| -> Option<u32> {
        let bytes = data.get(at..at + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let sequence = u16::from_be_bytes([*data.get(2)?, *data.get(3)?]);
    let timestamp = word(4)?;
    let ssrc = word(8)?;
    let mut start = 12 + 4 * csrc_count;
    if has_extension {
        let length_words = usize::from(u16::from_be_bytes([
            *data.get(start + 2)?,
            *data.get(start + 3)?,
        ]));
        start += 4 + 4 * length_words;
    }
    let mut end = data.len();
    if has_padding {
        end = end.checked_sub(usize::from(*data.last()?))?;
    }
    let payload = data.get(start..end)?.to_vec();
    Some(RtpPacket {
        from,
        arrived,
        marker: second & 0x80 != 0,
        payload_type: second & 0x7f,
        sequence,
        timestamp,
        ssrc,
        payload,
    })
}

/// G.711 µ-law to 16-bit linear (ITU-T G.711).
pub fn ulaw_to_linear(code: u8) -> i16 {
    let code = !code;
    let exponent = (code >> 4) & 0x07;
    let mantissa = i32::from(code & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    let sample = if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    };
    sample as i16
}

/// Root mean square of µ-law encoded samples, on the 16-bit linear scale.
pub fn ulaw_rms(payload: &[u8]) -> f64 {
    if payload.is_empty() {
        return 0.0;
    }
    let sum: f64 = payload
        .iter()
        .map(|&code| {
            let sample = f64::from(ulaw_to_linear(code));
            sample * sample
        })
        .sum();
    (sum / payload.len() as f64).sqrt()
}

/// A thread receiving on 127.0.0.1:port until [`RtpListener::finish`].
pub struct RtpListener {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<RtpCapture>,
}

impl RtpListener {
    /// Binds the port now (so nothing sent to it is lost) and starts receiving.
    pub fn bind(port: u16) -> RtpListener {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
            .unwrap_or_else(|err| panic!("cannot bind the caller's RTP port {port}: {err}"));
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("set the RTP read timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut capture = RtpCapture::default();
            let mut buf = [0u8; 2048];
            while !stop_flag.load(Ordering::Relaxed) {
                match socket.recv_from(&mut buf) {
                    Ok((len, from)) => match parse_rtp(from, Instant::now(), &buf[..len]) {
                        Some(packet) => capture.packets.push(packet),
                        None => capture.not_rtp += 1,
                    },
                    Err(_) => continue, // read timeout: look at the stop flag again
                }
            }
            capture
        });
        RtpListener { port, stop, thread }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops receiving and returns what arrived.
    pub fn finish(self) -> RtpCapture {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .expect("the RTP listener thread panicked")
    }
}

/// Every packet a listener received, in arrival order.
#[derive(Debug, Default)]
pub struct RtpCapture {
    pub packets: Vec<RtpPacket>,
    /// Datagrams that were not RTP.
    pub not_rtp: usize,
}

impl RtpCapture {
    /// The packets of one payload type.
    pub fn with_payload_type(&self, payload_type: u8) -> Vec<&RtpPacket> {
        self.packets
            .iter()
            .filter(|packet| packet.payload_type == payload_type)
            .collect()
    }

    /// A one-line summary for failure messages.
    pub fn summary(&self) -> String {
        let types: BTreeSet<u8> = self.packets.iter().map(|p| p.payload_type).collect();
        let sources: BTreeSet<SocketAddr> = self.packets.iter().map(|p| p.from).collect();
        let ssrcs: BTreeSet<u32> = self.packets.iter().map(|p| p.ssrc).collect();
        format!(
            "{} RTP packets (payload types {types:?}, sources {sources:?}, SSRCs {ssrcs:x?}), {} non-RTP datagrams",
            self.packets.len(),
            self.not_rtp
        )
    }

    /// Asserts the packets of `payload_type` form one stream as a 20 ms sender
    /// makes it: at least `min_packets`, one source and SSRC, sequence numbers
    /// +1 each, timestamps forward by multiples of 160, and about one packet
    /// every 20 ms between the first and the last arrival.
    pub fn assert_continuous_stream(&self, payload_type: u8, min_packets: usize) {
        let stream = self.with_payload_type(payload_type);
        assert!(
            stream.len() >= min_packets,
            "expected at least {min_packets} packets of payload type {payload_type}, got {}",
            self.summary()
        );
        let first = stream[0];
        for pair in stream.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            assert_eq!(after.ssrc, first.ssrc, "SSRC changed: {}", self.summary());
            assert_eq!(after.from, first.from, "source changed: {}", self.summary());
            assert_eq!(
                after.sequence,
                before.sequence.wrapping_add(1),
                "sequence jumped from {} to {}",
                before.sequence,
                after.sequence
            );
            let step = after.timestamp.wrapping_sub(before.timestamp);
            assert!(
                step > 0 && step % 160 == 0 && step < 8000 * 2,
                "timestamp moved by {step} between sequence {} and {} (expected +160 per 20 ms)",
                before.sequence,
                after.sequence
            );
        }
        let last = stream[stream.len() - 1];
        let elapsed = last.arrived.duration_since(first.arrived);
        let expected = elapsed.as_secs_f64() / 0.020 + 1.0;
        let ratio = stream.len() as f64 / expected;
        assert!(
            (0.85..=1.15).contains(&ratio),
            "{} packets in {elapsed:?}: {expected:.0} expected at one per 20 ms",
            stream.len()
        );
    }

    /// How many µ-law packets of `payload_type` are louder than `min_rms`.
    pub fn loud_ulaw_packets(&self, payload_type: u8, min_rms: f64) -> usize {
        self.with_payload_type(payload_type)
            .iter()
            .filter(|packet| ulaw_rms(&packet.payload) > min_rms)
            .count()
    }

    /// The RFC 4733 events of `payload_type`, one per event (packets of one event
    /// share their timestamp), as digits.
    pub fn dtmf_digits(&self, payload_type: u8) -> Vec<char> {
        let mut seen = BTreeSet::new();
        let mut digits = Vec::new();
        for packet in self.with_payload_type(payload_type) {
            let Some(&event) = packet.payload.first() else {
                continue;
            };
            if !seen.insert((packet.from, packet.ssrc, packet.timestamp)) {
                continue;
            }
            let digit = match event {
                0..=9 => char::from(b'0' + event),
                10 => '*',
                11 => '#',
                12..=15 => char::from(b'A' + event - 12),
                _ => '?',
            };
            digits.push(digit);
        }
        digits
    }
}
