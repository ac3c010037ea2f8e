//! ITU-T G.711 companding: µ-law and A-law conversion between 16-bit linear PCM and
//! 8-bit code words.
//!
//! Both directions are single table lookups; every table is computed at compile time by
//! `const fn`s from the segment-search formulas, so nothing is initialised at run time:
//!
//! - decode: one `[i16; 256]` table per law, indexed by the code word (512 bytes each);
//! - A-law encode: `[u8; 8192]` (8 KiB) indexed by the top 13 bits of the sample,
//!   `sample as u16 >> 3`. A-law only looks at the 13-bit sample `sample >> 3` (negative
//!   values are folded with a one's complement), so the code word is a function of those
//!   bits alone and the lookup needs no sign handling;
//! - µ-law encode: `[u8; 16384]` (16 KiB) indexed by the top 14 bits of the sample, after
//!   subtracting one from negative samples (and saturating -32768 to -32767). µ-law keeps
//!   14 bits, and its code word depends only on the magnitude's top 14 bits (the bias of
//!   0x84 is a multiple of 4, so the two dropped bits never carry into the result). But it
//!   folds negative samples with a two's-complement negation: magnitudes `4k..=4k+3`
//!   are the samples `-4k-3..=-4k`, which straddle a boundary of `sample >> 2`; shifted
//!   down by one they are the aligned block `-4k-4..=-4k-1`. The saturation only merges
//!   -32768 into -32767, which clip to the same code word anyway.
//!
//! Both encode tables index with a shift of a `u16`, so the bounds checks vanish, and
//! together with the decode tables they fit in L1 (a 64 K-entry table indexed by the raw
//! sample would not). Computing the index is a few 16-bit lane operations the compiler
//! vectorises, which a segment search is not: on a 20 ms frame the leading-zero search
//! took about 250 ns and a float-exponent search about 50 ns, against about 40 ns for the
//! lookups (see `benches/media.rs`).
//!
//! The slice functions work on caller buffers and never allocate; they dispatch on the
//! law once per call and convert fixed-size blocks of [`BLOCK`] samples, which the
//! compiler unrolls.

/// Bias added to the magnitude before µ-law segment search (33 in 14-bit units).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent once the bias is added.
const ULAW_CLIP: i32 = 32_635;

/// Encodes one linear sample as a µ-law code word.
#[inline]
pub(crate) fn ulaw_encode(sample: i16) -> u8 {
    ULAW_ENCODE_TABLE[ulaw_index(sample)]
}

/// Index into [`ULAW_ENCODE_TABLE`]: the top 14 bits of the sample, less one if it is
/// negative (see the module documentation).
#[inline(always)]
fn ulaw_index(sample: i16) -> usize {
    // `sample >> 15` is -1 for a negative sample, 0 otherwise.
    usize::from((sample.max(-i16::MAX) + (sample >> 15)) as u16 >> 2)
}

/// Decodes one µ-law code word to a linear sample.
#[inline]
pub(crate) fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE_TABLE[usize::from(code)]
}

/// Encodes one linear sample as an A-law code word (even bits inverted, as transmitted).
#[inline]
pub(crate) fn alaw_encode(sample: i16) -> u8 {
    ALAW_ENCODE_TABLE[usize::from(sample as u16 >> 3)]
}

/// Decodes one A-law code word to a linear sample.
#[inline]
pub(crate) fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE_TABLE[usize::from(code)]
}

/// Samples converted per unrolled block by the slice functions.
const BLOCK: usize = 16;

/// Writes `convert(input[i])` to `out[i]` for every index both slices have; returns how
/// many. Whole blocks have a length known at compile time, so their loop is unrolled
/// and the index computations vectorised.
#[inline(always)]
fn convert_slice<A: Copy, B>(input: &[A], out: &mut [B], convert: impl Fn(A) -> B) -> usize {
    let len = input.len().min(out.len());
    let (in_blocks, in_rest) = input[..len].as_chunks::<BLOCK>();
    let (out_blocks, out_rest) = out[..len].as_chunks_mut::<BLOCK>();
    for (out_block, in_block) in out_blocks.iter_mut().zip(in_blocks) {
        for (to, &from) in out_block.iter_mut().zip(in_block) {
            *to = convert(from);
        }
    }
    for (to, &from) in out_rest.iter_mut().zip(in_rest) {
        *to = convert(from);
    }
    len
}

/// Encodes `pcm` into `out` as µ-law; returns how many samples were written
/// (the shorter of the two lengths).
pub(crate) fn ulaw_encode_slice(pcm: &[i16], out: &mut [u8]) -> usize {
    convert_slice(pcm, out, ulaw_encode)
}

/// Encodes `pcm` into `out` as A-law; returns how many samples were written
/// (the shorter of the two lengths).
pub(crate) fn alaw_encode_slice(pcm: &[i16], out: &mut [u8]) -> usize {
    convert_slice(pcm, out, alaw_encode)
}

/// Decodes µ-law `codes` into `out`; returns how many samples were written.
pub(crate) fn ulaw_decode_slice(codes: &[u8], out: &mut [i16]) -> usize {
    convert_slice(codes, out, ulaw_decode)
}

/// Decodes A-law `codes` into `out`; returns how many samples were written.
pub(crate) fn alaw_decode_slice(codes: &[u8], out: &mut [i16]) -> usize {
    convert_slice(codes, out, alaw_decode)
}

/// µ-law code word of a non-negative magnitude, by segment search (used to build the
/// encode table).
const fn ulaw_encode_magnitude(magnitude: i32) -> u8 {
    let clipped = if magnitude > ULAW_CLIP {
        ULAW_CLIP
    } else {
        magnitude
    };
    let biased = clipped + ULAW_BIAS;
    // `biased` lies in 0x84..=0x7FFF: its highest set bit is bit 7..=14, which is the
    // segment number plus 7.
    let exponent = 31 - biased.leading_zeros() as i32 - 7;
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !((exponent << 4) | mantissa) as u8
}

/// A-law code word of a 13-bit two's-complement sample, by segment search (used to
/// build the encode table).
const fn alaw_encode_13bit(value: i32) -> u8 {
    let (mask, magnitude) = if value >= 0 {
        (0xD5, value)
    } else {
        (0x55, -value - 1)
    };
    // `magnitude` is at most 0x0FFF. Segment 0 covers 0..=0x1F, segment s >= 1 covers
    // values whose highest set bit is bit s + 4.
    let highest_bit = 31 - (magnitude | 1).leading_zeros() as i32;
    let segment = if highest_bit < 4 { 0 } else { highest_bit - 4 };
    let shift = if segment < 2 { 1 } else { segment };
    let mantissa = (magnitude >> shift) & 0x0F;
    (((segment << 4) | mantissa) ^ mask) as u8
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

const fn build_ulaw_decode_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_decode_uncached(code as u8);
        code += 1;
    }
    table
}

const fn build_alaw_decode_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_decode_uncached(code as u8);
        code += 1;
    }
    table
}

/// Entry `i`, read as a 14-bit two's-complement number `j`, is the code word of the
/// magnitudes `4j..=4j+3` if `j >= 0`, and of the negative samples whose magnitude is
/// `4(-j-1)..=4(-j-1)+3` otherwise.
const fn build_ulaw_encode_table() -> [u8; 16384] {
    let mut table = [0u8; 16384];
    let mut index = 0;
    while index < 16384 {
        // Sign-extend the 14-bit index.
        let block = ((index as i32) << 18) >> 18;
        table[index] = if block >= 0 {
            ulaw_encode_magnitude(block << 2)
        } else {
            // A negative code word is the positive one with the sign bit cleared.
            ulaw_encode_magnitude((-block - 1) << 2) & 0x7F
        };
        index += 1;
    }
    table
}

/// Entry `i` is the code word of the samples whose top 13 bits are `i`, read as a
/// 13-bit two's-complement number.
const fn build_alaw_encode_table() -> [u8; 8192] {
    let mut table = [0u8; 8192];
    let mut index = 0;
    while index < 8192 {
        // Sign-extend the 13-bit index.
        let value = ((index as i32) << 19) >> 19;
        table[index] = alaw_encode_13bit(value);
        index += 1;
    }
    table
}

static ULAW_DECODE_TABLE: [i16; 256] = build_ulaw_decode_table();
static ALAW_DECODE_TABLE: [i16; 256] = build_alaw_decode_table();
static ULAW_ENCODE_TABLE: [u8; 16384] = build_ulaw_encode_table();
static ALAW_ENCODE_TABLE: [u8; 8192] = build_alaw_encode_table();

#[cfg(test)]
mod tests {
    use super::*;

    /// The segment-search µ-law encoder the tables replaced, kept verbatim as the
    /// reference the lookup must match bit for bit.
    fn reference_ulaw_encode(sample: i16) -> u8 {
        let value = i32::from(sample);
        let (sign, magnitude) = if value < 0 {
            (0x80, -value)
        } else {
            (0x00, value)
        };
        let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
        let exponent = (31 - biased.leading_zeros() as i32 - 7).clamp(0, 7);
        let mantissa = (biased >> (exponent + 3)) & 0x0F;
        !(sign | (exponent << 4) | mantissa) as u8
    }

    /// The segment-search A-law encoder the tables replaced, kept verbatim.
    fn reference_alaw_encode(sample: i16) -> u8 {
        let value = i32::from(sample) >> 3;
        let (mask, magnitude) = if value >= 0 {
            (0xD5, value)
        } else {
            (0x55, -value - 1)
        };
        let highest_bit = 31 - (magnitude | 1).leading_zeros() as i32;
        let segment = (highest_bit - 4).clamp(0, 7);
        let shift = if segment < 2 { 1 } else { segment };
        let mantissa = (magnitude >> shift) & 0x0F;
        (((segment << 4) | mantissa) ^ mask) as u8
    }

    /// µ-law decoding written out from G.711 itself (sign, 3-bit segment, 4-bit step,
    /// reconstruction at the middle of the step), independent of the table builder.
    fn reference_ulaw_decode(code: u8) -> i16 {
        let code = !code;
        let segment = u32::from((code >> 4) & 0x07);
        let step = i32::from(code & 0x0F);
        // In 14-bit units the biased magnitude (magnitude + 33) of segment s covers
        // 32 * 2^s .. 64 * 2^s in steps of 2^(s + 1); the 16-bit value is four times the
        // middle of the step, unbiased.
        let width = 1 << (segment + 1);
        let middle = 32 * (1 << segment) + step * width + width / 2;
        let magnitude = (4 * (middle - 33)) as i16;
        if code & 0x80 != 0 {
            -magnitude
        } else {
            magnitude
        }
    }

    /// A-law decoding written out from G.711 itself, independent of the table builder.
    fn reference_alaw_decode(code: u8) -> i16 {
        let code = code ^ 0x55;
        let segment = u32::from((code >> 4) & 0x07);
        let step = i32::from(code & 0x0F);
        // In 13-bit units segment 0 covers 0..32 in steps of 2; segment s >= 1 starts at
        // 2^(s + 4) with steps of 2^s. The 16-bit value is eight times the step middle.
        let (start, width) = if segment == 0 {
            (0, 2)
        } else {
            (1 << (segment + 4), 1 << segment)
        };
        let magnitude = (8 * (2 * (start + step * width) + width) / 2) as i16;
        if code & 0x80 != 0 {
            magnitude
        } else {
            -magnitude
        }
    }

    #[test]
    fn ulaw_encode_matches_the_reference_for_every_sample() {
        for sample in i16::MIN..=i16::MAX {
            assert_eq!(
                ulaw_encode(sample),
                reference_ulaw_encode(sample),
                "µ-law {sample}"
            );
        }
    }

    #[test]
    fn alaw_encode_matches_the_reference_for_every_sample() {
        for sample in i16::MIN..=i16::MAX {
            assert_eq!(
                alaw_encode(sample),
                reference_alaw_encode(sample),
                "A-law {sample}"
            );
        }
    }

    #[test]
    fn decode_matches_the_reference_for_every_code_word() {
        for code in 0..=255u8 {
            assert_eq!(
                ulaw_decode(code),
                reference_ulaw_decode(code),
                "µ-law {code:#04x}"
            );
            assert_eq!(
                alaw_decode(code),
                reference_alaw_decode(code),
                "A-law {code:#04x}"
            );
        }
    }

    #[test]
    fn slice_functions_match_the_reference_for_every_input() {
        let pcm: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let mut codes = vec![0u8; pcm.len()];
        assert_eq!(ulaw_encode_slice(&pcm, &mut codes), pcm.len());
        assert!(codes
            .iter()
            .zip(&pcm)
            .all(|(&code, &sample)| code == reference_ulaw_encode(sample)));
        assert_eq!(alaw_encode_slice(&pcm, &mut codes), pcm.len());
        assert!(codes
            .iter()
            .zip(&pcm)
            .all(|(&code, &sample)| code == reference_alaw_encode(sample)));
        let all_codes: Vec<u8> = (0..=255).collect();
        let mut decoded = [0i16; 256];
        assert_eq!(ulaw_decode_slice(&all_codes, &mut decoded), 256);
        assert!(all_codes
            .iter()
            .zip(&decoded)
            .all(|(&code, &sample)| sample == reference_ulaw_decode(code)));
        assert_eq!(alaw_decode_slice(&all_codes, &mut decoded), 256);
        assert!(all_codes
            .iter()
            .zip(&decoded)
            .all(|(&code, &sample)| sample == reference_alaw_decode(code)));
    }

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
    fn slice_functions_agree_with_per_sample_calls_at_every_length() {
        let pcm: Vec<i16> = (0..3 * BLOCK as i32 + 5)
            .map(|i| (i * 2_531 - 30_000) as i16)
            .collect();
        for len in 0..=pcm.len() {
            for out_len in [len.saturating_sub(1), len, len + 1] {
                let expected = len.min(out_len);
                let mut codes = vec![0u8; out_len];
                let mut samples = vec![0i16; out_len];
                assert_eq!(ulaw_encode_slice(&pcm[..len], &mut codes), expected);
                assert!((0..expected).all(|i| codes[i] == ulaw_encode(pcm[i])));
                assert_eq!(
                    ulaw_decode_slice(&codes[..expected], &mut samples),
                    expected
                );
                assert!((0..expected).all(|i| samples[i] == ulaw_decode(codes[i])));
                assert_eq!(alaw_encode_slice(&pcm[..len], &mut codes), expected);
                assert!((0..expected).all(|i| codes[i] == alaw_encode(pcm[i])));
                assert_eq!(
                    alaw_decode_slice(&codes[..expected], &mut samples),
                    expected
                );
                assert!((0..expected).all(|i| samples[i] == alaw_decode(codes[i])));
            }
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
