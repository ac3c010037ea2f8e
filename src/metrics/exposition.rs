//! The Prometheus text exposition format (version 0.0.4) of the shards'
//! counters, written by hand.
//!
//! Why not `prometheus-client`: its metrics are objects the code updates
//! (families behind a lock, histograms behind a lock); here the values already
//! live in each shard's lock-free [`ShardCounters`] and only need printing at
//! scrape time. The format is four kinds of line (HELP, TYPE, sample, blank)
//! with label values escaped; the tests read the output back with an
//! independent parser (`prometheus-parse`).

use std::fmt::Write;
use std::sync::Arc;

use super::shard_counters::{AtomicHistogram, Direction, ShardCounters};

/// Reads one counter of a shard's snapshot.
type SnapshotField = fn(&super::ShardSnapshot) -> u64;

/// What a scrape reads besides the shards.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessGauges {
    /// Flow HTTP requests waiting for a worker.
    pub http_queue_depth: usize,
    /// Free-text sentences served from the speech caches, and synthesized
    /// (`None`: no speech engine runs, the series are left out).
    pub speech: Option<(u64, u64)>,
}

/// Renders every series.
pub fn render(shards: &[Arc<ShardCounters>], process: ProcessGauges) -> String {
    let mut out = Text::default();
    out.family(
        "callplane_build_info",
        "gauge",
        "Always 1; the version label says which callplane runs.",
    );
    out.sample(
        "callplane_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );

    let per_shard = |out: &mut Text,
                     name: &str,
                     kind: &str,
                     help: &str,
                     value: &dyn Fn(&ShardCounters) -> f64| {
        out.family(name, kind, help);
        for (index, shard) in shards.iter().enumerate() {
            let label = index.to_string();
            out.sample(name, &[("shard", &label)], value(shard));
        }
    };
    per_shard(
        &mut out,
        "callplane_shard_up",
        "gauge",
        "1 while the shard's event loop runs.",
        &|s| f64::from(u8::from(s.running())),
    );
    per_shard(
        &mut out,
        "callplane_calls_active",
        "gauge",
        "Calls in progress.",
        &|s| s.snapshot().calls_active as f64,
    );
    per_shard(
        &mut out,
        "callplane_calls_offered_total",
        "counter",
        "New INVITEs received (rate() gives new calls per second).",
        &|s| s.snapshot().calls_offered as f64,
    );
    per_shard(
        &mut out,
        "callplane_calls_total",
        "counter",
        "Calls ended, one per CDR written.",
        &|s| s.calls_ended() as f64,
    );
    per_shard(
        &mut out,
        "callplane_calls_answered_total",
        "counter",
        "Ended calls that had been answered.",
        &|s| s.calls_answered() as f64,
    );
    per_shard(
        &mut out,
        "callplane_calls_rejected_total",
        "counter",
        "Calls refused by callplane with a final non-2xx response.",
        &|s| s.snapshot().calls_rejected as f64,
    );
    per_shard(
        &mut out,
        "callplane_shard_busy_seconds_total",
        "counter",
        "Time the shard's loop spent working rather than waiting for the kernel.",
        &|s| s.loop_seconds().0,
    );
    per_shard(
        &mut out,
        "callplane_shard_loop_seconds_total",
        "counter",
        "Time the shard's loop ran; utilisation = rate(busy) / rate(loop).",
        &|s| s.loop_seconds().1,
    );

    out.family(
        "callplane_datagrams_total",
        "counter",
        "UDP datagrams (SIP, RTP, RTCP) by direction.",
    );
    for (index, shard) in shards.iter().enumerate() {
        let label = index.to_string();
        let snap = shard.snapshot();
        out.sample(
            "callplane_datagrams_total",
            &[("shard", &label), ("direction", "in")],
            snap.datagrams_received as f64,
        );
        out.sample(
            "callplane_datagrams_total",
            &[("shard", &label), ("direction", "out")],
            snap.datagrams_sent as f64,
        );
    }

    out.family(
        "callplane_hangups_total",
        "counter",
        "Ended calls by hangup cause (the CDR's hangup_cause).",
    );
    for (cause, count) in merge(shards.iter().map(|s| s.hangup_causes())) {
        out.sample("callplane_hangups_total", &[("cause", cause)], count as f64);
    }

    out.family(
        "callplane_sip_requests_total",
        "counter",
        "SIP requests by direction and method.",
    );
    for direction in [Direction::In, Direction::Out] {
        for (method, count) in merge(shards.iter().map(|s| s.sip_requests(direction))) {
            out.sample(
                "callplane_sip_requests_total",
                &[("direction", direction.label()), ("method", method)],
                count as f64,
            );
        }
    }
    out.family(
        "callplane_sip_responses_total",
        "counter",
        "SIP responses by direction and status code.",
    );
    for direction in [Direction::In, Direction::Out] {
        for (status, count) in merge(shards.iter().map(|s| s.sip_responses(direction))) {
            let status = status.to_string();
            out.sample(
                "callplane_sip_responses_total",
                &[("direction", direction.label()), ("status", &status)],
                count as f64,
            );
        }
    }

    let total = |f: &dyn Fn(&ShardCounters) -> u64| shards.iter().map(|s| f(s)).sum::<u64>() as f64;
    out.family("callplane_sip_retransmissions_total", "counter", "SIP retransmissions: sent by timers or for a repeated request, and repeated requests absorbed.");
    out.sample(
        "callplane_sip_retransmissions_total",
        &[("kind", "sent")],
        total(&|s| s.snapshot().retransmits_sent),
    );
    out.sample(
        "callplane_sip_retransmissions_total",
        &[("kind", "absorbed")],
        total(&|s| s.snapshot().retransmits_absorbed),
    );

    out.family(
        "callplane_drops_total",
        "counter",
        "Messages dropped or refused, by reason.",
    );
    let reasons: [(&str, SnapshotField); 9] = [
        ("malformed_sip", |s| s.drop_malformed_sip),
        ("unmatched_response", |s| s.drop_unmatched_response),
        ("unmatched_ack", |s| s.drop_unmatched_ack),
        ("rtp_unknown_call", |s| s.drop_rtp_unknown_call),
        ("shard_inbox_full", |s| s.drop_inbox_full),
        ("unknown_source", |s| s.drop_unknown_source),
        ("source_over_rate", |s| s.drop_source_rate),
        ("socket_closed", |s| s.drop_after_close),
        ("truncated", |s| s.drop_truncated),
    ];
    for (reason, value) in reasons {
        out.sample(
            "callplane_drops_total",
            &[("reason", reason)],
            total(&|s| value(&s.snapshot())),
        );
    }

    out.family(
        "callplane_rtp_packets_total",
        "counter",
        "RTP packets of ended calls, by direction.",
    );
    out.sample(
        "callplane_rtp_packets_total",
        &[("direction", "sent")],
        total(&|s| s.rtp().0),
    );
    out.sample(
        "callplane_rtp_packets_total",
        &[("direction", "received")],
        total(&|s| s.rtp().1),
    );
    out.family(
        "callplane_rtp_packets_lost_total",
        "counter",
        "RTP packets of ended calls that never arrived.",
    );
    out.sample(
        "callplane_rtp_packets_lost_total",
        &[],
        total(&|s| s.rtp().2),
    );

    histogram(
        &mut out,
        "callplane_call_setup_seconds",
        "INVITE to answer (200 OK) of answered calls.",
        shards.iter().map(|s| s.setup_seconds()),
    );
    histogram(
        &mut out,
        "callplane_rtp_jitter_milliseconds",
        "Inbound RTP interarrival jitter (RFC 3550) of ended calls, at their end.",
        shards.iter().map(|s| s.jitter_ms()),
    );

    out.family(
        "callplane_dtmf_digits_total",
        "counter",
        "DTMF digits detected, by method.",
    );
    out.sample(
        "callplane_dtmf_digits_total",
        &[("method", "rfc4733")],
        total(&|s| s.dtmf().0),
    );
    out.sample(
        "callplane_dtmf_digits_total",
        &[("method", "inband")],
        total(&|s| s.dtmf().1),
    );

    out.family(
        "callplane_flow_steps_total",
        "counter",
        "Flow nodes entered by ended calls.",
    );
    out.sample(
        "callplane_flow_steps_total",
        &[],
        total(&|s| s.flow_steps()),
    );
    out.family(
        "callplane_flow_outcomes_total",
        "counter",
        "How ended calls' flows ended (the CDR's flow_end).",
    );
    let mut outcomes: Vec<(String, u64)> = Vec::new();
    for (outcome, count) in shards.iter().flat_map(|s| s.flow_ends()) {
        match outcomes.iter_mut().find(|(name, _)| *name == outcome) {
            Some(entry) => entry.1 += count,
            None => outcomes.push((outcome, count)),
        }
    }
    for (outcome, count) in outcomes {
        out.sample(
            "callplane_flow_outcomes_total",
            &[("outcome", &outcome)],
            count as f64,
        );
    }

    out.family(
        "callplane_http_queue_depth",
        "gauge",
        "Flow HTTP requests waiting for a worker.",
    );
    out.sample(
        "callplane_http_queue_depth",
        &[],
        process.http_queue_depth as f64,
    );
    if let Some((cache_hits, syntheses)) = process.speech {
        out.family(
            "callplane_speech_cache_hits_total",
            "counter",
            "Free-text sentences served from the memory or disk speech cache.",
        );
        out.sample("callplane_speech_cache_hits_total", &[], cache_hits as f64);
        out.family(
            "callplane_speech_syntheses_total",
            "counter",
            "Free-text sentences espeak-ng was run for.",
        );
        out.sample("callplane_speech_syntheses_total", &[], syntheses as f64);
    }
    out.0
}

/// Sums per-shard (label, count) lists, keeping the first-seen order.
fn merge<K: PartialEq>(lists: impl Iterator<Item = Vec<(K, u64)>>) -> Vec<(K, u64)> {
    let mut merged: Vec<(K, u64)> = Vec::new();
    for (key, count) in lists.flatten() {
        match merged.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 += count,
            None => merged.push((key, count)),
        }
    }
    merged
}

/// One histogram summed over the shards: cumulative buckets, sum, count.
fn histogram<'a>(
    out: &mut Text,
    name: &str,
    help: &str,
    shards: impl Iterator<Item = &'a AtomicHistogram>,
) {
    out.family(name, "histogram", help);
    let mut bounds: &[f64] = &[];
    let mut buckets: Vec<u64> = Vec::new();
    let (mut sum, mut count) = (0.0, 0u64);
    for histogram in shards {
        bounds = histogram.bounds();
        let counts = histogram.bucket_counts();
        buckets.resize(counts.len(), 0);
        for (total, n) in buckets.iter_mut().zip(counts) {
            *total += n;
        }
        sum += histogram.sum();
        count += histogram.count();
    }
    let mut cumulative = 0;
    let bucket_name = format!("{name}_bucket");
    for (i, n) in buckets.iter().enumerate() {
        cumulative += n;
        let le = match bounds.get(i) {
            Some(bound) => format_value(*bound),
            None => "+Inf".to_string(),
        };
        out.sample(&bucket_name, &[("le", &le)], cumulative as f64);
    }
    out.sample(&format!("{name}_sum"), &[], sum);
    out.sample(&format!("{name}_count"), &[], count as f64);
}

#[derive(Default)]
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(
            self.0,
            "# HELP {name} {}",
            help.replace('\\', "\\\\").replace('\n', "\\n")
        );
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{key}=\"{}\"", escape_label(value));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", format_value(value));
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn every_family_has_help_and_type_and_histograms_end_in_inf() {
        let shard = Arc::new(ShardCounters::new());
        shard.set_running(true);
        shard.count_sip(Direction::In, b"INVITE sip:x SIP/2.0");
        let text = render(
            &[shard.clone(), Arc::new(ShardCounters::new())],
            ProcessGauges {
                http_queue_depth: 2,
                speech: Some((3, 1)),
            },
        );
        assert!(
            text.contains("callplane_shard_up{shard=\"0\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("callplane_shard_up{shard=\"1\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("callplane_sip_requests_total{direction=\"in\",method=\"INVITE\"} 1\n")
        );
        assert!(text.contains("callplane_call_setup_seconds_bucket{le=\"+Inf\"} 0\n"));
        assert!(text.contains("callplane_http_queue_depth 2\n"));
        assert!(text.contains("callplane_speech_cache_hits_total 3\n"));
        assert!(text.contains("callplane_speech_syntheses_total 1\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "no TYPE for {line}"
            );
        }
    }
}
