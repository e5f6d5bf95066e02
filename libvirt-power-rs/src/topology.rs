// SPDX-License-Identifier: LGPL-2.1-or-later
//! CPU topology: present and online CPUs, package/die/core ids and SMT
//! siblings. An offline CPU has no `topology/` directory (the kernel
//! removes it when the CPU goes down), so its ids are unknown.

use std::collections::BTreeSet;
use std::io;

use crate::cpulist::parse_cpulist;
use crate::error::{Error, Result};
use crate::procfs::ProcfsRoot;
use crate::sysfs::SysfsRoot;

/// Where the CPU directories live, relative to the sysfs root.
pub const CPU_DIR: &str = "devices/system/cpu";

/// One CPU's place in the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuTopology {
    /// Logical CPU number.
    pub cpu: u32,
    /// Whether the CPU is online.
    pub online: bool,
    /// `physical_package_id`, if the kernel exposes it (not for an offline
    /// CPU).
    pub package: Option<u32>,
    /// `die_id`, if exposed.
    pub die: Option<u32>,
    /// `core_id`, if exposed.
    pub core: Option<u32>,
    /// The CPUs sharing this core (SMT siblings), this CPU included.
    pub siblings: BTreeSet<u32>,
}

/// The CPUs and their topology.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// Online CPUs (`devices/system/cpu/online`).
    pub online: BTreeSet<u32>,
    /// Present CPUs, online or not (`devices/system/cpu/present`; the
    /// online ones where the file is absent).
    pub present: BTreeSet<u32>,
    /// One entry per present CPU, in CPU order; an offline one has no ids
    /// and only itself as sibling.
    pub cpus: Vec<CpuTopology>,
}

impl Topology {
    /// Reads the topology of the tree.
    pub fn read(sysfs: &SysfsRoot) -> Result<Topology> {
        let mut topo = Self::read_online(sysfs)?;
        topo.read_cpus(sysfs)?;
        Ok(topo)
    }

    /// Reads only the online and present CPU lists (two files), leaving
    /// `cpus` empty: enough to resolve a CPU selection. Setters that need
    /// no sibling information use it, so a change on a large host does not
    /// read the topology files of every CPU.
    pub fn read_online(sysfs: &SysfsRoot) -> Result<Topology> {
        let online = read_list(sysfs, "online")?;
        let present = match sysfs.read_opt(&format!("{CPU_DIR}/present"))? {
            Some(_) => read_list(sysfs, "present")?
                .union(&online)
                .copied()
                .collect(),
            None => online.clone(),
        };
        Ok(Topology {
            online,
            present,
            cpus: Vec::new(),
        })
    }

    /// Present CPUs that are offline.
    pub fn offline(&self) -> BTreeSet<u32> {
        self.present.difference(&self.online).copied().collect()
    }

    /// Fills `cpus` from the per-CPU topology files.
    fn read_cpus(&mut self, sysfs: &SysfsRoot) -> Result<()> {
        let mut cpus = Vec::with_capacity(self.present.len());
        for &cpu in &self.present {
            if !self.online.contains(&cpu) {
                cpus.push(CpuTopology {
                    cpu,
                    online: false,
                    package: None,
                    die: None,
                    core: None,
                    siblings: BTreeSet::from([cpu]),
                });
                continue;
            }
            let t = format!("{CPU_DIR}/cpu{cpu}/topology");
            let id = |name: &str| -> Result<Option<u32>> {
                Ok(sysfs
                    .read_u64_opt(&format!("{t}/{name}"))?
                    .and_then(|v| u32::try_from(v).ok()))
            };
            let siblings_rel = if sysfs.exists(&format!("{t}/core_cpus_list")) {
                format!("{t}/core_cpus_list")
            } else {
                format!("{t}/thread_siblings_list")
            };
            let siblings = match sysfs.read_opt(&siblings_rel)? {
                Some(s) => parse_cpulist(&siblings_rel, &s)?,
                None => BTreeSet::from([cpu]),
            };
            cpus.push(CpuTopology {
                cpu,
                online: true,
                package: id("physical_package_id")?,
                die: id("die_id")?,
                core: id("core_id")?,
                siblings,
            });
        }
        self.cpus = cpus;
        Ok(())
    }

    /// The topology of one CPU (an offline one has no ids).
    pub fn cpu(&self, cpu: u32) -> Option<&CpuTopology> {
        self.cpus.iter().find(|c| c.cpu == cpu)
    }

    /// Packages present, sorted.
    pub fn packages(&self) -> BTreeSet<u32> {
        self.cpus.iter().filter_map(|c| c.package).collect()
    }
}

/// Reads a CPU list file of `devices/system/cpu` (`online`, `present`).
fn read_list(sysfs: &SysfsRoot, name: &str) -> Result<BTreeSet<u32>> {
    let rel = format!("{CPU_DIR}/{name}");
    parse_cpulist(&sysfs.path(&rel).display().to_string(), &sysfs.read(&rel)?).map_err(
        |e| match e {
            Error::InvalidArgument {
                value, expected, ..
            } => Error::Parse {
                path: sysfs.path(&rel),
                content: value,
                reason: expected,
            },
            other => other,
        },
    )
}

/// Reads this machine's aggregate CPU busy/total jiffies from `/proc/stat`
/// (busy: everything but idle and I/O wait). See [`ProcfsRoot::stat`] for
/// per-CPU times and other procfs roots.
pub fn proc_stat_jiffies() -> io::Result<(u64, u64)> {
    let total = ProcfsRoot::default().stat()?.total;
    Ok((total.busy_ticks(), total.total_ticks()))
}
