// SPDX-License-Identifier: LGPL-2.1-or-later
//! `lvp_report`: what a setter did.

use std::ffi::c_char;

use crate::cpulist::format_cpulist;
use crate::host::SetReport;

use super::args::null;
use super::castable::{Castable, free_box, set_boxed_mut_ptr, try_ref_from_ptr};
use super::guard::guard;
use super::out::copy_out;
use super::result::lvp_result;

/// What a setter did. Opaque.
pub struct lvp_report {
    _private: [u8; 0],
}

impl Castable for lvp_report {
    type RustType = SetReport;
    const NAME: &'static str = "report";
}

/// Stores a report in `report_out` if the caller asked for one.
///
/// # Safety
/// `report_out` is NULL or valid for a write.
pub(super) unsafe fn give_report(report: SetReport, report_out: *mut *mut lvp_report) {
    if !report_out.is_null() {
        // SAFETY: report_out is non-NULL and valid.
        unsafe { set_boxed_mut_ptr(report_out, report) };
    }
}

/// Frees a report; NULL is fine.
///
/// # Safety
/// `report` is NULL or from a setter, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_report_free(report: *mut lvp_report) {
    guard(|| {
        // SAFETY: report is NULL or from a setter, not used afterwards.
        unsafe { free_box(report) };
        Ok(())
    });
}

/// Counts of files written, files the kernel clamped, and files left
/// unchanged because they already held the value.
///
/// # Safety
/// `report` is live; out pointers are valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_report_counts(
    report: *const lvp_report,
    out_changed: *mut usize,
    out_clamped: *mut usize,
    out_unchanged: *mut usize,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let r = unsafe { try_ref_from_ptr(report) }?;
        if out_changed.is_null() || out_clamped.is_null() || out_unchanged.is_null() {
            return Err(null("out pointer"));
        }
        // SAFETY: checked non-NULL, valid per contract.
        unsafe {
            *out_changed = r.changes.len();
            *out_clamped = r.clamped().count();
            *out_unchanged = r.unchanged.len();
        }
        Ok(())
    })
}

/// What `text` makes of the report, copied out as the text exports do.
///
/// # Safety
/// `report` is live; `buf` NULL or valid for `len`; `out_n` valid.
unsafe fn copy_report(
    report: *const lvp_report,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
    text: impl FnOnce(&SetReport) -> String,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let r = unsafe { try_ref_from_ptr(report) }?;
        // SAFETY: forwarded contract.
        unsafe { copy_out(&text(r), buf, len, out_n) }
    })
}

/// The report as text (one line per change, clamp, and note).
///
/// # Safety
/// `report` is live; `buf` NULL or valid for `len`; `out_n` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_report_text(
    report: *const lvp_report,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe { copy_report(report, buf, len, out_n, |r| r.to_text()) }
}

/// SMT siblings left out of a frequency change, as a CPU list (empty if
/// none).
///
/// # Safety
/// `report` is live; `buf` NULL or valid for `len`; `out_n` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_report_siblings_not_set(
    report: *const lvp_report,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe {
        copy_report(report, buf, len, out_n, |r| {
            format_cpulist(&r.siblings_not_set)
        })
    }
}

/// CPUs an `all` selection left out (offline, or online without a cpufreq
/// policy), as a CPU list (empty if none). The notes
/// ([`lvp_report_notes`]) say why.
///
/// # Safety
/// `report` is live; `buf` NULL or valid for `len`; `out_n` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_report_cpus_skipped(
    report: *const lvp_report,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe { copy_report(report, buf, len, out_n, |r| format_cpulist(&r.cpus_skipped)) }
}

/// The report's notes alone, one per line (empty if none): CPUs skipped,
/// shared policies, SMT siblings left out, values the kernel adjusted.
/// Short where [`lvp_report_text`], one line per file written, can run to
/// kilobytes on a large host: a caller with a fixed buffer gets these.
///
/// # Safety
/// `report` is live; `buf` NULL or valid for `len`; `out_n` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_report_notes(
    report: *const lvp_report,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe {
        copy_report(report, buf, len, out_n, |r| {
            r.notes.iter().map(|n| format!("{n}\n")).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cpulist::CpuSelection;
    use crate::host::{Host, SetOptions};
    use crate::sim::{self, SimSpec};
    use crate::sysfs::SysfsRoot;
    use crate::testutil::TempDir;

    /// Calls a report text getter with a buffer of `len` bytes, as C does.
    fn text_in(
        f: unsafe extern "C" fn(*const lvp_report, *mut c_char, usize, *mut usize) -> lvp_result,
        report: *const lvp_report,
        len: usize,
    ) -> (lvp_result, String) {
        let mut buf = vec![0 as c_char; len];
        let mut n = 0;
        // SAFETY: report is live, buf valid for len bytes, n for a write.
        let rc = unsafe { f(report, buf.as_mut_ptr(), len, &mut n) };
        let bytes: Vec<u8> = buf
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        (rc, String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn skipped_cpus_reach_a_caller_with_a_fixed_buffer() {
        // 128 CPUs, the SMT threads 64-127 offline: a governor change on
        // `all` writes 64 policies, a report text of 5 kB.
        let t = TempDir::new("ffi-report-skipped");
        let root = t.path().join("sys");
        sim::generate(&root, &SimSpec::preset("large", Some(128)).unwrap()).unwrap();
        sim::tree::store(&root, Path::new("devices/system/cpu/smt/control"), "off").unwrap();
        let host = Host::new(SysfsRoot::new(&root), None).unwrap();
        let r = host
            .set_governor(&CpuSelection::All, "performance", SetOptions::default())
            .unwrap();
        assert_eq!(r.changes.len(), 64);
        let boxed = Box::into_raw(Box::new(r)).cast::<lvp_report>();
        // What virhostpower.c's virHostPowerFinish gives lvp_report_text.
        let (rc, _) = text_in(lvp_report_text, boxed, 4096);
        assert_eq!(rc, lvp_result::LVP_RESULT_BUFFER_TOO_SMALL);
        let (rc, notes) = text_in(lvp_report_notes, boxed, 4096);
        assert_eq!(rc, lvp_result::LVP_RESULT_OK);
        assert!(
            notes.contains("CPUs 64-127 are offline: skipped"),
            "{notes}"
        );
        let (rc, list) = text_in(lvp_report_cpus_skipped, boxed, 64);
        assert_eq!((rc, list.as_str()), (lvp_result::LVP_RESULT_OK, "64-127"));
        // SAFETY: from Box::into_raw above, not used afterwards.
        unsafe { lvp_report_free(boxed) };
    }
}
