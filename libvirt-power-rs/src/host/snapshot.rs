// SPDX-License-Identifier: LGPL-2.1-or-later
//! Snapshots: everything readable about the host at one moment. An
//! offline CPU is listed as offline, with its policy number where it has
//! one, and no frequency data; its inactive policy (every attribute
//! `EBUSY`) is left out of the policies instead of failing the snapshot.

use std::collections::BTreeMap;

use crate::cpufreq::{self, Cpufreq, Policy};
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
    /// The policy of each offline CPU that has one (its `cpuN/cpufreq`
    /// link, which the kernel keeps), active or not.
    pub offline_policies: BTreeMap<u32, u32>,
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
        let offline_policies = topology
            .offline()
            .into_iter()
            .filter_map(|cpu| Some((cpu, cpufreq::linked_policy(&self.sysfs, cpu)?)))
            .collect();
        let zones = if parts.rapl {
            rapl::read_zones(&self.sysfs)?
        } else {
            Vec::new()
        };
        Ok(Snapshot {
            topology,
            cpufreq,
            offline_policies,
            zones,
        })
    }
}

impl Snapshot {
    /// The policy whose frequency data `cpu` reports: its active policy if
    /// the CPU is online, `None` for an offline CPU (its policy, active for
    /// its online siblings or not, says nothing about it).
    pub fn frequency_policy(&self, cpu: u32) -> Option<&Policy> {
        if !self.topology.online.contains(&cpu) {
            return None;
        }
        self.cpufreq.policy_of(cpu)
    }

    /// The number of `cpu`'s policy, active or not, if it has one.
    pub fn policy_id(&self, cpu: u32) -> Option<u32> {
        self.cpufreq
            .policy_of(cpu)
            .map(|p| p.id)
            .or_else(|| self.offline_policies.get(&cpu).copied())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::sim::{self, SimSpec};
    use crate::sysfs::SysfsRoot;
    use crate::testutil::TempDir;

    fn host(root: &Path) -> Host {
        Host::new(SysfsRoot::new(root), None).unwrap()
    }

    #[test]
    fn offline_cpus_are_reported_and_skipped() {
        let t = TempDir::new("snapshot-offline");
        let root = t.path().join("sys");
        let spec = SimSpec::preset("two-socket-smt-offline", None).unwrap();
        let off = sim::spec::SMT_OFFLINE_CPU;
        sim::generate(&root, &spec).unwrap();
        let snap = host(&root).snapshot().unwrap();
        assert_eq!(snap.topology.present.len(), 16);
        assert_eq!(snap.topology.offline(), BTreeSet::from([off]));
        assert_eq!(snap.topology.cpus.len(), 16);
        let t13 = snap.topology.cpu(off).unwrap();
        assert!(!t13.online);
        assert_eq!((t13.package, t13.core), (None, None));
        // Its online sibling keeps its package; the packages are both there.
        assert_eq!(snap.topology.cpu(off - 8).unwrap().package, Some(1));
        assert_eq!(snap.topology.packages(), BTreeSet::from([0, 1]));
        assert_eq!(snap.cpufreq.inactive_policies, BTreeSet::from([off]));
        assert_eq!(snap.cpufreq.policies.len(), 15);
        assert_eq!(snap.frequency_policy(off), None);
        assert_eq!(snap.policy_id(off), Some(off));
        assert_eq!(snap.frequency_policy(0).map(|p| p.id), Some(0));
    }

    #[test]
    fn smt_off_leaves_the_snapshot_working() {
        let t = TempDir::new("snapshot-smt-off");
        let root = t.path().join("sys");
        sim::generate(&root, &SimSpec::preset("two-socket-smt", None).unwrap()).unwrap();
        sim::tree::store(&root, Path::new("devices/system/cpu/smt/control"), "off").unwrap();
        let snap = host(&root).snapshot().unwrap();
        assert_eq!(snap.topology.offline(), (8..16).collect());
        assert_eq!(snap.cpufreq.inactive_policies, (8..16).collect());
        assert_eq!(snap.cpufreq.policies.len(), 8);
        assert!((8..16).all(|c| snap.frequency_policy(c).is_none()));
        // Without the gate the plain tree would serve the inactive files:
        // the EBUSY the library meets comes from the gate, as from the
        // kernel.
        let bare = SysfsRoot::new(&root);
        assert!(
            bare.read("devices/system/cpu/cpufreq/policy8/scaling_governor")
                .is_ok()
        );
        assert!(matches!(
            host(&root)
                .sysfs()
                .read("devices/system/cpu/cpufreq/policy8/scaling_governor"),
            Err(crate::error::Error::Busy { .. })
        ));
    }

    #[test]
    fn an_offline_cpu_of_a_shared_policy_has_no_frequency_data() {
        let t = TempDir::new("snapshot-shared");
        let root = t.path().join("sys");
        let spec = SimSpec {
            cpus_per_policy: 2,
            offline: BTreeSet::from([2]),
            ..SimSpec::preset("acpi-cpufreq", None).unwrap()
        };
        sim::generate(&root, &spec).unwrap();
        let snap = host(&root).snapshot().unwrap();
        assert!(snap.cpufreq.inactive_policies.is_empty());
        let p0 = snap.cpufreq.policy_of(2).unwrap();
        assert_eq!(p0.affected_cpus, BTreeSet::from([0]));
        assert_eq!(p0.related_cpus, BTreeSet::from([0, 2]));
        assert_eq!(snap.frequency_policy(2), None);
        assert_eq!(snap.policy_id(2), Some(0));
    }
}
