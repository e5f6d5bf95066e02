// SPDX-License-Identifier: LGPL-2.1-or-later
//! Monotonic energy totals from wrapping hardware energy counters.
//!
//! Linux powercap (RAPL) zones expose `energy_uj`, a microjoule counter that
//! wraps around at `max_energy_range_uj`: raw values lie in `0..=range` and the
//! value after `range` is `0`. [`WrappingCounter`] turns successive raw readings
//! of such a counter into deltas and a monotonic 64-bit microjoule total.

/// Converts readings of a wrapping energy counter into a monotonic total.
///
/// # Wrap-around
///
/// A raw value lower than the previous one is taken to mean the counter wrapped
/// exactly once. More than one wrap between two reads cannot be detected, so
/// the caller must read the counter more often than once per wrap period:
///
/// ```text
/// max_read_interval_s = range_uj / max_power_uw
/// ```
///
/// e.g. a range of 262 143 328 850 µJ at a maximum of 250 W (250 000 000 µW)
/// wraps at most every ~1048 s, so reads must be (comfortably) closer together
/// than that. Reading at least twice per period leaves a safety margin.
///
/// # Out-of-range values
///
/// When `range_uj > 0`, a raw value above `range_uj` (which a correct counter
/// never produces) is clamped to `range_uj`; it is never a cause for panic.
///
/// # Non-wrapping counters
///
/// `range_uj == 0` means the counter does not wrap in practice (a full 64-bit
/// counter, e.g. a perf event count). A raw value lower than the previous one
/// is then a counter reset and the delta is the raw value itself (the counter
/// restarted at zero and counted up to `raw_uj`).
///
/// The total saturates at `u64::MAX` µJ instead of overflowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WrappingCounter {
    range_uj: u64,
    last_raw_uj: u64,
    total_uj: u64,
}

impl WrappingCounter {
    /// Creates a counter that wraps after `range_uj` (`0` = does not wrap),
    /// using `first_raw_uj` as the baseline. The total starts at 0.
    pub fn new(range_uj: u64, first_raw_uj: u64) -> Self {
        Self {
            range_uj,
            last_raw_uj: clamp_raw(range_uj, first_raw_uj),
            total_uj: 0,
        }
    }

    /// Feeds a new raw reading, returns the energy in µJ since the previous
    /// reading and adds it to the total.
    ///
    /// See the type documentation for the handling of wraps, resets and
    /// values above the range.
    pub fn update(&mut self, raw_uj: u64) -> u64 {
        let raw_uj = clamp_raw(self.range_uj, raw_uj);
        let last = self.last_raw_uj;
        let delta_uj = if raw_uj >= last {
            raw_uj - last
        } else if self.range_uj == 0 {
            // Counter reset: it restarted from zero.
            raw_uj
        } else {
            // One wrap: last..=range, then 0..=raw. `last <= range` holds
            // because readings are clamped, and the sum is at most `range`.
            (self.range_uj - last)
                .saturating_add(raw_uj)
                .saturating_add(1)
        };
        self.last_raw_uj = raw_uj;
        self.total_uj = self.total_uj.saturating_add(delta_uj);
        delta_uj
    }

    /// Monotonic total in µJ accumulated since the baseline reading.
    pub fn total_uj(&self) -> u64 {
        self.total_uj
    }

    /// Last raw reading in µJ (after clamping to the range).
    pub fn last_raw_uj(&self) -> u64 {
        self.last_raw_uj
    }

    /// Highest raw value in µJ before the counter wraps to 0 (`0` = no wrap).
    pub fn range_uj(&self) -> u64 {
        self.range_uj
    }
}

fn clamp_raw(range_uj: u64, raw_uj: u64) -> u64 {
    if range_uj == 0 {
        raw_uj
    } else {
        raw_uj.min(range_uj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAPL_RANGE_UJ: u64 = 262_143_328_850;

    #[test]
    fn no_wrap() {
        let mut c = WrappingCounter::new(RAPL_RANGE_UJ, 1_000);
        assert_eq!(c.total_uj(), 0);
        assert_eq!(c.update(1_500), 500);
        assert_eq!(c.update(1_500), 0);
        assert_eq!(c.update(4_000), 2_500);
        assert_eq!(c.total_uj(), 3_000);
        assert_eq!(c.last_raw_uj(), 4_000);
        assert_eq!(c.range_uj(), RAPL_RANGE_UJ);
    }

    #[test]
    fn one_wrap() {
        let mut c = WrappingCounter::new(RAPL_RANGE_UJ, 262_143_328_000);
        // (262143328850 - 262143328000) + 150 + 1 = 850 + 151 = 1001
        assert_eq!(c.update(150), 1_001);
        assert_eq!(c.total_uj(), 1_001);
        assert_eq!(c.last_raw_uj(), 150);
    }

    #[test]
    fn raw_exactly_at_range() {
        let mut c = WrappingCounter::new(100, 90);
        assert_eq!(c.update(100), 10); // reaching the range is not a wrap
        assert_eq!(c.update(0), 1); // range -> 0 is one step
        assert_eq!(c.update(5), 5);
        assert_eq!(c.total_uj(), 16);
        // Starting at the range, wrapping to 3: (100 - 100) + 3 + 1 = 4
        let mut c = WrappingCounter::new(100, 100);
        assert_eq!(c.update(3), 4);
    }

    #[test]
    fn raw_above_range_is_clamped() {
        let mut c = WrappingCounter::new(100, 500);
        assert_eq!(c.last_raw_uj(), 100);
        assert_eq!(c.update(1_000), 0);
        assert_eq!(c.update(10), 11); // (100 - 100) + 10 + 1
        assert_eq!(c.update(u64::MAX), 90); // clamped to 100
        assert_eq!(c.total_uj(), 101);
    }

    #[test]
    fn range_zero_reset() {
        let mut c = WrappingCounter::new(0, 1_000);
        assert_eq!(c.update(5_000), 4_000);
        // Reset: restarted from zero, delta is the raw value.
        assert_eq!(c.update(300), 300);
        assert_eq!(c.update(u64::MAX), u64::MAX - 300);
        // total = 4000 + 300 + (MAX - 300) saturates at MAX
        assert_eq!(c.total_uj(), u64::MAX);
        assert_eq!(c.update(7), 7);
        assert_eq!(c.total_uj(), u64::MAX);
    }

    #[test]
    fn max_range_wrap_does_not_overflow() {
        let mut c = WrappingCounter::new(u64::MAX, u64::MAX);
        // (MAX - MAX) + 0 + 1 = 1
        assert_eq!(c.update(0), 1);
        let mut c = WrappingCounter::new(u64::MAX, 1);
        // (MAX - 1) + 0 + 1 = MAX
        assert_eq!(c.update(0), u64::MAX);
    }

    #[test]
    fn many_updates_sum() {
        // range 999: raw values 0..=999, i.e. 1000 steps per period.
        let mut c = WrappingCounter::new(999, 0);
        let mut expected_total = 0u64;
        let mut raw = 0u64;
        for step in 1..=500u64 {
            // advance by `step` µJ each time, modulo 1000
            raw = (raw + step) % 1_000;
            assert_eq!(c.update(raw), step);
            expected_total += step;
        }
        // 1 + 2 + ... + 500 = 500 * 501 / 2 = 125250
        assert_eq!(expected_total, 125_250);
        assert_eq!(c.total_uj(), 125_250);
        assert_eq!(c.last_raw_uj(), 125_250 % 1_000);
    }
}
