//! Every example flow of the seeds (tests/flows/seed*.json), path by path:
//! the commands handed out, variables and end reasons. The seed002 files are
//! the seed's JSON as printed; seed001's sample had a trailing comma after its
//! last `target_ids` entry, removed in the file (the only change).

use serde_json::json;

use super::*;
use crate::flow::schedule::{Schedule, ScheduleConfig};
use crate::flow::{check_references, load_flow_json, Loaded, Outcome};

macro_rules! seed {
    ($name:literal) => {
        include_str!(concat!("../../../../tests/flows/", $name, ".json"))
    };
}

const SUPPORT_LINE: &str = seed!("seed000_support_line");
const SAMPLE: &str = seed!("seed001_sample_call_flow");
const BUSINESS_HOURS: &str = seed!("seed002_business_hours");
const GREETING: &str = seed!("seed002_personalized_greeting");
const AI_SERVICE: &str = seed!("seed002_ai_customer_service");
const CONSENT: &str = seed!("seed002_recording_consent");
const CALLBACK: &str = seed!("seed002_callback_request");
const SUPPORT_CALL: &str = seed!("seed002_survey_support_call");
const SURVEY: &str = seed!("seed002_survey_post_call");
const FAILOVER: &str = seed!("seed002_failover");
const LANGUAGE: &str = seed!("seed002_language_selection");
const MAIN_MENU: &str = seed!("seed002_language_main_menu");
const RING_ALL: &str = seed!("seed002_ring_all");
const TRANSCRIBED: &str = seed!("seed002_transcribed_call");
const RECORD: &str = seed!("seed004_customer_support_record");

const ALL: &[(&str, &str)] = &[
    ("seed000_support_line", SUPPORT_LINE),
    ("seed001_sample_call_flow", SAMPLE),
    ("seed002_business_hours", BUSINESS_HOURS),
    ("seed002_personalized_greeting", GREETING),
    ("seed002_ai_customer_service", AI_SERVICE),
    ("seed002_recording_consent", CONSENT),
    ("seed002_callback_request", CALLBACK),
    ("seed002_survey_support_call", SUPPORT_CALL),
    ("seed002_survey_post_call", SURVEY),
    ("seed002_failover", FAILOVER),
    ("seed002_language_selection", LANGUAGE),
    ("seed002_language_main_menu", MAIN_MENU),
    ("seed002_ring_all", RING_ALL),
    ("seed002_transcribed_call", TRANSCRIBED),
    ("seed004_customer_support_record", RECORD),
];

/// Every seed flow, loaded.
pub(super) fn all_seed_flows() -> Vec<(&'static str, Loaded)> {
    ALL.iter()
        .map(|(name, json)| match load_flow_json(json) {
            Ok(loaded) => (*name, loaded),
            Err(error) => panic!("{name}: {error}"),
        })
        .collect()
}

fn warnings(json: &str) -> Vec<String> {
    match load_flow_json(json) {
        Ok(loaded) => loaded.warnings.iter().map(ToString::to_string).collect(),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn every_seed_flow_loads_without_errors() {
    assert_eq!(all_seed_flows().len(), ALL.len());
}

fn office_env() -> FlowEnv {
    let config: ScheduleConfig = serde_json::from_value(json!({
        "id": "sch_01j0jvpe0wzc6g05bktfew0xyx", "timezone": "UTC",
        "hours": [{"days": "mon-fri", "open": "09:00", "close": "17:00"}],
        "holidays": ["2026-12-25"]
    }))
    .unwrap_or_else(|error| panic!("{error}"));
    FlowEnv::new().with_schedule(Schedule::from_config(&config).unwrap_or_else(|e| panic!("{e}")))
}

fn support_line(now: DateTime<Utc>, events: &[&str]) -> (Vec<String>, Session) {
    let mut session = session_in(program_text(SUPPORT_LINE), office_env());
    let lines = drive_at(&mut session, now, events);
    (lines, session)
}

const SALES: &str = "connect salesQ queue q_01jx67hmyhnks8yq7m76g5qrrj";
const MENU: &str = "gather welcome speak:Press 1 for sales, 2 for support max=1";

#[test]
fn seed000_support_line_in_hours_routes_digits_to_queues() {
    let (lines, session) = support_line(monday_10am(), &["digits:1", "answered", "bridge_ended"]);
    assert_eq!(
        lines,
        [
            MENU,
            SALES,
            "wait salesQ",
            "end: bridge of salesQ ended and it has no answered edge"
        ]
    );
    assert_eq!(session.visited(), ["hours", "welcome", "salesQ"]);
    let (lines, _) = support_line(monday_10am(), &["digits:2"]);
    assert_eq!(lines[1], "connect supQ queue q_01j160r23gw5zkpfjme3fwzs5k");
}

#[test]
fn seed000_support_line_timeouts_go_to_voicemail_and_invalid_entries_hang_up() {
    let (lines, session) = support_line(monday_10am(), &["timeout", "timeout", "done"]);
    assert_eq!(
        lines,
        [
            MENU,
            MENU,
            "connect vm voicemail vm_01jg8asp59ps9rtt7azhrhvcre",
            "end: no edge from vm for outcome done and no default edge",
        ]
    );
    assert!(session
        .end_reason()
        .is_some_and(|reason| !reason.is_failure()));
    let (lines, _) = support_line(monday_10am(), &["digits:7", "digits:9", "done"]);
    assert_eq!(lines[2..], ["hangup bye", "end: hangup at bye"]);
}

#[test]
fn seed000_support_line_after_hours_and_holidays_go_to_voicemail() {
    let voicemail = "connect vm voicemail vm_01jg8asp59ps9rtt7azhrhvcre";
    assert_eq!(support_line(at(2026, 3, 2, 20, 0), &[]).0, [voicemail]);
    assert_eq!(support_line(at(2026, 3, 1, 10, 0), &[]).0, [voicemail]);
    // A holiday with no holiday edge falls back to out_of_hours.
    assert_eq!(support_line(at(2026, 12, 25, 10, 0), &[]).0, [voicemail]);
}

#[test]
fn seed000_support_line_warnings_and_references() {
    assert_eq!(
        warnings(SUPPORT_LINE),
        [
            "nodes[2]: node \"salesQ\" has no edge for \"timeout\" and no default edge; the call ends there",
            "nodes[3]: node \"supQ\" has no edge for \"timeout\" and no default edge; the call ends there",
        ]
    );
    let problems: Vec<String> = check_references(&program_text(SUPPORT_LINE), &office_env())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "nodes[2].data.queueId: no queue \"q_01jx67hmyhnks8yq7m76g5qrrj\"",
            "nodes[3].data.queueId: no queue \"q_01j160r23gw5zkpfjme3fwzs5k\"",
            "nodes[4].data.mailboxId: no voicemail box \"vm_01jg8asp59ps9rtt7azhrhvcre\"",
        ]
    );
}

#[test]
fn seed001_sample_loops_on_digit_1_and_ends_otherwise() {
    let mut session = session_in(program_text(SAMPLE), FlowEnv::new());
    assert_eq!(
        drive(
            &mut session,
            &["done", "done", "digits:1", "done", "digits:5"]
        ),
        [
            "answer 9c8ebac0-f05e-11ef-b9ae-4b8aecc935fe",
            "play 9c30642a-f05e-11ef-8674-ebba44c5cb0f2 speak:Welcome to VoIPBIN",
            "gather 9c659370-f05e-11ef-b141-63708262508b max=1",
            "play 9c30642a-f05e-11ef-8674-ebba44c5cb0f2 speak:Welcome to VoIPBIN",
            "gather 9c659370-f05e-11ef-b141-63708262508b max=1",
            "end: end of actions reached after 9cb2962a-f05e-11ef-ae35-2374e1ae16df",
        ]
    );
}

const CLOSED: &str = "play after-hours speak:Our office is currently closed. Our hour…";

#[test]
fn seed002_business_hours_in_hours_joins_the_queue() {
    let mut session = session_in(program_text(BUSINESS_HOURS), FlowEnv::new());
    assert_eq!(
        drive(
            &mut session,
            &["done", "done", "answered", "bridge_ended", "done"]
        ),
        [
            "answer #0",
            "play during-hours speak:Thank you for calling. Connecting you to…",
            "connect #4 queue support-queue-id",
            "wait #4",
            "hangup #5",
            "end: hangup at #5",
        ]
    );
    assert_eq!(
        session.visited()[..4],
        ["#0", "check-hours", "check-closing", "during-hours"]
    );
}

#[test]
fn seed002_business_hours_after_hours_records_a_message() {
    for now in [
        at(2026, 3, 2, 18, 0),
        at(2026, 3, 2, 8, 0),
        at(2026, 3, 1, 11, 0),
    ] {
        let mut session = session_in(program_text(BUSINESS_HOURS), FlowEnv::new());
        assert_eq!(
            drive_at(
                &mut session,
                now,
                &["done", "done", "done", "done", "done", "done"]
            ),
            [
                "answer #0",
                CLOSED,
                "play #7 beep",
                "record_start #8 call-1-rec-1",
                "play #9 speak:Thank you for your message. Goodbye.",
                "hangup #10",
                "end: hangup at #10",
            ],
            "{now}"
        );
    }
}

fn greeting(tier: &str) -> Vec<String> {
    let mut session = session_in(program_text(GREETING), FlowEnv::new());
    let response = format!(r#"http:200:{{"customer":{{"name":"John","tier":"{tier}"}}}}"#);
    drive(&mut session, &["done", &response, "done"])
}

#[test]
fn seed002_personalized_greeting_branches_on_the_webhook_response() {
    let premium = greeting("premium");
    assert_eq!(
        premium[..4],
        [
            "answer #0",
            "http fetch-customer POST https://your-api.com/customer-lookup",
            "play #2 speak:Hello John. Welcome back to our service.",
            "play premium-service speak:As a premium member, you're being connec…",
        ]
    );
    assert_eq!(greeting("vip")[3], "connect vip-service dial +15551234567");
    assert_eq!(
        greeting("basic")[3],
        "play standard-service speak:Please hold while we connect you."
    );
    let mut session = session_in(program_text(GREETING), FlowEnv::new());
    let first = drive(&mut session, &["done"]);
    let Some(Directive::Execute(Command::Http { body, wait, .. })) =
        Some(session.start(monday_10am()))
    else {
        panic!("expected the webhook");
    };
    assert_eq!(
        first[1],
        "http fetch-customer POST https://your-api.com/customer-lookup"
    );
    assert_eq!(body.as_deref(), Some("{\"phone\": \"+15550001111\"}"));
    assert!(wait);
}

#[test]
fn seed002_vip_connect_presents_the_called_number() {
    let mut session = session_in(program_text(GREETING), FlowEnv::new());
    drive(
        &mut session,
        &["done", r#"http:200:{"customer":{"name":"V","tier":"vip"}}"#],
    );
    let Directive::Execute(Command::Connect { source, .. }) =
        session.resume(Outcome::Done, monday_10am())
    else {
        panic!("expected the vip connect");
    };
    assert_eq!(source.as_deref(), Some("+15559990000"));
}

#[test]
fn seed002_ai_customer_service_skips_ai_talk_and_routes_to_support() {
    assert!(warnings(AI_SERVICE).contains(
        &"actions[1].type: \"ai_talk\" is not performed by this engine (needs an AI voice agent); it is skipped at run time".to_owned()
    ));
    let mut session = session_in(program_text(AI_SERVICE), FlowEnv::new());
    assert_eq!(
        drive(&mut session, &["done"]),
        [
            "answer #0",
            "connect transfer-support queue general-support-queue-id"
        ]
    );
    // With the AI outcome handed in by the route, the branch follows it.
    let transform = json!({"voipbin.aicall.status": "billing"});
    let mut routed = Session::new(
        program_text(AI_SERVICE),
        Arc::new(FlowEnv::new()),
        facts(),
        transform.as_object(),
    );
    assert_eq!(
        drive(&mut routed, &["done"])[1],
        "play transfer-billing speak:I'll transfer you to our billing departm…"
    );
}

#[test]
fn seed002_recording_consent_paths() {
    let consent = "play consent-prompt speak:This call may be recorded for quality as…";
    let mut yes = session_in(program_text(CONSENT), FlowEnv::new());
    assert_eq!(
        drive(&mut yes, &["done", "done", "digits:1", "done", "done"]),
        [
            "answer #0",
            consent,
            "gather #2 max=1",
            "record_start start-recording call-1-rec-1",
            "play continue-call speak:Thank you. How may I help you today?",
            "connect #7 queue support-queue-id",
        ]
    );
    assert_eq!(var(&yes, "recording.consent"), "yes");
    let mut no = session_in(program_text(CONSENT), FlowEnv::new());
    assert_eq!(
        drive(&mut no, &["done", "done", "digits:2"])[3],
        "play continue-call speak:Thank you. How may I help you today?"
    );
    assert_eq!(var(&no, "recording.consent"), "no");
    assert_eq!(
        no.visited()[3..],
        ["#3", "no-recording", "#10", "continue-call"]
    );
    let mut silent = session_in(program_text(CONSENT), FlowEnv::new());
    assert_eq!(drive(&mut silent, &["done", "done", "timeout"])[3], consent);
}

#[test]
fn seed002_callback_request_paths() {
    let mut wait = session_in(program_text(CALLBACK), FlowEnv::new());
    assert_eq!(
        drive(&mut wait, &["done", "done", "digits:1", "done"])[3..],
        [
            "play wait-queue speak:Please hold. An agent will be with you s…",
            "connect #5 queue support-queue-id",
        ]
    );
    let mut same_number = session_in(program_text(CALLBACK), FlowEnv::new());
    let lines = drive(
        &mut same_number,
        &[
            "done",
            "done",
            "digits:2",
            "done",
            "digits:#",
            "http:200:{}",
            "done",
            "done",
        ],
    );
    assert_eq!(
        lines[3..],
        [
            "play request-callback speak:We will call you back at the number you …",
            "gather #8 max=15",
            "http schedule-callback POST https://your-api.com/schedule-callback",
            "play #12 speak:Thank you. You will receive a callback a…",
            "hangup #13",
            "end: hangup at #13",
        ]
    );
    assert_eq!(var(&same_number, "callback.number"), "+15550001111");
    let mut custom = session_in(program_text(CALLBACK), FlowEnv::new());
    drive(
        &mut custom,
        &["done", "done", "digits:2", "done", "digits:5551234#"],
    );
    // VoIPBIN keeps the terminating key in voipbin.call.digits.
    assert_eq!(var(&custom, "callback.number"), "5551234#");
    assert_eq!(
        custom.visited()[custom.visited().len() - 3..],
        ["custom-number", "#15", "schedule-callback"]
    );
}

#[test]
fn seed002_survey_runs_after_the_call_in_a_new_session() {
    let survey = program_text(SURVEY);
    let mut env = FlowEnv::new();
    env.flows.insert("post-call-survey-flow-id".into(), survey);
    let env = Arc::new(env);
    for (events, end) in [
        (
            &["done", "done", "answered", "bridge_ended", "done"][..],
            "end: hangup at #3",
        ),
        (
            &["done", "done", "hangup"][..],
            "end: caller hung up during #2",
        ),
    ] {
        let mut call = Session::new(program_text(SUPPORT_CALL), Arc::clone(&env), facts(), None);
        let lines = drive(&mut call, events);
        assert_eq!(lines.last().map(String::as_str), Some(end));
        assert_eq!(lines[1], "record_start #1 call-1-rec-1");
        let mut after = call
            .take_follow_up()
            .unwrap_or_else(|| panic!("survey after {end}"));
        assert_eq!(var(&after, "voipbin.activeflow.complete_count"), "1");
        assert_eq!(var(&after, "voipbin.recording.id"), "call-1-rec-1");
        let Directive::Execute(Command::Connect {
            kind,
            targets,
            flow,
            source,
            ..
        }) = after.start(monday_10am())
        else {
            panic!("expected the survey call");
        };
        assert_eq!(
            (kind.name(), targets, source.as_deref()),
            (
                "call",
                vec!["+15550001111".to_owned()],
                Some("+15551234567")
            )
        );
        assert_eq!(
            summary(&after.resume(Outcome::Done, monday_10am())),
            "end: end of actions reached after #0"
        );
        // The survey call runs its own actions.
        let flow = flow.unwrap_or_else(|| panic!("nested actions"));
        let mut survey_call = Session::new(
            flow,
            Arc::clone(&env),
            CallFacts::new("+15551234567", "+15550001111", "call-2"),
            None,
        );
        let lines = drive(
            &mut survey_call,
            &[
                "done", "digits:4", "done", "digits:1", "done", "done", "done",
            ],
        );
        assert_eq!(
            lines[4],
            "http #6 POST https://your-api.com/survey-results async"
        );
        assert_eq!(lines[6], "hangup #8");
        assert_eq!(var(&survey_call, "survey.satisfaction"), "4");
        assert_eq!(var(&survey_call, "survey.resolved"), "1");
    }
}

#[test]
fn seed002_failover_tries_primary_secondary_then_queue() {
    let mut primary = session_in(program_text(FAILOVER), FlowEnv::new());
    assert_eq!(
        drive(
            &mut primary,
            &["done", "done", "answered", "bridge_ended", "done"]
        )[2..],
        [
            "connect try-primary dial +15559876543",
            "wait try-primary",
            "hangup #4",
            "end: hangup at #4"
        ]
    );
    let mut fallback = session_in(program_text(FAILOVER), FlowEnv::new());
    assert_eq!(
        drive(
            &mut fallback,
            &["done", "done", "no_answer", "done", "busy", "done"]
        )[3..],
        [
            "play try-secondary speak:Agent unavailable. Trying alternate cont…",
            "connect #6 dial +15551112222",
            "play try-queue speak:All direct contacts unavailable. Placing…",
            "connect #10 queue support-queue-id",
        ]
    );
    assert_eq!(var(&fallback, "voipbin.call.status"), "busy");
}

#[test]
fn seed002_language_selection_fetches_the_main_menu_in_the_chosen_language() {
    let mut env = FlowEnv::new();
    env.flows
        .insert("main-menu-flow-id".into(), program_text(MAIN_MENU));
    let env = Arc::new(env);
    let run = |events: &[&str]| {
        let mut session = Session::new(program_text(LANGUAGE), Arc::clone(&env), facts(), None);
        let lines = drive(&mut session, events);
        (lines, session)
    };
    let (lines, session) = run(&["done", "done", "digits:2", "done"]);
    assert_eq!(
        lines[3..],
        [
            "play #0 speak:Welcome to our service. Press 1 for sale…",
            "end: end of actions reached after main-menu",
        ]
    );
    assert_eq!(var(&session, "language"), "es-ES");
    assert_eq!(
        session.visited()[3..],
        ["#3", "set-spanish", "#7", "main-menu", "#0"]
    );
    let (_, session) = run(&["done", "done", "digits:3"]);
    assert_eq!(var(&session, "language"), "fr-FR");
    let mut english = Session::new(program_text(LANGUAGE), Arc::clone(&env), facts(), None);
    drive(&mut english, &["done", "done", "timeout"]);
    let Some(Directive::Execute(Command::Play { audio, .. })) = Some(english.start(monday_10am()))
    else {
        panic!("expected the menu");
    };
    assert!(
        matches!(&audio[..], [Audio::Speak { language: Some(language), .. }] if language == "en-US")
    );
}

#[test]
fn seed002_ring_all_rings_every_destination() {
    let mut session = session_in(program_text(RING_ALL), FlowEnv::new());
    assert_eq!(
        drive(&mut session, &["done", "done", "answered", "bridge_ended"])[2..],
        [
            "connect #2 dial +15559876543,+15551112222,+15553334444",
            "wait #2",
            "hangup #3"
        ]
    );
}

#[test]
fn seed002_transcribed_call_skips_transcription() {
    let mut session = session_in(program_text(TRANSCRIBED), FlowEnv::new());
    assert_eq!(
        drive(&mut session, &["done", "done", "answered", "bridge_ended"]),
        [
            "answer #0",
            "play #2 speak:This call is being transcribed for quali…",
            "connect #3 queue support-queue-id",
            "wait #3",
            "hangup #5",
        ]
    );
    assert_eq!(warnings(TRANSCRIBED).len(), 2);
}

#[test]
fn commands_serialize_as_the_simulator_prints_them() {
    let mut session = session_in(program_text(CALLBACK), FlowEnv::new());
    let mut lines = Vec::new();
    let mut directive = session.start(monday_10am());
    for event in ["done", "done", "digits:2", "done"] {
        if let Directive::Execute(command) = &directive {
            lines.push(serde_json::to_value(command).unwrap_or_default());
        }
        directive = session.resume(parse_event(event).unwrap_or(Outcome::Done), monday_10am());
    }
    if let Directive::Execute(command) = &directive {
        lines.push(serde_json::to_value(command).unwrap_or_default());
    }
    assert_eq!(lines[0], json!({"command": "answer", "node": "#0"}));
    assert_eq!(
        lines[2],
        json!({"command": "gather", "node": "#2", "audio": [], "max_digits": 1, "timeout_ms": 10000,
               "terminator": null, "interdigit_timeout_ms": 10000})
    );
    assert_eq!(
        lines[4],
        json!({"command": "gather", "node": "#8", "audio": [], "max_digits": 15, "timeout_ms": 15000,
               "terminator": "#", "interdigit_timeout_ms": 15000})
    );
    assert_eq!(lines[3]["audio"][0]["speak"]["language"], "en-US");
}
