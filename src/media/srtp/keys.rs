//! Where the master keys we send under come from: a counter-mode generator
//! (AES-128 over a counter, as NIST SP 800-90A's CTR_DRBG without
//! reseeding) keyed with 16 bytes of the operating system's entropy that the
//! shell reads once at start. The core reads no entropy itself and stays
//! deterministic for a given seed; every shard starts its counter in its own
//! 2^64 block, so no two calls of a process share a key.

use std::fmt;

use super::cipher::AesCm;
use super::{SrtpKey, SRTP_KEY_LEN};

/// Fresh SDES master keys, one per call.
pub struct SrtpKeySource {
    cipher: AesCm,
    counter: u128,
}

impl SrtpKeySource {
    /// A source keyed with `seed` (from the OS's entropy), for shard `shard`.
    pub fn new(seed: [u8; 16], shard: u64) -> SrtpKeySource {
        SrtpKeySource {
            cipher: AesCm::new(&seed),
            counter: u128::from(shard) << 64,
        }
    }

    /// The next key: two AES blocks of the counter stream (30 of their 32 bytes).
    pub fn next_key(&mut self) -> SrtpKey {
        let mut block = [0u8; 32];
        self.cipher.apply(&self.counter.to_be_bytes(), &mut block);
        self.counter = self.counter.wrapping_add(2);
        let mut key = [0u8; SRTP_KEY_LEN];
        key.copy_from_slice(&block[..SRTP_KEY_LEN]);
        SrtpKey::from_bytes(key)
    }
}

impl fmt::Debug for SrtpKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SrtpKeySource(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_per_call_and_per_shard_and_repeat_per_seed() {
        let mut a = SrtpKeySource::new([1; 16], 0);
        let mut b = SrtpKeySource::new([1; 16], 1);
        let mut again = SrtpKeySource::new([1; 16], 0);
        let first = a.next_key();
        let second = a.next_key();
        assert_ne!(first, second);
        assert_ne!(first, b.next_key());
        assert_eq!(first, again.next_key());
        assert_ne!(first, SrtpKeySource::new([2; 16], 0).next_key());
    }
}
