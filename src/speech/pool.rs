//! The speech workers: a few threads taking [`SpeechRequest`]s from a bounded
//! queue, each answered through the reply the submitter gave (a shard's reply
//! posts the prompt back into its inbox as an input to the call).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{SpeechError, SpeechRequest, Synthesizer};
use crate::media::Prompt;

/// Where a result goes; called on a worker thread.
pub type SpeechReply = Box<dyn FnOnce(Result<Arc<Prompt>, SpeechError>) + Send>;

/// One queued request.
struct Job {
    /// What to say.
    request: SpeechRequest,
    /// Where the result goes.
    reply: SpeechReply,
}

/// The pool's cloneable handle.
#[derive(Clone)]
pub struct SpeechPool {
    /// The queue.
    sender: SyncSender<Job>,
    /// Its bound (for the error).
    capacity: usize,
    /// The synthesizer the workers share.
    synthesizer: Arc<Synthesizer>,
}

/// The pool's threads; they end when every [`SpeechPool`] handle is dropped.
pub struct SpeechWorkers {
    /// The worker threads.
    threads: Vec<JoinHandle<()>>,
}

impl SpeechWorkers {
    /// Waits for the workers to finish (drop the pool handles first).
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

impl SpeechPool {
    /// Starts `workers` threads over `synthesizer` with a queue of `capacity`.
    pub fn start(
        synthesizer: Arc<Synthesizer>,
        workers: usize,
        capacity: usize,
    ) -> std::io::Result<(SpeechPool, SpeechWorkers)> {
        let (sender, receiver) = sync_channel::<Job>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let mut threads = Vec::new();
        for index in 0..workers.max(1) {
            let receiver = Arc::clone(&receiver);
            let synthesizer = Arc::clone(&synthesizer);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("speech-{index}"))
                    .spawn(move || work(&receiver, &synthesizer))?,
            );
        }
        let pool = SpeechPool {
            sender,
            capacity,
            synthesizer,
        };
        Ok((pool, SpeechWorkers { threads }))
    }

    /// The shared synthesizer (for its counters).
    pub fn synthesizer(&self) -> &Arc<Synthesizer> {
        &self.synthesizer
    }

    /// Queues `request`; `reply` gets the result on a worker. When the queue is
    /// full or the pool stopped, `reply` gets the error at once, here.
    pub fn submit(&self, request: SpeechRequest, reply: SpeechReply) {
        if let Err((error, reply)) = self.try_submit(request, reply) {
            reply(Err(error));
        }
    }

    /// Queues `request` as [`SpeechPool::submit`] does, but hands a refused
    /// `reply` back with the error instead of calling it (a shard answers its
    /// own call at once rather than posting into its own inbox).
    pub fn try_submit(
        &self,
        request: SpeechRequest,
        reply: SpeechReply,
    ) -> Result<(), (SpeechError, SpeechReply)> {
        match self.sender.try_send(Job { request, reply }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) => Err((SpeechError::QueueFull(self.capacity), job.reply)),
            Err(TrySendError::Disconnected(job)) => Err((SpeechError::Stopped, job.reply)),
        }
    }
}

/// One worker: takes jobs until the queue closes.
fn work(receiver: &Mutex<Receiver<Job>>, synthesizer: &Synthesizer) {
    loop {
        let job = {
            let receiver = receiver
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            receiver.recv()
        };
        let Ok(job) = job else { return };
        let started = std::time::Instant::now();
        let result = synthesizer.speak_from(&job.request);
        match &result {
            Ok((prompt, source)) => log::info!(
                "speech: {} ms of {:?} from {}, in {} ms",
                prompt.duration().as_millis(),
                job.request.text,
                source.as_str(),
                started.elapsed().as_millis()
            ),
            Err(err) => log::warn!("speech: {:?}: {err}", job.request.text),
        }
        (job.reply)(result.map(|(prompt, _)| prompt));
    }
}
