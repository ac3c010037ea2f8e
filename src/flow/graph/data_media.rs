//! `data` of the node-graph kinds that talk to the caller: entry/start, play,
//! say, menu, collect, hangup. Each reader returns the node's [`Step`] and
//! records every fault at its path.

use crate::flow::digit_pattern::DigitPattern;
use crate::flow::program::{AudioTemplate, CollectStep, GatherSpec, MenuStep, PlayStep, Step};
use crate::flow::read::{Fields, Read, Reported, Sink};

/// Default `loop` of play and say.
pub(super) const DEFAULT_PLAY_LOOP: u32 = 1;
/// Default `maxDigits` of a menu.
pub(super) const DEFAULT_MENU_MAX_DIGITS: u32 = 1;
/// Default `maxDigits` of a collect.
pub(super) const DEFAULT_COLLECT_MAX_DIGITS: u32 = 20;
/// Default `timeoutSec` of menu and collect.
pub(super) const DEFAULT_TIMEOUT_SEC: u32 = 5;
/// Default `interdigitTimeoutSec` of menu and collect.
pub(super) const DEFAULT_INTERDIGIT_TIMEOUT_SEC: u32 = 3;
/// Default `maxFailures` of menu and collect.
pub(super) const DEFAULT_MAX_FAILURES: u32 = 3;
/// Default `terminator` of collect.
pub(super) const DEFAULT_COLLECT_TERMINATOR: char = '#';

const PROMPT_FIELDS: &[&str] = &["promptId", "audioUrl", "promptText", "language", "voice"];

/// `entry` takes no fields; `start` may speak `prompt` (or `promptText`).
pub(crate) fn read_entry(data: &Fields<'_>, speaks: bool, sink: &mut Sink) -> Read<Step> {
    if !speaks {
        data.warn_unknown(&["kind", "label"], &mut sink.warnings);
        return Ok(Step::Pass);
    }
    data.warn_unknown(
        &["kind", "label", "prompt", "promptText", "language", "voice"],
        &mut sink.warnings,
    );
    let text = match data.optional_template("prompt", &mut sink.errors)? {
        Some(text) => Some(text),
        None => data.optional_template("promptText", &mut sink.errors)?,
    };
    let Some(text) = text.filter(|text| text.as_literal() != Some("")) else {
        return Ok(Step::Pass);
    };
    let language = data.optional_template("language", &mut sink.errors)?;
    let voice = data.optional_template("voice", &mut sink.errors)?;
    Ok(Step::Play(PlayStep {
        audio: vec![AudioTemplate::Speak {
            text,
            language,
            voice,
        }],
        times: 1,
    }))
}

/// `play`: `promptId` | `audioUrl` | `promptText` (first given wins), `loop`.
pub(crate) fn read_play(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(
        &with(PROMPT_FIELDS, &["kind", "label", "loop"]),
        &mut sink.warnings,
    );
    let audio = main_prompt(data, true, sink);
    let times = data.integer_or("loop", 1, DEFAULT_PLAY_LOOP, &mut sink.errors);
    Ok(Step::Play(PlayStep {
        audio: audio?,
        times: times?,
    }))
}

/// `say`: `text` (or `promptText`), `language`, `voice`, `loop`.
pub(crate) fn read_say(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(
        &[
            "kind",
            "label",
            "text",
            "promptText",
            "language",
            "voice",
            "loop",
        ],
        &mut sink.warnings,
    );
    let key = if data.present("text").is_none() && data.present("promptText").is_some() {
        "promptText"
    } else {
        "text"
    };
    let text = data.required_template(key, &mut sink.errors);
    let language = data.optional_template("language", &mut sink.errors);
    let voice = data.optional_template("voice", &mut sink.errors);
    let times = data.integer_or("loop", 1, DEFAULT_PLAY_LOOP, &mut sink.errors);
    Ok(Step::Play(PlayStep {
        audio: vec![AudioTemplate::Speak {
            text: text?,
            language: language?,
            voice: voice?,
        }],
        times: times?,
    }))
}

/// `menu`: prompt (required), `maxDigits`, `timeoutSec`, `interdigitTimeoutSec`,
/// `maxFailures`, `terminator`, `invalidPromptId` / `invalidPromptText`.
pub(crate) fn read_menu(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(
        &with(
            PROMPT_FIELDS,
            &[
                "kind",
                "label",
                "maxDigits",
                "timeoutSec",
                "interdigitTimeoutSec",
                "maxFailures",
                "terminator",
                "invalidPromptId",
                "invalidPromptText",
            ],
        ),
        &mut sink.warnings,
    );
    let audio = main_prompt(data, true, sink);
    let gather = gather_fields(data, audio, DEFAULT_MENU_MAX_DIGITS, None, sink);
    let max_failures = data.integer_or("maxFailures", 1, DEFAULT_MAX_FAILURES, &mut sink.errors);
    let invalid_audio = invalid_prompt(data, sink);
    Ok(Step::Menu(MenuStep {
        gather: gather?,
        max_failures: max_failures?,
        invalid_audio: invalid_audio?,
    }))
}

/// `collect`: `variable` (required), optional prompt, `maxDigits`,
/// `minDigits`, `pattern`, `timeoutSec`, `interdigitTimeoutSec`, `terminator`,
/// `maxFailures`, `invalidPromptId` / `invalidPromptText`.
pub(crate) fn read_collect(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(
        &with(
            PROMPT_FIELDS,
            &[
                "kind",
                "label",
                "variable",
                "maxDigits",
                "minDigits",
                "pattern",
                "timeoutSec",
                "interdigitTimeoutSec",
                "terminator",
                "maxFailures",
                "invalidPromptId",
                "invalidPromptText",
            ],
        ),
        &mut sink.warnings,
    );
    let variable = data.required_string("variable", &mut sink.errors);
    let audio = main_prompt(data, false, sink);
    let gather = gather_fields(
        data,
        audio,
        DEFAULT_COLLECT_MAX_DIGITS,
        Some(DEFAULT_COLLECT_TERMINATOR),
        sink,
    );
    let min_digits = data.integer_or("minDigits", 1, 1, &mut sink.errors);
    let pattern = match data.optional_string("pattern", &mut sink.errors) {
        Ok(Some(source)) => DigitPattern::parse(&source).map(Some).map_err(|message| {
            sink.error(
                data.path_of("pattern"),
                format!("bad digit pattern: {message}"),
            );
            Reported
        }),
        Ok(None) => Ok(None),
        Err(reported) => Err(reported),
    };
    let max_failures = data.integer_or("maxFailures", 1, DEFAULT_MAX_FAILURES, &mut sink.errors);
    let invalid_audio = invalid_prompt(data, sink);
    let (gather, min_digits) = (gather?, min_digits?);
    if min_digits > gather.max_digits {
        sink.error(
            data.path_of("minDigits"),
            format!("{min_digits} is more than maxDigits {}", gather.max_digits),
        );
        return Err(Reported);
    }
    Ok(Step::Collect(CollectStep {
        gather,
        variable: variable?,
        min_digits,
        pattern: pattern?,
        max_failures: max_failures?,
        invalid_audio: invalid_audio?,
    }))
}

/// `hangup`: optional `reason` and `sipStatus` (400–699: the status a call
/// not yet answered is refused with).
pub(crate) fn read_hangup(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(
        &["kind", "label", "reason", "sipStatus"],
        &mut sink.warnings,
    );
    let reason = data.optional_template("reason", &mut sink.errors);
    let sip_status = data.optional_sip_status("sipStatus", &mut sink.errors);
    Ok(Step::Hangup {
        reason: reason?,
        sip_status: sip_status?,
    })
}

fn with(first: &[&'static str], second: &[&'static str]) -> Vec<&'static str> {
    first.iter().chain(second).copied().collect()
}

fn gather_fields(
    data: &Fields<'_>,
    audio: Read<Vec<AudioTemplate>>,
    default_max_digits: u32,
    default_terminator: Option<char>,
    sink: &mut Sink,
) -> Read<GatherSpec> {
    let max_digits = data.integer_or("maxDigits", 1, default_max_digits, &mut sink.errors);
    let timeout = data.seconds_or("timeoutSec", 1, DEFAULT_TIMEOUT_SEC, &mut sink.errors);
    let interdigit = data.seconds_or(
        "interdigitTimeoutSec",
        1,
        DEFAULT_INTERDIGIT_TIMEOUT_SEC,
        &mut sink.errors,
    );
    let terminator = data.dtmf_key("terminator", &mut sink.errors);
    Ok(GatherSpec {
        audio: audio?,
        max_digits: max_digits?,
        timeout: timeout?,
        terminator: terminator?.or(default_terminator),
        interdigit_timeout: interdigit?,
    })
}

/// The node's prompt from `promptId`, `audioUrl` or `promptText` (the first
/// given wins), with `language` and `voice` for a spoken text.
fn main_prompt(data: &Fields<'_>, required: bool, sink: &mut Sink) -> Read<Vec<AudioTemplate>> {
    let id = data.optional_template("promptId", &mut sink.errors);
    let url = data.optional_template("audioUrl", &mut sink.errors);
    let text = data.optional_template("promptText", &mut sink.errors);
    let language = data.optional_template("language", &mut sink.errors);
    let voice = data.optional_template("voice", &mut sink.errors);
    let (id, url, text, language, voice) = (id?, url?, text?, language?, voice?);
    let nonempty = |template: Option<crate::flow::template::Template>| {
        template.filter(|template| template.as_literal() != Some(""))
    };
    let audio = if let Some(id) = nonempty(id) {
        AudioTemplate::Catalog(id)
    } else if let Some(url) = nonempty(url) {
        AudioTemplate::Url(url)
    } else if let Some(text) = nonempty(text) {
        AudioTemplate::Speak {
            text,
            language,
            voice,
        }
    } else if required {
        sink.error(data.path(), "needs promptId, audioUrl or promptText");
        return Err(Reported);
    } else {
        return Ok(Vec::new());
    };
    Ok(vec![audio])
}

fn invalid_prompt(data: &Fields<'_>, sink: &mut Sink) -> Read<Vec<AudioTemplate>> {
    let id = data.optional_template("invalidPromptId", &mut sink.errors);
    let text = data.optional_template("invalidPromptText", &mut sink.errors);
    let language = data.optional_template("language", &mut sink.errors);
    Ok(match (id?, text?) {
        (Some(id), _) if id.as_literal() != Some("") => vec![AudioTemplate::Catalog(id)],
        (_, Some(text)) if text.as_literal() != Some("") => vec![AudioTemplate::Speak {
            text,
            language: language?,
            voice: None,
        }],
        _ => Vec::new(),
    })
}
