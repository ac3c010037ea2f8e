//! `[api]` in the configuration file: where the HTTP API listens, how big a
//! request body may be, how fast one key may call, and the API keys.
//!
//! The API is off unless `listen` is set. Keys are kept only as SHA-256
//! hashes: a `[[api.keys]]` entry gives either `sha256` (the hex digest of the
//! key, so the file holds no secret) or `key` (the key itself, hashed when the
//! file is read and then dropped).

use std::net::SocketAddr;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `[api]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address the API listens on, e.g. `127.0.0.1:8080`; unset: no API.
    pub listen: Option<SocketAddr>,
    /// Largest request body accepted, in bytes (larger: 413).
    pub body_limit_bytes: usize,
    /// Requests per second one key may make on average (more: 429).
    pub rate_per_second: u32,
    /// Requests one key may make at once before the rate applies.
    pub rate_burst: u32,
    /// The keys that may call the API.
    pub keys: Vec<ApiKeyConfig>,
    /// A PostgreSQL connection string (`host=… port=… user=… dbname=…`):
    /// the store is that database, shared with other servers, instead of
    /// `callplane.db` in the data directory.
    pub postgres: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: None,
            body_limit_bytes: 1024 * 1024,
            rate_per_second: 50,
            rate_burst: 100,
            keys: Vec::new(),
            postgres: None,
        }
    }
}

/// One `[[api.keys]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A name for logs (never the key).
    pub name: String,
    /// Hex SHA-256 of the key.
    pub sha256: Option<String>,
    /// The key itself (hashed on load).
    pub key: Option<String>,
    /// The workspaces (`x-workspace-id`) this key may act in.
    pub workspaces: Vec<String>,
}

/// A key as the API keeps it: a name, the hash, and its workspaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedKey {
    /// The entry's name.
    pub name: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// The workspaces it may act in.
    pub workspaces: Vec<String>,
}

/// SHA-256 of an API key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiConfig {
    /// Checks the section; the error names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        self.hashed_keys().map(|_| ())?;
        if self.listen.is_some() && self.keys.is_empty() {
            return Err("api.keys: the API listens but no key can call it".into());
        }
        if self.body_limit_bytes == 0 {
            return Err("api.body_limit_bytes: must be at least 1".into());
        }
        if self.rate_per_second == 0 || self.rate_burst == 0 {
            return Err("api.rate_per_second, api.rate_burst: must be at least 1".into());
        }
        Ok(())
    }

    /// The keys, each as its hash.
    pub fn hashed_keys(&self) -> Result<Vec<HashedKey>, String> {
        self.keys
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let at = |field: &str| format!("api.keys[{index}].{field}");
                let hash = match (&entry.sha256, &entry.key) {
                    (Some(hex), None) => parse_hex_digest(hex).ok_or_else(|| {
                        format!(
                            "{}: expected 64 hex digits (a SHA-256 digest)",
                            at("sha256")
                        )
                    })?,
                    (None, Some(key)) if key.len() >= 16 => hash_key(key),
                    (None, Some(_)) => {
                        return Err(format!("{}: must be at least 16 characters", at("key")))
                    }
                    (Some(_), Some(_)) => {
                        return Err(format!("{}: give sha256 or key, not both", at("key")))
                    }
                    (None, None) => return Err(format!("{}: give sha256 or key", at("sha256"))),
                };
                if entry.workspaces.is_empty() || entry.workspaces.iter().any(String::is_empty) {
                    return Err(format!(
                        "{}: list the workspaces the key may use",
                        at("workspaces")
                    ));
                }
                Ok(HashedKey {
                    name: entry.name.clone(),
                    hash,
                    workspaces: entry.workspaces.clone(),
                })
            })
            .collect()
    }
}

fn parse_hex_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(keys: &str) -> Result<ApiConfig, String> {
        toml::from_str::<ApiConfig>(&format!("listen = \"127.0.0.1:8080\"\n{keys}"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn plain_and_hashed_keys_give_the_same_hash() {
        let digest: String = hash_key("0123456789abcdef-key")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let api = config(&format!(
            "[[keys]]\nname = \"plain\"\nkey = \"0123456789abcdef-key\"\nworkspaces = [\"w\"]\n\
             [[keys]]\nname = \"hashed\"\nsha256 = \"{}\"\nworkspaces = [\"w\"]\n",
            digest.to_uppercase()
        ))
        .expect("parse");
        api.validate().expect("valid");
        let keys = api.hashed_keys().expect("keys");
        assert_eq!(keys[0].hash, keys[1].hash);
    }

    #[test]
    fn each_bad_key_entry_is_named() {
        let cases = [
            (
                "[[keys]]\nname = \"k\"\nworkspaces = [\"w\"]\n",
                "api.keys[0].sha256: give sha256 or key",
            ),
            (
                "[[keys]]\nname = \"k\"\nsha256 = \"abc\"\nworkspaces = [\"w\"]\n",
                "api.keys[0].sha256: expected 64 hex digits (a SHA-256 digest)",
            ),
            (
                "[[keys]]\nname = \"k\"\nkey = \"short\"\nworkspaces = [\"w\"]\n",
                "api.keys[0].key: must be at least 16 characters",
            ),
            (
                "[[keys]]\nname = \"k\"\nkey = \"long-enough-key-123\"\nworkspaces = []\n",
                "api.keys[0].workspaces: list the workspaces the key may use",
            ),
            ("", "api.keys: the API listens but no key can call it"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                config(text).expect("parse").validate(),
                Err(expected.to_string())
            );
        }
    }

    #[test]
    fn off_by_default() {
        let api = ApiConfig::default();
        assert_eq!(api.listen, None);
        api.validate().expect("the default is valid");
    }
}
