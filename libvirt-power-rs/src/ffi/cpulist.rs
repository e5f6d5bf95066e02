// SPDX-License-Identifier: LGPL-2.1-or-later
//! `lvp_cpulist_parse`: the library's CPU-list parser for C callers (the
//! libvirt getter), so that getters and setters accept one syntax with
//! one bound.

use std::ffi::c_char;

use crate::cpulist::{CPU_MAP_BYTES, CPULIST_MAX_LEN, MAX_CPU, parse_selection};
use crate::error::Error;

use super::args::null;
use super::guard::{fail, guard, lib_err};
use super::result::lvp_result;

/// Longest CPU list [`lvp_cpulist_parse`] and the setters accept, in
/// bytes, the terminating NUL not counted. Every CPU 0 to `LVP_CPU_MAX`
/// written one by one and comma-separated is 39849 bytes.
pub const LVP_CPULIST_MAX_LEN: usize = 65536;

/// Highest CPU number a CPU list may name (libvirt's
/// `VIR_DOMAIN_CPUMASK_LEN` - 1).
pub const LVP_CPU_MAX: u32 = 8191;

/// Size in bytes of the CPU bitmap [`lvp_cpulist_parse`] fills: one bit for
/// each CPU 0 to `LVP_CPU_MAX`.
pub const LVP_CPU_MAP_BYTES: usize = 1024;

const _: () = assert!(LVP_CPULIST_MAX_LEN == CPULIST_MAX_LEN);
const _: () = assert!(LVP_CPU_MAX == MAX_CPU);
const _: () = assert!(LVP_CPU_MAP_BYTES == CPU_MAP_BYTES);

/// The string at `p`, reading at most `CPULIST_MAX_LEN + 1` bytes: a
/// longer one is refused without looking for its end.
///
/// # Safety
/// `p` is non-NULL and NUL-terminated.
unsafe fn bounded_list<'a>(p: *const c_char) -> Result<&'a str, lvp_result> {
    let mut n = 0;
    // SAFETY: p is NUL-terminated, and the loop stops at the NUL, so each
    // byte read is part of the string.
    while n <= CPULIST_MAX_LEN && unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    // SAFETY: the n bytes at p were read above and stay valid for the call.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) };
    if n > CPULIST_MAX_LEN {
        let head = String::from_utf8_lossy(&bytes[..32]);
        return Err(lib_err(Error::invalid(
            "CPU list",
            format!("{head}..."),
            format!("at most {CPULIST_MAX_LEN} bytes (this one is longer)"),
        )));
    }
    std::str::from_utf8(bytes)
        .map_err(|_| fail(lvp_result::LVP_RESULT_INVALID_UTF8, "list is not UTF-8"))
}

/// Parses a CPU selection with the same parser the setters use: `"all"`,
/// or a list in libvirt's `virBitmapParse` syntax: comma-separated CPUs
/// `N`, ranges `N-M` and exclusions `^N` (applied left to right),
/// whitespace allowed as libvirt allows it, CPU numbers 0 to
/// `LVP_CPU_MAX`, at most `LVP_CPULIST_MAX_LEN` bytes (a longer string is
/// refused after reading `LVP_CPULIST_MAX_LEN + 1` bytes of it). A list
/// that selects no CPU (`"0,^0"`) is refused.
///
/// On success: `*out_all` is true for `"all"` (the map is then all zero
/// and `*out_ncpus` is 0: the caller means every CPU it has); otherwise
/// `*out_all` is false, bit `N % 8` of `out_map[N / 8]` is set for each CPU
/// `N` selected (the little-endian layout of libvirt's
/// `virBitmapNewData`), bytes past `LVP_CPU_MAP_BYTES` are zeroed, and
/// `*out_ncpus` is the number of CPUs selected. On error
/// (`LVP_RESULT_INVALID_ARGUMENT` with a message naming the bad item and
/// the accepted syntax and range, `LVP_RESULT_INVALID_UTF8`,
/// `LVP_RESULT_NULL_PARAMETER`) nothing is written. Nothing is
/// allocated for the caller.
///
/// # Safety
/// `list` is NULL or NUL-terminated; `out_map` is NULL or valid for
/// `map_len` bytes, `map_len` at least `LVP_CPU_MAP_BYTES`; `out_all` and
/// `out_ncpus` are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_cpulist_parse(
    list: *const c_char,
    out_map: *mut u8,
    map_len: usize,
    out_all: *mut bool,
    out_ncpus: *mut usize,
) -> lvp_result {
    guard(|| {
        if list.is_null() {
            return Err(null("list"));
        }
        if out_map.is_null() {
            return Err(null("out_map"));
        }
        if out_all.is_null() {
            return Err(null("out_all"));
        }
        if out_ncpus.is_null() {
            return Err(null("out_ncpus"));
        }
        if map_len < CPU_MAP_BYTES {
            return Err(lib_err(Error::invalid(
                "map_len",
                map_len.to_string(),
                format!("at least LVP_CPU_MAP_BYTES ({CPU_MAP_BYTES})"),
            )));
        }
        // SAFETY: list is non-NULL and NUL-terminated per the contract.
        let s = unsafe { bounded_list(list) }?;
        let sel = parse_selection(s).map_err(lib_err)?;
        let (bytes, all, n) = match sel {
            None => ([0u8; CPU_MAP_BYTES], true, 0),
            Some(map) => (map.to_le_bytes(), false, map.count()),
        };
        // SAFETY: out_map is valid for map_len >= CPU_MAP_BYTES bytes and
        // does not overlap the local `bytes`; out_all and out_ncpus are
        // non-NULL and valid per the contract.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), out_map, CPU_MAP_BYTES);
            std::ptr::write_bytes(out_map.add(CPU_MAP_BYTES), 0, map_len - CPU_MAP_BYTES);
            *out_all = all;
            *out_ncpus = n;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::ptr;

    use super::super::guard::last_error;
    use super::*;

    struct Parsed {
        rc: lvp_result,
        map: Vec<u8>,
        all: bool,
        n: usize,
    }

    fn parse(list: &[u8], map_len: usize) -> Parsed {
        let c = CString::new(list).unwrap();
        let mut p = Parsed {
            rc: lvp_result::LVP_RESULT_OK,
            map: vec![0xAA; map_len],
            all: false,
            n: 777,
        };
        // SAFETY: a NUL-terminated string, a map of map_len bytes, valid
        // out pointers.
        p.rc = unsafe {
            lvp_cpulist_parse(
                c.as_ptr(),
                p.map.as_mut_ptr(),
                map_len,
                &mut p.all,
                &mut p.n,
            )
        };
        p
    }

    #[test]
    fn lists_become_little_endian_bitmaps() {
        let p = parse(b" 0-9, ^3 ,8191", 1030);
        assert_eq!(p.rc, lvp_result::LVP_RESULT_OK, "{}", last_error());
        assert_eq!((p.all, p.n), (false, 10));
        assert_eq!((p.map[0], p.map[1], p.map[1023]), (0b1111_0111, 0b11, 0x80));
        assert!(p.map[2..1023].iter().all(|&b| b == 0));
        assert_eq!(&p.map[1024..], [0; 6]);

        let p = parse(b"all\n", CPU_MAP_BYTES);
        assert_eq!(p.rc, lvp_result::LVP_RESULT_OK, "{}", last_error());
        assert_eq!((p.all, p.n), (true, 0));
        assert!(p.map.iter().all(|&b| b == 0));
    }

    /// Bad lists, a short map and NULL pointers are refused with nothing
    /// written; the message names the item and the accepted range.
    #[test]
    fn bad_input_writes_nothing() {
        for (list, rc, msg) in [
            (
                &b"8192"[..],
                lvp_result::LVP_RESULT_INVALID_ARGUMENT,
                "(CPU 8192 is above 8191)",
            ),
            (
                b"0-2147483647",
                lvp_result::LVP_RESULT_INVALID_ARGUMENT,
                "(CPU 2147483647 is above 8191)",
            ),
            (
                b"0,^0",
                lvp_result::LVP_RESULT_INVALID_ARGUMENT,
                "(this list selects no CPU)",
            ),
            (
                b"",
                lvp_result::LVP_RESULT_INVALID_ARGUMENT,
                "(this list selects no CPU)",
            ),
            (
                b"1-x",
                lvp_result::LVP_RESULT_INVALID_ARGUMENT,
                "('1-x' is not a CPU number or range)",
            ),
            (
                b"\xff",
                lvp_result::LVP_RESULT_INVALID_UTF8,
                "list is not UTF-8",
            ),
        ] {
            let p = parse(list, CPU_MAP_BYTES);
            assert_eq!(p.rc, rc, "{list:?}");
            assert!(last_error().ends_with(msg), "{list:?}: {}", last_error());
            assert!(p.map.iter().all(|&b| b == 0xAA) && p.n == 777 && !p.all);
        }
        assert!(last_error().len() < 300);
        let long = "0,".repeat(LVP_CPULIST_MAX_LEN / 2) + "1";
        let p = parse(long.as_bytes(), CPU_MAP_BYTES);
        assert_eq!(p.rc, lvp_result::LVP_RESULT_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            "invalid CPU list '0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,...': at most 65536 bytes \
             (this one is longer)"
        );
        let p = parse(b"1", CPU_MAP_BYTES - 1);
        assert_eq!(p.rc, lvp_result::LVP_RESULT_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            "invalid map_len '1023': at least LVP_CPU_MAP_BYTES (1024)"
        );
        assert!(p.map.iter().all(|&b| b == 0xAA));

        let (mut all, mut n, mut map) = (false, 0, [0u8; CPU_MAP_BYTES]);
        let one = c"1";
        // SAFETY: NULL list; the other pointers are valid.
        let rc = unsafe {
            lvp_cpulist_parse(ptr::null(), map.as_mut_ptr(), map.len(), &mut all, &mut n)
        };
        assert_eq!(rc, lvp_result::LVP_RESULT_NULL_PARAMETER);
        // SAFETY: NULL map; the other pointers are valid.
        let rc = unsafe { lvp_cpulist_parse(one.as_ptr(), ptr::null_mut(), 0, &mut all, &mut n) };
        assert_eq!(rc, lvp_result::LVP_RESULT_NULL_PARAMETER);
        // SAFETY: NULL out_all; the other pointers are valid.
        let rc = unsafe {
            lvp_cpulist_parse(
                one.as_ptr(),
                map.as_mut_ptr(),
                map.len(),
                ptr::null_mut(),
                &mut n,
            )
        };
        assert_eq!(rc, lvp_result::LVP_RESULT_NULL_PARAMETER);
        // SAFETY: NULL out_ncpus; the other pointers are valid.
        let rc = unsafe {
            lvp_cpulist_parse(
                one.as_ptr(),
                map.as_mut_ptr(),
                map.len(),
                &mut all,
                ptr::null_mut(),
            )
        };
        assert_eq!(rc, lvp_result::LVP_RESULT_NULL_PARAMETER);
        assert_eq!(last_error(), "out_ncpus is NULL");
    }
}
