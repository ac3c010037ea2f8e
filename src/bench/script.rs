//! What every generated call does once answered: the keys it presses and
//! when, how it sends them, how it ends, and what it expects to hear.
//!
//! Times are offsets from the answer (the 200 OK). The command line spells a
//! press `KEYS@SECONDS` (`1@7.0`).

use std::time::Duration;

/// How keys are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// RFC 4733 telephone-events (in-band when the far end offered none).
    Rfc4733,
    /// Dual tones in the G.711 audio.
    Inband,
}

impl std::str::FromStr for DtmfMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rfc4733" | "rfc2833" => Ok(DtmfMode::Rfc4733),
            "inband" => Ok(DtmfMode::Inband),
            other => Err(format!("expected rfc4733 or inband, got {other:?}")),
        }
    }
}

/// Keys pressed at one moment of the call.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Press {
    /// The keys (`0`–`9`, `*`, `#`, `A`–`D`).
    pub keys: String,
    /// When, after the answer.
    #[serde(serialize_with = "as_seconds")]
    pub at: Duration,
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Parses `KEYS@SECONDS`.
pub fn parse_press(text: &str) -> Result<Press, String> {
    let (keys, at) = text
        .split_once('@')
        .ok_or_else(|| format!("expected KEYS@SECONDS (like 1@7.0), got {text:?}"))?;
    if keys.is_empty() {
        return Err(format!("no keys before @ in {text:?}"));
    }
    if let Some(bad) = keys
        .chars()
        .find(|c| !matches!(c.to_ascii_uppercase(), '0'..='9' | '*' | '#' | 'A'..='D'))
    {
        return Err(format!("{bad:?} in {text:?} is not a DTMF key"));
    }
    let seconds: f64 = at
        .parse()
        .map_err(|_| format!("{at:?} in {text:?} is not a number of seconds"))?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{at:?} in {text:?} is not a time after the answer"));
    }
    Ok(Press {
        keys: keys.to_string(),
        at: Duration::from_secs_f64(seconds),
    })
}

/// The script every call runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CallScript {
    /// Keys to press, in time order.
    pub presses: Vec<Press>,
    /// How keys are sent.
    pub dtmf: DtmfMode,
    /// How long each key sounds.
    #[serde(serialize_with = "as_seconds")]
    pub tone: Duration,
    /// Hang up this long after the answer; `None`: wait for the far end's BYE.
    #[serde(serialize_with = "optional_seconds")]
    pub hangup_after: Option<Duration>,
    /// A call still up this long after the answer has failed (and is hung up).
    #[serde(serialize_with = "as_seconds")]
    pub max_call: Duration,
    /// The prompts expected, in order (catalog ids); empty: not checked.
    pub expect: Vec<String>,
}

fn optional_seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl CallScript {
    /// The demo flow's caller: waits through welcome and menu, presses 1,
    /// hears sales and goodbye, and is hung up on.
    pub fn demo() -> CallScript {
        CallScript {
            presses: vec![Press {
                keys: "1".into(),
                at: Duration::from_millis(7000),
            }],
            dtmf: DtmfMode::Rfc4733,
            tone: Duration::from_millis(100),
            hangup_after: None,
            max_call: Duration::from_secs(30),
            expect: ["welcome", "menu", "sales", "goodbye"]
                .map(String::from)
                .to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presses_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_press("1@7.5"),
            Ok(Press {
                keys: "1".into(),
                at: Duration::from_millis(7500)
            })
        );
        assert_eq!(parse_press("12#@0").map(|p| p.keys), Ok("12#".into()));
        assert!(parse_press("1").unwrap_err().contains("KEYS@SECONDS"));
        assert!(parse_press("x@1").unwrap_err().contains("not a DTMF key"));
        assert!(parse_press("1@soon").unwrap_err().contains("not a number"));
        assert!(parse_press("1@-2").unwrap_err().contains("not a time"));
        assert!(parse_press("@2").unwrap_err().contains("no keys"));
    }
}
