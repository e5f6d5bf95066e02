// SPDX-License-Identifier: LGPL-2.1-or-later
//! CPU lists in the kernel's format (`0-3,8`), and the CPU selection a
//! caller gives (`all`, one CPU, or a list).

use std::collections::BTreeSet;

use crate::error::{Error, Result};

/// Highest CPU number the parser accepts (the kernel's `NR_CPUS` limit).
pub const MAX_CPU: u32 = 8191;

/// Parses the kernel's list format (`0-3,8-11`, possibly empty, with a
/// trailing newline already removed). `what` names the source in errors.
pub fn parse_cpulist(what: &str, s: &str) -> Result<BTreeSet<u32>> {
    let mut set = BTreeSet::new();
    let s = s.trim();
    if s.is_empty() {
        return Ok(set);
    }
    let bad = |detail: &str| {
        Error::invalid(
            what,
            s,
            format!("a CPU list such as '0-3,8' with CPU numbers 0-{MAX_CPU} ({detail})"),
        )
    };
    for part in s.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: u32 = lo
            .parse()
            .map_err(|_| bad(&format!("'{part}' is not a number or range")))?;
        let hi: u32 = hi
            .parse()
            .map_err(|_| bad(&format!("'{part}' is not a number or range")))?;
        if lo > hi {
            return Err(bad(&format!("range '{part}' runs backwards")));
        }
        if hi > MAX_CPU {
            return Err(bad(&format!("{hi} is above {MAX_CPU}")));
        }
        set.extend(lo..=hi);
    }
    Ok(set)
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

/// Which CPUs a setter applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuSelection {
    /// Every online CPU.
    All,
    /// These CPUs.
    List(BTreeSet<u32>),
}

impl CpuSelection {
    /// Parses `all` or a CPU list.
    pub fn parse(s: &str) -> Result<CpuSelection> {
        if s.trim() == "all" {
            return Ok(CpuSelection::All);
        }
        let set = parse_cpulist("CPU list", s)?;
        if set.is_empty() {
            return Err(Error::invalid(
                "CPU list",
                s,
                "'all' or a CPU list such as '0-3,8'",
            ));
        }
        Ok(CpuSelection::List(set))
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
