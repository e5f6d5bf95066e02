// SPDX-License-Identifier: LGPL-2.1-or-later
//! Library-wide exports: the version, the description of a result code,
//! and the last error message.

use std::ffi::c_char;

use super::guard::{guard, last_error};
use super::out::copy_out;
use super::result::lvp_result;

/// The library version, a static NUL-terminated string.
#[unsafe(no_mangle)]
pub extern "C" fn lvp_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Copies the generic description of `result` into `buf` (NUL-terminated,
/// truncated to `len`), and its length into `out_n`.
///
/// # Safety
/// `buf` is NULL or valid for `len` bytes; `out_n` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_result_describe(
    result: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lvp_result {
    guard(|| {
        let text = lvp_result::from_u32(result).map_or("unknown result code", lvp_result::describe);
        // SAFETY: forwarded contract.
        unsafe { copy_out(text, buf, len, out_n) }
    })
}

/// Copies the message of the last failure on this thread into `buf`.
///
/// # Safety
/// `buf` is NULL or valid for `len` bytes; `out_n` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lvp_result {
    guard(|| {
        let msg = last_error();
        // SAFETY: forwarded contract.
        unsafe { copy_out(&msg, buf, len, out_n) }
    })
}
