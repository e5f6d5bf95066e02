// SPDX-License-Identifier: LGPL-2.1-or-later
//! A zone's idle (static) power, learned from what the accountant sees.
//!
//! A package's power is close to linear in its busy fraction `u` (the
//! share of its CPUs' time that was not idle, from `/proc/stat`):
//! `P = P_idle + k * u`. [`IdleFit`] keeps a running least-squares fit of
//! each interval's mean zone power against `u`, with exponential
//! forgetting (half-life [`HALF_LIFE_SAMPLES`] intervals) so that it
//! follows slow changes (temperature, a new governor), and answers:
//!
//! - fewer than [`MIN_SAMPLES`] intervals: nothing yet ([`IdleEstimate::Learning`]);
//! - the loads seen spread by at least [`MIN_SPREAD`] (standard deviation
//!   of `u`), reach down to [`MAX_LOWEST_LOAD`] or less (so the intercept
//!   is not extrapolated far: the busy fraction and the energy of an
//!   interval are not read at the same instant, and that noise in `u`
//!   flattens the fitted line, which a long extrapolation turns into a
//!   large idle error), and power grows with load: the fit's intercept,
//!   clamped to `[0, mean power]` ([`IdleEstimate::Fit`]);
//! - a host that has only been near idle (mean `u` at most [`LOW_LOAD`]):
//!   the mean power, which overstates idle by at most `k * LOW_LOAD`
//!   ([`IdleEstimate::LowLoad`]);
//! - otherwise (a host always at one load above idle) the idle power
//!   cannot be told from the dynamic power: [`IdleEstimate::Unknown`], and
//!   the accountant treats all energy as active until the load varies.
//!
//! Samples are interval means, so each interval of any length is one
//! sample; intervals of different lengths weigh the same. An interval
//! whose busy fraction differs from the previous one's by more than
//! [`MAX_STEP`] is left out: the load changed within it, and its power and
//! its load, read a few milliseconds (a simulated host: up to one runner
//! step) apart, disagree most there.

/// Intervals before an estimate is given.
pub const MIN_SAMPLES: u64 = 10;

/// Standard deviation of the busy fraction needed to trust the fit.
pub const MIN_SPREAD: f64 = 0.05;

/// The lowest busy fraction seen must be at most this for the fit to be
/// trusted (it is forgotten at the rate of [`HALF_LIFE_SAMPLES`]).
pub const MAX_LOWEST_LOAD: f64 = 0.25;

/// The largest change of the busy fraction from one interval to the next
/// for the interval to count in the fit.
pub const MAX_STEP: f64 = 0.2;

/// Mean busy fraction under which the mean power stands for idle power.
pub const LOW_LOAD: f64 = 0.05;

/// Half-life of a sample's weight, in intervals (30 min at 1 s).
pub const HALF_LIFE_SAMPLES: f64 = 1800.0;

impl Default for IdleFit {
    fn default() -> IdleFit {
        IdleFit::new()
    }
}

/// What [`IdleFit`] knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IdleEstimate {
    /// Too few samples.
    Learning,
    /// Fitted: idle power and the power per unit of busy fraction, µW.
    Fit { idle_uw: f64, slope_uw: f64 },
    /// The host has only been seen near idle: its mean power, µW.
    LowLoad { idle_uw: f64 },
    /// Only one load level above idle seen: idle power unknown.
    Unknown,
}

impl IdleEstimate {
    /// The idle power, µW, if known.
    pub fn idle_uw(self) -> Option<f64> {
        match self {
            IdleEstimate::Fit { idle_uw, .. } | IdleEstimate::LowLoad { idle_uw } => Some(idle_uw),
            IdleEstimate::Learning | IdleEstimate::Unknown => None,
        }
    }

    /// A short name for logs and stats: `learning`, `fit`, `low-load`,
    /// `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdleEstimate::Learning => "learning",
            IdleEstimate::Fit { .. } => "fit",
            IdleEstimate::LowLoad { .. } => "low-load",
            IdleEstimate::Unknown => "unknown",
        }
    }
}

/// Running least-squares fit of power against busy fraction.
#[derive(Debug, Clone)]
pub struct IdleFit {
    samples: u64,
    w: f64,
    x: f64,
    y: f64,
    xx: f64,
    xy: f64,
    /// The lowest busy fraction seen, rising by 1 / HALF_LIFE_SAMPLES per
    /// sample so that an old low is forgotten.
    lowest: f64,
    /// The previous interval's busy fraction.
    previous: Option<f64>,
}

impl IdleFit {
    /// An empty fit.
    pub fn new() -> IdleFit {
        IdleFit {
            samples: 0,
            w: 0.0,
            x: 0.0,
            y: 0.0,
            xx: 0.0,
            xy: 0.0,
            lowest: f64::INFINITY,
            previous: None,
        }
    }

    /// Adds one interval: busy fraction `u` (0-1) and mean power, µW.
    /// Non-finite values are ignored.
    pub fn add(&mut self, u: f64, power_uw: f64) {
        if !u.is_finite() || !power_uw.is_finite() {
            return;
        }
        let u = u.clamp(0.0, 1.0);
        let previous = self.previous.replace(u);
        if previous.is_some_and(|p| (u - p).abs() > MAX_STEP) {
            return;
        }
        let keep = 0.5f64.powf(1.0 / HALF_LIFE_SAMPLES);
        self.w = self.w * keep + 1.0;
        self.x = self.x * keep + u;
        self.y = self.y * keep + power_uw;
        self.xx = self.xx * keep + u * u;
        self.xy = self.xy * keep + u * power_uw;
        self.lowest = (self.lowest + 1.0 / HALF_LIFE_SAMPLES).min(u);
        self.samples += 1;
    }

    /// Intervals added.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The current estimate (see the [module documentation](self)).
    pub fn estimate(&self) -> IdleEstimate {
        if self.samples < MIN_SAMPLES || self.w <= 0.0 {
            return IdleEstimate::Learning;
        }
        let mean_x = self.x / self.w;
        let mean_y = self.y / self.w;
        let var_x = (self.xx / self.w - mean_x * mean_x).max(0.0);
        if var_x.sqrt() >= MIN_SPREAD && self.lowest <= MAX_LOWEST_LOAD {
            let slope = (self.xy / self.w - mean_x * mean_y) / var_x;
            if slope > 0.0 {
                let idle = (mean_y - slope * mean_x).clamp(0.0, mean_y.max(0.0));
                return IdleEstimate::Fit {
                    idle_uw: idle,
                    slope_uw: slope,
                };
            }
        }
        if mean_x <= LOW_LOAD {
            return IdleEstimate::LowLoad {
                idle_uw: mean_y.max(0.0),
            };
        }
        IdleEstimate::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A triangle wave of loads 0, 0.1, ..., 1, 0.9, ... (steps of 0.1).
    fn ramp(i: usize) -> f64 {
        let k = i % 20;
        (if k <= 10 { k } else { 20 - k }) as f64 / 10.0
    }

    #[test]
    fn learns_a_line() {
        let mut f = IdleFit::new();
        for i in 0..(MIN_SAMPLES as usize - 1) {
            f.add(ramp(i), 0.0);
        }
        assert_eq!(f.estimate(), IdleEstimate::Learning);
        let mut f = IdleFit::new();
        // P = 22.5 W + 127.5 W * u, with +-5 % noise on the power.
        for i in 0..60 {
            let u = ramp(i);
            let noise = if i % 2 == 0 { 1.05 } else { 0.95 };
            f.add(u, (22.5e6 + 127.5e6 * u) * noise);
        }
        let IdleEstimate::Fit { idle_uw, slope_uw } = f.estimate() else {
            panic!("{:?}", f.estimate());
        };
        assert!((idle_uw - 22.5e6).abs() < 0.05 * 22.5e6, "{idle_uw}");
        assert!((slope_uw - 127.5e6).abs() < 0.05 * 127.5e6, "{slope_uw}");
    }

    #[test]
    fn intervals_where_the_load_jumped_are_left_out() {
        let mut f = IdleFit::new();
        // Steady at 0.1, then steady at 0.9: the first interval at 0.9
        // carries a power that lags (as if the energy were read 30 % of
        // an interval late): left out, the fit stays exact.
        for _ in 0..10 {
            f.add(0.1, 30e6);
        }
        f.add(0.9, 30e6 + 0.7 * 80e6);
        for _ in 0..10 {
            f.add(0.9, 110e6);
        }
        assert_eq!(f.samples(), 20);
        let IdleEstimate::Fit { idle_uw, .. } = f.estimate() else {
            panic!("{:?}", f.estimate());
        };
        assert!((idle_uw - 20e6).abs() < 1.0, "{idle_uw}");
    }

    #[test]
    fn low_load_and_unknown() {
        let mut f = IdleFit::new();
        for _ in 0..20 {
            f.add(0.01, 20e6);
        }
        let IdleEstimate::LowLoad { idle_uw } = f.estimate() else {
            panic!("{:?}", f.estimate());
        };
        assert!((idle_uw - 20e6).abs() < 1.0, "{idle_uw}");
        let mut f = IdleFit::new();
        for _ in 0..20 {
            f.add(0.5, 80e6);
        }
        assert_eq!(f.estimate(), IdleEstimate::Unknown);
        assert_eq!(f.estimate().idle_uw(), None);
        // Power falling with load is not a fit.
        let mut f = IdleFit::new();
        for i in 0..20 {
            let u = ramp(i);
            f.add(u, 50e6 - 10e6 * u);
        }
        assert_eq!(f.estimate(), IdleEstimate::Unknown);
        // Loads spread between 0.5 and 1 only: the intercept would be a
        // long extrapolation, not trusted.
        let mut f = IdleFit::new();
        for i in 0..20 {
            let u = 0.5 + ramp(i) / 2.0;
            f.add(u, 20e6 + 100e6 * u);
        }
        assert_eq!(f.estimate(), IdleEstimate::Unknown);
        f.add(0.4, 60e6);
        f.add(0.25, 45e6);
        assert!(
            matches!(f.estimate(), IdleEstimate::Fit { .. }),
            "{:?}",
            f.estimate()
        );
        f.add(f64::NAN, 1.0);
        assert_eq!(f.samples(), 22);
    }
}
