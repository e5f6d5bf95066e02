// SPDX-License-Identifier: LGPL-2.1-or-later
//! powercap RAPL zones: discovery by name, constraints, energy counters.
//!
//! Zones are found through `class/powercap/<control-type>:N[:M]` and
//! identified by their `name` file, never by index: the kernel numbers
//! zones in probe order, which differs between hosts and can change within
//! a boot (a driver reloaded, a package's CPUs all going offline and back).
//! A zone's key is its name for a top-level zone (`package-0`, `psys`,
//! `package-0-die-1` on hosts with several dies per package), `parent/name`
//! for a subzone (`package-1/dram`), prefixed with `mmio:` for the
//! `intel-rapl-mmio` control type and `tpmi:` for `intel-rapl-tpmi` (the
//! TPMI interface of Xeon 6 and later, `drivers/powercap/intel_rapl_tpmi.c`,
//! one `package-N` zone per package).
//!
//! The power limit a constraint takes is bounded by its register field,
//! not by `max_power_uw`: the kernel converts the value to its power unit
//! (1/8 W on the machines this library has met), masks it to the field and
//! writes it with no range check (`rapl_write_data_raw()` in
//! `drivers/powercap/intel_rapl_common.c`), so a larger value wraps. The
//! field is 15 bits for PL1 and PL2 of the MSR and MMIO interfaces
//! (`POWER_LIMIT1_MASK`, `POWER_LIMIT2_MASK`), 13 bits for their PL4
//! (`POWER_LIMIT4_MASK`) and 18 bits for TPMI (`TPMI_POWER_LIMIT_MASK`).
//! `max_power_uw` of PL1 is the package's thermal design power
//! (`THERMAL_SPEC_POWER`): a PL1 above it is valid, and the setter says so.
//!
//! [`EnergyMeter`] (file `meter.rs`) turns the zones' energy counters, or
//! the `power` perf PMU's where powercap offers none, into monotonic
//! totals.

use crate::error::{Error, Result};
use crate::sysfs::SysfsRoot;

mod meter;

pub use meter::{EnergyMeter, EnergySource, PmuZone, ZoneEnergy, pmu_zones};

/// Where the powercap class links live, relative to the sysfs root.
pub const POWERCAP_DIR: &str = "class/powercap";

/// The RAPL control types the library handles, with the prefix of their
/// zones' keys.
pub const CONTROL_TYPES: [(&str, &str); 3] = [
    ("intel-rapl", ""),
    ("intel-rapl-mmio", "mmio:"),
    ("intel-rapl-tpmi", "tpmi:"),
];

/// The RAPL power unit: 1/8 W (`MSR_RAPL_POWER_UNIT` bits 3:0 = 3, and
/// the TPMI unit register's same field, on the machines the library
/// knows; sysfs does not show it).
pub const RAPL_POWER_UNIT_UW: u64 = 125_000;

/// Largest power limit a 15-bit RAPL field (PL1, PL2 of the MSR and MMIO
/// interfaces) holds in the power unit.
pub const RAPL_REGISTER_MAX_UW: u64 = 0x7fff * RAPL_POWER_UNIT_UW;

/// Largest power limit of the 13-bit PL4 field of the MSR interface.
pub const RAPL_PL4_MAX_UW: u64 = 0x1fff * RAPL_POWER_UNIT_UW;

/// Largest power limit of the 18-bit fields of the TPMI interface.
pub const RAPL_TPMI_MAX_UW: u64 = 0x3_ffff * RAPL_POWER_UNIT_UW;

/// Largest time window the library accepts (about 71 minutes; RAPL windows
/// are seconds in practice).
pub const MAX_TIME_WINDOW_US: u64 = u32::MAX as u64;

/// One constraint (`constraint_K_*`) of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// K.
    pub index: u32,
    /// `constraint_K_name`: `long_term`, `short_term`, `peak_power`.
    pub name: String,
    /// `constraint_K_power_limit_uw`.
    pub power_limit_uw: u64,
    /// `constraint_K_time_window_us`, if the constraint has one.
    pub time_window_us: Option<u64>,
    /// `constraint_K_max_power_uw`, if exposed (0 or absent: unknown). For
    /// `long_term` (PL1) the kernel fills it with the thermal design power,
    /// for `short_term` with the package's maximum power.
    pub max_power_uw: Option<u64>,
    /// The largest limit the constraint's register field holds (see the
    /// module doc): what the hardware accepts without wrapping.
    pub field_max_uw: u64,
}

impl Constraint {
    /// The highest limit the library accepts for this constraint: its
    /// register field's range.
    pub fn ceiling_uw(&self) -> u64 {
        self.field_max_uw
    }

    /// `max_power_uw` when the kernel gives a nonzero one.
    pub fn rated_max_uw(&self) -> Option<u64> {
        self.max_power_uw.filter(|&m| m > 0)
    }
}

/// The range of a constraint's power limit field, by control type and
/// constraint name.
fn field_max_uw(control_type: &str, constraint: &str) -> u64 {
    match (control_type, constraint) {
        ("intel-rapl-tpmi", _) => RAPL_TPMI_MAX_UW,
        (_, "peak_power") => RAPL_PL4_MAX_UW,
        _ => RAPL_REGISTER_MAX_UW,
    }
}

/// One powercap zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaplZone {
    /// Stable key (see the module doc).
    pub key: String,
    /// `name`.
    pub name: String,
    /// Directory relative to the sysfs root.
    pub dir: String,
    /// `intel-rapl`, `intel-rapl-mmio` or `intel-rapl-tpmi`.
    pub control_type: String,
    /// Package the zone belongs to (`package-N`, `package-N-die-M` and
    /// their subzones); `None` for platform zones such as `psys`.
    pub package: Option<u32>,
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `energy_uj`; `None` when absent or not readable (root-only since
    /// Linux 5.10).
    pub energy_uj: Option<u64>,
    /// `max_energy_range_uj`.
    pub max_energy_range_uj: Option<u64>,
    /// Constraints in index order.
    pub constraints: Vec<Constraint>,
}

impl RaplZone {
    /// Path of one of the zone's files.
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// The constraint called `name` (or given by its index as a number).
    pub fn constraint(&self, name: &str) -> Option<&Constraint> {
        self.constraints
            .iter()
            .find(|c| c.name == name || c.index.to_string() == name)
    }
}

/// N of `package-N` and of `package-N-die-M` (the kernel's name for a
/// package zone when packages have several dies:
/// `rapl_add_package_cpuslocked()`).
fn package_of(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("package-")?;
    let n = match rest.split_once("-die-") {
        Some((n, die)) if !die.is_empty() && die.bytes().all(|b| b.is_ascii_digit()) => n,
        Some(_) => return None,
        None => rest,
    };
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// Reads every RAPL zone of the tree, in directory order.
pub fn read_zones(sysfs: &SysfsRoot) -> Result<Vec<RaplZone>> {
    let mut zones: Vec<RaplZone> = Vec::new();
    // Parents before their subzones: order by control type, then by the
    // numeric index path (0, 0:0, 0:1, 1, ...).
    let mut entries = sysfs.list(POWERCAP_DIR)?;
    entries.sort_by_cached_key(|e| {
        let (ctype, idx) = e.split_once(':').unwrap_or((e.as_str(), ""));
        let path: Vec<u32> = idx.split(':').filter_map(|n| n.parse().ok()).collect();
        (ctype.to_owned(), path)
    });
    for entry in entries {
        let Some((ctype, idx)) = entry.split_once(':') else {
            continue; // the control type itself
        };
        let Some(&(_, prefix)) = CONTROL_TYPES.iter().find(|(t, _)| *t == ctype) else {
            continue;
        };
        let dir = format!("{POWERCAP_DIR}/{entry}");
        let Some(name) = sysfs.read_opt(&format!("{dir}/name"))? else {
            continue;
        };
        // A subzone's parent is the zone whose index is our index minus its
        // last component.
        let parent = idx.rsplit_once(':').map(|(p, _)| format!("{ctype}:{p}"));
        let (key, package) = match &parent {
            Some(pentry) => {
                let pname = sysfs.read(&format!("{POWERCAP_DIR}/{pentry}/name"))?;
                (format!("{pname}/{name}"), package_of(&pname))
            }
            None => (name.clone(), package_of(&name)),
        };
        let key = format!("{prefix}{key}");
        let mut constraints = Vec::new();
        for k in 0u32.. {
            let c = |f: &str| format!("{dir}/constraint_{k}_{f}");
            let Some(cname) = sysfs.read_opt(&c("name"))? else {
                // Constraints without a name file still have a limit.
                if sysfs.exists(&c("power_limit_uw")) {
                    constraints.push(read_constraint(
                        sysfs,
                        &dir,
                        ctype,
                        k,
                        format!("constraint_{k}"),
                    )?);
                    continue;
                }
                break;
            };
            constraints.push(read_constraint(sysfs, &dir, ctype, k, cname)?);
        }
        let energy_uj = match sysfs.read_u64_opt(&format!("{dir}/energy_uj")) {
            Ok(v) => v,
            Err(Error::Locked { .. } | Error::NotPermitted { .. }) => None,
            Err(e) => return Err(e),
        };
        zones.push(RaplZone {
            key,
            name,
            control_type: ctype.to_owned(),
            package,
            enabled: sysfs
                .read_u64_opt(&format!("{dir}/enabled"))?
                .map(|v| v != 0),
            energy_uj,
            max_energy_range_uj: sysfs.read_u64_opt(&format!("{dir}/max_energy_range_uj"))?,
            constraints,
            dir,
        });
    }
    Ok(zones)
}

fn read_constraint(
    sysfs: &SysfsRoot,
    dir: &str,
    ctype: &str,
    k: u32,
    name: String,
) -> Result<Constraint> {
    let c = |f: &str| format!("{dir}/constraint_{k}_{f}");
    Ok(Constraint {
        index: k,
        field_max_uw: field_max_uw(ctype, &name),
        name,
        power_limit_uw: sysfs.read_u64(&c("power_limit_uw"))?,
        time_window_us: sysfs.read_u64_opt(&c("time_window_us"))?,
        max_power_uw: match sysfs.read_u64_opt(&c("max_power_uw")) {
            Ok(v) => v,
            // The kernel answers ENODATA for zones without the info.
            Err(Error::Io { .. }) => None,
            Err(e) => return Err(e),
        },
    })
}

/// Finds a zone by key, with an error that lists the zones there are. Two
/// zones with one key (a tree the kernel would not make) are refused
/// rather than one picked.
pub fn find_zone<'a>(zones: &'a [RaplZone], key: &str) -> Result<&'a RaplZone> {
    let mut found = zones.iter().filter(|z| z.key == key);
    if let (Some(a), Some(b)) = (found.next(), found.next()) {
        return Err(Error::InvalidState(format!(
            "two RAPL zones are named {key} ({} and {}): refusing to guess which one is meant",
            a.dir, b.dir
        )));
    }
    zones.iter().find(|z| z.key == key).ok_or_else(|| {
        let keys: Vec<&str> = zones.iter().map(|z| z.key.as_str()).collect();
        Error::invalid(
            "RAPL zone",
            key,
            if keys.is_empty() {
                "this host has no RAPL zones".to_owned()
            } else {
                format!("one of: {}", keys.join(", "))
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_of_die_zones() {
        assert_eq!(package_of("package-0"), Some(0));
        assert_eq!(package_of("package-12"), Some(12));
        assert_eq!(package_of("package-1-die-3"), Some(1));
        assert_eq!(package_of("package-1-die-"), None);
        assert_eq!(package_of("package--die-1"), None);
        assert_eq!(package_of("package-x"), None);
        assert_eq!(package_of("psys"), None);
    }

    #[test]
    fn field_ranges() {
        assert_eq!(field_max_uw("intel-rapl", "long_term"), 4_095_875_000);
        assert_eq!(field_max_uw("intel-rapl-mmio", "short_term"), 4_095_875_000);
        assert_eq!(field_max_uw("intel-rapl", "peak_power"), 1_023_875_000);
        assert_eq!(field_max_uw("intel-rapl-tpmi", "long_term"), 32_767_875_000);
    }
}
