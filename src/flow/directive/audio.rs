//! [`Audio`]: what a play or gather command asks the media side to play,
//! after templating. The media side resolves it: a catalog prompt by id, a
//! `Speak` whose text matches a catalog prompt's text plays that prompt (else
//! the text is synthesized, in its language and voice), a URL it can fetch, or
//! a beep tone.

use serde::Serialize;

/// One piece of audio. JSON: `{"catalog":"welcome"}`,
/// `{"speak":{"text":"Hello","language":"en-US"}}`, `{"url":"https://…"}`, `"beep"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audio {
    /// A prompt of the catalog, by id.
    Catalog(String),
    /// Text to speak, with an optional language (`en-US`) and voice.
    Speak {
        /// The words to say; the catalog prompt with this text is played.
        text: String,
        /// The language the flow asked for (`en-US`); synthesis speaks it, the
        /// catalog lookup does not use it.
        #[serde(skip_serializing_if = "Option::is_none")]
        language: Option<String>,
        /// The voice the flow asked for; synthesis uses it, the catalog lookup does not.
        #[serde(skip_serializing_if = "Option::is_none")]
        voice: Option<String>,
    },
    /// An audio file by URL.
    Url(String),
    /// A short beep tone.
    Beep,
}

impl Audio {
    /// A catalog prompt.
    pub fn catalog(id: impl Into<String>) -> Audio {
        Audio::Catalog(id.into())
    }

    /// Text to speak in no particular language.
    pub fn speak(text: impl Into<String>) -> Audio {
        Audio::Speak {
            text: text.into(),
            language: None,
            voice: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_compactly() {
        let shown = serde_json::to_value([
            Audio::catalog("welcome"),
            Audio::Speak {
                text: "Hi".into(),
                language: Some("en-US".into()),
                voice: None,
            },
            Audio::Url("https://x/a.wav".into()),
            Audio::Beep,
        ])
        .unwrap();
        assert_eq!(
            shown,
            json!([{"catalog": "welcome"}, {"speak": {"text": "Hi", "language": "en-US"}},
                   {"url": "https://x/a.wav"}, "beep"])
        );
        assert_eq!(
            Audio::speak("x"),
            Audio::Speak {
                text: "x".into(),
                language: None,
                voice: None
            }
        );
    }
}
