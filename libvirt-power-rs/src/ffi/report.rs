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
    guard(|| {
        // SAFETY: forwarded contract.
        let r = unsafe { try_ref_from_ptr(report) }?;
        // SAFETY: forwarded contract.
        unsafe { copy_out(&r.to_text(), buf, len, out_n) }
    })
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
    guard(|| {
        // SAFETY: forwarded contract.
        let r = unsafe { try_ref_from_ptr(report) }?;
        // SAFETY: forwarded contract.
        unsafe { copy_out(&format_cpulist(&r.siblings_not_set), buf, len, out_n) }
    })
}
