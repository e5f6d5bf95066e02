// SPDX-License-Identifier: LGPL-2.1-or-later
//! `cpulist`: the one CPU-list parser (`cpulist.rs`), directly and through
//! the C ABI's `lvp_cpulist_parse`.
//!
//! Properties: no panic (none reaches C either); an accepted list
//! formats (`format_cpulist`) to a list that parses to the same CPUs;
//! `parse_selection` and `lvp_cpulist_parse` agree with the parser (same
//! CPUs, same bitmap bytes, `all` flagged); error messages stay short
//! whatever the input's length.

use std::ffi::CString;

use libvirt_power::cpulist::{
    CPU_MAP_BYTES, CPULIST_MAX_LEN, format_cpulist, parse_cpumap, parse_selection,
};
use libvirt_power::ffi::{lvp_cpulist_parse, lvp_result};

use crate::{Outcome, Target};

/// Bound on an error message: the list and the bad item are each shown
/// by at most 64 characters, escaped (`\u{...}` takes up to 10 bytes).
const MESSAGE_MAX: usize = 2048;

/// The target.
pub fn target() -> Target {
    Target {
        name: "cpulist",
        about: "parse_cpumap, parse_selection and lvp_cpulist_parse; format/parse round trip",
        dict: &[
            b"^",
            b"-",
            b",",
            b" ",
            b"\t",
            b"\n",
            b"\x0b",
            b"all",
            b"0-8191",
            b"8191",
            b"8192",
            b"^0",
            b"0-",
            b"2147483647",
            b"4294967296",
        ],
        max_len: 70_000,
        seeds,
        setup: || Box::new(run),
    }
}

fn run(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    let parsed = parse_cpumap("CPU list", &text);
    let selection = parse_selection(&text);
    if let Err(e) = &parsed {
        let n = e.to_string().len();
        assert!(n <= MESSAGE_MAX, "error message of {n} bytes");
    }
    if let Ok(map) = &parsed {
        let formatted = format_cpulist(&map.to_set());
        let back = parse_cpumap("CPU list", &formatted).unwrap_or_else(|e| {
            panic!("{formatted:?} (formatted from {text:?}) does not parse: {e}")
        });
        assert_eq!(
            &back, map,
            "{formatted:?} parses to other CPUs than {text:?}"
        );
        if !map.is_empty() {
            assert_eq!(selection.as_ref().ok(), Some(&Some(map.clone())));
        }
    }
    // The C ABI, on the bytes up to the first NUL.
    let c = CString::new(data.split(|&b| b == 0).next().unwrap_or(&[])).expect("no NUL");
    let c_text = String::from_utf8(c.as_bytes().to_vec()).ok();
    let mut out = vec![0xa5u8; CPU_MAP_BYTES + 3];
    let (mut all, mut n) = (false, usize::MAX);
    // SAFETY: a NUL-terminated string, a map of out.len() bytes, valid out
    // pointers.
    let rc =
        unsafe { lvp_cpulist_parse(c.as_ptr(), out.as_mut_ptr(), out.len(), &mut all, &mut n) };
    assert_ne!(
        rc,
        lvp_result::LVP_RESULT_PANIC,
        "lvp_cpulist_parse panicked"
    );
    match c_text.as_deref().map(parse_selection) {
        // Refused by its length before its bytes are looked at.
        _ if c.as_bytes().len() > CPULIST_MAX_LEN => {
            assert_eq!(rc, lvp_result::LVP_RESULT_INVALID_ARGUMENT);
        }
        None => assert_eq!(rc, lvp_result::LVP_RESULT_INVALID_UTF8),
        Some(Err(_)) => {
            assert_eq!(rc, lvp_result::LVP_RESULT_INVALID_ARGUMENT);
            assert!(
                out.iter().all(|&b| b == 0xa5) && n == usize::MAX,
                "written on error"
            );
        }
        Some(Ok(None)) => {
            assert_eq!(rc, lvp_result::LVP_RESULT_OK);
            assert!(all && n == 0 && out.iter().all(|&b| b == 0));
        }
        Some(Ok(Some(map))) => {
            assert_eq!(rc, lvp_result::LVP_RESULT_OK);
            assert!(!all && n == map.count());
            assert_eq!(&out[..CPU_MAP_BYTES], &map.to_le_bytes()[..]);
            assert_eq!(&out[CPU_MAP_BYTES..], [0; 3]);
        }
    }
    if parsed.is_ok() || selection.is_ok() {
        Outcome::Accepted
    } else {
        Outcome::Refused
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut every = (0..8192)
        .map(|c: u32| c.to_string())
        .collect::<Vec<_>>()
        .join(",");
    every.push('\n');
    [
        "0",
        "0-3,8",
        "0-7,^2",
        " 0 - 3 ,\t^1 ,\n5 ",
        "all",
        " all\n",
        "1,",
        "007",
        "8191",
        "0-8191,^0,^8191",
        "^3,0-5",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain(std::iter::once(every.into_bytes()))
    .collect()
}
