// SPDX-License-Identifier: LGPL-2.1-or-later
//! Which package each CPU is in, and the host's busy CPU time per package.
//!
//! The map comes from the topology files of the accountant's sysfs tree
//! (`cpuN/topology/physical_package_id`): `/sys` on a real host, the
//! simulated tree in tests, where real CPU `r` then counts for the
//! package of simulated CPU `r` (the simulator's runner maps load the same
//! way). A CPU missing from the map (it came online later) makes the map
//! read again, at most once per [`CpuPackages::refresh_if_unknown`] call.

use std::collections::BTreeMap;

use super::PackageWeights;
use crate::error::Result;
use crate::procfs::ProcStat;
use crate::sysfs::SysfsRoot;
use crate::topology::Topology;

/// Nanoseconds per `/proc/stat` tick (USER_HZ is 100 on Linux).
pub const NS_PER_TICK: u64 = 10_000_000;

/// CPU number to package.
#[derive(Debug, Clone, Default)]
pub struct CpuPackages {
    map: BTreeMap<u32, u32>,
}

impl CpuPackages {
    /// Reads the map from the topology of `sysfs` (online CPUs).
    pub fn read(sysfs: &SysfsRoot) -> Result<CpuPackages> {
        let topo = Topology::read(sysfs)?;
        Ok(CpuPackages {
            map: topo
                .cpus
                .iter()
                .filter_map(|c| Some((c.cpu, c.package?)))
                .collect(),
        })
    }

    /// A fixed map, for tests and tools.
    pub fn from_map(map: BTreeMap<u32, u32>) -> CpuPackages {
        CpuPackages { map }
    }

    /// The package of `cpu`, if known.
    pub fn package(&self, cpu: u32) -> Option<u32> {
        self.map.get(&cpu).copied()
    }

    /// Reads the map again if any of `cpus` is unknown (a CPU came online).
    pub fn refresh_if_unknown(
        &mut self,
        sysfs: &SysfsRoot,
        mut cpus: impl Iterator<Item = u32>,
    ) -> Result<()> {
        if cpus.any(|c| !self.map.contains_key(&c)) {
            *self = CpuPackages::read(sysfs)?;
        }
        Ok(())
    }

    /// Busy CPU time per package from the per-CPU lines of `/proc/stat`,
    /// ns (cumulative; `None` holds CPUs of unknown package).
    pub fn busy_ns(&self, stat: &ProcStat) -> PackageWeights {
        let mut out = PackageWeights::new();
        for (&cpu, times) in &stat.cpus {
            let slot = out.entry(self.package(cpu)).or_insert(0);
            *slot = slot.saturating_add(times.busy_ticks().saturating_mul(NS_PER_TICK));
        }
        out
    }

    /// How many of the CPUs listed in `/proc/stat` (the online ones) each
    /// package has.
    pub fn cpu_counts(&self, stat: &ProcStat) -> BTreeMap<Option<u32>, u32> {
        let mut out = BTreeMap::new();
        for &cpu in stat.cpus.keys() {
            *out.entry(self.package(cpu)).or_insert(0) += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::parse_stat;

    #[test]
    fn busy_time_per_package() {
        let stat = parse_stat(
            "cpu  30 0 10 100 0 0 0 0 0 0\n\
             cpu0 10 0 5 50 0 0 0 0 0 0\n\
             cpu1 20 0 5 50 0 0 0 0 0 0\n\
             cpu2 1 0 0 50 0 0 0 0 0 0\n",
        )
        .unwrap();
        let p = CpuPackages::from_map(BTreeMap::from([(0, 0), (1, 1)]));
        let busy = p.busy_ns(&stat);
        assert_eq!(busy.get(&Some(0)), Some(&150_000_000));
        assert_eq!(busy.get(&Some(1)), Some(&250_000_000));
        // cpu2 is not in the map.
        assert_eq!(busy.get(&None), Some(&10_000_000));
        assert_eq!(p.cpu_counts(&stat).get(&Some(1)), Some(&1));
    }
}
