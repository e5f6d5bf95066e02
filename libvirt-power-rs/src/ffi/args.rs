// SPDX-License-Identifier: LGPL-2.1-or-later
//! Checks of the arguments C passes: required pointers, strings, flags,
//! indexes, and enums passed by value as numbers.

use std::ffi::{CStr, c_char};

use crate::error::Error;

pub(super) use super::cenum::CEnum;
use super::guard::{fail, lib_err};
use super::result::lvp_result;

/// `LVP_RESULT_NULL_PARAMETER` with a message naming the argument.
pub(super) fn null(what: &str) -> lvp_result {
    fail(
        lvp_result::LVP_RESULT_NULL_PARAMETER,
        format!("{what} is NULL"),
    )
}

/// A required string argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
pub(super) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, lvp_result> {
    if p.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|_| {
        fail(
            lvp_result::LVP_RESULT_INVALID_UTF8,
            format!("{what} is not UTF-8"),
        )
    })
}

/// An optional string argument: NULL gives `None`.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
pub(super) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, lvp_result> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, what) }.map(Some)
    }
}

/// Refuses bits of `flags` outside `allowed`.
pub(super) fn check_flags(flags: u32, allowed: u32) -> Result<(), lvp_result> {
    if flags & !allowed != 0 {
        return Err(fail(
            lvp_result::LVP_RESULT_INVALID_FLAGS,
            format!(
                "unsupported flags 0x{:x} (accepted: 0x{allowed:x})",
                flags & !allowed
            ),
        ));
    }
    Ok(())
}

/// `LVP_RESULT_OUT_OF_RANGE` for index `idx` of a list of `count`.
pub(super) fn out_of_range(what: &str, idx: usize, count: usize) -> lvp_result {
    fail(
        lvp_result::LVP_RESULT_OUT_OF_RANGE,
        format!("{what} index {idx} is out of range (0 to {count} exclusive)"),
    )
}

/// Converts an enum argument passed as a number; a number outside the enum
/// gives `LVP_RESULT_INVALID_ARGUMENT` with a message that names it and
/// lists the accepted values.
pub(super) fn enum_arg<E: CEnum>(v: u32) -> Result<E, lvp_result> {
    E::from_u32(v).ok_or_else(|| {
        let accepted: Vec<String> = E::ALL
            .iter()
            .map(|e| format!("{} ({e:?})", e.to_u32()))
            .collect();
        lib_err(Error::invalid(
            E::WHAT,
            v.to_string(),
            format!("expected one of {}", accepted.join(", ")),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{lvp_knob, lvp_weight};

    fn last() -> String {
        super::super::guard::last_error()
    }

    #[test]
    fn bad_enum_numbers_are_named_with_the_accepted_values() {
        assert_eq!(enum_arg::<lvp_knob>(8), Ok(lvp_knob::LVP_KNOB_RAPL_ENABLED));
        assert_eq!(
            enum_arg::<lvp_weight>(2),
            Ok(lvp_weight::LVP_WEIGHT_CPU_TIME)
        );
        assert_eq!(
            enum_arg::<lvp_knob>(99),
            Err(lvp_result::LVP_RESULT_INVALID_ARGUMENT)
        );
        let m = last();
        assert!(
            m.starts_with("invalid knob class '99': expected one of 0 (LVP_KNOB_ALL), ")
                && m.ends_with(", 8 (LVP_KNOB_RAPL_ENABLED)"),
            "{m}"
        );
        assert_eq!(
            enum_arg::<lvp_weight>(u32::MAX),
            Err(lvp_result::LVP_RESULT_INVALID_ARGUMENT)
        );
        assert_eq!(
            last(),
            "invalid weight '4294967295': expected one of 0 (LVP_WEIGHT_AUTO), \
             1 (LVP_WEIGHT_CYCLES), 2 (LVP_WEIGHT_CPU_TIME)"
        );
    }

    /// Each enum's `ALL` list holds every value the header declares, so
    /// that no valid number from C is refused.
    #[test]
    fn every_header_value_converts() {
        let header = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../include/libvirt_power.h"
        ))
        .expect("read the committed header");
        fn check<E: CEnum>(header: &str, prefix: &str) {
            let mut seen = 0;
            for line in header.lines() {
                let line = line.trim();
                let Some((name, value)) = line.split_once(" = ") else {
                    continue;
                };
                if !name.starts_with(prefix) {
                    continue;
                }
                let v: u32 = value.trim_end_matches(',').parse().expect(line);
                let e = E::from_u32(v).unwrap_or_else(|| panic!("{line}: not in ALL"));
                assert_eq!(format!("{e:?}"), name, "{line}");
                seen += 1;
            }
            assert_eq!(seen, E::ALL.len(), "{prefix}: header values vs ALL");
        }
        check::<lvp_result>(&header, "LVP_RESULT_");
        check::<lvp_knob>(&header, "LVP_KNOB_");
        check::<lvp_weight>(&header, "LVP_WEIGHT_");
    }
}
