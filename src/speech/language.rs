//! Which espeak-ng voice speaks a flow's `language` and `voice`: a BCP 47 tag
//! (`en-US`, `de-DE`, `pt_BR`) is matched against the voices espeak-ng lists,
//! first exactly, then by its language alone, then by the first regional voice
//! of that language; `voice` picks an espeak-ng variant (`female`, `male`, or a
//! variant's own name such as `f2` or `klatt`). Pure: the lists come in.

/// The language spoken when a flow names none.
pub const DEFAULT_LANGUAGE: &str = "en-US";

/// The espeak-ng voice argument (`en-us`, `de+f3`) for a flow's language and
/// voice, or why there is none. `languages` are espeak-ng's language codes
/// (lower case, as `espeak-ng --voices` prints them), `variants` its variant
/// names. An unknown `voice` falls back to the language's own voice (flows name
/// provider voices such as `Polly.Joanna` that mean nothing here); an unknown
/// language is an error.
pub fn espeak_voice(
    language: Option<&str>,
    voice: Option<&str>,
    languages: &[String],
    variants: &[String],
) -> Result<String, String> {
    let tag = language
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .unwrap_or(DEFAULT_LANGUAGE)
        .replace('_', "-")
        .to_ascii_lowercase();
    let primary = tag.split('-').next().unwrap_or(&tag).to_owned();
    let has = |code: &str| languages.iter().any(|known| known == code);
    let chosen = if has(&tag) {
        tag.clone()
    } else if has(&primary) {
        primary.clone()
    } else if let Some(regional) = languages
        .iter()
        .find(|known| known.starts_with(&format!("{primary}-")))
    {
        regional.clone()
    } else {
        return Err(format!("no espeak-ng voice speaks language {tag:?}"));
    };
    let variant = voice
        .map(|voice| voice.trim().to_ascii_lowercase())
        .and_then(|voice| match voice.as_str() {
            "female" | "woman" | "f" => Some("f3".to_owned()),
            "male" | "man" | "m" => Some("m3".to_owned()),
            other if variants.iter().any(|known| known == other) => Some(other.to_owned()),
            _ => None,
        });
    Ok(match variant {
        Some(variant) => format!("{chosen}+{variant}"),
        None => chosen,
    })
}

/// The language codes of `espeak-ng --voices` output (second column), lower case.
pub fn parse_voice_list(listing: &str) -> Vec<String> {
    listing
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The variant names of `espeak-ng --voices=variant` output (`variant/f2` in the
/// file column gives `f2`).
pub fn parse_variant_list(listing: &str) -> Vec<String> {
    listing
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().find(|w| w.starts_with("variant/")))
        .filter_map(|file| file.strip_prefix("variant/"))
        .map(str::to_ascii_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn tags_map_exactly_then_by_language_then_by_region() {
        let languages = list(&["en-gb", "en-us", "de", "fr-fr", "fr-be", "pt-br", "pt"]);
        let variants = list(&["f2", "klatt"]);
        let voice =
            |lang: Option<&str>, v: Option<&str>| espeak_voice(lang, v, &languages, &variants);
        assert_eq!(voice(Some("en-US"), None).unwrap(), "en-us");
        assert_eq!(voice(Some("en_GB"), None).unwrap(), "en-gb");
        assert_eq!(voice(Some("de-DE"), None).unwrap(), "de");
        assert_eq!(voice(Some("fr-FR"), None).unwrap(), "fr-fr");
        assert_eq!(voice(Some("fr-CA"), None).unwrap(), "fr-fr");
        assert_eq!(voice(Some("pt-PT"), None).unwrap(), "pt");
        assert_eq!(voice(None, None).unwrap(), "en-us");
        assert_eq!(voice(Some("  "), None).unwrap(), "en-us");
        assert_eq!(voice(Some("de-DE"), Some("female")).unwrap(), "de+f3");
        assert_eq!(voice(Some("en-US"), Some("Klatt")).unwrap(), "en-us+klatt");
        assert_eq!(voice(Some("en-US"), Some("Polly.Joanna")).unwrap(), "en-us");
        let error = voice(Some("tlh-KL"), None).unwrap_err();
        assert!(error.contains("\"tlh-kl\""), "{error}");
    }

    #[test]
    fn voice_listings_parse() {
        let voices = "Pty Language       Age/Gender VoiceName          File                 Other Languages\n \
                      5  af              --/M      Afrikaans          gmw/af\n \
                      2  en-us           --/M      English_(America)  gmw/en-US\n";
        assert_eq!(parse_voice_list(voices), list(&["af", "en-us"]));
        let variants = "Pty Language       Age/Gender VoiceName          File                 Other Languages\n \
                        5  variant          --/F      Female_2           variant/f2\n";
        assert_eq!(parse_variant_list(variants), list(&["f2"]));
    }
}
