// SPDX-License-Identifier: LGPL-2.1-or-later
//! The ground truth of a simulated host: what the [`Runner`](super::Runner)
//! put into each package zone, split into idle and dynamic energy, and the
//! dynamic energy of each watched process group, cumulative since the
//! runner started, in the same integer µJ it added to `energy_uj`.
//!
//! # Truth file
//!
//! With a truth file the runner rewrites it atomically (a temporary file
//! renamed over it) after every step. It is text, one record a line, words
//! separated by one space, every energy cumulative in µJ:
//!
//! ```text
//! # libvirt-power simulated host ground truth v1
//! time_ns 81234567890
//! steps 42
//! package 0 idle_power_uw 22500000 idle_uj 94500000 dyn_uj 3120000
//! package 1 idle_power_uw 22500000 idle_uj 94500000 dyn_uj 88000000
//! group vm1 pid 4242 live dyn_uj 0:0 1:87650000
//! ```
//!
//! - `time_ns`: `CLOCK_MONOTONIC` of the last step, ns (the clock of
//!   `clock_gettime(2)`, Python's `time.monotonic_ns()`);
//! - `steps`: the steps taken;
//! - `package P`: the model's idle power of package `P` (µW) and the idle
//!   and dynamic energy added to its zone. Their sum is what `energy_uj` of
//!   `package-P` gained since the runner started, modulo
//!   `max_energy_range_uj + 1`;
//! - `group NAME`: a watched group, its pid, `live` or `gone` (exited or
//!   pid reused: charged nothing more), and per package `P:UJ` its share of
//!   the package's dynamic energy.
//!
//! Lines starting with `#` are comments; readers skip unknown records.
//! [`Truth::parse`] reads the format back.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

/// The ground truth of one package.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackageTruth {
    /// The model's idle power, µW.
    pub idle_power_uw: u64,
    /// Idle (static) energy added, µJ.
    pub idle_uj: u64,
    /// Dynamic energy added, µJ.
    pub dyn_uj: u64,
}

impl PackageTruth {
    /// Everything added to the package zone, µJ.
    pub fn total_uj(&self) -> u64 {
        self.idle_uj + self.dyn_uj
    }
}

/// The ground truth of one watched process group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupTruth {
    /// The process id.
    pub pid: i32,
    /// Whether it is still charged (false once it exited or its pid was
    /// reused).
    pub live: bool,
    /// Its dynamic energy by package, µJ.
    pub dyn_uj: BTreeMap<u32, u64>,
}

impl GroupTruth {
    /// Dynamic energy in package `pkg`, µJ.
    pub fn dyn_uj_in(&self, pkg: u32) -> u64 {
        self.dyn_uj.get(&pkg).copied().unwrap_or(0)
    }

    /// Dynamic energy over all packages, µJ.
    pub fn total_dyn_uj(&self) -> u64 {
        self.dyn_uj.values().sum()
    }
}

/// The ground truth of a simulated host, cumulative since its runner
/// started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    /// `CLOCK_MONOTONIC` of the last step, ns.
    pub time_ns: u64,
    /// Steps taken.
    pub steps: u64,
    /// By package.
    pub packages: BTreeMap<u32, PackageTruth>,
    /// By group name.
    pub groups: BTreeMap<String, GroupTruth>,
}

const HEADER: &str = "# libvirt-power simulated host ground truth v1";

impl Truth {
    /// The text of the truth file (see the [module](self) doc).
    pub fn to_text(&self) -> String {
        let mut out = format!("{HEADER}\ntime_ns {}\nsteps {}\n", self.time_ns, self.steps);
        for (p, t) in &self.packages {
            out.push_str(&format!(
                "package {p} idle_power_uw {} idle_uj {} dyn_uj {}\n",
                t.idle_power_uw, t.idle_uj, t.dyn_uj
            ));
        }
        for (name, g) in &self.groups {
            out.push_str(&format!(
                "group {name} pid {} {} dyn_uj",
                g.pid,
                if g.live { "live" } else { "gone" }
            ));
            for (p, uj) in &g.dyn_uj {
                out.push_str(&format!(" {p}:{uj}"));
            }
            out.push('\n');
        }
        out
    }

    /// Parses the text of a truth file; the error names the bad line.
    pub fn parse(text: &str) -> Result<Truth, String> {
        let mut t = Truth::default();
        for line in text.lines() {
            let w: Vec<&str> = line.split(' ').collect();
            let bad = || format!("bad truth line '{line}'");
            let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
            match w.as_slice() {
                ["time_ns", v] => t.time_ns = num(v)?,
                ["steps", v] => t.steps = num(v)?,
                ["package", p, "idle_power_uw", w, "idle_uj", i, "dyn_uj", d] => {
                    let p = u32::try_from(num(p)?).map_err(|_| bad())?;
                    t.packages.insert(
                        p,
                        PackageTruth {
                            idle_power_uw: num(w)?,
                            idle_uj: num(i)?,
                            dyn_uj: num(d)?,
                        },
                    );
                }
                ["group", name, "pid", pid, state, "dyn_uj", per @ ..] => {
                    let mut dyn_uj = BTreeMap::new();
                    for pair in per {
                        let (p, uj) = pair.split_once(':').ok_or_else(bad)?;
                        dyn_uj.insert(u32::try_from(num(p)?).map_err(|_| bad())?, num(uj)?);
                    }
                    let live = match *state {
                        "live" => true,
                        "gone" => false,
                        _ => return Err(bad()),
                    };
                    let pid = pid.parse().map_err(|_| bad())?;
                    t.groups
                        .insert((*name).to_owned(), GroupTruth { pid, live, dyn_uj });
                }
                _ => {}
            }
        }
        Ok(t)
    }

    /// Reads a truth file.
    pub fn read(path: &Path) -> io::Result<Truth> {
        let text = fs::read_to_string(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Truth::parse(&text).map_err(|reason| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {reason}", path.display()),
            )
        })
    }

    /// Writes the truth file at `path` atomically: readers see the old
    /// file or the new one, never a part.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = Path::new(&tmp);
        let res = fs::write(tmp, self.to_text()).and_then(|()| fs::rename(tmp, path));
        if res.is_err() {
            let _ = fs::remove_file(tmp);
        }
        res.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }
}

/// A group name the truth file can hold: not empty, no whitespace.
pub fn valid_group_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_whitespace)
}

/// One group's part of a package's dynamic energy in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Its dynamic energy, µJ.
    pub dyn_uj: u64,
    /// The part of its run time the package's busy time did not cover,
    /// ns (see [`split_dynamic`]).
    pub uncovered_ns: u64,
}

/// Splits a step's dynamic energy `dyn_uj` of a package among groups that
/// ran `ran_ns` on its CPUs, in proportion to their time over the
/// package's busy time `busy_ns`: group `g` gets
/// `floor(dyn_uj · ran_g / max(busy_ns, Σ ran))`. When the groups ran
/// more than the busy time shows (`/proc/stat` counts whole ticks), they
/// share all of `dyn_uj` and the run time left uncovered is returned, for
/// the caller to claim in the next step. The shares never exceed
/// `dyn_uj`; the floors lose under 1 µJ per group and step.
pub fn split_dynamic(dyn_uj: u64, busy_ns: u64, ran_ns: &[u64]) -> Vec<Share> {
    let claimed: u128 = ran_ns.iter().map(|&r| u128::from(r)).sum();
    let denom = claimed.max(u128::from(busy_ns));
    ran_ns
        .iter()
        .map(|&r| {
            if denom == 0 {
                return Share {
                    dyn_uj: 0,
                    uncovered_ns: 0,
                };
            }
            let r = u128::from(r);
            let covered = r * u128::from(busy_ns) / denom;
            Share {
                dyn_uj: u64::try_from(u128::from(dyn_uj) * r / denom).unwrap_or(u64::MAX),
                uncovered_ns: u64::try_from(r - covered).unwrap_or(u64::MAX),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn sample() -> Truth {
        Truth {
            time_ns: 81_234_567_890,
            steps: 42,
            packages: BTreeMap::from([
                (
                    0,
                    PackageTruth {
                        idle_power_uw: 22_500_000,
                        idle_uj: 94_500_000,
                        dyn_uj: 3_120_000,
                    },
                ),
                (
                    1,
                    PackageTruth {
                        idle_power_uw: 22_500_000,
                        idle_uj: 94_500_000,
                        dyn_uj: 88_000_000,
                    },
                ),
            ]),
            groups: BTreeMap::from([
                (
                    "vm1".to_owned(),
                    GroupTruth {
                        pid: 4242,
                        live: true,
                        dyn_uj: BTreeMap::from([(0, 0), (1, 87_650_000)]),
                    },
                ),
                (
                    "old".to_owned(),
                    GroupTruth {
                        pid: 17,
                        live: false,
                        dyn_uj: BTreeMap::new(),
                    },
                ),
            ]),
        }
    }

    #[test]
    fn text_round_trip_and_the_documented_example() {
        let t = sample();
        let text = t.to_text();
        assert_eq!(Truth::parse(&text).unwrap(), t);
        assert!(text.contains("group vm1 pid 4242 live dyn_uj 0:0 1:87650000\n"));
        assert!(text.contains("group old pid 17 gone dyn_uj\n"));
        // The module doc's example parses to the same packages.
        let doc = "time_ns 81234567890\nsteps 42\n\
                   package 0 idle_power_uw 22500000 idle_uj 94500000 dyn_uj 3120000\n\
                   package 1 idle_power_uw 22500000 idle_uj 94500000 dyn_uj 88000000\n\
                   group vm1 pid 4242 live dyn_uj 0:0 1:87650000\n";
        let d = Truth::parse(doc).unwrap();
        assert_eq!(d.packages, t.packages);
        assert_eq!(d.groups["vm1"], t.groups["vm1"]);
        assert_eq!(d.groups["vm1"].total_dyn_uj(), 87_650_000);
        assert!(Truth::parse("package 0 idle_power_uw x idle_uj 1 dyn_uj 2").is_err());
        assert!(Truth::parse("group a pid 1 dead dyn_uj").is_err());
        assert!(Truth::parse("group a pid 1 live dyn_uj 0-3").is_err());
    }

    #[test]
    fn file_is_replaced_whole() {
        let dir = TempDir::new("sim-truth");
        let path = dir.path().join("truth");
        sample().write(&path).unwrap();
        assert_eq!(Truth::read(&path).unwrap(), sample());
        let mut t = sample();
        t.steps = 43;
        t.write(&path).unwrap();
        assert_eq!(Truth::read(&path).unwrap().steps, 43);
        // No temporary file left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = sample().write(&dir.path().join("no/such/dir")).unwrap_err();
        assert!(err.to_string().contains("no/such/dir"), "{err}");
    }

    #[test]
    fn split_is_proportional_and_bounded() {
        // 600 ms busy, groups ran 500 ms and 0: 5/6 of 76.5 J.
        let s = split_dynamic(76_500_000, 600_000_000, &[500_000_000, 0]);
        assert_eq!(s[0].dyn_uj, 63_750_000);
        assert_eq!(s[1].dyn_uj, 0);
        assert!(s.iter().all(|s| s.uncovered_ns == 0));
        // The groups ran 700 ms + 300 ms where 800 ms was counted busy:
        // they get everything, 7:3, and 200 ms is left uncovered, 7:3.
        let s = split_dynamic(1_000, 800_000_000, &[700_000_000, 300_000_000]);
        assert_eq!((s[0].dyn_uj, s[1].dyn_uj), (700, 300));
        assert_eq!(
            (s[0].uncovered_ns, s[1].uncovered_ns),
            (140_000_000, 60_000_000)
        );
        // Floors never exceed the whole.
        let s = split_dynamic(10, 3, &[1, 1, 1]);
        assert_eq!(s.iter().map(|s| s.dyn_uj).sum::<u64>(), 9);
        assert_eq!(split_dynamic(5, 0, &[0])[0].dyn_uj, 0);
        assert!(valid_group_name("vm-1"));
        assert!(!valid_group_name("a b") && !valid_group_name(""));
    }
}
