// SPDX-License-Identifier: LGPL-2.1-or-later
//! The daemon's weight source, [`PerfSource`].
//!
//! A domain's weight is the total of its QEMU process's perf counters
//! ([`ProcessCounter`]: cycles, else `task-clock` CPU time; exact, exited
//! threads included), and each interval's growth of that total is split
//! among packages in proportion to where its threads ran in the interval
//! ([`ThreadPlacement`]). For a domain whose threads all ran on one
//! package in the interval (pinned vCPUs and emulator) the split is exact;
//! for one spread over packages the cycles split assumes every thread has
//! the same cycles per ns (CPU time is split exactly up to the placement
//! error of floating threads). The host's weight per package is its busy
//! time from `/proc/stat` (CPU time) or system-wide cycles per CPU
//! ([`SystemCycles`]) summed by package; cycles are chosen only where
//! both the per-process and the system-wide counters open, so the two
//! sides of the split always count the same thing.
//!
//! With the split off ([`PerfSource::set_split`]) a domain's whole weight
//! has no package (the behaviour before the split: it counts for every
//! package zone); kept for comparison in the benchmark.

use super::placement::split_by_growth;
use super::{CpuPackages, DomainWeight, PackageWeights, ThreadPlacement, WeightSource};
use crate::error::{Error, Result};
use crate::perf::{
    PerfError, ProcessCounter, SystemCycles, WeightKind, WeightPreference, host_has_cycles_pmu,
};
use crate::procfs::ProcfsRoot;

/// Weights from perf counters and `/proc`.
#[derive(Debug)]
pub struct PerfSource {
    procfs: ProcfsRoot,
    kind: WeightKind,
    system: Option<SystemCycles>,
    split: bool,
}

impl PerfSource {
    /// Decides the kind: cycles where `pref` allows them and the host can
    /// count them per process and system-wide on every CPU in `cpus`;
    /// otherwise CPU time (or an error, if `pref` asks for cycles only).
    pub fn new(
        procfs: &ProcfsRoot,
        pref: WeightPreference,
        cpus: impl IntoIterator<Item = u32>,
    ) -> Result<PerfSource> {
        let want_cycles = pref != WeightPreference::CpuTime;
        let mut system = None;
        if want_cycles && host_has_cycles_pmu() {
            match SystemCycles::open(cpus) {
                Ok(s) => system = Some(s),
                Err(e) if pref == WeightPreference::Cycles => return Err(e.into()),
                Err(_) => {}
            }
        }
        if system.is_none() && pref == WeightPreference::Cycles {
            return Err(Error::Perf(PerfError::NotSupported {
                event: "cycles".to_owned(),
                target: crate::perf::PerfTarget::Cpu { cpu: 0 },
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            }));
        }
        Ok(PerfSource {
            procfs: procfs.clone(),
            kind: if system.is_some() {
                WeightKind::Cycles
            } else {
                WeightKind::CpuTimeNs
            },
            system,
            split: true,
        })
    }

    /// Whether domains' weights are split by package (default on).
    /// Affects domains opened afterwards.
    pub fn set_split(&mut self, split: bool) {
        self.split = split;
    }
}

impl WeightSource for PerfSource {
    fn kind(&self) -> WeightKind {
        self.kind
    }

    fn open(&mut self, pid: i32) -> Result<Box<dyn DomainWeight>> {
        let pref = match self.kind {
            WeightKind::Cycles => WeightPreference::Cycles,
            WeightKind::CpuTimeNs => WeightPreference::CpuTime,
        };
        let mut counter = ProcessCounter::open_in(&self.procfs, pid, pref)?;
        let value = counter.read()?.value;
        let placement = self.split.then(|| ThreadPlacement::new(&self.procfs, pid));
        Ok(Box::new(PerfDomain {
            counter,
            placement,
            value,
            placed: PackageWeights::new(),
            fallback: None,
            out: PackageWeights::new(),
        }))
    }

    fn host(
        &mut self,
        packages: &CpuPackages,
        busy_ns: &PackageWeights,
    ) -> Result<Option<PackageWeights>> {
        let Some(system) = &mut self.system else {
            return Ok(Some(busy_ns.clone()));
        };
        let mut out = PackageWeights::new();
        for (cpu, cycles) in system.read()? {
            let slot = out.entry(packages.package(cpu)).or_insert(0);
            *slot = slot.saturating_add(cycles);
        }
        Ok(Some(out))
    }

    fn fd_count(&self) -> usize {
        self.system.as_ref().map_or(0, SystemCycles::fd_count)
    }
}

/// One domain: its counters, where its threads ran, and the cumulative
/// weight per package handed out so far.
#[derive(Debug)]
struct PerfDomain {
    counter: ProcessCounter,
    placement: Option<ThreadPlacement>,
    /// The counters' value at the last reading.
    value: u64,
    /// The placement at the last reading.
    placed: PackageWeights,
    /// Where growth goes when no thread ran (the package that grew most
    /// last time).
    fallback: Option<u32>,
    out: PackageWeights,
}

impl DomainWeight for PerfDomain {
    fn read(&mut self, packages: &CpuPackages) -> Result<PackageWeights> {
        // A process that is gone keeps its counters readable: its last
        // interval still counts.
        match self.counter.refresh_threads() {
            Ok(_) | Err(PerfError::ProcessGone { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let value = self.counter.read()?.value;
        let delta = value.saturating_sub(self.value);
        self.value = value;
        let split = match &mut self.placement {
            None => PackageWeights::from([(None, delta)]),
            Some(p) => {
                let now = p.read(packages).clone();
                let split = split_by_growth(delta, &self.placed, &now, self.fallback);
                if let Some((&k, _)) = now
                    .iter()
                    .filter(|(k, v)| **v > self.placed.get(k).copied().unwrap_or(0))
                    .max_by_key(|(k, v)| (**v - self.placed.get(k).copied().unwrap_or(0), **k))
                {
                    self.fallback = k;
                }
                self.placed = now;
                split
            }
        };
        for (k, v) in split {
            let slot = self.out.entry(k).or_insert(0);
            *slot = slot.saturating_add(v);
        }
        Ok(self.out.clone())
    }

    fn value(&self) -> u64 {
        self.value
    }

    fn fd_count(&self) -> usize {
        self.counter.fd_count()
    }
}
