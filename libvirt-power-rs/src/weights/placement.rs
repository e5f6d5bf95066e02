// SPDX-License-Identifier: LGPL-2.1-or-later
//! Where a process's threads ran: [`ThreadPlacement`] reads, for every
//! thread of a process, its run time (`/proc/<pid>/task/<tid>/schedstat`,
//! ns) and the CPU it is on (`/proc/<pid>/task/<tid>/stat`, field 39), and
//! charges the run time since the last reading to that CPU's package.
//!
//! A thread pinned to one CPU (a vCPU under `<vcpupin>`) is charged
//! exactly. A floating thread that moved between packages within an
//! interval is charged wholly to the package it is on when read; the error
//! is the time it spent elsewhere in that interval. Threads are read
//! individually (nothing is inherited), so the split is right per vCPU
//! even though the QEMU process's perf counters were opened before it
//! created its vCPU threads. A thread that exits within an interval loses
//! its last partial interval from the split (not from the domain's total,
//! which its perf counter keeps), and one that lives less than an interval
//! is not seen at all. Cost: two small reads per thread per interval, no
//! file descriptor held.

use std::collections::BTreeMap;

use super::{CpuPackages, PackageWeights};
use crate::procfs::ProcfsRoot;

#[derive(Debug, Clone, Copy)]
struct Thread {
    run_ns: u64,
}

/// Cumulative run time of a process's threads per package.
#[derive(Debug)]
pub struct ThreadPlacement {
    procfs: ProcfsRoot,
    pid: i32,
    threads: BTreeMap<i32, Thread>,
    charged_ns: PackageWeights,
    reads: usize,
}

impl ThreadPlacement {
    /// Starts following `pid`: the run time its threads have now is the
    /// baseline (not charged).
    pub fn new(procfs: &ProcfsRoot, pid: i32) -> ThreadPlacement {
        let mut p = ThreadPlacement {
            procfs: procfs.clone(),
            pid,
            threads: BTreeMap::new(),
            charged_ns: PackageWeights::new(),
            reads: 0,
        };
        for tid in procfs.tasks(pid).unwrap_or_default() {
            if let Ok(run_ns) = procfs.thread_run_ns(pid, tid) {
                p.threads.insert(tid, Thread { run_ns });
            }
        }
        p
    }

    /// Reads every thread and returns the cumulative run time charged per
    /// package, ns. A process that is gone (or a thread that exits while
    /// it is read) adds nothing.
    pub fn read(&mut self, packages: &CpuPackages) -> &PackageWeights {
        let Ok(tids) = self.procfs.tasks(self.pid) else {
            return &self.charged_ns;
        };
        let mut seen = BTreeMap::new();
        let mut reads = 0;
        for tid in tids {
            reads += 2;
            let Ok(run_ns) = self.procfs.thread_run_ns(self.pid, tid) else {
                continue;
            };
            let Ok(stat) = self.procfs.thread_stat(self.pid, tid) else {
                continue;
            };
            // A thread seen for the first time started after the last
            // reading: all its run time is new.
            let previous = self.threads.get(&tid).map_or(0, |t| t.run_ns);
            let delta = run_ns.saturating_sub(previous);
            if delta > 0 {
                let key = stat.processor.and_then(|cpu| packages.package(cpu));
                let slot = self.charged_ns.entry(key).or_insert(0);
                *slot = slot.saturating_add(delta);
            }
            seen.insert(tid, Thread { run_ns });
        }
        self.threads = seen;
        self.reads = reads;
        &self.charged_ns
    }

    /// Threads followed at the last reading.
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// Files read by the last [`read`](Self::read).
    pub fn reads_last(&self) -> usize {
        self.reads
    }
}

/// Splits `delta` by the growth of `now` over `before` (both cumulative
/// per package), exactly: each key gets `floor(delta * growth / sum)`, and
/// the rounding remainder goes to the key that grew most. With no growth
/// at all, the whole delta goes to `fallback`.
pub fn split_by_growth(
    delta: u64,
    before: &PackageWeights,
    now: &PackageWeights,
    fallback: Option<u32>,
) -> PackageWeights {
    let growth: Vec<(Option<u32>, u64)> = now
        .iter()
        .map(|(&k, &v)| (k, v.saturating_sub(before.get(&k).copied().unwrap_or(0))))
        .filter(|&(_, g)| g > 0)
        .collect();
    let sum: u128 = growth.iter().map(|&(_, g)| u128::from(g)).sum();
    let mut out = PackageWeights::new();
    if sum == 0 || delta == 0 {
        if delta > 0 {
            out.insert(fallback, delta);
        }
        return out;
    }
    let mut given = 0u64;
    for &(k, g) in &growth {
        let share = u128::from(delta) * u128::from(g) / sum;
        let share = u64::try_from(share).unwrap_or(delta).min(delta);
        given = given.saturating_add(share);
        out.insert(k, share);
    }
    if let Some(&(k, _)) = growth
        .iter()
        .max_by_key(|&&(k, g)| (g, std::cmp::Reverse(k)))
    {
        *out.entry(k).or_insert(0) += delta.saturating_sub(given);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::fs;

    fn task(root: &std::path::Path, pid: i32, tid: i32, run_ns: u64, cpu: u32) {
        let d = root.join(format!("{pid}/task/{tid}"));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("schedstat"), format!("{run_ns} 0 0\n")).unwrap();
        let mut fields = vec!["0".to_owned(); 36];
        fields[19] = "100".to_owned();
        fields.push(cpu.to_string());
        fs::write(
            d.join("stat"),
            format!("{tid} (qemu) S {}\n", fields[1..].join(" ")),
        )
        .unwrap();
    }

    #[test]
    fn threads_charged_to_their_cpus_package() {
        let t = TempDir::new("placement");
        let root = t.path();
        task(root, 10, 10, 1_000, 0);
        task(root, 10, 11, 5_000, 1);
        let procfs = ProcfsRoot::new(root);
        let packages = CpuPackages::from_map(BTreeMap::from([(0, 0), (1, 1)]));
        let mut p = ThreadPlacement::new(&procfs, 10);
        assert!(p.read(&packages).is_empty(), "the baseline is not charged");
        task(root, 10, 10, 1_500, 0);
        task(root, 10, 11, 9_000, 1);
        // A new thread: all of its run time counts, on CPU 3 (no package).
        task(root, 10, 12, 700, 3);
        let got = p.read(&packages).clone();
        assert_eq!(got.get(&Some(0)), Some(&500));
        assert_eq!(got.get(&Some(1)), Some(&4_000));
        assert_eq!(got.get(&None), Some(&700));
        assert_eq!(p.thread_count(), 3);
        assert_eq!(p.reads_last(), 6);
        // Thread 11 migrates to CPU 0: its next run time goes to package 0.
        task(root, 10, 11, 9_100, 0);
        let got = p.read(&packages).clone();
        assert_eq!(got.get(&Some(0)), Some(&600));
        assert_eq!(got.get(&Some(1)), Some(&4_000));
        // The process is gone: nothing more, no error.
        fs::remove_dir_all(root.join("10")).unwrap();
        assert_eq!(p.read(&packages), &got);
    }

    #[test]
    fn split_is_exact() {
        let before = PackageWeights::from([(Some(0), 100), (Some(1), 100)]);
        let now = PackageWeights::from([(Some(0), 101), (Some(1), 103)]);
        // 10 by 1:3 -> 2.5 / 7.5 -> floors 2 and 7, the remainder to pkg 1.
        let s = split_by_growth(10, &before, &now, None);
        assert_eq!(s, PackageWeights::from([(Some(0), 2), (Some(1), 8)]));
        assert_eq!(super::super::total(&s), 10);
        // No growth: all to the fallback.
        let s = split_by_growth(10, &now, &now, Some(1));
        assert_eq!(s, PackageWeights::from([(Some(1), 10)]));
        assert!(split_by_growth(0, &before, &now, None).is_empty());
        // A huge delta does not overflow.
        let s = split_by_growth(u64::MAX, &before, &now, None);
        assert_eq!(super::super::total(&s), u64::MAX);
    }
}
