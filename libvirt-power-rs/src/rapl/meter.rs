// SPDX-License-Identifier: LGPL-2.1-or-later
//! Monotonic energy totals per RAPL zone, from one of two sources:
//!
//! 1. **powercap**: every zone whose `energy_uj` is readable (root-only
//!    since Linux 5.10), wrap-around handled by [`WrappingCounter`];
//! 2. **the `power` perf PMU**, where powercap offers no readable zone:
//!    its `energy-pkg` (and `energy-cores`, `energy-gpu`, `energy-ram`,
//!    `energy-psys`) events counted system-wide on one CPU per package
//!    (the PMU's `cpumask`), scaled to µJ. The zones get the keys powercap
//!    would give them (`package-0`, `package-0/core`, `package-0/uncore`,
//!    `package-0/dram`, `psys`), so callers see the same zones whichever
//!    source counts them.
//!
//! The PMU needs `CAP_PERFMON` (or `perf_event_paranoid <= 0`) and a real
//! power PMU; if it cannot be opened the meter has no zones, like a host
//! whose `energy_uj` files are unreadable, and [`EnergyMeter::pmu_error`]
//! says why.

use crate::energy::WrappingCounter;
use crate::error::Result;
use crate::perf::{PerfError, PowerCounter, PowerPmu};
use crate::sysfs::SysfsRoot;
use crate::topology::Topology;

use super::{RaplZone, read_zones};

/// Where an [`EnergyMeter`] reads energy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergySource {
    /// powercap `energy_uj` files.
    Powercap,
    /// The `power` perf PMU.
    PowerPmu,
    /// Nothing: the host has no readable energy counter.
    None,
}

/// One zone the power PMU can count: which event, on which CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmuZone {
    /// Zone key, as powercap would name the zone (`package-0/dram`).
    pub key: String,
    /// Package of the zone (`None` for `psys`).
    pub package: Option<u32>,
    /// The PMU event (`energy-pkg`).
    pub event: String,
    /// The CPU to count on (one per package).
    pub cpu: u32,
}

/// The powercap zone name of a power PMU event, and whether the zone
/// belongs to a package (`psys` covers the platform).
fn zone_of_event(event: &str) -> Option<(&'static str, bool)> {
    Some(match event {
        "energy-pkg" => ("", true),
        "energy-cores" => ("core", true),
        "energy-gpu" => ("uncore", true),
        "energy-ram" => ("dram", true),
        "energy-psys" => ("psys", false),
        _ => return None,
    })
}

/// The zones the power PMU `pmu` counts on this host: for each CPU of its
/// `cpumask` (one per package; the package read from `topology`, else the
/// CPU's position in the mask), one zone per package event; `psys` once,
/// on the first CPU. Without a `cpumask`, the first online CPU of each
/// package of `topology` is used.
pub fn pmu_zones(pmu: &PowerPmu, topology: &Topology) -> Vec<PmuZone> {
    let cpus: Vec<(u32, u32)> = if pmu.cpus().is_empty() {
        topology
            .packages()
            .into_iter()
            .filter_map(|pkg| {
                let cpu = topology.cpus.iter().find(|c| c.package == Some(pkg))?;
                Some((cpu.cpu, pkg))
            })
            .collect()
    } else {
        pmu.cpus()
            .iter()
            .enumerate()
            .map(|(i, &cpu)| {
                let by_position = u32::try_from(i).unwrap_or(u32::MAX);
                let pkg = topology.cpu(cpu).and_then(|c| c.package);
                (cpu, pkg.unwrap_or(by_position))
            })
            .collect()
    };
    let mut zones = Vec::new();
    for (i, &(cpu, pkg)) in cpus.iter().enumerate() {
        for ev in pmu.events() {
            let Some((name, per_package)) = zone_of_event(&ev.name) else {
                continue;
            };
            let (key, package) = match (per_package, name) {
                (true, "") => (format!("package-{pkg}"), Some(pkg)),
                (true, sub) => (format!("package-{pkg}/{sub}"), Some(pkg)),
                (false, _) if i == 0 => (name.to_owned(), None),
                (false, _) => continue,
            };
            zones.push(PmuZone {
                key,
                package,
                event: ev.name.clone(),
                cpu,
            });
        }
    }
    // Packages first in key order, so readings come out as powercap's do.
    zones.sort_by(|a, b| a.key.cmp(&b.key));
    zones
}

/// A zone counted by the power PMU.
#[derive(Debug)]
struct PmuCounter {
    zone: PmuZone,
    counter: PowerCounter,
}

#[derive(Debug)]
enum Source {
    Powercap(Vec<(RaplZone, WrappingCounter)>),
    PowerPmu(Vec<PmuCounter>),
}

/// Monotonic energy counters for every zone of the host (see the module
/// documentation for the two sources).
#[derive(Debug)]
pub struct EnergyMeter {
    sysfs: SysfsRoot,
    source: Source,
    pmu_error: Option<PerfError>,
}

/// One zone's reading from an [`EnergyMeter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneEnergy {
    /// Zone key.
    pub key: String,
    /// Package of the zone, if any.
    pub package: Option<u32>,
    /// Raw counter just read: `energy_uj`, or the PMU counter's µJ since
    /// it was opened.
    pub raw_uj: u64,
    /// `max_energy_range_uj` (0 if unknown, and for the PMU, whose 64-bit
    /// count does not wrap).
    pub range_uj: u64,
    /// Energy since the meter was created, µJ, monotonic.
    pub total_uj: u64,
}

impl EnergyMeter {
    /// Starts metering every zone whose `energy_uj` is readable; if there
    /// is none, every zone the `power` perf PMU counts.
    pub fn new(sysfs: &SysfsRoot) -> Result<EnergyMeter> {
        let zones: Vec<(RaplZone, WrappingCounter)> = read_zones(sysfs)?
            .into_iter()
            .filter_map(|z| {
                let raw = z.energy_uj?;
                let c = WrappingCounter::new(z.max_energy_range_uj.unwrap_or(0), raw);
                Some((z, c))
            })
            .collect();
        let (source, pmu_error) = if zones.is_empty() {
            match open_pmu(sysfs) {
                Ok(counters) => (Source::PowerPmu(counters), None),
                Err(e) => (Source::PowerPmu(Vec::new()), Some(e)),
            }
        } else {
            (Source::Powercap(zones), None)
        };
        Ok(EnergyMeter {
            sysfs: sysfs.clone(),
            source,
            pmu_error,
        })
    }

    /// Where the energy comes from.
    pub fn source(&self) -> EnergySource {
        match &self.source {
            Source::Powercap(_) => EnergySource::Powercap,
            Source::PowerPmu(c) if !c.is_empty() => EnergySource::PowerPmu,
            Source::PowerPmu(_) => EnergySource::None,
        }
    }

    /// Why the power PMU could not be used, when powercap had no readable
    /// zone and the PMU is present but failed (parse, permission, no such
    /// PMU in the kernel).
    pub fn pmu_error(&self) -> Option<&PerfError> {
        self.pmu_error.as_ref()
    }

    /// Zone keys metered.
    pub fn keys(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match &self.source {
            Source::Powercap(z) => Box::new(z.iter().map(|(z, _)| z.key.as_str())),
            Source::PowerPmu(c) => Box::new(c.iter().map(|c| c.zone.key.as_str())),
        }
    }

    /// Reads every metered zone.
    pub fn read(&mut self) -> Result<Vec<ZoneEnergy>> {
        match &mut self.source {
            Source::Powercap(zones) => {
                let mut out = Vec::with_capacity(zones.len());
                for (z, c) in zones {
                    let raw = self.sysfs.read_u64(&z.file("energy_uj"))?;
                    c.update(raw);
                    out.push(ZoneEnergy {
                        key: z.key.clone(),
                        package: z.package,
                        raw_uj: raw,
                        range_uj: c.range_uj(),
                        total_uj: c.total_uj(),
                    });
                }
                Ok(out)
            }
            Source::PowerPmu(counters) => {
                let mut out = Vec::with_capacity(counters.len());
                for c in counters {
                    let uj = c.counter.read_uj()?;
                    out.push(ZoneEnergy {
                        key: c.zone.key.clone(),
                        package: c.zone.package,
                        raw_uj: uj,
                        range_uj: 0,
                        total_uj: uj,
                    });
                }
                Ok(out)
            }
        }
    }
}

/// Opens a counter for every zone the power PMU counts; none if the host
/// has no power PMU.
fn open_pmu(sysfs: &SysfsRoot) -> std::result::Result<Vec<PmuCounter>, PerfError> {
    let Some(pmu) = PowerPmu::discover(sysfs)? else {
        return Ok(Vec::new());
    };
    let topology = Topology::read(sysfs).unwrap_or_default();
    pmu_zones(&pmu, &topology)
        .into_iter()
        .map(|zone| {
            let counter = pmu.open(&zone.event, zone.cpu)?;
            Ok(PmuCounter { zone, counter })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::power_fixture as fixture;
    use crate::testutil::TempDir;
    use std::fs;
    use std::path::Path;

    fn write(root: &Path, rel: &str, content: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// Two packages of two CPUs each (0-1 on package 0, 2-3 on package 1).
    fn two_packages(root: &Path) {
        write(root, "devices/system/cpu/online", "0-3\n");
        for cpu in 0..4 {
            write(
                root,
                &format!("devices/system/cpu/cpu{cpu}/topology/physical_package_id"),
                &format!("{}\n", cpu / 2),
            );
        }
    }

    fn keys_of(zones: &[PmuZone]) -> Vec<(&str, Option<u32>, &str, u32)> {
        zones
            .iter()
            .map(|z| (z.key.as_str(), z.package, z.event.as_str(), z.cpu))
            .collect()
    }

    #[test]
    fn pmu_zones_one_cpu_per_package() {
        let tree = TempDir::new("meter-zones");
        two_packages(tree.path());
        fixture::intel(tree.path(), "9", "0,2");
        let sysfs = SysfsRoot::new(tree.path());
        let pmu = PowerPmu::discover(&sysfs).unwrap().unwrap();
        let topo = Topology::read(&sysfs).unwrap();
        assert_eq!(
            keys_of(&pmu_zones(&pmu, &topo)),
            [
                ("package-0", Some(0), "energy-pkg", 0),
                ("package-0/core", Some(0), "energy-cores", 0),
                ("package-0/dram", Some(0), "energy-ram", 0),
                ("package-0/uncore", Some(0), "energy-gpu", 0),
                ("package-1", Some(1), "energy-pkg", 2),
                ("package-1/core", Some(1), "energy-cores", 2),
                ("package-1/dram", Some(1), "energy-ram", 2),
                ("package-1/uncore", Some(1), "energy-gpu", 2),
                ("psys", None, "energy-psys", 0),
            ]
        );
        // Without topology: packages by position in the cpumask.
        let bare = pmu_zones(&pmu, &Topology::default());
        assert_eq!(bare[4].key, "package-1");
        assert_eq!(bare[4].cpu, 2);
        // Without a cpumask: the first CPU of each package.
        fs::remove_file(tree.path().join(crate::perf::PMU_DIR).join("cpumask")).unwrap();
        let pmu = PowerPmu::discover(&sysfs).unwrap().unwrap();
        let zones = pmu_zones(&pmu, &topo);
        assert_eq!(zones[0].cpu, 0);
        assert_eq!(zones[4].cpu, 2);
        assert_eq!(zones.len(), 9);
    }

    #[test]
    fn pmu_events_other_than_energy_are_skipped() {
        let tree = TempDir::new("meter-events");
        two_packages(tree.path());
        fixture::write(tree.path(), "type", "9\n");
        fixture::write(tree.path(), "cpumask", "0\n");
        fixture::write(tree.path(), "events/energy-pkg", "event=0x02\n");
        fixture::write(tree.path(), "events/energy-ram", "event=0x03\n");
        fixture::write(tree.path(), "events/other", "event=0x09\n");
        let sysfs = SysfsRoot::new(tree.path());
        let pmu = PowerPmu::discover(&sysfs).unwrap().unwrap();
        let topo = Topology::read(&sysfs).unwrap();
        assert_eq!(
            keys_of(&pmu_zones(&pmu, &topo)),
            [
                ("package-0", Some(0), "energy-pkg", 0),
                ("package-0/dram", Some(0), "energy-ram", 0),
            ]
        );
    }

    #[test]
    fn meter_falls_back_to_the_pmu() {
        let _lock = crate::perf::test_lock();
        let tree = TempDir::new("meter-pmu");
        two_packages(tree.path());
        let pmu_type = fixture::unused_pmu_type();
        fixture::intel(tree.path(), &pmu_type.to_string(), "0,2");
        let sysfs = SysfsRoot::new(tree.path());
        // No powercap zone: the meter turns to the PMU. The kernel has no
        // PMU of this type, so opening fails and the meter says why.
        let mut m = EnergyMeter::new(&sysfs).unwrap();
        assert_eq!(m.source(), EnergySource::None);
        assert!(
            matches!(
                m.pmu_error(),
                Some(PerfError::NotSupported { event, .. }) if event == "power/energy-pkg/"
            ),
            "{:?}",
            m.pmu_error()
        );
        assert_eq!(m.keys().count(), 0);
        assert_eq!(m.read().unwrap(), []);
    }

    #[test]
    fn powercap_comes_first() {
        let tree = TempDir::new("meter-powercap");
        two_packages(tree.path());
        fixture::intel(tree.path(), "9", "0,2");
        let zone = "class/powercap/intel-rapl:0";
        write(tree.path(), &format!("{zone}/name"), "package-0\n");
        write(tree.path(), &format!("{zone}/energy_uj"), "1000\n");
        write(
            tree.path(),
            &format!("{zone}/max_energy_range_uj"),
            "5000\n",
        );
        let sysfs = SysfsRoot::new(tree.path());
        let mut m = EnergyMeter::new(&sysfs).unwrap();
        assert_eq!(m.source(), EnergySource::Powercap);
        assert!(m.pmu_error().is_none());
        assert_eq!(m.keys().collect::<Vec<_>>(), ["package-0"]);
        write(tree.path(), &format!("{zone}/energy_uj"), "200\n");
        let r = m.read().unwrap();
        assert_eq!(r[0].total_uj, 4201);
        assert_eq!(r[0].range_uj, 5000);
    }

    #[test]
    fn no_energy_at_all() {
        let tree = TempDir::new("meter-none");
        let m = EnergyMeter::new(&SysfsRoot::new(tree.path())).unwrap();
        assert_eq!(m.source(), EnergySource::None);
        assert!(m.pmu_error().is_none());
    }

    #[test]
    fn real_host_energy() {
        let _lock = crate::perf::test_lock();
        let mut m = EnergyMeter::new(&SysfsRoot::new("/sys")).unwrap();
        if m.source() == EnergySource::None {
            match m.pmu_error() {
                Some(e) => eprintln!("skipped: no energy counter on this host ({e})"),
                None => eprintln!("skipped: no powercap energy_uj and no power PMU"),
            }
            return;
        }
        let r0 = m.read().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let r1 = m.read().unwrap();
        for (a, b) in r0.iter().zip(&r1) {
            assert_eq!(a.key, b.key);
            assert!(b.total_uj >= a.total_uj);
        }
    }
}
