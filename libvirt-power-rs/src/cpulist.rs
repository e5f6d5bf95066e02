// SPDX-License-Identifier: LGPL-2.1-or-later
//! CPU lists: the one parser for every CPU list the library reads, from a
//! caller (`all`, `0-3,8,^2`) or from the kernel (`0-3,8-11`), and the
//! formatter.
//!
//! The syntax is libvirt's `virBitmapParse` (src/util/virbitmap.c,
//! `virBitmapParseInternal`): comma-separated items, each a CPU `N`, a
//! range `N-M` (`N <= M`), or an exclusion `^N` that removes CPU `N` from
//! the CPUs named before it (items apply left to right, so `0-7,^3` is
//! `0-2,4-7` and `^3,0-7` is `0-7`). Whitespace is allowed around the whole
//! list, after a number, around the `-` of a range and after a comma, but
//! not between `^` and its number; one trailing comma is allowed. Numbers
//! are decimal digits only (no sign). Unlike libvirt's unlimited parser
//! this one has two bounds, so that the work per call is bounded whatever
//! the input: CPU numbers 0 to [`MAX_CPU`] (libvirt's own cap,
//! `VIR_DOMAIN_CPUMASK_LEN` = 8192 CPUs) and lists of at most
//! [`CPULIST_MAX_LEN`] bytes, checked before any parsing. The CPUs are
//! kept in a fixed bitmap ([`CpuMap`], 1 KiB), so a range costs at most
//! 128 word writes and nothing is allocated per CPU.

use std::collections::BTreeSet;

use crate::error::{Error, Result, shorten};

/// Highest CPU number a list may name: libvirt's cap
/// (`VIR_DOMAIN_CPUMASK_LEN` = 8192 CPUs), also the kernel's largest
/// `NR_CPUS` default on x86.
pub const MAX_CPU: u32 = 8191;

/// Number of CPUs a [`CpuMap`] holds (CPUs 0 to [`MAX_CPU`]).
pub const CPU_MAP_BITS: usize = MAX_CPU as usize + 1;

/// Size of a [`CpuMap`] as little-endian bytes (bit N is CPU N).
pub const CPU_MAP_BYTES: usize = CPU_MAP_BITS / 8;

/// Longest CPU list accepted, in bytes (a terminating NUL not counted).
/// Every CPU from 0 to 8191 written one by one and comma-separated is
/// 39,849 bytes, so any list of real CPUs fits; 65,536 leaves room for
/// whitespace and exclusions and bounds the work of one parse.
pub const CPULIST_MAX_LEN: usize = 65536;

/// What the parser accepts, for error messages.
const SYNTAX: &str = "a CPU list such as '0-3,8,^2': comma-separated CPUs N and ranges N-M with \
     CPU numbers 0-8191, '^N' removing CPU N, at most 65536 bytes";

const WORDS: usize = CPU_MAP_BITS / 64;

/// A set of CPUs 0 to [`MAX_CPU`] as a fixed bitmap.
#[derive(Clone, PartialEq, Eq)]
pub struct CpuMap {
    words: [u64; WORDS],
}

impl Default for CpuMap {
    fn default() -> Self {
        CpuMap::new()
    }
}

impl std::fmt::Debug for CpuMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CpuMap({})", format_cpulist(&self.to_set()))
    }
}

impl CpuMap {
    /// No CPU.
    pub const fn new() -> CpuMap {
        CpuMap { words: [0; WORDS] }
    }

    /// Adds CPUs `lo..=hi` (both at most [`MAX_CPU`], `lo <= hi`).
    fn set_range(&mut self, lo: u32, hi: u32) {
        debug_assert!(lo <= hi && hi <= MAX_CPU);
        let (lo, hi) = (lo as usize, hi as usize);
        let (lw, hw) = (lo / 64, hi / 64);
        let lmask = u64::MAX << (lo % 64);
        let hmask = u64::MAX >> (63 - hi % 64);
        if lw == hw {
            self.words[lw] |= lmask & hmask;
        } else {
            self.words[lw] |= lmask;
            for w in &mut self.words[lw + 1..hw] {
                *w = u64::MAX;
            }
            self.words[hw] |= hmask;
        }
    }

    /// Removes CPU `cpu` (at most [`MAX_CPU`]).
    fn clear(&mut self, cpu: u32) {
        let cpu = cpu as usize;
        self.words[cpu / 64] &= !(1u64 << (cpu % 64));
    }

    /// Whether CPU `cpu` is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        let cpu = cpu as usize;
        cpu < CPU_MAP_BITS && self.words[cpu / 64] & (1u64 << (cpu % 64)) != 0
    }

    /// Number of CPUs in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The CPUs, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let base = i as u32 * 64;
            (0..64u32)
                .filter(move |b| w & (1u64 << b) != 0)
                .map(move |b| base + b)
        })
    }

    /// The CPUs as a set.
    pub fn to_set(&self) -> BTreeSet<u32> {
        self.iter().collect()
    }

    /// The map as [`CPU_MAP_BYTES`] little-endian bytes: bit `N % 8` of
    /// byte `N / 8` is CPU `N` (the layout of libvirt's
    /// `virBitmapNewData`).
    pub fn to_le_bytes(&self) -> [u8; CPU_MAP_BYTES] {
        let mut out = [0u8; CPU_MAP_BYTES];
        for (chunk, w) in out.chunks_exact_mut(8).zip(self.words.iter()) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// Parses a CPU list (syntax in the module doc) into a bitmap. An empty
/// or all-whitespace list is the empty set (the kernel writes an empty
/// line for "no CPU"). `what` names the source in errors.
pub fn parse_cpumap(what: &str, s: &str) -> Result<CpuMap> {
    let bad = |detail: String| Error::invalid(what, s, format!("{SYNTAX} ({detail})"));
    if s.len() > CPULIST_MAX_LEN {
        return Err(bad(format!(
            "the list is {} bytes, longer than {CPULIST_MAX_LEN}",
            s.len()
        )));
    }
    let b = s.as_bytes();
    let mut map = CpuMap::new();
    let mut i = skip_spaces(b, 0);
    while i < b.len() {
        let item = i;
        // The item as written, up to its comma, for error messages.
        let token = || {
            let end = b[item..]
                .iter()
                .position(|&c| c == b',')
                .map_or(b.len(), |n| item + n);
            shorten(s.get(item..end).unwrap_or("").trim_end())
        };
        let neg = b[i] == b'^';
        if neg {
            i += 1;
        }
        let not_a_number = || {
            let t = token();
            bad(if t.is_empty() {
                "an empty item between commas".to_owned()
            } else {
                format!("'{t}' is not a CPU number or range")
            })
        };
        let (start, next) = number(b, i).ok_or_else(not_a_number)?;
        i = skip_spaces(b, next);
        if b.get(i) == Some(&b'-') {
            if neg {
                return Err(bad(format!(
                    "'{}': '^' excludes one CPU, not a range",
                    token()
                )));
            }
            i = skip_spaces(b, i + 1);
            let (last, next) = number(b, i).ok_or_else(not_a_number)?;
            if last < start {
                return Err(bad(format!("range '{}' runs backwards", token())));
            }
            if last > u64::from(MAX_CPU) {
                return Err(bad(format!("CPU {} is above {MAX_CPU}", shown(b, i, next))));
            }
            map.set_range(start as u32, last as u32);
            i = skip_spaces(b, next);
        } else {
            if start > u64::from(MAX_CPU) {
                let at = if neg { item + 1 } else { item };
                return Err(bad(format!(
                    "CPU {} is above {MAX_CPU}",
                    shown(b, at, next)
                )));
            }
            if neg {
                map.clear(start as u32);
            } else {
                map.set_range(start as u32, start as u32);
            }
        }
        match b.get(i) {
            None => break,
            Some(b',') => i = skip_spaces(b, i + 1),
            Some(_) => return Err(not_a_number()),
        }
    }
    Ok(map)
}

/// The digits `b[from..to]` as text, shortened.
fn shown(b: &[u8], from: usize, to: usize) -> String {
    shorten(std::str::from_utf8(&b[from..to]).unwrap_or("?"))
}

/// Index of the first byte at or after `i` that is not ASCII whitespace
/// (libvirt's `virSkipSpaces`: space, tab, newline, form feed, carriage
/// return).
fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The decimal number starting at `i` (at least one digit) and the index
/// after it; a value too large for `u64` saturates (it is refused as above
/// [`MAX_CPU`] anyway).
fn number(b: &[u8], mut i: usize) -> Option<(u64, usize)> {
    let start = i;
    let mut v: u64 = 0;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(u64::from(d - b'0'));
        i += 1;
    }
    (i > start).then_some((v, i))
}

/// Parses a CPU list (syntax in the module doc) into a set; an empty list
/// is the empty set. `what` names the source in errors.
pub fn parse_cpulist(what: &str, s: &str) -> Result<BTreeSet<u32>> {
    parse_cpumap(what, s).map(|m| m.to_set())
}

/// Formats a set in the kernel's list format, ranges collapsed.
pub fn format_cpulist(set: &BTreeSet<u32>) -> String {
    let mut out = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

/// Parses `all` (`None`) or a CPU list that selects at least one CPU, as
/// a bitmap: [`CpuSelection::parse`] and the C ABI's `lvp_cpulist_parse`.
pub fn parse_selection(s: &str) -> Result<Option<CpuMap>> {
    if s.len() <= CPULIST_MAX_LEN && s.trim_ascii() == "all" {
        return Ok(None);
    }
    let map = parse_cpumap("CPU list", s)?;
    if map.is_empty() {
        return Err(Error::invalid(
            "CPU list",
            s,
            format!("'all' or {SYNTAX} (this list selects no CPU)"),
        ));
    }
    Ok(Some(map))
}

/// Which CPUs a setter applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuSelection {
    /// Every online CPU.
    All,
    /// These CPUs.
    List(BTreeSet<u32>),
}

impl CpuSelection {
    /// Parses `all` (surrounding whitespace allowed) or a CPU list (syntax
    /// in the module doc) that selects at least one CPU.
    pub fn parse(s: &str) -> Result<CpuSelection> {
        Ok(match parse_selection(s)? {
            None => CpuSelection::All,
            Some(map) => CpuSelection::List(map.to_set()),
        })
    }

    /// Resolves against the host's online CPUs; a CPU that is not online is
    /// an error naming it and the online range.
    pub fn resolve(&self, online: &BTreeSet<u32>) -> Result<BTreeSet<u32>> {
        match self {
            CpuSelection::All => Ok(online.clone()),
            CpuSelection::List(set) => {
                if let Some(bad) = set.iter().find(|c| !online.contains(c)) {
                    return Err(Error::invalid(
                        "CPU",
                        bad.to_string(),
                        format!("an online CPU of this host: {}", format_cpulist(online)),
                    ));
                }
                Ok(set.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let s = parse_cpulist("t", "0-3,8,10-11").unwrap();
        assert_eq!(
            s.iter().copied().collect::<Vec<_>>(),
            [0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(format_cpulist(&s), "0-3,8,10-11");
        assert!(parse_cpulist("t", "").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "-1",
            "3-1",
            "a",
            "1,,2",
            "0-",
            "99999",
            "1-2-3",
            "18446744073709551615",
        ] {
            let e = parse_cpulist("CPU list", bad).unwrap_err().to_string();
            assert!(e.contains("CPU list"), "{bad}: {e}");
        }
        assert!(CpuSelection::parse("").is_err());
    }

    fn list(s: &str) -> Vec<u32> {
        parse_cpulist("CPU list", s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .into_iter()
            .collect()
    }

    fn err(s: &str) -> String {
        parse_cpulist("CPU list", s).unwrap_err().to_string()
    }

    /// libvirt's `^N` removes CPU N from the CPUs named before it; items
    /// apply left to right.
    #[test]
    fn exclusions_remove_cpus_in_order() {
        assert_eq!(list("0-7,^2"), [0, 1, 3, 4, 5, 6, 7]);
        assert_eq!(list("0-3,^0,^3"), [1, 2]);
        assert_eq!(list("^3,0-5"), [0, 1, 2, 3, 4, 5]);
        assert_eq!(list("0-3,^2,2"), [0, 1, 2, 3]);
        assert_eq!(list("^5"), [] as [u32; 0]);
        let e = err("^2-3");
        assert!(
            e.contains("'^2-3': '^' excludes one CPU, not a range"),
            "{e}"
        );
        assert!(
            CpuSelection::parse("0,^0")
                .unwrap_err()
                .to_string()
                .contains("selects no CPU")
        );
        assert_eq!(
            CpuSelection::parse("0-3,^1").unwrap(),
            CpuSelection::List([0, 2, 3].into())
        );
    }

    /// Whitespace where libvirt's `virBitmapParse` skips it (its
    /// `virSkipSpaces`: space, tab, newline, form feed, carriage return),
    /// a trailing comma, leading zeros; nowhere else.
    #[test]
    fn whitespace_as_libvirt_allows() {
        assert_eq!(list(" 0 - 2 ,\t^1 ,\r\n 5\n"), [0, 2, 5]);
        assert_eq!(list("1,"), [1]);
        assert_eq!(list("007"), [7]);
        assert_eq!(list("  \n"), [] as [u32; 0]);
        assert_eq!(CpuSelection::parse(" all\n").unwrap(), CpuSelection::All);
        for bad in [
            "^ 2", "1 2", "\x0b1", "1-+3", "+1", ",1", "1,,2", "1,,", "all,1", "0x1", "1\u{a0}",
        ] {
            let e = err(bad);
            assert!(e.starts_with("invalid CPU list '"), "{bad:?}: {e}");
        }
        assert!(err("1,,2").ends_with("(an empty item between commas)"));
        assert!(
            err("1, 2 3").ends_with("('2 3' is not a CPU number or range)"),
            "{}",
            err("1, 2 3")
        );
    }

    /// CPU numbers stop at 8191 (libvirt's `VIR_DOMAIN_CPUMASK_LEN`), in
    /// every item form; the message names the number and the range.
    #[test]
    fn cpus_above_8191_are_refused_naming_the_range() {
        assert_eq!(list("8191").last(), Some(&8191));
        assert_eq!(list("0-8191").len(), 8192);
        for (bad, cpu) in [
            ("8192", "8192"),
            ("0-8192", "8192"),
            ("1,^8192", "8192"),
            ("0-2147483647", "2147483647"),
            ("99999999999999999999999", "99999999999999999999999"),
        ] {
            let e = err(bad);
            assert!(e.contains("CPU numbers 0-8191"), "{bad}: {e}");
            assert!(
                e.ends_with(&format!("(CPU {cpu} is above 8191)")),
                "{bad}: {e}"
            );
        }
    }

    /// A list longer than `CPULIST_MAX_LEN` is refused by its length
    /// before any item is read; a list of that length is parsed, ranges
    /// being bitmap words, not one step per CPU.
    #[test]
    fn list_length_is_bounded() {
        let long = "0,".repeat(CPULIST_MAX_LEN / 2) + "1";
        let e = err(&long);
        assert!(
            e.ends_with("(the list is 65537 bytes, longer than 65536)"),
            "{e}"
        );
        assert!(e.contains("... (65537 bytes)"), "{e}");
        let mut full = "0-8191,".repeat(CPULIST_MAX_LEN / 7);
        full.push_str(&"0".repeat(CPULIST_MAX_LEN - full.len()));
        assert_eq!(full.len(), CPULIST_MAX_LEN);
        assert_eq!(parse_cpumap("CPU list", &full).unwrap().count(), 8192);
    }

    /// The bitmap's bytes are libvirt's `virBitmapNewData` layout.
    #[test]
    fn map_bytes_are_little_endian() {
        let m = parse_cpumap("t", "0,9,63-64,8191").unwrap();
        let b = m.to_le_bytes();
        assert_eq!((b[0], b[1], b[7], b[8], b[1023]), (1, 2, 0x80, 1, 0x80));
        assert_eq!(b.iter().map(|x| x.count_ones()).sum::<u32>(), 5);
        assert_eq!(m.count(), 5);
        assert!(m.contains(8191) && !m.contains(8192) && !m.contains(1));
        assert_eq!(format!("{m:?}"), "CpuMap(0,9,63-64,8191)");
    }

    #[test]
    fn resolve_checks_online() {
        let online: BTreeSet<u32> = (0..4).collect();
        assert_eq!(CpuSelection::All.resolve(&online).unwrap(), online);
        let e = CpuSelection::parse("2,7")
            .unwrap()
            .resolve(&online)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "invalid CPU '7': an online CPU of this host: 0-3");
    }
}
