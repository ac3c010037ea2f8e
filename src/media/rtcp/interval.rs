//! The RTCP transmission interval of RFC 3550 §6.3.1 and Appendix A.7: the
//! deterministic interval from the session's RTCP bandwidth, its members and
//! senders and the average compound size, at least 5 s (2.5 s before the first
//! report), then randomised uniformly in 0.5–1.5 of itself and divided by
//! e − 3/2 to compensate for timer reconsideration. The random draw comes from
//! the generator the caller passes in.

use std::time::Duration;

/// The least deterministic interval between reports.
pub const RTCP_MIN_TIME: Duration = Duration::from_secs(5);
/// The share of the RTCP bandwidth kept for senders when they are few.
const SENDER_BW_FRACTION: f64 = 0.25;
/// e − 3/2: the compensation for the timer reconsideration algorithm.
const COMPENSATION: f64 = std::f64::consts::E - 1.5;

/// What the interval depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalInputs {
    /// Members of the session, us included.
    pub members: u32,
    /// Members that sent RTP recently, us included if we did.
    pub senders: u32,
    /// The RTCP bandwidth, octets per second (5 % of the session's).
    pub rtcp_bandwidth: f64,
    /// Whether we sent RTP since the report before last.
    pub we_sent: bool,
    /// The average compound RTCP size, octets, UDP and IP headers included.
    pub avg_rtcp_size: f64,
    /// Whether no report has been sent yet.
    pub initial: bool,
}

/// The next interval (RFC 3550 A.7 `rtcp_interval`).
pub fn rtcp_interval(inputs: &IntervalInputs, rng: &mut fastrand::Rng) -> Duration {
    let mut min_time = RTCP_MIN_TIME.as_secs_f64();
    if inputs.initial {
        min_time /= 2.0;
    }
    let mut bandwidth = inputs.rtcp_bandwidth.max(1.0);
    let mut n = f64::from(inputs.members.max(1));
    let senders = f64::from(inputs.senders);
    if senders <= n * SENDER_BW_FRACTION {
        if inputs.we_sent {
            bandwidth *= SENDER_BW_FRACTION;
            n = senders.max(1.0);
        } else {
            bandwidth *= 1.0 - SENDER_BW_FRACTION;
            n = (n - senders).max(1.0);
        }
    }
    let deterministic = (inputs.avg_rtcp_size * n / bandwidth).max(min_time);
    let randomised = deterministic * (rng.f64() + 0.5) / COMPENSATION;
    Duration::from_secs_f64(randomised)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_party(initial: bool) -> IntervalInputs {
        IntervalInputs {
            members: 2,
            senders: 2,
            rtcp_bandwidth: 500.0,
            we_sent: true,
            avg_rtcp_size: 128.0,
            initial,
        }
    }

    /// Mean, least and greatest of `draws` intervals, in seconds.
    fn draw(inputs: &IntervalInputs, draws: usize, seed: u64) -> (f64, f64, f64) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let values: Vec<f64> = (0..draws)
            .map(|_| rtcp_interval(inputs, &mut rng).as_secs_f64())
            .collect();
        let mean = values.iter().sum::<f64>() / draws as f64;
        let min = values.iter().copied().fold(f64::MAX, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        (mean, min, max)
    }

    #[test]
    fn a_two_party_call_reports_every_5_s_on_average_over_the_compensation() {
        let (mean, min, max) = draw(&two_party(false), 100_000, 1);
        let centre = 5.0 / COMPENSATION; // 4.104 s
        assert!((mean - centre).abs() < 0.02, "mean {mean}");
        assert!(
            (2.5 / COMPENSATION..2.5 / COMPENSATION + 0.01).contains(&min),
            "min {min}"
        );
        assert!(
            (7.5 / COMPENSATION - 0.01..=7.5 / COMPENSATION).contains(&max),
            "max {max}"
        );
        // Uniform: a quarter of the draws in each quarter of the range.
        let mut rng = fastrand::Rng::with_seed(2);
        let mut quarters = [0u32; 4];
        for _ in 0..100_000 {
            let t = rtcp_interval(&two_party(false), &mut rng).as_secs_f64();
            let position = (t * COMPENSATION / 5.0 - 0.5).clamp(0.0, 0.999_999);
            quarters[(position * 4.0) as usize] += 1;
        }
        assert!(
            quarters.iter().all(|&q| (24_000..26_000).contains(&q)),
            "{quarters:?}"
        );
    }

    #[test]
    fn the_first_report_comes_after_half_the_minimum() {
        let (mean, _, max) = draw(&two_party(true), 20_000, 3);
        assert!((mean - 2.5 / COMPENSATION).abs() < 0.02, "mean {mean}");
        assert!(max <= 3.75 / COMPENSATION);
    }

    #[test]
    fn a_large_session_spreads_its_bandwidth() {
        // 1000 receivers and 1 sender (us): the sender gets 25 % of the bandwidth
        // to itself; a receiver shares 75 % with 999 others.
        let sender = IntervalInputs {
            members: 1000,
            senders: 1,
            ..two_party(false)
        };
        let (mean, _, _) = draw(&sender, 20_000, 4);
        assert!((mean - 5.0 / COMPENSATION).abs() < 0.05, "{mean}");
        let receiver = IntervalInputs {
            we_sent: false,
            ..sender
        };
        let (mean, _, _) = draw(&receiver, 20_000, 5);
        let expected = 128.0 * 999.0 / (500.0 * 0.75) / COMPENSATION;
        assert!((mean / expected - 1.0).abs() < 0.02, "{mean} vs {expected}");
    }

    #[test]
    fn one_seed_gives_one_sequence() {
        let mut a = fastrand::Rng::with_seed(9);
        let mut b = fastrand::Rng::with_seed(9);
        for _ in 0..100 {
            assert_eq!(
                rtcp_interval(&two_party(false), &mut a),
                rtcp_interval(&two_party(false), &mut b)
            );
        }
    }
}
