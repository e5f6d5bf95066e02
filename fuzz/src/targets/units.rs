// SPDX-License-Identifier: LGPL-2.1-or-later
//! `units`: the quantity parsers of `units.rs` (frequency, power, time)
//! on arbitrary text.
//!
//! Properties: no panic; a value a parser accepts is accepted again, as
//! the same value, written as a bare number, with the base unit, and with
//! the next unit up when it divides evenly. The value just under 2^128 of
//! the unit with a fraction that once overflowed is kept in
//! `fuzz/regressions/units/`.

use libvirt_power::units::{parse_frequency_khz, parse_power_uw, parse_time_us};

use crate::{Outcome, Target};

/// The target.
pub fn target() -> Target {
    Target {
        name: "units",
        about: "parse_frequency_khz, parse_power_uw, parse_time_us; reformatted values parse back",
        dict: &[
            b"kHz",
            b"MHz",
            b"GHz",
            b"uW",
            b"mW",
            b"W",
            b"us",
            b"ms",
            b"s",
            b".",
            b" ",
            b"0.",
            b".5",
            b"18446744073709551615",
            b"18446744073709551616",
            b"340282366920938463463374607431768211455",
        ],
        max_len: 128,
        seeds,
        setup: || Box::new(run),
    }
}

type Parser = fn(&str) -> libvirt_power::Result<u64>;

/// Each parser with its base unit and the next unit up.
const PARSERS: &[(Parser, &str, &str)] = &[
    (parse_frequency_khz, "kHz", "MHz"),
    (parse_power_uw, "uW", "mW"),
    (parse_time_us, "us", "ms"),
];

fn run(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    let mut outcome = Outcome::Refused;
    for &(parse, base, up) in PARSERS {
        let parsed = parse(&text);
        let Ok(v) = parsed else { continue };
        outcome = Outcome::Accepted;
        for again in [v.to_string(), format!("{v}{base}"), format!(" {v} {base} ")] {
            assert_eq!(
                parse(&again).ok(),
                Some(v),
                "{text:?} gave {v}; {again:?} does not"
            );
        }
        if v % 1000 == 0 {
            let again = format!("{}{up}", v / 1000);
            assert_eq!(
                parse(&again).ok(),
                Some(v),
                "{text:?} gave {v}; {again:?} does not"
            );
        }
    }
    outcome
}

fn seeds() -> Vec<Vec<u8>> {
    [
        "2400000", "2400MHz", "2.4GHz", "15W", "15000mW", "1.5s", "976us", "0", " 10 ms ",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
