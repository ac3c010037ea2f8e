//! `/metrics` after real sipp calls, read back with an independent Prometheus
//! text parser (`prometheus-parse`): the call counters match the CDRs the
//! server wrote, and `/healthz` and `/readyz` answer.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::http::{get, logged_metrics_addr};
use common::{dtmf_pcap, Backend, Server, ServerOptions, Sipp, TestDir};
use prometheus_parse::{Scrape, Value};

const CALLS: u64 = 3;

fn scrape(server: &Server) -> Scrape {
    let addr = logged_metrics_addr(&server.log()).expect("the metrics address is logged");
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    Scrape::parse(body.lines().map(|line| Ok(line.to_string())))
        .unwrap_or_else(|err| panic!("not Prometheus text ({err}):\n{body}"))
}

/// The sum of a family's samples whose labels include `labels`.
fn sum(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == metric)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .map(|sample| match &sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(_) | Value::Summary(_) => 0.0,
        })
        .sum()
}

fn histogram_count(scrape: &Scrape, metric: &str) -> f64 {
    scrape
        .samples
        .iter()
        .find(|sample| sample.metric == metric)
        .map(|sample| match &sample.value {
            Value::Histogram(buckets) => buckets
                .iter()
                .find(|bucket| bucket.less_than.is_infinite())
                .map_or(0.0, |bucket| bucket.count),
            _ => panic!("{metric} is not a histogram"),
        })
        .unwrap_or_else(|| panic!("no {metric}"))
}

#[test]
fn metrics_after_sipp_calls_match_the_cdrs() {
    common::sipp::require_sipp();
    let _exclusive = common::heavy_test_lock();
    let dir = TestDir::new("metrics-calls");
    let backend = if callplane::shard::uring_available() {
        Backend::Uring
    } else {
        Backend::Epoll
    };
    let server = Server::start(
        backend,
        dir.path(),
        &ServerOptions {
            shards: Some(2),
            extra_args: vec!["--metrics-listen".into(), "127.0.0.1:0".into()],
            ..ServerOptions::default()
        },
    );
    let addr = logged_metrics_addr(&server.log()).expect("the metrics address is logged");
    assert_eq!(get(addr, "/healthz").0, 200);
    // Ready once both shards' loops run (they do before OPTIONS is answered).
    let (status, body) = get(addr, "/readyz");
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    let before = scrape(&server);
    assert_eq!(sum(&before, "callplane_shard_up", &[]), 2.0);
    assert_eq!(sum(&before, "callplane_calls_total", &[]), 0.0);

    let run = Sipp::new("uac_dtmf.xml", "uac_dtmf", dir.path())
        .target(server.sip_addr())
        .key("dtmf_pcap", dtmf_pcap('2').display().to_string())
        .set("dtmf_delay_ms", "3000")
        .calls(CALLS, CALLS, 10)
        .timeout(Duration::from_secs(60))
        .run();
    run.assert_passed(CALLS);
    let refused = Sipp::new("uac_488.xml", "uac_488", dir.path())
        .target(server.sip_addr())
        .timeout(Duration::from_secs(20))
        .run();
    refused.assert_passed(1);
    let cdrs = server.wait_for_cdrs(CALLS as usize + 1, Duration::from_secs(10));

    // The snapshot counters are published every 250 ms: wait for the last.
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let metrics = scrape(&server);
        let idle = sum(&metrics, "callplane_calls_active", &[]) == 0.0;
        if idle || Instant::now() > deadline {
            break metrics;
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    assert_eq!(
        sum(&metrics, "callplane_calls_total", &[]),
        cdrs.len() as f64
    );
    assert_eq!(sum(&metrics, "callplane_calls_active", &[]), 0.0);
    assert_eq!(
        sum(&metrics, "callplane_calls_offered_total", &[]),
        cdrs.len() as f64
    );
    let answered = cdrs
        .iter()
        .filter(|cdr| !cdr.is_null("answer_time"))
        .count();
    assert_eq!(answered, CALLS as usize);
    assert_eq!(
        sum(&metrics, "callplane_calls_answered_total", &[]),
        answered as f64
    );
    assert_eq!(
        histogram_count(&metrics, "callplane_call_setup_seconds"),
        answered as f64
    );

    // Hangup causes, cause by cause, as the CDRs give them.
    let mut causes: HashMap<String, f64> = HashMap::new();
    for cdr in &cdrs {
        *causes
            .entry(cdr.str("hangup_cause").to_string())
            .or_default() += 1.0;
    }
    assert_eq!(causes.get("no_common_codec"), Some(&1.0), "{causes:?}");
    for (cause, count) in &causes {
        assert_eq!(
            sum(&metrics, "callplane_hangups_total", &[("cause", cause)]),
            *count,
            "cause {cause}"
        );
    }
    assert_eq!(
        sum(&metrics, "callplane_hangups_total", &[]),
        cdrs.len() as f64
    );

    // RTP and DTMF totals are the CDRs' sums.
    let media_sum = |field: &str| -> f64 {
        cdrs.iter()
            .map(|cdr| cdr.json["media"]["rtp"][field].as_f64().unwrap_or(0.0))
            .sum()
    };
    assert!(media_sum("sent") > 0.0);
    assert_eq!(
        sum(
            &metrics,
            "callplane_rtp_packets_total",
            &[("direction", "sent")]
        ),
        media_sum("sent")
    );
    assert_eq!(
        sum(
            &metrics,
            "callplane_rtp_packets_total",
            &[("direction", "received")]
        ),
        media_sum("received")
    );
    assert_eq!(
        sum(&metrics, "callplane_rtp_packets_lost_total", &[]),
        media_sum("lost")
    );
    let digits: usize = cdrs.iter().map(|cdr| cdr.digits().len()).sum();
    assert_eq!(digits, CALLS as usize);
    assert_eq!(
        sum(&metrics, "callplane_dtmf_digits_total", &[]),
        digits as f64
    );
    let steps: usize = cdrs.iter().map(|cdr| cdr.nodes().len()).sum();
    assert_eq!(
        sum(&metrics, "callplane_flow_steps_total", &[]),
        steps as f64
    );
    assert_eq!(
        histogram_count(&metrics, "callplane_rtp_jitter_milliseconds"),
        CALLS as f64,
        "one jitter observation per call that received RTP"
    );

    // SIP by method and status: every call's INVITE came in, the 488 went out,
    // callplane's BYEs went out with a 200 back for each.
    assert_eq!(
        sum(
            &metrics,
            "callplane_sip_requests_total",
            &[("direction", "in"), ("method", "INVITE")]
        ),
        (CALLS + 1) as f64
    );
    assert_eq!(
        sum(
            &metrics,
            "callplane_sip_responses_total",
            &[("direction", "out"), ("status", "488")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &metrics,
            "callplane_sip_requests_total",
            &[("direction", "out"), ("method", "BYE")]
        ),
        CALLS as f64
    );
    assert!(
        sum(
            &metrics,
            "callplane_sip_responses_total",
            &[("direction", "out"), ("status", "200")]
        ) >= (CALLS + 1) as f64,
        "200s for the INVITEs and the OPTIONS ping"
    );
    assert!(sum(&metrics, "callplane_shard_loop_seconds_total", &[]) > 0.0);
    assert!(
        sum(
            &metrics,
            "callplane_datagrams_total",
            &[("direction", "in")]
        ) > 0.0
    );
}
