//! Digest authentication of the requests we send (RFC 3261 §22.4 with RFC 8760
//! and RFC 7616): reading a `WWW-Authenticate` / `Proxy-Authenticate`
//! challenge of a 401/407, choosing the strongest one we can answer, and
//! writing the `Authorization` / `Proxy-Authorization` value.
//!
//! Algorithms: `MD5`, `MD5-sess`, `SHA-256` and `SHA-256-sess`; `qop=auth`
//! when the challenge offers it, the RFC 2069 form (no qop) when it offers
//! none. `auth-int` is not offered by carriers in practice and is not
//! answered (a challenge offering only `auth-int` is refused).
//!
//! Hand-written over the RustCrypto `md-5` and `sha2` hashes rather than
//! `ezk-sip-auth`: that crate draws its cnonce from the OS (a UUID), which
//! breaks the seeded determinism of the sans-IO core, and wants its own typed
//! request model; the scheme itself is a page of code.

use ezk_sip_types::Name;
use md5::Md5;
use sha2::{Digest, Sha256};

/// A username and password for one trunk.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The digest username (often the account or the number).
    pub username: String,
    /// The shared secret.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"…")
            .finish()
    }
}

/// The hash a challenge asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    fn parse(token: &str) -> Option<Algorithm> {
        match token.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "MD5-SESS" => Some(Algorithm::Md5Sess),
            "SHA-256" => Some(Algorithm::Sha256),
            "SHA-256-SESS" => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Lower-case hex of the hash of `text`.
    fn hash(self, text: &str) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(text.as_bytes())),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(text.as_bytes())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Why a challenge cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DigestError {
    /// Not the `Digest` scheme.
    #[error("not a Digest challenge")]
    NotDigest,
    /// A parameter list that does not follow the auth-param grammar.
    #[error("malformed challenge parameters")]
    Malformed,
    /// `realm` or `nonce` missing.
    #[error("challenge without {0}")]
    Missing(&'static str),
    /// An algorithm we do not implement.
    #[error("unsupported digest algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// A qop list without `auth`.
    #[error("no supported qop (only auth is answered)")]
    UnsupportedQop,
}

/// One parsed digest challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// The challenge offers `qop=auth` (we then answer with qop, nc and cnonce).
    pub qop_auth: bool,
    /// The server says our previous nonce merely expired (retry is allowed).
    pub stale: bool,
}

impl Challenge {
    /// Parses one challenge header value (`Digest realm="…", nonce="…", …`).
    pub(crate) fn parse(value: &str) -> Result<Challenge, DigestError> {
        let value = value.trim_start();
        let (scheme, rest) = value.split_at(value.find([' ', '\t']).unwrap_or(value.len()));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        let params = parse_auth_params(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let realm = get("realm").ok_or(DigestError::Missing("realm"))?;
        let nonce = get("nonce").ok_or(DigestError::Missing("nonce"))?;
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(name) => {
                Algorithm::parse(&name).ok_or(DigestError::UnsupportedAlgorithm(name.clone()))?
            }
        };
        let qop_auth = match get("qop") {
            None => false,
            Some(list) => {
                let offered = list.split(',').map(str::trim);
                if !offered.clone().any(|qop| qop.eq_ignore_ascii_case("auth")) {
                    return Err(DigestError::UnsupportedQop);
                }
                true
            }
        };
        Ok(Challenge {
            realm,
            nonce,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|stale| stale.eq_ignore_ascii_case("true")),
        })
    }

    /// The strongest challenge among `values` that we can answer (RFC 8760
    /// §2.4: a server may offer several, in its order of preference; we take
    /// SHA-256 over MD5).
    pub(crate) fn pick<'a>(values: impl Iterator<Item = &'a str>) -> Option<Challenge> {
        values
            .filter_map(|value| Challenge::parse(value).ok())
            .max_by_key(|challenge| match challenge.algorithm {
                Algorithm::Sha256 | Algorithm::Sha256Sess => 1,
                Algorithm::Md5 | Algorithm::Md5Sess => 0,
            })
    }

    /// The credentials header value answering this challenge for a request
    /// `method uri`, with client nonce `cnonce` and nonce count `nc`.
    pub(crate) fn answer(
        &self,
        credentials: &Credentials,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let algorithm = self.algorithm;
        let mut ha1 = algorithm.hash(&format!(
            "{}:{}:{}",
            credentials.username, self.realm, credentials.password
        ));
        if algorithm.is_sess() {
            ha1 = algorithm.hash(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = algorithm.hash(&format!("{method}:{uri}"));
        let nc = format!("{nc:08x}");
        let response = if self.qop_auth {
            algorithm.hash(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            algorithm.hash(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut value = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
            quote(&credentials.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            algorithm.name(),
        );
        if self.qop_auth || algorithm.is_sess() {
            value.push_str(&format!(", cnonce=\"{}\"", quote(cnonce)));
        }
        if self.qop_auth {
            value.push_str(&format!(", qop=auth, nc={nc}"));
        }
        if let Some(opaque) = &self.opaque {
            value.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
        }
        value
    }
}

/// Answers to challenges for one request before it counts as refused: one,
/// and more only while the server says our nonce was merely stale.
const MAX_ANSWERS: u8 = 3;

/// The challenge of a 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`)
/// response with `headers` that we can answer, and the header our answer goes
/// in (`Authorization` or `Proxy-Authorization`).
pub(crate) fn challenge_of(
    status: u16,
    headers: &crate::sip::message::HeaderMap,
) -> Option<(Name, Challenge)> {
    let (challenge_name, answer_name) = if status == 407 {
        (Name::PROXY_AUTHENTICATE, Name::PROXY_AUTHORIZATION)
    } else {
        (Name::WWW_AUTHENTICATE, Name::AUTHORIZATION)
    };
    let offered = headers.get_raw(&challenge_name).map(|value| value.as_str());
    Challenge::pick(offered).map(|challenge| (answer_name, challenge))
}

/// Whether `challenge` should be answered after `answered` earlier answers
/// for the same request: the first always, later ones only for a stale
/// nonce (the same credentials are never sent twice), at most three.
pub(crate) fn may_answer(answered: u8, challenge: &Challenge) -> bool {
    answered == 0 || (answered < MAX_ANSWERS && challenge.stale)
}

/// Escapes `"` and `\` for a quoted-string.
fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `name=token` or `name="quoted"` pairs separated by commas (RFC 7235 §2.1),
/// quoted strings unescaped.
fn parse_auth_params(text: &str) -> Result<Vec<(String, String)>, DigestError> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',' && !c.is_whitespace()) {
            name.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') || name.is_empty() {
            return Err(DigestError::Malformed);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    None => return Err(DigestError::Malformed),
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or(DigestError::Malformed)?),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',' && !c.is_whitespace()) {
                value.push(c);
            }
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some(',') => params.push((name, value)),
            Some(_) => return Err(DigestError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mufasa() -> Credentials {
        Credentials {
            username: "Mufasa".into(),
            password: "Circle of Life".into(),
        }
    }

    /// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
    const RFC7616_MD5: &str = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

    #[test]
    fn rfc7616_md5_vector() {
        let challenge = Challenge::parse(RFC7616_MD5).unwrap();
        assert_eq!(challenge.algorithm, Algorithm::Md5);
        assert!(challenge.qop_auth);
        let value = challenge.answer(
            &mufasa(),
            "GET",
            "/dir/index.html",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        );
        assert!(
            value.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""),
            "{value}"
        );
        assert!(value.contains("qop=auth, nc=00000001"));
        assert!(value.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
    }

    #[test]
    fn rfc7616_sha256_vector() {
        let challenge =
            Challenge::parse(&RFC7616_MD5.replace("algorithm=MD5", "algorithm=SHA-256")).unwrap();
        let value = challenge.answer(
            &mufasa(),
            "GET",
            "/dir/index.html",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        );
        assert!(
            value.contains(
                "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
            ),
            "{value}"
        );
        assert!(value.contains("algorithm=SHA-256"));
    }

    /// RFC 2617 §3.5 (no qop in this reduced form): the RFC 2069 response
    /// computed by hand from H(H(A1):nonce:H(A2)).
    #[test]
    fn answers_without_qop() {
        let challenge = Challenge::parse(
            "Digest realm=\"atlanta.com\", nonce=\"84a4cc6f3082121f32b42a2187831a9e\"",
        )
        .unwrap();
        assert!(!challenge.qop_auth);
        let credentials = Credentials {
            username: "alice".into(),
            password: "secret".into(),
        };
        let value = challenge.answer(&credentials, "INVITE", "sip:bob@biloxi.com", "x", 1);
        let ha1 = Algorithm::Md5.hash("alice:atlanta.com:secret");
        let ha2 = Algorithm::Md5.hash("INVITE:sip:bob@biloxi.com");
        let expected =
            Algorithm::Md5.hash(&format!("{ha1}:84a4cc6f3082121f32b42a2187831a9e:{ha2}"));
        assert!(
            value.contains(&format!("response=\"{expected}\"")),
            "{value}"
        );
        assert!(!value.contains("cnonce"));
        assert!(!value.contains("qop"));
    }

    #[test]
    fn sess_variant_hashes_the_nonces_into_ha1() {
        let challenge =
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess, qop=auth")
                .unwrap();
        let value = challenge.answer(&mufasa(), "INVITE", "sip:x@y", "c", 2);
        let ha1 = Algorithm::Md5.hash(&format!(
            "{}:n:c",
            Algorithm::Md5.hash("Mufasa:r:Circle of Life")
        ));
        let ha2 = Algorithm::Md5.hash("INVITE:sip:x@y");
        let expected = Algorithm::Md5.hash(&format!("{ha1}:n:00000002:c:auth:{ha2}"));
        assert!(
            value.contains(&format!("response=\"{expected}\"")),
            "{value}"
        );
        assert!(value.contains("cnonce=\"c\""));
    }

    #[test]
    fn picks_sha256_over_md5_and_skips_what_it_cannot_answer() {
        let offered = [
            "Digest realm=\"r\", nonce=\"a\", algorithm=MD5",
            "Digest realm=\"r\", nonce=\"b\", algorithm=SHA-512-256",
            "Digest realm=\"r\", nonce=\"c\", algorithm=SHA-256",
            "Basic realm=\"r\"",
        ];
        let chosen = Challenge::pick(offered.into_iter()).unwrap();
        assert_eq!(chosen.nonce, "c");
        assert_eq!(chosen.algorithm, Algorithm::Sha256);
        assert!(Challenge::pick(["Basic realm=\"r\""].into_iter()).is_none());
    }

    #[test]
    fn parses_the_grammar_and_refuses_what_it_must() {
        let challenge = Challenge::parse(
            "digest  REALM = \"a \\\"q\\\" b\" ,nonce=tok123,stale=TRUE , qop=\"auth\"",
        )
        .unwrap();
        assert_eq!(challenge.realm, "a \"q\" b");
        assert_eq!(challenge.nonce, "tok123");
        assert!(challenge.stale);
        assert_eq!(
            Challenge::parse("Digest realm=\"r\""),
            Err(DigestError::Missing("nonce"))
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""),
            Err(DigestError::UnsupportedQop)
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"unterminated"),
            Err(DigestError::Malformed)
        );
        assert_eq!(
            Challenge::parse("Digest realm"),
            Err(DigestError::Malformed)
        );
        assert_eq!(
            Challenge::parse("Basic realm=\"r\""),
            Err(DigestError::NotDigest)
        );
        assert_eq!(Challenge::parse(""), Err(DigestError::NotDigest));
    }

    #[test]
    fn a_407_is_answered_in_proxy_authorization_and_only_stale_nonces_twice() {
        let mut headers = crate::sip::message::HeaderMap::default();
        headers.push(
            Name::PROXY_AUTHENTICATE,
            "Digest realm=\"r\", nonce=\"n\"".into(),
        );
        let (name, challenge) = challenge_of(407, &headers).unwrap();
        assert_eq!(name, Name::PROXY_AUTHORIZATION);
        assert!(
            challenge_of(401, &headers).is_none(),
            "a 401 reads WWW-Authenticate"
        );
        assert!(may_answer(0, &challenge));
        assert!(!may_answer(1, &challenge));
        let stale = Challenge {
            stale: true,
            ..challenge
        };
        assert!(may_answer(2, &stale));
        assert!(!may_answer(3, &stale));
    }

    #[test]
    fn quotes_what_it_writes() {
        let challenge = Challenge::parse("Digest realm=\"r\\\"x\", nonce=\"n\"").unwrap();
        let value = challenge.answer(
            &Credentials {
                username: "a\"b".into(),
                password: "p".into(),
            },
            "INVITE",
            "sip:x",
            "c",
            1,
        );
        assert!(value.contains("username=\"a\\\"b\""));
        assert!(value.contains("realm=\"r\\\"x\""));
    }
}
