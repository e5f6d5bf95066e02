// SPDX-License-Identifier: LGPL-2.1-or-later
//! Copies from Rust into memory the C caller owns: text into a caller
//! buffer, names into the fixed fields of the state structs.

use std::ffi::c_char;

use super::args::null;
use super::guard::fail;
use super::result::lvp_result;

/// Copies `s` into a caller buffer, NUL-terminated, and its full length
/// (without the NUL) into `out_n`.
///
/// # Safety
/// `buf` is NULL or valid for `len` bytes; `out_n` is NULL or valid.
pub(super) unsafe fn copy_out(
    s: &str,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> Result<(), lvp_result> {
    if out_n.is_null() {
        return Err(null("out_n"));
    }
    // SAFETY: out_n is non-NULL and valid per the contract.
    unsafe { *out_n = s.len() };
    if buf.is_null() || len == 0 {
        return if s.is_empty() {
            Ok(())
        } else {
            Err(fail(
                lvp_result::LVP_RESULT_BUFFER_TOO_SMALL,
                "no buffer given",
            ))
        };
    }
    let n = s.len().min(len - 1);
    // SAFETY: buf is valid for len bytes and n + 1 <= len; the source and
    // destination do not overlap (s is Rust-owned).
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr().cast::<c_char>(), buf, n);
        *buf.add(n) = 0;
    }
    if n < s.len() {
        return Err(fail(
            lvp_result::LVP_RESULT_BUFFER_TOO_SMALL,
            format!("buffer of {len} bytes too small for {} bytes", s.len() + 1),
        ));
    }
    Ok(())
}

/// `s` as a fixed NUL-terminated field of `N` bytes, cut to `N - 1` bytes.
pub(super) fn name_field<const N: usize>(s: &str) -> [c_char; N] {
    let mut out = [0 as c_char; N];
    for (dst, src) in out.iter_mut().zip(s.bytes().take(N.saturating_sub(1))) {
        *dst = src as c_char;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_cut_and_terminated() {
        let mut buf = [1 as c_char; 4];
        let mut n = 0;
        // SAFETY: buf is valid for 4 bytes and n for a write.
        let rc = unsafe { copy_out("abcdef", buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(rc, Err(lvp_result::LVP_RESULT_BUFFER_TOO_SMALL));
        assert_eq!(n, 6);
        assert_eq!(buf, [b'a' as c_char, b'b' as c_char, b'c' as c_char, 0]);
        // SAFETY: a NULL buffer of length 0 and a valid out_n.
        let rc = unsafe { copy_out("", std::ptr::null_mut(), 0, &mut n) };
        assert_eq!((rc, n), (Ok(()), 0));
        let f: [c_char; 3] = name_field("xyz");
        assert_eq!(f, [b'x' as c_char, b'y' as c_char, 0]);
    }
}
