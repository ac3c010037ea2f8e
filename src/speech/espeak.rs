//! The espeak-ng command line as a speech engine: one process per sentence,
//! the text on its standard input, the WAV into a file (espeak-ng's header is
//! only complete when it can seek back), killed if it overruns its deadline.
//!
//! The command line rather than an FFI to libespeak-ng: the library keeps one
//! global synthesizer per process (its API is not reentrant), so parallel
//! workers would serialise on it, and a crash in it would take the server down;
//! a process costs a few milliseconds next to the synthesis itself, and a
//! cached sentence costs none.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::language::{espeak_voice, parse_variant_list, parse_voice_list};
use super::SpeechError;

/// How often a running synthesis is checked for its end.
const POLL: Duration = Duration::from_millis(2);

/// espeak-ng, found and asked for its voices once.
#[derive(Clone, Debug)]
pub struct Espeak {
    /// The program run.
    program: PathBuf,
    /// Its version line (part of the cache key: a new version sounds different).
    version: String,
    /// Language codes it speaks.
    languages: Vec<String>,
    /// Its voice variants.
    variants: Vec<String>,
    /// Longest synthesis allowed.
    timeout: Duration,
}

impl Espeak {
    /// Probes `program` (`espeak-ng` is looked up in `PATH`).
    pub fn probe(program: impl Into<PathBuf>, timeout: Duration) -> Result<Espeak, SpeechError> {
        let program = program.into();
        let run = |args: &[&str]| -> Result<String, SpeechError> {
            let output = Command::new(&program)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .map_err(|err| {
                    SpeechError::Engine(format!("cannot run {}: {err}", program.display()))
                })?;
            if !output.status.success() {
                return Err(SpeechError::Engine(format!(
                    "{} {}: {}",
                    program.display(),
                    args.join(" "),
                    output.status
                )));
            }
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        };
        let version = run(&["--version"])?.trim().to_owned();
        let languages = parse_voice_list(&run(&["--voices"])?);
        let variants = parse_variant_list(&run(&["--voices=variant"])?);
        if languages.is_empty() {
            return Err(SpeechError::Engine(format!(
                "{} lists no voices",
                program.display()
            )));
        }
        Ok(Espeak {
            program,
            version,
            languages,
            variants,
            timeout,
        })
    }

    /// The version line the engine printed.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The espeak-ng voice for a flow's language and voice.
    pub fn voice(
        &self,
        language: Option<&str>,
        voice: Option<&str>,
    ) -> Result<String, SpeechError> {
        espeak_voice(language, voice, &self.languages, &self.variants)
            .map_err(SpeechError::Language)
    }

    /// Speaks `text` with `voice` into the WAV file `out`; returns its bytes.
    pub fn synthesize(&self, text: &str, voice: &str, out: &Path) -> Result<Vec<u8>, SpeechError> {
        let started = Instant::now();
        let mut child = Command::new(&self.program)
            .args(["-b", "1", "-v", voice, "--stdin", "-w"])
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| {
                SpeechError::Engine(format!("cannot run {}: {err}", self.program.display()))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // Dropping stdin closes it: espeak-ng speaks up to end of input.
            if let Err(err) = stdin.write_all(text.as_bytes()) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SpeechError::Engine(format!(
                    "writing the text to espeak-ng: {err}"
                )));
            }
        }
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = std::fs::remove_file(out);
                    return Err(SpeechError::Timeout(self.timeout));
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(err) => {
                    return Err(SpeechError::Engine(format!("waiting for espeak-ng: {err}")))
                }
            }
        };
        if !status.success() {
            let mut detail = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut detail);
            }
            let _ = std::fs::remove_file(out);
            return Err(SpeechError::Engine(format!(
                "espeak-ng -v {voice}: {status}: {}",
                detail.trim()
            )));
        }
        let bytes = std::fs::read(out)
            .map_err(|err| SpeechError::Engine(format!("reading {}: {err}", out.display())));
        let _ = std::fs::remove_file(out);
        bytes
    }
}
