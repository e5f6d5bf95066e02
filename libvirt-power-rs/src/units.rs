// SPDX-License-Identifier: LGPL-2.1-or-later
//! Parsing of user-typed quantities with units into the kernel's units
//! (kHz, µW, µs). Bare numbers are in the kernel's unit.
//!
//! Case: a unit's symbol matches in any case (`ghz`, `GHz`, `w`, `W`,
//! `S`), but the prefix `m`/`M` must be typed as written, since its case
//! changes the meaning (milli or mega): `15MW` would be megawatts, not
//! the `mW` it once silently meant, and `800mhz` millihertz. Such a suffix
//! is refused with the accepted units named, never guessed.

use crate::error::{Error, Result};

/// Prefix letters whose other case is another SI prefix.
const CASE_SENSITIVE_PREFIXES: [char; 2] = ['m', 'M'];

/// How `suffix` matches `unit`: `Some(true)` as written, `Some(false)` only
/// with the case of an `m`/`M` prefix changed, `None` not at all.
fn matches(unit: &str, suffix: &str) -> Option<bool> {
    if !unit.eq_ignore_ascii_case(suffix) {
        return None;
    }
    let (u, s) = (unit.chars().next(), suffix.chars().next());
    Some(match (u, s) {
        (Some(u), Some(s)) if CASE_SENSITIVE_PREFIXES.contains(&u) && unit.len() > 1 => u == s,
        _ => true,
    })
}

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
    let unit = unit.trim();
    let mut factor = None;
    for (u, f) in units {
        match matches(u, unit) {
            Some(true) => {
                factor = Some(*f);
                break;
            }
            Some(false) => {
                let accepted: Vec<&str> = units
                    .iter()
                    .map(|(u, _)| *u)
                    .filter(|u| !u.is_empty())
                    .collect();
                let (prefix, other) = match unit.chars().next() {
                    Some('M') => ("M (mega)", "m (milli)"),
                    _ => ("m (milli)", "M (mega)"),
                };
                return Err(Error::invalid(
                    what,
                    s,
                    format!(
                        "the unit '{unit}' has the prefix {prefix}, not {other} as in '{u}': the case of m/M changes the meaning; accepted units: {}",
                        accepted.join(", ")
                    ),
                ));
            }
            None => {}
        }
    }
    let factor = factor.ok_or_else(bad)?;
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
        value = value.checked_add(d * scale).ok_or_else(bad)?;
    }
    u64::try_from(value).map_err(|_| bad())
}

/// A frequency: `2400000` (kHz), `2400MHz`, `2.4GHz`, `2400000kHz`.
pub fn parse_frequency_khz(s: &str) -> Result<u64> {
    parse_scaled(
        "frequency",
        s,
        &[("", 1), ("kHz", 1), ("MHz", 1_000), ("GHz", 1_000_000)],
        "a frequency such as 2400000 (kHz), 2400MHz or 2.4GHz (units: kHz, MHz, GHz)",
    )
}

/// A power: `15000000` (µW), `15W`, `15000mW`, `15000000uW`.
pub fn parse_power_uw(s: &str) -> Result<u64> {
    parse_scaled(
        "power",
        s,
        &[("", 1), ("uW", 1), ("mW", 1_000), ("W", 1_000_000)],
        "a power such as 15000000 (uW), 15000mW or 15W (units: uW, mW, W)",
    )
}

/// A duration: `28000000` (µs), `28s`, `2.44ms`, `976us`.
pub fn parse_time_us(s: &str) -> Result<u64> {
    parse_scaled(
        "time window",
        s,
        &[("", 1), ("us", 1), ("ms", 1_000), ("s", 1_000_000)],
        "a time such as 1000000 (us), 10ms or 1s (units: us, ms, s)",
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

    #[test]
    fn a_fraction_that_overflows_is_refused_not_a_panic() {
        // Found by the fuzzer: an integer part just under 2^128 / 10^6
        // plus its fraction overflowed u128.
        let e = parse_frequency_khz("340282366920938463463374607431768.9GHz").unwrap_err();
        assert!(e.to_string().contains("invalid frequency"), "{e}");
        assert!(parse_power_uw("340282366920938463463374607431.7683W").is_err());
    }

    #[test]
    fn case_matters_only_where_it_changes_the_meaning() {
        // Symbols in any case; prefixes other than m/M in any case.
        assert_eq!(parse_frequency_khz("2.4ghz").unwrap(), 2_400_000);
        assert_eq!(parse_frequency_khz("800MHZ").unwrap(), 800_000);
        assert_eq!(parse_frequency_khz("1800000KHZ").unwrap(), 1_800_000);
        assert_eq!(parse_power_uw("15w").unwrap(), 15_000_000);
        assert_eq!(parse_power_uw("15mw").unwrap(), 15_000);
        assert_eq!(parse_power_uw("976UW").unwrap(), 976);
        assert_eq!(parse_time_us("10mS").unwrap(), 10_000);
        assert_eq!(parse_time_us("28S").unwrap(), 28_000_000);
        // MW is megawatts, not milliwatts; mHz millihertz; MS megaseconds.
        for (r, value, unit, accepted) in [
            (parse_power_uw("15MW"), "15MW", "'MW'", "uW, mW, W"),
            (parse_power_uw("15 Mw"), "15 Mw", "'Mw'", "uW, mW, W"),
            (
                parse_frequency_khz("800mhz"),
                "800mhz",
                "'mhz'",
                "kHz, MHz, GHz",
            ),
            (
                parse_frequency_khz("800mHz"),
                "800mHz",
                "'mHz'",
                "kHz, MHz, GHz",
            ),
            (parse_time_us("10MS"), "10MS", "'MS'", "us, ms, s"),
        ] {
            let e = r.unwrap_err().to_string();
            for needle in [value, unit, accepted, "m/M"] {
                assert!(e.contains(needle), "{e}: no {needle}");
            }
        }
        // A unit of another prefix altogether still names the accepted ones.
        let e = parse_power_uw("15kW").unwrap_err().to_string();
        assert!(e.contains("'15kW'") && e.contains("uW, mW, W"), "{e}");
    }
}
