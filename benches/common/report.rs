// SPDX-License-Identifier: LGPL-2.1-or-later
//! Words and ratios of the energy benchmarks' report lines.

/// `a / b`, or why there is no ratio: an idle daemon with accounting off
/// does no periodic work at all, so its CPU time can be exactly 0.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "n/a (off used no CPU time)".into()
    }
}

/// "guest" or "guests".
pub fn guests_word(n: usize) -> &'static str {
    if n == 1 { "guest" } else { "guests" }
}

/// "on" or "off".
pub fn side(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}
