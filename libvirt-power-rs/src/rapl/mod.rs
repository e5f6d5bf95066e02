// SPDX-License-Identifier: LGPL-2.1-or-later
//! powercap RAPL zones: discovery by name, constraints, energy counters.
//!
//! Zones are found through `class/powercap/<control-type>:N[:M]` and
//! identified by their `name` file, never by index: the kernel numbers
//! zones in probe order, which differs between hosts. A zone's key is its
//! name for a top-level zone (`package-0`, `psys`), `parent/name` for a
//! subzone (`package-1/dram`), prefixed with `mmio:` for the
//! `intel-rapl-mmio` control type.
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

/// The RAPL control types the library handles.
pub const CONTROL_TYPES: [&str; 2] = ["intel-rapl", "intel-rapl-mmio"];

/// Largest power limit a RAPL register can hold with the default power unit
/// (15-bit field, 1/8 W): used as the ceiling when a constraint has no
/// `max_power_uw` file.
pub const RAPL_REGISTER_MAX_UW: u64 = 32_767 * 125_000;

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
    /// `constraint_K_max_power_uw`, if exposed (0 or absent: unknown).
    pub max_power_uw: Option<u64>,
}

impl Constraint {
    /// The highest limit the library accepts for this constraint.
    pub fn ceiling_uw(&self) -> u64 {
        match self.max_power_uw {
            Some(m) if m > 0 => m,
            _ => RAPL_REGISTER_MAX_UW,
        }
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
    /// `intel-rapl` or `intel-rapl-mmio`.
    pub control_type: String,
    /// Package the zone belongs to (`package-N` and its subzones); `None`
    /// for platform zones such as `psys`.
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

fn package_of(name: &str) -> Option<u32> {
    name.strip_prefix("package-")?.parse().ok()
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
        if !CONTROL_TYPES.contains(&ctype) {
            continue;
        }
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
        let key = if ctype == "intel-rapl" {
            key
        } else {
            format!("mmio:{key}")
        };
        let mut constraints = Vec::new();
        for k in 0u32.. {
            let c = |f: &str| format!("{dir}/constraint_{k}_{f}");
            let Some(cname) = sysfs.read_opt(&c("name"))? else {
                // Constraints without a name file still have a limit.
                if sysfs.exists(&c("power_limit_uw")) {
                    constraints.push(read_constraint(sysfs, &dir, k, format!("constraint_{k}"))?);
                    continue;
                }
                break;
            };
            constraints.push(read_constraint(sysfs, &dir, k, cname)?);
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

fn read_constraint(sysfs: &SysfsRoot, dir: &str, k: u32, name: String) -> Result<Constraint> {
    let c = |f: &str| format!("{dir}/constraint_{k}_{f}");
    Ok(Constraint {
        index: k,
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

/// Finds a zone by key, with an error that lists the zones there are.
pub fn find_zone<'a>(zones: &'a [RaplZone], key: &str) -> Result<&'a RaplZone> {
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
