//! Property tests: arbitrary JSON never panics the loader; random event
//! scripts never panic a session and always end it within the safety limits.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::seeds::all_seed_flows;
use super::*;
use crate::flow::schedule::{Schedule, ScheduleConfig};
use crate::flow::{load_flow_value, Outcome, DEMO_FLOW_JSON, EXECUTION_LIMIT};

const KEYS: &[&str] = &[
    "id",
    "_id",
    "name",
    "version",
    "start",
    "startNodeId",
    "nodes",
    "edges",
    "type",
    "data",
    "kind",
    "source",
    "target",
    "sourceHandle",
    "flowData",
    "actions",
    "option",
    "text",
    "target_id",
    "target_ids",
    "loop_count",
    "flow_id",
    "promptId",
    "promptText",
    "maxDigits",
    "variable",
    "value",
    "key",
    "destinations",
    "queue_id",
    "on_complete_flow_id",
    "scheduleId",
    "sync",
    "uri",
];

const WORDS: &[&str] = &[
    "entry",
    "menu",
    "play",
    "say",
    "collect",
    "hangup",
    "goto",
    "branch",
    "talk",
    "answer",
    "digits_receive",
    "fetch_flow",
    "condition_variable",
    "webhook_send",
    "connect",
    "call",
    "timeCondition",
    "setVar",
    "dial",
    "enqueue",
    "digit:1",
    "a",
    "b",
    "${a}",
    "${",
    "#",
    "==",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1i64..40).prop_map(Value::from),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        proptest::sample::select(WORDS).prop_map(|word| Value::String(word.to_owned())),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |pairs| {
                    Value::Object(
                        pairs
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<_, _>>(),
                    )
                }
            ),
        ]
    })
}

/// Replaces the value at a pseudo-random position of `value` (chosen by `path`) with `new`.
fn mutate(value: &mut Value, path: &[usize], new: Value) {
    match (path.split_first(), value) {
        (Some((step, rest)), Value::Array(items)) if !items.is_empty() => {
            let len = items.len();
            if let Some(item) = items.get_mut(step % len) {
                mutate(item, rest, new);
            }
        }
        (Some((step, rest)), Value::Object(map)) if !map.is_empty() => {
            let len = map.len();
            if let Some(item) = map.values_mut().nth(step % len) {
                mutate(item, rest, new);
            }
        }
        (_, value) => *value = new,
    }
}

fn event() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Done),
        2 => Just(Outcome::Timeout),
        2 => proptest::sample::select(vec!["1", "2", "3", "#", "12#", "9", "1234#"]).prop_map(|d| Outcome::Digits(d.to_owned())),
        1 => Just(Outcome::Answered),
        1 => Just(Outcome::NoAnswer),
        1 => Just(Outcome::Busy),
        1 => Just(Outcome::BridgeEnded),
        1 => Just(Outcome::Failed("x".to_owned())),
        1 => Just(Outcome::Http { status: 200, body: r#"{"customer":{"tier":"vip","name":"A"}}"#.to_owned() }),
        1 => Just(Outcome::Http { status: 500, body: "oops".to_owned() }),
        1 => Just(Outcome::CallerHangup),
    ]
}

fn full_env() -> FlowEnv {
    let mut env = FlowEnv::new();
    for (name, loaded) in all_seed_flows() {
        env.flows.insert(name.to_owned(), loaded.program.clone());
        env.flows
            .insert(loaded.program.id().to_owned(), loaded.program);
    }
    for (key, name) in [
        ("main-menu-flow-id", "seed002_language_main_menu"),
        ("post-call-survey-flow-id", "seed002_survey_post_call"),
    ] {
        if let Some(program) = env.flows.get(name).cloned() {
            env.flows.insert(key.to_owned(), program);
        }
    }
    let config: Result<ScheduleConfig, _> = serde_json::from_value(json!({
        "id": "sch_01j0jvpe0wzc6g05bktfew0xyx", "timezone": "UTC",
        "hours": [{"days": "mon-fri", "open": "09:00", "close": "17:00"}]
    }));
    if let Some(schedule) = config
        .ok()
        .and_then(|config| Schedule::from_config(&config).ok())
    {
        env = env.with_schedule(schedule);
    }
    env
}

/// Runs `events` (then `done` forever) and checks the limits; returns whether it ended.
fn run_script(mut session: Session, events: &[Outcome], hours: u32) -> Result<(), TestCaseError> {
    let now = at(2026, 3, 2, hours % 24, 0);
    let mut directive = session.start(now);
    let script = events
        .iter()
        .cloned()
        .chain(std::iter::repeat(Outcome::Done));
    for (count, outcome) in script.enumerate() {
        if matches!(directive, Directive::End(_)) {
            break;
        }
        prop_assert!(
            count <= 2 * EXECUTION_LIMIT as usize + 10,
            "session never ended"
        );
        directive = session.resume(outcome, now);
    }
    prop_assert!(session.is_ended());
    prop_assert!(session.commands_issued() <= EXECUTION_LIMIT);
    while session.poll_trace().is_some() {}
    if let Some(next) = session.take_follow_up() {
        prop_assert!(next.complete_count() < crate::flow::ON_COMPLETE_CHAIN_LIMIT);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_the_loader(value in json_value()) {
        let _ = load_flow_value(&value);
        let _ = load_flow_value(&json!({"nodes": value.clone(), "edges": value.clone(), "id": "x", "version": 1}));
        let _ = load_flow_value(&json!({"actions": [value.clone()]}));
        let _ = load_flow_value(&json!({"_id": "r", "flowData": value}));
    }

    #[test]
    fn mutated_seed_flows_never_panic_and_run_within_limits(
        seed in 0usize..16,
        path in proptest::collection::vec(any::<usize>(), 0..7),
        replacement in json_value(),
        events in proptest::collection::vec(event(), 0..40),
        hour in 0u32..24,
    ) {
        let flows = all_seed_flows();
        let (_, loaded) = &flows[seed % flows.len()];
        let json = ALL_JSON[seed % ALL_JSON.len()];
        let mut value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        mutate(&mut value, &path, replacement);
        if let Ok(mutated) = load_flow_value(&value) {
            run_script(session_in(mutated.program, full_env()), &events, hour)?;
        }
        run_script(session_in(loaded.program.clone(), full_env()), &events, hour)?;
    }

    #[test]
    fn random_scripts_end_the_demo_within_limits(events in proptest::collection::vec(event(), 0..60)) {
        run_script(session_in(program_text(DEMO_FLOW_JSON), FlowEnv::new()), &events, 10)?;
    }
}

const ALL_JSON: &[&str] = &[
    include_str!("../../../../tests/flows/seed000_support_line.json"),
    include_str!("../../../../tests/flows/seed001_sample_call_flow.json"),
    include_str!("../../../../tests/flows/seed002_business_hours.json"),
    include_str!("../../../../tests/flows/seed002_personalized_greeting.json"),
    include_str!("../../../../tests/flows/seed002_recording_consent.json"),
    include_str!("../../../../tests/flows/seed002_callback_request.json"),
    include_str!("../../../../tests/flows/seed002_survey_post_call.json"),
    include_str!("../../../../tests/flows/seed002_failover.json"),
    include_str!("../../../../tests/flows/seed002_language_selection.json"),
    include_str!("../../../../tests/flows/seed004_customer_support_record.json"),
];
