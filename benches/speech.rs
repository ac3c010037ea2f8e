//! Free-text speech: a 10-word sentence synthesized by espeak-ng and turned into
//! a prompt (cold: the engine runs every time), served from the in-memory cache,
//! and read back from the disk cache (a restart's first call).

use std::time::Duration;

use callplane::speech::{DiskCache, Espeak, SpeechRequest, Synthesizer, DEFAULT_TIMEOUT};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const SENTENCE: &str = "Thank you for calling, all of our agents are busy.";

fn speech(c: &mut Criterion) {
    let engine = match Espeak::probe("espeak-ng", DEFAULT_TIMEOUT) {
        Ok(engine) => engine,
        Err(err) => {
            eprintln!("speech bench skipped: {err}");
            return;
        }
    };
    let request = SpeechRequest {
        text: SENTENCE.into(),
        language: Some("en-US".into()),
        voice: None,
    };
    let mut group = c.benchmark_group("speech");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));

    let cold = Synthesizer::new(engine.clone(), 0, None);
    group.bench_function("10 words cold (espeak-ng + resample + encode)", |b| {
        b.iter(|| black_box(cold.speak(black_box(&request)).expect("speech")))
    });

    let cached = Synthesizer::new(engine.clone(), 16, None);
    cached.speak(&request).expect("speech");
    group.bench_function("10 words from the memory cache", |b| {
        b.iter(|| black_box(cached.speak(black_box(&request)).expect("speech")))
    });

    let dir = std::env::temp_dir().join(format!("callplane-speech-bench-{}", std::process::id()));
    let disk = DiskCache::open(&dir).expect("cache dir");
    let from_disk = Synthesizer::new(engine, 0, Some(disk));
    from_disk.speak(&request).expect("speech");
    group.bench_function("10 words from the disk cache (decode + encode)", |b| {
        b.iter(|| black_box(from_disk.speak(black_box(&request)).expect("speech")))
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, speech);
criterion_main!(benches);
