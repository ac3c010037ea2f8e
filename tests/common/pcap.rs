//! Writing an RTP stream as a pcap file for sipp's `play_pcap_audio`: a G.711
//! µ-law tone in 20 ms packets, as long as a test needs (the pcaps sipp ships are
//! 140 ms of DTMF, or PCMA in 30 ms packets, which callplane's 20 ms jitter buffer
//! would not count packet by packet).
//!
//! sipp takes each packet's UDP payload and its time offset from the file, and
//! rewrites addresses, ports and checksums itself.

use std::f64::consts::PI;
use std::fs;
use std::path::Path;

/// Samples per 20 ms packet at 8 kHz.
const SAMPLES_PER_PACKET: usize = 160;
/// pcap: Ethernet link type.
const LINKTYPE_ETHERNET: u32 = 1;

/// Writes to `path` `packets` RTP packets (payload type 0, PCMU), 20 ms apart,
/// of a 440 Hz tone at about −12 dBov, with SSRC `ssrc` and sequence numbers
/// from `first_sequence`.
pub fn write_tone_pcap(path: &Path, packets: usize, ssrc: u32, first_sequence: u16) {
    let mut file = Vec::new();
    // Global header: magic, version 2.4, zone, accuracy, snaplen, link type.
    file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    file.extend_from_slice(&2u16.to_le_bytes());
    file.extend_from_slice(&4u16.to_le_bytes());
    file.extend_from_slice(&0i32.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    file.extend_from_slice(&65_535u32.to_le_bytes());
    file.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for n in 0..packets {
        let payload: Vec<u8> = (0..SAMPLES_PER_PACKET)
            .map(|i| {
                let t = (n * SAMPLES_PER_PACKET + i) as f64 / 8000.0;
                linear_to_ulaw((8000.0 * (2.0 * PI * 440.0 * t).sin()) as i16)
            })
            .collect();
        let mut rtp = vec![0x80, if n == 0 { 0x80 } else { 0x00 }];
        rtp.extend_from_slice(&first_sequence.wrapping_add(n as u16).to_be_bytes());
        rtp.extend_from_slice(&((n * SAMPLES_PER_PACKET) as u32).to_be_bytes());
        rtp.extend_from_slice(&ssrc.to_be_bytes());
        rtp.extend_from_slice(&payload);
        let frame = ethernet_ipv4_udp(&rtp);
        let micros = n as u64 * 20_000;
        file.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        file.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&frame);
    }
    fs::write(path, file).unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
}

/// An Ethernet frame carrying `payload` in UDP over IPv4 (addresses, ports and
/// checksums are placeholders: sipp replaces them).
fn ethernet_ipv4_udp(payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let ip_len = 20 + udp_len;
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&0x0800u16.to_be_bytes());
    frame.extend_from_slice(&[0x45, 0]);
    frame.extend_from_slice(&(ip_len as u16).to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    frame.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
    frame.extend_from_slice(&40_000u16.to_be_bytes());
    frame.extend_from_slice(&40_002u16.to_be_bytes());
    frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// 16-bit linear to G.711 µ-law (ITU-T G.711).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut value = i32::from(sample);
    let sign = if value < 0 {
        value = -value;
        0x80
    } else {
        0
    };
    let value = value.min(CLIP) + BIAS;
    let exponent = (7 - (value.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (value >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}
