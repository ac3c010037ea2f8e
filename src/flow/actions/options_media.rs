//! `option` of the action types that talk to the caller: answer, talk, play,
//! beep, digits_receive, digits_send, recording_start/stop, sleep, hangup.

use crate::flow::actions::entry::ActionRead;
use crate::flow::program::{
    AudioTemplate, GatherSpec, PlayStep, RecordStart, RecordStep, SendDigitsStep, Step,
};
use crate::flow::read::{item, template_at, Fields, Read, Reported, Sink};

/// Default `duration` (ms) of digits_receive.
pub(super) const DEFAULT_DIGITS_DURATION_MS: u32 = 5000;
/// Default `duration` (ms of each tone) of digits_send.
pub(super) const DEFAULT_TONE_MS: u32 = 250;
/// Default `interval` (ms between tones) of digits_send.
pub(super) const DEFAULT_TONE_GAP_MS: u32 = 100;

fn step(step: Step) -> Read<ActionRead> {
    Ok(ActionRead::new(step))
}

/// `answer`: no options. A call that cannot be answered ends the flow.
pub(crate) fn read_answer(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&[], &mut sink.warnings);
    let mut read = ActionRead::new(Step::Answer);
    read.failure_continues = false;
    Ok(read)
}

/// `beep`: no options.
pub(crate) fn read_beep(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&[], &mut sink.warnings);
    step(Step::Play(PlayStep {
        audio: vec![AudioTemplate::Beep],
        times: 1,
    }))
}

/// `talk`: `text` (required), `language`, `voice` (or VoIPBIN's `gender`).
pub(crate) fn read_talk(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(
        &["text", "language", "voice", "gender", "digits_handle"],
        &mut sink.warnings,
    );
    let text = option.required_template("text", &mut sink.errors);
    let language = option.optional_template("language", &mut sink.errors);
    let voice = match option.present("voice") {
        Some(_) => option.optional_template("voice", &mut sink.errors),
        None => option.optional_template("gender", &mut sink.errors),
    };
    step(Step::Play(PlayStep {
        audio: vec![AudioTemplate::Speak {
            text: text?,
            language: language?,
            voice: voice?,
        }],
        times: 1,
    }))
}

/// `play`: `stream_urls` (a non-empty list of URLs).
pub(crate) fn read_play(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["stream_urls", "digits_handle"], &mut sink.warnings);
    let urls = option.required_array("stream_urls", &mut sink.errors)?;
    if urls.is_empty() {
        sink.error(option.path_of("stream_urls"), "expected at least one URL");
        return Err(Reported);
    }
    let mut audio = Vec::new();
    let mut failed = false;
    for (index, url) in urls.iter().enumerate() {
        let path = item(&option.path_of("stream_urls"), index);
        match url.as_str().filter(|url| !url.is_empty()) {
            Some(url) => match template_at(url, &path, &mut sink.errors) {
                Ok(url) => audio.push(AudioTemplate::Url(url)),
                Err(Reported) => failed = true,
            },
            None => {
                sink.error(path, "expected a non-empty string");
                failed = true;
            }
        }
    }
    if failed {
        return Err(Reported);
    }
    step(Step::Play(PlayStep { audio, times: 1 }))
}

/// `digits_receive`: `duration` (ms, 5000), `length` (1), `key` (a terminating key).
pub(crate) fn read_digits_receive(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["duration", "length", "key"], &mut sink.warnings);
    let duration = option.millis_or("duration", 1, DEFAULT_DIGITS_DURATION_MS, &mut sink.errors);
    let length = option.integer_or("length", 1, 1, &mut sink.errors);
    let key = option.dtmf_key("key", &mut sink.errors);
    let duration = duration?;
    step(Step::DigitsReceive(GatherSpec {
        audio: Vec::new(),
        max_digits: length?,
        timeout: duration,
        terminator: key?,
        interdigit_timeout: duration,
    }))
}

/// `digits_send`: `digits` (required), `duration` (ms per tone), `interval` (ms between).
pub(crate) fn read_digits_send(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["digits", "duration", "interval"], &mut sink.warnings);
    let digits = option.required_template("digits", &mut sink.errors);
    let tone = option.millis_or("duration", 1, DEFAULT_TONE_MS, &mut sink.errors);
    let gap = option.millis_or("interval", 0, DEFAULT_TONE_GAP_MS, &mut sink.errors);
    step(Step::SendDigits(SendDigitsStep {
        digits: digits?,
        tone: tone?,
        gap: gap?,
    }))
}

/// `recording_start`: `format`, `end_of_silence` (s), `end_of_key`, `duration`
/// (s, the longest recording), `beep_start`, `channels` (`mono`, the default,
/// or `dual`: the caller left, a bridge's other party right).
pub(crate) fn read_recording_start(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(
        &[
            "format",
            "end_of_silence",
            "end_of_key",
            "duration",
            "beep_start",
            "channels",
        ],
        &mut sink.warnings,
    );
    let format = option.one_of("format", &["wav", "mp3", "ogg", ""], "", &mut sink.errors);
    let end_of_silence = option.optional_seconds("end_of_silence", 1, &mut sink.errors);
    let end_of_key = option.dtmf_key("end_of_key", &mut sink.errors);
    let max_duration = option.optional_seconds("duration", 1, &mut sink.errors);
    let beep = option.bool_or("beep_start", false, &mut sink.errors);
    let channels = option.one_of("channels", &["mono", "dual", ""], "", &mut sink.errors);
    step(Step::Record(RecordStep::Start(RecordStart {
        dual: channels? == "dual",
        format: Some(format?)
            .filter(|format| !format.is_empty())
            .map(str::to_owned),
        max_duration: max_duration?,
        end_of_silence: end_of_silence?,
        end_of_key: end_of_key?,
        beep: beep?,
    })))
}

/// `recording_stop`: no options.
pub(crate) fn read_recording_stop(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&[], &mut sink.warnings);
    step(Step::Record(RecordStep::Stop))
}

/// `sleep`: `duration` (ms, required).
pub(crate) fn read_sleep(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["duration"], &mut sink.warnings);
    let millis = option.required_integer("duration", 0, &mut sink.errors)?;
    step(Step::Sleep(std::time::Duration::from_millis(u64::from(
        millis,
    ))))
}

/// `block`: no options; the flow waits until the API resumes it.
pub(crate) fn read_block(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&[], &mut sink.warnings);
    step(Step::Block)
}

/// `hangup`: optional `reason` and `sip_status` (400–699: the status a call
/// not yet answered is refused with).
pub(crate) fn read_hangup(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(
        &["reason", "reference_id", "sip_status"],
        &mut sink.warnings,
    );
    let reason = option.optional_template("reason", &mut sink.errors);
    let sip_status = option.optional_sip_status("sip_status", &mut sink.errors);
    let mut read = ActionRead::new(Step::Hangup {
        reason: reason?,
        sip_status: sip_status?,
    });
    read.continues = false;
    read.failure_continues = false;
    Ok(read)
}
