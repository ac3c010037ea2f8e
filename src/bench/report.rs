//! The end of a `bench call` run: the figures of every thread's calls put
//! together, the summary table printed, and `report.json` written.

use std::fmt::Write as _;
use std::path::Path;

use super::call::CallRecord;
use super::generator::Second;
use super::script::CallScript;

/// p50, p99 and the largest of some values.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Spread {
    /// How many values.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (sorted in place).
    pub fn of(values: &mut [f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_unstable_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Spread {
            count: values.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: values[values.len() - 1],
        }
    }
}

/// One sample of the server's CPU.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CpuSample {
    /// Seconds since the run started.
    pub at_s: f64,
    /// Share of one core used since the previous sample, %.
    pub percent: f64,
}

/// The whole run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The target.
    pub target: String,
    /// The io backend of the generator threads.
    pub backend: String,
    /// Generator threads.
    pub cores: usize,
    /// The script every call ran.
    pub script: CallScript,
    /// Calls started.
    pub calls: usize,
    /// Calls answered.
    pub answered: usize,
    /// Calls failed.
    pub failed: usize,
    /// Failures by reason.
    pub failures: Vec<(String, usize)>,
    /// Calls whose prompts were the expected ones in order.
    pub prompts_ok: usize,
    /// INVITE → 200 OK, ms.
    pub setup_ms: Spread,
    /// RFC 3550 jitter of each call's received stream at its end, ms.
    pub jitter_ms: Spread,
    /// Gaps between RTP arrivals over all calls, ms.
    pub interarrival_ms: Spread,
    /// DTMF end packet → first packet of the next prompt, ms.
    pub dtmf_latency_ms: Spread,
    /// DTMF first packet → first packet of the next prompt, ms.
    pub dtmf_onset_latency_ms: Spread,
    /// RTP packets received.
    pub packets: u64,
    /// RTP packets lost.
    pub lost: u64,
    /// RTP packets duplicated.
    pub duplicates: u64,
    /// RTP packets reordered.
    pub reordered: u64,
    /// Wall time of the run, s.
    pub elapsed_s: f64,
    /// Per second: calls started, most calls up, failures.
    pub timeline: Vec<Second>,
    /// The server's CPU, when its pid was given.
    pub server_cpu: Vec<CpuSample>,
    /// Every call.
    pub call_records: Vec<CallRecord>,
}

impl Report {
    /// Puts the threads' figures together.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        target: String,
        backend: String,
        cores: usize,
        script: CallScript,
        records: Vec<CallRecord>,
        gaps_us: &[u32],
        timelines: Vec<Vec<Second>>,
        server_cpu: Vec<CpuSample>,
        elapsed_s: f64,
    ) -> Report {
        let mut timeline: Vec<Second> = Vec::new();
        for thread in timelines {
            if timeline.len() < thread.len() {
                timeline.resize(thread.len(), Second::default());
            }
            for (total, second) in timeline.iter_mut().zip(thread) {
                total.started += second.started;
                total.active += second.active;
                total.failed += second.failed;
            }
        }
        let mut failures: Vec<(String, usize)> = Vec::new();
        for record in &records {
            if let Some(why) = &record.failure {
                match failures.iter_mut().find(|(w, _)| w == why) {
                    Some((_, n)) => *n += 1,
                    None => failures.push((why.clone(), 1)),
                }
            }
        }
        let mut setup: Vec<f64> = records.iter().filter_map(|r| r.setup_ms).collect();
        let mut jitter: Vec<f64> = records
            .iter()
            .filter(|r| r.receive.packets > 1)
            .map(|r| r.receive.jitter_ms)
            .collect();
        let mut gaps: Vec<f64> = gaps_us.iter().map(|&g| f64::from(g) / 1000.0).collect();
        let mut latency: Vec<f64> = records
            .iter()
            .flat_map(|r| r.dtmf_latency_ms.iter().flatten().copied())
            .collect();
        let mut onset_latency: Vec<f64> = records
            .iter()
            .flat_map(|r| r.dtmf_onset_latency_ms.iter().flatten().copied())
            .collect();
        Report {
            target,
            backend,
            cores,
            script,
            calls: records.len(),
            answered: records.iter().filter(|r| r.setup_ms.is_some()).count(),
            failed: records.iter().filter(|r| r.failure.is_some()).count(),
            failures,
            prompts_ok: records
                .iter()
                .filter(|r| r.prompts_ok == Some(true))
                .count(),
            setup_ms: Spread::of(&mut setup),
            jitter_ms: Spread::of(&mut jitter),
            interarrival_ms: Spread::of(&mut gaps),
            dtmf_latency_ms: Spread::of(&mut latency),
            dtmf_onset_latency_ms: Spread::of(&mut onset_latency),
            packets: records.iter().map(|r| r.receive.packets).sum(),
            lost: records.iter().map(|r| r.receive.lost).sum(),
            duplicates: records.iter().map(|r| r.receive.duplicates).sum(),
            reordered: records.iter().map(|r| r.receive.reordered).sum(),
            elapsed_s,
            timeline,
            server_cpu,
            call_records: records,
        }
    }

    /// The summary table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let spread = |s: &Spread| {
            format!(
                "p50 {:>8.2}  p99 {:>8.2}  max {:>8.2}  (n={})",
                s.p50, s.p99, s.max, s.count
            )
        };
        let _ = writeln!(out, "target          {}", self.target);
        let _ = writeln!(
            out,
            "calls           {} placed, {} answered, {} failed ({} cores, {}, {:.1} s)",
            self.calls, self.answered, self.failed, self.cores, self.backend, self.elapsed_s
        );
        if !self.script.expect.is_empty() {
            let _ = writeln!(
                out,
                "prompts         {} of {} calls heard {}",
                self.prompts_ok,
                self.calls,
                self.script.expect.join(" → ")
            );
        }
        let _ = writeln!(out, "setup ms        {}", spread(&self.setup_ms));
        let _ = writeln!(out, "jitter ms       {}", spread(&self.jitter_ms));
        let _ = writeln!(out, "interarrival ms {}", spread(&self.interarrival_ms));
        let _ = writeln!(out, "dtmf end→prompt {}", spread(&self.dtmf_latency_ms));
        let _ = writeln!(
            out,
            "dtmf key→prompt {}",
            spread(&self.dtmf_onset_latency_ms)
        );
        let _ = writeln!(
            out,
            "rtp             {} received, {} lost, {} duplicated, {} reordered",
            self.packets, self.lost, self.duplicates, self.reordered
        );
        if !self.server_cpu.is_empty() {
            let mut cpu: Vec<f64> = self.server_cpu.iter().map(|s| s.percent).collect();
            let _ = writeln!(out, "server cpu %    {}", spread(&Spread::of(&mut cpu)));
        }
        for (why, n) in &self.failures {
            let _ = writeln!(out, "failed          {n} × {why}");
        }
        out
    }

    /// Writes `report.json` into `dir` (made if missing).
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        let path = dir.join("report.json");
        let json = serde_json::to_string_pretty(self)
            .map_err(|err| format!("cannot encode the report: {err}"))?;
        std::fs::write(&path, json).map_err(|err| format!("cannot write {}: {err}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_pick_ranks() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Spread::of(&mut v);
        assert_eq!((s.count, s.p50, s.p99, s.max), (100, 51.0, 99.0, 100.0));
        assert_eq!(Spread::of(&mut []), Spread::default());
    }
}
