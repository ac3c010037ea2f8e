//! The trunk under stress: many concurrent calls over a lossy, reordering,
//! duplicating network; a lost ACK and lost BYEs recovered by retransmission;
//! one seed, one outcome.

use std::time::Duration;

use crate::call::{HangupCause, HangupSide};
use crate::sip::Method;
use crate::time::Time;

use super::carrier::CallScript;
use super::network::{Direction, DropRule, LinkConfig, NetworkConfig, SipMatch};
use super::{Sim, SimConfig};

/// The demo flow's nodes when the caller presses 1 in the menu.
const SALES_PATH: [&str; 6] = ["entry", "welcome", "menu", "sales", "goodbye", "hangup"];

/// When the press leaves the carrier, after it saw the 200 OK. Callplane's
/// menu listens from the end of the welcome prompt (400 ms after its answer)
/// until 5 s after the 600 ms menu prompt, so at 20..60 ms each way the
/// press lands 740..920 ms after callplane answered: well inside the menu.
const PRESS_AFTER_ANSWER: Duration = Duration::from_millis(700);

/// 10 % loss, 20 ms + up to 40 ms jitter (more than the 20 ms between two
/// RTP packets, so they reorder), 2 % duplicates.
const LOSSY: LinkConfig = LinkConfig {
    latency: Duration::from_millis(20),
    jitter: Duration::from_millis(40),
    loss: 0.10,
    duplicate: 0.02,
};

/// `calls` calls 5 ms apart, each pressing 1 in the menu and waiting for
/// callplane to hang up.
fn place_menu_calls(sim: &mut Sim, calls: usize) -> Vec<String> {
    (0..calls)
        .map(|i| {
            let call_id = format!("trunk-{i:03}");
            let start = Time::from_millis(5 * i as u64);
            sim.place(CallScript::new(&call_id, start).press(PRESS_AFTER_ANSWER, 1));
            call_id
        })
        .collect()
}

fn assert_sales_cdr(sim: &Sim, call_id: &str) {
    let cdr = sim.cdr(call_id);
    assert_eq!(cdr.digits, vec!["1".to_string()], "{call_id}: {cdr:?}");
    assert_eq!(cdr.nodes, SALES_PATH, "{call_id}: {cdr:?}");
    assert_eq!(cdr.hangup_side, HangupSide::Callplane, "{call_id}");
    assert_eq!(cdr.hangup_cause, HangupCause::NormalClearing, "{call_id}");
    assert_eq!(cdr.sip_status, 200, "{call_id}");
}

/// Seed 1 fixes every loss, delay and duplicate of this test, so it passes or
/// fails the same way every run. It is meaningful and not lucky:
/// - SIP: every request and response is retransmitted until answered (the
///   carrier's INVITE on Timer A, callplane's 200 until the ACK, callplane's
///   BYE on Timer E), so 10 % loss only delays a call.
/// - DTMF: each press is 6 packets with one RTP timestamp (3 updates, 3 end
///   packets) and callplane reports the digit on the first one it sees, so a
///   press is lost only if all 6 are: 10⁻⁶ per call. Duplicates and reordered
///   packets share that timestamp and give no second digit.
/// - Timing: a press arrives after callplane's menu timeout only if its first
///   four 200 OKs are lost (then the carrier answers 7.5 s late): 10⁻⁴ per
///   call. The assertions check that with this seed no call hit either case,
///   and the network counters check that the impairments really happened.
#[test]
fn two_hundred_calls_over_a_lossy_network_all_take_the_sales_path() {
    let mut sim = Sim::new(SimConfig::demo(1).with_network(NetworkConfig::symmetric(LOSSY)));
    let calls = place_menu_calls(&mut sim, 200);
    // Let every call get going, then check they really overlap.
    sim.run_until(Time::from_millis(1_000));
    assert!(
        sim.host.active_calls() > 150,
        "only {} calls at once",
        sim.host.active_calls()
    );
    assert!(
        sim.run_until_idle(Time::from_millis(120_000)),
        "calls still going at 120 s"
    );

    assert_eq!(sim.cdrs().len(), 200);
    for call_id in &calls {
        assert_sales_cdr(&sim, call_id);
        let report = sim.report(call_id);
        assert_eq!(report.final_status, Some(200), "{call_id}: {report:?}");
        assert!(report.byes_received >= 1, "{call_id}: {report:?}");
        assert!(report.completed(), "{call_id}: {report:?}");
    }
    assert_eq!(sim.host.active_calls(), 0);
    assert_eq!(sim.shell.bound_sockets(), 0, "every RTP socket closed");
    assert_eq!(sim.shell.rtp_from_unbound_socket, 0);

    // The network really was hostile: loss, duplicates, and recoveries.
    let stats = sim.network.stats();
    let loss = stats.lost as f64 / stats.sent as f64;
    assert!((0.09..0.11).contains(&loss), "loss {loss}: {stats:?}");
    assert!(stats.duplicated > 100, "{stats:?}");
    let retransmitted_invites: u32 = sim.carrier.reports().map(|(_, r)| r.invites_sent - 1).sum();
    let repeated_oks: u32 = sim.carrier.reports().map(|(_, r)| r.oks_received - 1).sum();
    let repeated_byes: u32 = sim
        .carrier
        .reports()
        .map(|(_, r)| r.byes_received - 1)
        .sum();
    assert!(retransmitted_invites > 5, "{retransmitted_invites}");
    assert!(repeated_oks > 10, "{repeated_oks}");
    assert!(repeated_byes > 5, "{repeated_byes}");
}

/// The whole lossy run's outcome, one line per item: CDRs (with their
/// times), carrier reports, network and host counters.
fn lossy_outcome(seed: u64, calls: usize) -> Vec<String> {
    let mut sim = Sim::new(SimConfig::demo(seed).with_network(NetworkConfig::symmetric(LOSSY)));
    place_menu_calls(&mut sim, calls);
    assert!(sim.run_until_idle(Time::from_millis(120_000)));
    let mut lines: Vec<String> = sim.cdrs().iter().map(|cdr| format!("{cdr:?}")).collect();
    lines.extend(sim.carrier.reports().map(|report| format!("{report:?}")));
    lines.push(format!("{:?}", sim.network.stats()));
    lines.push(format!("{:?}", sim.host.stats()));
    lines
}

/// The first line where two outcomes differ.
fn first_difference(a: &[String], b: &[String]) -> Option<(String, String)> {
    let longest = a.len().max(b.len());
    (0..longest)
        .map(|i| {
            (
                a.get(i).cloned().unwrap_or_default(),
                b.get(i).cloned().unwrap_or_default(),
            )
        })
        .find(|(x, y)| x != y)
}

#[test]
fn the_same_seed_gives_the_same_outcome() {
    let first = lossy_outcome(7, 40);
    let second = lossy_outcome(7, 40);
    assert_eq!(first.len(), 40 + 40 + 2, "40 CDRs, 40 reports, 2 counters");
    assert_eq!(first_difference(&first, &second), None);
    assert!(
        first_difference(&first, &lossy_outcome(8, 40)).is_some(),
        "the seed changes the run"
    );
}

#[test]
fn a_twice_lost_ack_is_recovered_by_the_retransmitted_200() {
    let mut sim = Sim::new(SimConfig::demo(2));
    // Press late enough that the third ACK is in before the flow hangs up.
    sim.place(CallScript::new("ack-lost", Time::ZERO).press(Duration::from_secs(2), 1));
    sim.network.add_drop_rule(DropRule {
        direction: Direction::ToHost,
        what: SipMatch::Request(Method::Ack),
        call_id: "ack-lost".into(),
        count: 2,
    });
    assert!(sim.run_until_idle(Time::from_millis(60_000)));

    let report = sim.report("ack-lost");
    // The 200 and its two retransmissions (at 0.5 s and 1.5 s); the third
    // ACK stopped the retransmissions, so there is no fourth.
    assert_eq!(report.oks_received, 3, "{report:?}");
    assert_eq!(report.acks_sent, 3, "one ACK per 200");
    assert_eq!(sim.host.sip_stats().ack_timeouts, 0);
    assert_eq!(sim.network.stats().dropped_by_rule, 2);
    assert_eq!(report.byes_received, 1, "{report:?}");
    assert_sales_cdr(&sim, "ack-lost");
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn lost_byes_are_retransmitted_until_one_arrives() {
    let mut sim = Sim::new(SimConfig::demo(3));
    sim.place(CallScript::new("bye-lost", Time::ZERO).press(PRESS_AFTER_ANSWER, 1));
    sim.network.add_drop_rule(DropRule {
        direction: Direction::ToCarrier,
        what: SipMatch::Request(Method::Bye),
        call_id: "bye-lost".into(),
        count: 2,
    });
    assert!(sim.run_until_idle(Time::from_millis(60_000)));

    assert_eq!(sim.shell.requests_sent("bye-lost", "BYE"), 3);
    assert_eq!(sim.network.stats().dropped_by_rule, 2);
    let report = sim.report("bye-lost");
    assert_eq!(report.byes_received, 1, "only the third got through");
    assert_sales_cdr(&sim, "bye-lost");
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn lost_answers_to_the_bye_make_callplane_send_it_again() {
    let mut sim = Sim::new(SimConfig::demo(4));
    sim.place(CallScript::new("bye-ok-lost", Time::ZERO).press(PRESS_AFTER_ANSWER, 1));
    sim.network.add_drop_rule(DropRule {
        direction: Direction::ToHost,
        what: SipMatch::ResponseTo(Method::Bye),
        call_id: "bye-ok-lost".into(),
        count: 2,
    });
    assert!(sim.run_until_idle(Time::from_millis(60_000)));

    let report = sim.report("bye-ok-lost");
    assert_eq!(report.byes_received, 3, "{report:?}");
    assert_eq!(report.bye_retransmissions_seen, 2, "{report:?}");
    assert_sales_cdr(&sim, "bye-ok-lost");
    assert_eq!(sim.host.active_calls(), 0);
}

#[test]
fn the_cdr_is_written_when_the_call_ends_not_when_its_bye_times_out() {
    let mut sim = Sim::new(SimConfig::demo(6));
    sim.place(CallScript::new("bye-unanswered", Time::ZERO).press(PRESS_AFTER_ANSWER, 1));
    // Every answer to callplane's BYE is lost: the BYE can only time out.
    sim.network.add_drop_rule(DropRule {
        direction: Direction::ToHost,
        what: SipMatch::ResponseTo(Method::Bye),
        call_id: "bye-unanswered".into(),
        count: 1_000,
    });
    while sim.report("bye-unanswered").byes_received == 0 {
        assert!(sim.now() < Time::from_millis(20_000), "no BYE came");
        sim.run_for(Duration::from_millis(10));
    }
    sim.run_for(Duration::from_millis(100));
    // The call is over for callplane: CDR written, call gone, BYE still going.
    assert_sales_cdr(&sim, "bye-unanswered");
    assert_eq!(sim.host.active_calls(), 0);
    assert_eq!(sim.host.dispatcher().dialogs_hanging_up(), 1);
    assert!(sim.run_until_idle(Time::from_millis(120_000)));
    // Timer E from T1 doubling to T2 until Timer F (64·T1): 11 transmissions.
    assert_eq!(sim.shell.requests_sent("bye-unanswered", "BYE"), 11);
    assert_eq!(sim.host.sip_stats().bye_timeouts, 1);
    assert_eq!(sim.host.dispatcher().dialogs_hanging_up(), 0);
    assert_eq!(sim.cdrs().len(), 1, "one CDR, written once");
}

#[test]
fn the_network_reorders_duplicates_loses_and_bounds_its_queue() {
    use super::network::{Datagram, Network};
    let link = LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(40),
        loss: 0.2,
        duplicate: 0.1,
    };
    let mut network = Network::new(
        NetworkConfig {
            to_host: link,
            to_carrier: LinkConfig::clean(Duration::from_millis(5)),
            capacity: 1_500,
        },
        5,
    );
    let from = "127.0.0.2:30000".parse().unwrap();
    let to = "127.0.0.1:20002".parse().unwrap();
    // 2 000 numbered datagrams 1 ms apart, all sent before any is delivered:
    // more than the 1 500 the queue holds.
    for i in 0..2_000u32 {
        let data = i.to_be_bytes().to_vec();
        network.send(
            Time::from_millis(u64::from(i)),
            Direction::ToHost,
            Datagram { from, to, data },
        );
    }
    let mut order = Vec::new();
    while let Some((direction, datagram)) = network.deliver(Time::NEVER) {
        assert_eq!(direction, Direction::ToHost);
        assert_eq!((datagram.from, datagram.to), (from, to));
        order.push(u32::from_be_bytes(datagram.data[..4].try_into().unwrap()));
    }
    let stats = network.stats();
    assert_eq!(stats.sent, 2_000);
    assert!((300..500).contains(&stats.lost), "{stats:?}");
    assert!(stats.duplicated > 100, "{stats:?}");
    assert!(stats.dropped_queue_full > 0, "{stats:?}");
    assert_eq!(order.len() as u64, stats.delivered);
    let reordered = order.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(reordered > 100, "only {reordered} reorderings");
    let mut unique = order.clone();
    unique.sort_unstable();
    unique.dedup();
    assert!(unique.len() < order.len(), "duplicates arrive twice");
}
