//! Free-text speech a flow asks for (`say`, `talk`, `promptText` whose text no
//! catalog prompt speaks), as data: the call describes the utterance, the IO
//! shell has it synthesized off the shard, and the prompt (or why there is
//! none) comes back as an input tagged with the request's number.

use std::sync::Arc;

use crate::media::Prompt;

/// One utterance a call waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpeechWanted {
    /// The call's number for this request; the answer carries it back.
    pub id: u64,
    /// The words, templates already expanded.
    pub text: String,
    /// The flow's language (`en-US`), if any.
    pub language: Option<String>,
    /// The flow's voice, if any.
    pub voice: Option<String>,
}

/// What came back: the spoken prompt, or why there is none.
pub type SpeechResult = Result<Arc<Prompt>, String>;
