//! The built-in demo flow: welcome prompt, a two-option menu (sales,
//! support), goodbye and hangup; timeouts and invalid entries say goodbye.

/// The demo flow as a node-graph document.
pub const DEMO_FLOW_JSON: &str = r#"{
  "id": "demo",
  "name": "callplane demo",
  "version": 1,
  "start": "entry",
  "nodes": [
    { "id": "entry", "type": "entry", "position": { "x": 0, "y": 0 },
      "data": { "kind": "entry" } },
    { "id": "welcome", "type": "play", "position": { "x": 0, "y": 120 },
      "data": { "kind": "play", "promptId": "welcome" } },
    { "id": "menu", "type": "menu", "position": { "x": 0, "y": 240 },
      "data": { "kind": "menu", "promptId": "menu", "maxDigits": 1, "timeoutSec": 5,
                "maxFailures": 3, "invalidPromptId": "invalid" } },
    { "id": "sales", "type": "play", "position": { "x": -200, "y": 360 },
      "data": { "kind": "play", "promptId": "sales" } },
    { "id": "support", "type": "play", "position": { "x": 200, "y": 360 },
      "data": { "kind": "play", "promptId": "support" } },
    { "id": "goodbye", "type": "play", "position": { "x": 0, "y": 480 },
      "data": { "kind": "play", "promptId": "goodbye" } },
    { "id": "hangup", "type": "hangup", "position": { "x": 0, "y": 600 },
      "data": { "kind": "hangup" } }
  ],
  "edges": [
    { "id": "e-entry", "source": "entry", "target": "welcome" },
    { "id": "e-welcome", "source": "welcome", "target": "menu" },
    { "id": "e-sales", "source": "menu", "target": "sales", "sourceHandle": "digit:1" },
    { "id": "e-support", "source": "menu", "target": "support", "sourceHandle": "digit:2" },
    { "id": "e-timeout", "source": "menu", "target": "goodbye", "sourceHandle": "timeout" },
    { "id": "e-invalid", "source": "menu", "target": "goodbye", "sourceHandle": "invalid" },
    { "id": "e-sales-done", "source": "sales", "target": "goodbye" },
    { "id": "e-support-done", "source": "support", "target": "goodbye" },
    { "id": "e-goodbye", "source": "goodbye", "target": "hangup" }
  ]
}"#;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::flow::{
        load_node_graph, Audio, CallFacts, Command, Directive, EndReason, FlowEnv, Outcome, Session,
    };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn session() -> Session {
        Session::new(
            load_node_graph(DEMO_FLOW_JSON).unwrap().program,
            Arc::new(FlowEnv::new()),
            CallFacts::new("sipp", "1000", "call-1"),
            None,
        )
    }

    fn play(node: &str, prompt: &str) -> Directive {
        Directive::Execute(Command::Play {
            node: node.into(),
            audio: vec![Audio::catalog(prompt)],
            times: 1,
        })
    }

    #[test]
    fn loads_without_warnings() {
        let loaded = load_node_graph(DEMO_FLOW_JSON).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.program.id(), "demo");
        assert_eq!(loaded.program.name(), "callplane demo");
        assert_eq!(loaded.program.version(), 1);
    }

    #[test]
    fn walks_welcome_menu_sales_goodbye() {
        let mut session = session();
        assert_eq!(session.start(now()), play("welcome", "welcome"));
        assert_eq!(
            session.resume(Outcome::Done, now()),
            Directive::Execute(Command::Gather {
                node: "menu".into(),
                audio: vec![Audio::catalog("menu")],
                max_digits: 1,
                timeout: Duration::from_secs(5),
                terminator: None,
                interdigit_timeout: Duration::from_secs(3),
            })
        );
        assert_eq!(
            session.resume(Outcome::Digits("1".into()), now()),
            play("sales", "sales")
        );
        assert_eq!(
            session.resume(Outcome::Done, now()),
            play("goodbye", "goodbye")
        );
        assert_eq!(
            session.resume(Outcome::Done, now()),
            Directive::Execute(Command::Hangup {
                node: "hangup".into(),
                reason: None,
                sip_status: None,
            })
        );
        assert_eq!(
            session.resume(Outcome::Done, now()),
            Directive::End(EndReason::Hangup {
                node: "hangup".into()
            })
        );
        assert_eq!(
            session.visited(),
            ["entry", "welcome", "menu", "sales", "goodbye", "hangup"]
        );
        assert_eq!(session.digits(), ["1"]);
        assert_eq!((session.flow_id(), session.flow_version()), ("demo", 1));
    }

    #[test]
    fn digit_2_goes_to_support() {
        let mut session = session();
        session.start(now());
        session.resume(Outcome::Done, now());
        assert_eq!(
            session.resume(Outcome::Digits("2".into()), now()),
            play("support", "support")
        );
        assert_eq!(
            session.resume(Outcome::Done, now()),
            play("goodbye", "goodbye")
        );
    }
}
