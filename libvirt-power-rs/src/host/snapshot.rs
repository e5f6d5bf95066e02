// SPDX-License-Identifier: LGPL-2.1-or-later
//! Snapshots: everything readable about the host at one moment.

use crate::cpufreq::Cpufreq;
use crate::error::Result;
use crate::rapl::{self, RaplZone};
use crate::topology::Topology;

use super::Host;

/// Everything readable about the host at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// CPUs and their topology.
    pub topology: Topology,
    /// cpufreq policies and global knobs.
    pub cpufreq: Cpufreq,
    /// RAPL zones.
    pub zones: Vec<RaplZone>,
}

/// Which parts of the host [`Host::snapshot_parts`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotParts {
    /// CPUs, their topology and the cpufreq policies.
    pub cpufreq: bool,
    /// RAPL zones.
    pub rapl: bool,
}

impl SnapshotParts {
    /// Every part.
    pub const ALL: SnapshotParts = SnapshotParts {
        cpufreq: true,
        rapl: true,
    };
}

impl Host {
    /// Reads everything.
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.snapshot_parts(SnapshotParts::ALL)
    }

    /// Reads the parts asked for and leaves the others empty (no CPUs and
    /// policies, or no zones), so a reader of the RAPL zones does not read
    /// every cpufreq file of a large host, nor the reverse.
    pub fn snapshot_parts(&self, parts: SnapshotParts) -> Result<Snapshot> {
        let (topology, cpufreq) = if parts.cpufreq {
            (Topology::read(&self.sysfs)?, Cpufreq::read(&self.sysfs)?)
        } else {
            (Topology::default(), Cpufreq::default())
        };
        let zones = if parts.rapl {
            rapl::read_zones(&self.sysfs)?
        } else {
            Vec::new()
        };
        Ok(Snapshot {
            topology,
            cpufreq,
            zones,
        })
    }
}
