// SPDX-License-Identifier: LGPL-2.1-or-later
//! Parsing of user-typed quantities with units into the kernel's units
//! (kHz, µW, µs). Bare numbers are in the kernel's unit.

use crate::error::{Error, Result};

fn parse_scaled(what: &str, s: &str, units: &[(&str, u64)], expected: &str) -> Result<u64> {
    let t = s.trim();
    let bad = || Error::invalid(what, s, expected.to_owned());
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(bad());
    }
    let factor = units
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(unit.trim()))
        .map(|(_, f)| *f)
        .ok_or_else(bad)?;
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(bad());
    }
    let int: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut value = int.checked_mul(u128::from(factor)).ok_or_else(bad)?;
    // Fractional part: digits beyond the unit's resolution must be zero.
    let mut scale = u128::from(factor);
    for d in frac.chars() {
        let d = u128::from(d.to_digit(10).ok_or_else(bad)?);
        if scale % 10 != 0 {
            if d != 0 {
                return Err(bad());
            }
            continue;
        }
        scale /= 10;
        value += d * scale;
    }
    u64::try_from(value).map_err(|_| bad())
}

/// A frequency: `2400000` (kHz), `2400MHz`, `2.4GHz`, `2400000kHz`.
pub fn parse_frequency_khz(s: &str) -> Result<u64> {
    parse_scaled(
        "frequency",
        s,
        &[("", 1), ("khz", 1), ("mhz", 1_000), ("ghz", 1_000_000)],
        "a frequency such as 2400000 (kHz), 2400MHz or 2.4GHz",
    )
}

/// A power: `15000000` (µW), `15W`, `15000mW`, `15000000uW`.
pub fn parse_power_uw(s: &str) -> Result<u64> {
    parse_scaled(
        "power",
        s,
        &[("", 1), ("uw", 1), ("mw", 1_000), ("w", 1_000_000)],
        "a power such as 15000000 (uW), 15000mW or 15W",
    )
}

/// A duration: `28000000` (µs), `28s`, `2.44ms`, `976us`.
pub fn parse_time_us(s: &str) -> Result<u64> {
    parse_scaled(
        "time window",
        s,
        &[("", 1), ("us", 1), ("ms", 1_000), ("s", 1_000_000)],
        "a time such as 1000000 (us), 10ms or 1s",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_frequency_khz("2.4GHz").unwrap(), 2_400_000);
        assert_eq!(parse_frequency_khz("2400MHz").unwrap(), 2_400_000);
        assert_eq!(parse_frequency_khz("1800000").unwrap(), 1_800_000);
        assert_eq!(parse_frequency_khz("2.101 GHz").unwrap(), 2_101_000);
        assert_eq!(parse_power_uw("15W").unwrap(), 15_000_000);
        assert_eq!(parse_power_uw("0.5W").unwrap(), 500_000);
        assert_eq!(parse_power_uw("250mW").unwrap(), 250_000);
        assert_eq!(parse_time_us("2.44ms").unwrap(), 2_440);
        assert_eq!(parse_time_us("28s").unwrap(), 28_000_000);
        for bad in [
            "",
            "GHz",
            "-1",
            "1.5",
            "1.5kHz",
            "abc",
            "1..2GHz",
            "99999999999999999999",
            "2.4 THz",
            "18446744073709551616",
        ] {
            assert!(parse_frequency_khz(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_frequency_khz("18446744073709551615").unwrap(),
            u64::MAX
        );
        assert!(parse_power_uw("0.0000001W").is_err());
    }
}
