//! ITU-T G.711 companding: µ-law and A-law conversion between 16-bit linear PCM and
//! 8-bit code words.
//!
//! Encoding uses the segment (exponent) search, done with a leading-zero count so it is
//! branch-light and needs no table. Decoding is a lookup in 256-entry tables computed at
//! compile time. The slice functions work on caller buffers and never allocate, so they
//! are what a benchmark of "encode one 20 ms frame" should call.

/// Bias added to the magnitude before µ-law segment search (33 in 14-bit units).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent once the bias is added.
const ULAW_CLIP: i32 = 32_635;

/// Encodes one linear sample as a µ-law code word.
#[inline]
pub(crate) fn ulaw_encode(sample: i16) -> u8 {
    let value = i32::from(sample);
    let (sign, magnitude) = if value < 0 {
        (0x80, -value)
    } else {
        (0x00, value)
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // `biased` lies in 0x84..=0x7FFF: its highest set bit is bit 7..=14, which is the
    // segment number plus 7.
    let exponent = (31 - biased.leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decodes one µ-law code word to a linear sample.
#[inline]
pub(crate) fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE_TABLE[usize::from(code)]
}

/// Encodes one linear sample as an A-law code word (even bits inverted, as transmitted).
#[inline]
pub(crate) fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13-bit samples.
    let value = i32::from(sample) >> 3;
    let (mask, magnitude) = if value >= 0 {
        (0xD5, value)
    } else {
        (0x55, -value - 1)
    };
    // `magnitude` is at most 0x0FFF. Segment 0 covers 0..=0x1F, segment s >= 1 covers
    // values whose highest set bit is bit s + 4.
    let highest_bit = 31 - (magnitude | 1).leading_zeros() as i32;
    let segment = (highest_bit - 4).clamp(0, 7);
    let shift = if segment < 2 { 1 } else { segment };
    let mantissa = (magnitude >> shift) & 0x0F;
    (((segment << 4) | mantissa) ^ mask) as u8
}

/// Decodes one A-law code word to a linear sample.
#[inline]
pub(crate) fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE_TABLE[usize::from(code)]
}

/// Encodes `pcm` into `out` as µ-law; returns how many samples were written
/// (the shorter of the two lengths).
pub(crate) fn ulaw_encode_slice(pcm: &[i16], out: &mut [u8]) -> usize {
    for (code, &sample) in out.iter_mut().zip(pcm) {
        *code = ulaw_encode(sample);
    }
    pcm.len().min(out.len())
}

/// Encodes `pcm` into `out` as A-law; returns how many samples were written
/// (the shorter of the two lengths).
pub(crate) fn alaw_encode_slice(pcm: &[i16], out: &mut [u8]) -> usize {
    for (code, &sample) in out.iter_mut().zip(pcm) {
        *code = alaw_encode(sample);
    }
    pcm.len().min(out.len())
}

/// Decodes µ-law `codes` into `out`; returns how many samples were written.
pub(crate) fn ulaw_decode_slice(codes: &[u8], out: &mut [i16]) -> usize {
    for (sample, &code) in out.iter_mut().zip(codes) {
        *sample = ulaw_decode(code);
    }
    codes.len().min(out.len())
}

/// Decodes A-law `codes` into `out`; returns how many samples were written.
pub(crate) fn alaw_decode_slice(codes: &[u8], out: &mut [i16]) -> usize {
    for (sample, &code) in out.iter_mut().zip(codes) {
        *sample = alaw_decode(code);
    }
    codes.len().min(out.len())
}

const fn ulaw_decode_uncached(code: u8) -> i16 {
    let inverted = !code as i32;
    let exponent = (inverted & 0x70) >> 4;
    let mantissa = inverted & 0x0F;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if inverted & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_decode_uncached(code: u8) -> i16 {
    let toggled = (code ^ 0x55) as i32;
    let segment = (toggled & 0x70) >> 4;
    let mantissa = (toggled & 0x0F) << 4;
    let magnitude = match segment {
        0 => mantissa + 8,
        1 => mantissa + 0x108,
        _ => (mantissa + 0x108) << (segment - 1),
    };
    if toggled & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_decode_uncached(code as u8);
        code += 1;
    }
    table
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_decode_uncached(code as u8);
        code += 1;
    }
    table
}

static ULAW_DECODE_TABLE: [i16; 256] = build_ulaw_table();
static ALAW_DECODE_TABLE: [i16; 256] = build_alaw_table();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(1), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        // First step of segment 0: 8 (14-bit 1) rounds to mantissa 1.
        assert_eq!(ulaw_encode(8), 0xFE);
        assert_eq!(ulaw_decode(0xFE), 8);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(7), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(-8), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
    }

    /// Half a quantisation step for a µ-law sample: the reconstruction is the interval
    /// midpoint, and each interval is at most 1/16 of the biased magnitude wide.
    fn ulaw_max_error(sample: i32) -> i32 {
        let magnitude = sample.abs();
        if magnitude > ULAW_CLIP {
            magnitude - 32_124
        } else {
            (magnitude + ULAW_BIAS) / 32 + 1
        }
    }

    /// Half a quantisation step for an A-law sample: 8 in the two lowest segments,
    /// otherwise at most 1/32 of the magnitude, plus one for the 13-bit truncation.
    fn alaw_max_error(sample: i32) -> i32 {
        (sample.abs() / 32).max(8) + 1
    }

    #[test]
    fn ulaw_round_trip_within_quantisation_error_for_every_sample() {
        for sample in i16::MIN..=i16::MAX {
            let decoded = i32::from(ulaw_decode(ulaw_encode(sample)));
            let error = (decoded - i32::from(sample)).abs();
            assert!(
                error <= ulaw_max_error(i32::from(sample)),
                "µ-law {sample} -> {decoded} (error {error})"
            );
        }
    }

    #[test]
    fn alaw_round_trip_within_quantisation_error_for_every_sample() {
        for sample in i16::MIN..=i16::MAX {
            let decoded = i32::from(alaw_decode(alaw_encode(sample)));
            let error = (decoded - i32::from(sample)).abs();
            assert!(
                error <= alaw_max_error(i32::from(sample)),
                "A-law {sample} -> {decoded} (error {error})"
            );
        }
    }

    #[test]
    fn every_code_word_survives_decode_then_encode() {
        for code in 0..=255u8 {
            // µ-law has two zeros (0x7F and 0xFF); both decode to 0, which encodes to 0xFF.
            if code != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(code)), code, "µ-law {code:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut previous = i32::from(ulaw_decode(ulaw_encode(i16::MIN)));
        let mut previous_a = i32::from(alaw_decode(alaw_encode(i16::MIN)));
        for sample in i16::MIN..=i16::MAX {
            let now = i32::from(ulaw_decode(ulaw_encode(sample)));
            let now_a = i32::from(alaw_decode(alaw_encode(sample)));
            assert!(now >= previous && now_a >= previous_a, "at {sample}");
            previous = now;
            previous_a = now_a;
        }
    }

    #[test]
    fn slice_functions_stop_at_the_shorter_buffer() {
        let pcm = [0i16, 1000, -1000];
        let mut out = [0u8; 2];
        assert_eq!(ulaw_encode_slice(&pcm, &mut out), 2);
        assert_eq!(out, [ulaw_encode(0), ulaw_encode(1000)]);
        assert_eq!(alaw_encode_slice(&pcm, &mut out), 2);
        assert_eq!(out, [alaw_encode(0), alaw_encode(1000)]);
        let mut decoded = [0i16; 4];
        assert_eq!(alaw_decode_slice(&out, &mut decoded), 2);
        assert_eq!(decoded[..2], [alaw_decode(out[0]), alaw_decode(out[1])]);
        assert_eq!(ulaw_decode_slice(&[0xFF; 5], &mut decoded), 4);
        assert_eq!(decoded, [0; 4]);
    }
}
