//! Flow engine benchmarks: the cost of one pure-logic step (a setVar →
//! condition chain, reported per node) and of one menu round (start → gather →
//! digits → next command).

use std::hint::black_box;
use std::sync::Arc;

use callplane::flow::{load_flow_json, CallFacts, Directive, FlowEnv, Outcome, Program, Session};
use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Pairs of (variable_set, condition_variable) actions, then a hangup.
const PAIRS: usize = 100;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn load(json: &str) -> Arc<Program> {
    match load_flow_json(json) {
        Ok(loaded) => loaded.program,
        Err(error) => panic!("{error}"),
    }
}

fn chain() -> Arc<Program> {
    let mut actions = Vec::new();
    for index in 0..PAIRS {
        actions.push(format!(
            r#"{{"type": "variable_set", "option": {{"key": "counter", "value": "{index}"}}}}"#
        ));
        actions.push(format!(
            r#"{{"type": "condition_variable", "option": {{"variable": "counter", "value_type": "number",
                 "condition": "<=", "value_number": {index}, "false_target_id": "bye"}}}}"#
        ));
    }
    actions.push(r#"{"id": "bye", "type": "hangup"}"#.to_owned());
    load(&format!(
        r#"{{"id": "chain", "actions": [{}]}}"#,
        actions.join(",")
    ))
}

const MENU: &str = r#"{"id": "menu", "version": 1, "start": "menu",
  "nodes": [
    {"id": "menu", "type": "menu", "data": {"kind": "menu", "promptId": "menu", "maxDigits": 1}},
    {"id": "sales", "type": "play", "data": {"kind": "play", "promptId": "sales"}},
    {"id": "support", "type": "play", "data": {"kind": "play", "promptId": "support"}}
  ],
  "edges": [
    {"id": "e1", "source": "menu", "target": "sales", "sourceHandle": "digit:1"},
    {"id": "e2", "source": "menu", "target": "support", "sourceHandle": "digit:2"}
  ]}"#;

fn session(program: &Arc<Program>, env: &Arc<FlowEnv>, tracing: bool) -> Session {
    let mut session = Session::new(
        Arc::clone(program),
        Arc::clone(env),
        CallFacts::new("+15550001111", "+15559990000", "bench"),
        None,
    );
    session.set_tracing(tracing);
    session
}

fn pure_steps(c: &mut Criterion) {
    let program = chain();
    let env = Arc::new(FlowEnv::new());
    let mut group = c.benchmark_group("pure_step");
    group.throughput(Throughput::Elements((2 * PAIRS + 1) as u64));
    for (name, tracing) in [("untraced", false), ("traced", true)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || session(&program, &env, tracing),
                |mut session| {
                    let directive = session.start(black_box(now()));
                    debug_assert!(matches!(directive, Directive::Execute(_)));
                    black_box((directive, session))
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn menu_round(c: &mut Criterion) {
    let program = load(MENU);
    let env = Arc::new(FlowEnv::new());
    c.bench_function("menu_round", |b| {
        b.iter_batched(
            || session(&program, &env, true),
            |mut session| {
                let gather = session.start(black_box(now()));
                let next = session.resume(black_box(Outcome::Digits("1".to_owned())), now());
                black_box((gather, next, session))
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, pure_steps, menu_round);
criterion_main!(benches);
