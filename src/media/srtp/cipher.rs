//! The cryptographic transforms of RFC 3711 for the AES_CM_128_HMAC_SHA1 suites:
//! AES in counter mode (§4.1.1) as keystream generator, the key derivation
//! PRF (§4.3) that turns a master key and salt into session keys, and the
//! HMAC-SHA1 authentication key of each stream. Everything works on the
//! caller's bytes and the stack: nothing allocates.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Bytes of an AES-128 master key.
pub(crate) const MASTER_KEY_LEN: usize = 16;
/// Bytes of a master salt (112 bits).
pub(crate) const MASTER_SALT_LEN: usize = 14;
/// Bytes of the derived HMAC-SHA1 key (160 bits).
const AUTH_KEY_LEN: usize = 20;
/// Keystream blocks computed in one call to the cipher (AES-NI pipelines them).
const BATCH_BLOCKS: usize = 8;

/// The HMAC-SHA1 state keyed once per session; each packet clones it (a copy
/// on the stack).
pub(crate) type HmacSha1 = Hmac<Sha1>;

/// AES-128 in counter mode: the keystream for an IV is E(IV), E(IV + 1), …
#[derive(Clone)]
pub(crate) struct AesCm {
    cipher: Aes128,
}

impl AesCm {
    /// Expands `key` once; every packet reuses the schedule.
    pub(crate) fn new(key: &[u8; MASTER_KEY_LEN]) -> AesCm {
        AesCm {
            cipher: Aes128::new(GenericArray::from_slice(key)),
        }
    }

    /// XORs the keystream that starts at `iv` into `data` (encryption and
    /// decryption are the same operation).
    pub(crate) fn apply(&self, iv: &[u8; 16], data: &mut [u8]) {
        let base = u128::from_be_bytes(*iv);
        let mut blocks = [GenericArray::<u8, aes::cipher::consts::U16>::default(); BATCH_BLOCKS];
        let mut counter = 0u128;
        for chunk in data.chunks_mut(16 * BATCH_BLOCKS) {
            let count = chunk.len().div_ceil(16);
            for (offset, block) in blocks[..count].iter_mut().enumerate() {
                let value = base.wrapping_add(counter + offset as u128);
                block.copy_from_slice(&value.to_be_bytes());
            }
            self.cipher.encrypt_blocks(&mut blocks[..count]);
            let keystream = blocks[..count].iter().flat_map(|block| block.iter());
            for (byte, key) in chunk.iter_mut().zip(keystream) {
                *byte ^= key;
            }
            counter += count as u128;
        }
    }
}

/// The key derivation labels of one stream kind (RFC 3711 §4.3.1–4.3.2).
#[derive(Clone, Copy)]
pub(crate) struct Labels {
    encryption: u8,
    authentication: u8,
    salt: u8,
}

/// Labels 0x00–0x02: SRTP.
pub(crate) const RTP_LABELS: Labels = Labels {
    encryption: 0x00,
    authentication: 0x01,
    salt: 0x02,
};
/// Labels 0x03–0x05: SRTCP.
pub(crate) const RTCP_LABELS: Labels = Labels {
    encryption: 0x03,
    authentication: 0x04,
    salt: 0x05,
};

/// The PRF of RFC 3711 §4.3.1 with a key derivation rate of 0 (the SDES
/// default, and the only rate RFC 4568 lets an answerer assume): `out` gets
/// AES-CM keystream under the master key, started at
/// `(label << 48 XOR master_salt) * 2^16`.
pub(crate) fn derive(
    master_key: &[u8; MASTER_KEY_LEN],
    master_salt: &[u8; MASTER_SALT_LEN],
    label: u8,
    out: &mut [u8],
) {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(master_salt);
    // key_id = label || r (r = 0, 48 bits) is 7 bytes, aligned to the salt's end.
    iv[7] ^= label;
    out.fill(0);
    AesCm::new(master_key).apply(&iv, out);
}

/// The session keys of one direction of one stream kind (SRTP or SRTCP).
#[derive(Clone)]
pub(crate) struct SessionKeys {
    cipher: AesCm,
    salt: [u8; MASTER_SALT_LEN],
    auth: HmacSha1,
}

impl SessionKeys {
    /// Derives the encryption key, salt and authentication key under `labels`.
    pub(crate) fn derive(
        master_key: &[u8; MASTER_KEY_LEN],
        master_salt: &[u8; MASTER_SALT_LEN],
        labels: Labels,
    ) -> SessionKeys {
        let mut key = [0u8; MASTER_KEY_LEN];
        derive(master_key, master_salt, labels.encryption, &mut key);
        let mut salt = [0u8; MASTER_SALT_LEN];
        derive(master_key, master_salt, labels.salt, &mut salt);
        let mut auth_key = [0u8; AUTH_KEY_LEN];
        derive(
            master_key,
            master_salt,
            labels.authentication,
            &mut auth_key,
        );
        // HMAC takes keys of any length: building it from a slice cannot fail.
        let auth = <HmacSha1 as KeyInit>::new(&hmac_key(&auth_key));
        SessionKeys {
            cipher: AesCm::new(&key),
            salt,
            auth,
        }
    }

    /// The counter-mode IV of RFC 3711 §4.1.1:
    /// `(salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16)`.
    pub(crate) fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..MASTER_SALT_LEN].copy_from_slice(&self.salt);
        for (byte, value) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *byte ^= value;
        }
        // The index is 48 bits: bytes 8..14.
        for (byte, value) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *byte ^= value;
        }
        iv
    }

    /// XORs the keystream for (`ssrc`, `index`) into `data`.
    pub(crate) fn crypt(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        self.cipher.apply(&self.iv(ssrc, index), data);
    }

    /// A fresh MAC state, keyed.
    pub(crate) fn mac(&self) -> HmacSha1 {
        self.auth.clone()
    }
}

/// The 20-byte authentication key as HMAC's block-sized key (zero-padded,
/// which is what HMAC does with a short key).
fn hmac_key(key: &[u8; AUTH_KEY_LEN]) -> GenericArray<u8, aes::cipher::consts::U64> {
    let mut block = GenericArray::<u8, aes::cipher::consts::U64>::default();
    block[..AUTH_KEY_LEN].copy_from_slice(key);
    block
}

/// Whether `tag` equals the leading bytes of the MAC, in constant time.
pub(crate) fn verify(mac: HmacSha1, tag: &[u8]) -> bool {
    mac.verify_truncated_left(tag).is_ok()
}

/// Writes the leading `out.len()` bytes of the MAC into `out`.
pub(crate) fn write_tag(mac: HmacSha1, out: &mut [u8]) {
    let full = mac.finalize().into_bytes();
    let len = out.len().min(full.len());
    out[..len].copy_from_slice(&full[..len]);
}
