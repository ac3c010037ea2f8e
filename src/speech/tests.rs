//! The synthesizer and its pool against the real espeak-ng
//! (scripts/install-test-deps.sh installs it).

use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

use super::*;

fn engine() -> Espeak {
    Espeak::probe("espeak-ng", DEFAULT_TIMEOUT).expect("espeak-ng is installed")
}

fn request(text: &str, language: Option<&str>) -> SpeechRequest {
    SpeechRequest {
        text: text.into(),
        language: language.map(Into::into),
        voice: None,
    }
}

/// Share of 20 ms frames whose RMS is above −40 dBFS.
fn voiced_share(prompt: &Prompt) -> f64 {
    let frames: Vec<f64> = prompt
        .samples()
        .chunks(160)
        .map(|frame| {
            (frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame.len() as f64).sqrt()
        })
        .collect();
    frames.iter().filter(|&&rms| rms > 328.0).count() as f64 / frames.len() as f64
}

#[test]
fn a_sentence_is_spoken_then_served_from_memory_then_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskCache::open(dir.path().join("speech")).unwrap();
    let synthesizer = Synthesizer::new(engine(), 8, Some(disk.clone()));
    let sentence = request(
        "Thank you for calling, your order has shipped today.",
        Some("en-US"),
    );
    let (first, source) = synthesizer.speak_from(&sentence).unwrap();
    assert_eq!(source, Source::Engine);
    // Nine words of espeak-ng at its default 175 words a minute: about 3 s.
    let duration = first.duration();
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(6)).contains(&duration),
        "{duration:?}"
    );
    assert!(voiced_share(&first) > 0.5, "mostly speech");
    assert_eq!(first.text(), Some(sentence.text.as_str()));
    assert!(first.opus_packets() > 0);

    let (again, source) = synthesizer.speak_from(&sentence).unwrap();
    assert_eq!(source, Source::Memory);
    assert!(Arc::ptr_eq(&first, &again), "one shared prompt, no copy");

    // A new process (a restart) finds it on disk, sample for sample.
    let restarted = Synthesizer::new(engine(), 8, Some(disk));
    let (reloaded, source) = restarted.speak_from(&sentence).unwrap();
    assert_eq!(source, Source::Disk);
    assert_eq!(reloaded.samples(), first.samples());
    assert_eq!(restarted.engine_runs(), 0);
    assert_eq!(synthesizer.engine_runs(), 1);
    // Nothing temporary is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("speech"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".wav"));
}

#[test]
fn languages_pick_their_voices_and_bad_requests_fail_clearly() {
    let synthesizer = Synthesizer::new(engine(), 8, None);
    let german = synthesizer
        .speak(&request("Guten Tag", Some("de-DE")))
        .unwrap();
    let french = synthesizer
        .speak(&request("Guten Tag", Some("fr-FR")))
        .unwrap();
    assert_ne!(german.samples(), french.samples(), "two voices, two keys");
    assert!(matches!(
        synthesizer.speak(&request("hello", Some("tlh-KL"))),
        Err(SpeechError::Language(_))
    ));
    assert!(matches!(
        synthesizer.speak(&request("   ", None)),
        Err(SpeechError::Text(_))
    ));
    let long = "a ".repeat(MAX_TEXT_BYTES);
    assert!(matches!(
        synthesizer.speak(&request(&long, None)),
        Err(SpeechError::Text(_))
    ));
    assert!(Espeak::probe("/nonexistent/espeak-ng", DEFAULT_TIMEOUT).is_err());
}

#[test]
fn an_overrunning_engine_is_stopped_at_its_deadline() {
    let impatient = Espeak::probe("espeak-ng", Duration::from_millis(1)).unwrap();
    let synthesizer = Synthesizer::new(impatient, 8, None);
    let text =
        "This sentence is long enough that nobody synthesizes it in a millisecond. ".repeat(20);
    assert!(matches!(
        synthesizer.speak(&request(&text, None)),
        Err(SpeechError::Timeout(_))
    ));
}

#[test]
fn the_pool_answers_off_the_caller_and_refuses_past_its_bound() {
    let synthesizer = Arc::new(Synthesizer::new(engine(), 8, None));
    let (pool, workers) = SpeechPool::start(Arc::clone(&synthesizer), 2, 4).unwrap();
    let (sender, results) = channel();
    for text in ["one", "two", "three"] {
        let sender = sender.clone();
        pool.submit(
            request(text, None),
            Box::new(move |result| {
                let _ = sender.send((text, result));
            }),
        );
    }
    let mut answered = Vec::new();
    for _ in 0..3 {
        let (text, result) = results.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(
            result.unwrap().duration() > Duration::from_millis(100),
            "{text}"
        );
        answered.push(text);
    }
    answered.sort_unstable();
    assert_eq!(answered, ["one", "three", "two"]);
    drop(pool);
    workers.join();

    // A pool of zero capacity (a rendezvous queue) with its worker busy refuses.
    let (busy, busy_workers) = SpeechPool::start(synthesizer, 1, 0).unwrap();
    let (sender, results) = channel();
    for _ in 0..3 {
        let sender = sender.clone();
        busy.submit(
            request("a busy line", None),
            Box::new(move |result| {
                let _ = sender.send(result);
            }),
        );
    }
    let outcomes: Vec<_> = (0..3)
        .map(|_| results.recv_timeout(Duration::from_secs(30)).unwrap())
        .collect();
    assert!(
        outcomes
            .iter()
            .any(|r| matches!(r, Err(SpeechError::QueueFull(0)))),
        "{outcomes:?}"
    );
    drop(busy);
    busy_workers.join();
}
