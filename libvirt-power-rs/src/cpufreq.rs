// SPDX-License-Identifier: LGPL-2.1-or-later
//! cpufreq discovery: policies, scaling drivers, governors, frequency
//! limits, EPP, boost, and the intel_pstate / amd_pstate global knobs.
//!
//! All frequencies are kHz, as in the kernel's files.
//!
//! A policy whose CPUs are all offline is inactive: the kernel keeps its
//! directory but answers every attribute with `EBUSY` (`show()`/`store()`
//! in `cpufreq.c`). [`Cpufreq::read`] lists such policies apart
//! ([`Cpufreq::inactive_policies`]) instead of failing.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::sysfs::SysfsRoot;
use crate::topology::CPU_DIR;

/// Directory of the cpufreq policies, relative to the sysfs root.
pub const CPUFREQ_DIR: &str = "devices/system/cpu/cpufreq";
/// Directory of intel_pstate's global knobs.
pub const INTEL_PSTATE_DIR: &str = "devices/system/cpu/intel_pstate";
/// Directory of amd_pstate's global knobs.
pub const AMD_PSTATE_DIR: &str = "devices/system/cpu/amd_pstate";

/// What `scaling_setspeed` offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setspeed {
    /// No such file.
    Absent,
    /// The file reads `<unsupported>`: the governor is not `userspace`.
    Unsupported,
    /// The `userspace` governor is in charge; the current target in kHz.
    Khz(u64),
}

/// One cpufreq policy (a group of CPUs that share one frequency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Policy number (`policyN`).
    pub id: u32,
    /// Directory relative to the sysfs root.
    pub dir: String,
    /// CPUs the policy covers, online or not (`related_cpus`).
    pub related_cpus: BTreeSet<u32>,
    /// Online CPUs the policy covers (`affected_cpus`).
    pub affected_cpus: BTreeSet<u32>,
    /// `scaling_driver`.
    pub driver: String,
    /// `scaling_governor`.
    pub governor: String,
    /// `scaling_available_governors`.
    pub available_governors: Vec<String>,
    /// `scaling_available_frequencies` (empty when the driver has no table).
    pub available_frequencies_khz: Vec<u64>,
    /// `cpuinfo_min_freq`.
    pub cpuinfo_min_khz: u64,
    /// `cpuinfo_max_freq`.
    pub cpuinfo_max_khz: u64,
    /// `scaling_min_freq`.
    pub scaling_min_khz: u64,
    /// `scaling_max_freq`.
    pub scaling_max_khz: u64,
    /// `scaling_cur_freq`, if readable.
    pub scaling_cur_khz: Option<u64>,
    /// `scaling_setspeed`.
    pub setspeed: Setspeed,
    /// `energy_performance_preference`, if the driver offers EPP.
    pub epp: Option<String>,
    /// `energy_performance_available_preferences`.
    pub epp_available: Vec<String>,
    /// Per-policy `boost` (amd-pstate and newer kernels), if present.
    pub boost: Option<bool>,
}

impl Policy {
    /// Reads policy `id`, `None` if it is inactive: its files answer
    /// `EBUSY` (the kernel), or its `affected_cpus` is empty (a tree that
    /// shows the kernel's internal state).
    pub fn read_active(sysfs: &SysfsRoot, id: u32) -> Result<Option<Policy>> {
        match Policy::read(sysfs, id) {
            Ok(p) if p.affected_cpus.is_empty() => Ok(None),
            Ok(p) => Ok(Some(p)),
            Err(Error::Busy { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Path of one of the policy's files.
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// Reads policy `id`.
    pub fn read(sysfs: &SysfsRoot, id: u32) -> Result<Policy> {
        let dir = format!("{CPUFREQ_DIR}/policy{id}");
        let f = |name: &str| format!("{dir}/{name}");
        let list = |name: &str| -> Result<Vec<String>> {
            Ok(sysfs
                .read_opt(&f(name))?
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default())
        };
        let cpus = |name: &str| read_cpu_numbers(sysfs, &f(name));
        let mut available_frequencies_khz = Vec::new();
        for tok in list("scaling_available_frequencies")? {
            available_frequencies_khz.push(crate::sysfs::parse_u64(
                &sysfs.path(&f("scaling_available_frequencies")),
                &tok,
            )?);
        }
        available_frequencies_khz.sort_unstable();
        let setspeed = match sysfs.read_opt(&f("scaling_setspeed"))? {
            None => Setspeed::Absent,
            Some(s) if s.trim() == "<unsupported>" => Setspeed::Unsupported,
            Some(s) => Setspeed::Khz(crate::sysfs::parse_u64(
                &sysfs.path(&f("scaling_setspeed")),
                &s,
            )?),
        };
        let related_cpus = cpus("related_cpus")?;
        let affected_cpus = if sysfs.exists(&f("affected_cpus")) {
            cpus("affected_cpus")?
        } else {
            related_cpus.clone()
        };
        Ok(Policy {
            id,
            related_cpus,
            affected_cpus,
            driver: sysfs.read(&f("scaling_driver"))?,
            governor: sysfs.read(&f("scaling_governor"))?,
            available_governors: list("scaling_available_governors")?,
            available_frequencies_khz,
            cpuinfo_min_khz: sysfs.read_u64(&f("cpuinfo_min_freq"))?,
            cpuinfo_max_khz: sysfs.read_u64(&f("cpuinfo_max_freq"))?,
            scaling_min_khz: sysfs.read_u64(&f("scaling_min_freq"))?,
            scaling_max_khz: sysfs.read_u64(&f("scaling_max_freq"))?,
            scaling_cur_khz: sysfs.read_u64_opt(&f("scaling_cur_freq")).ok().flatten(),
            setspeed,
            epp: sysfs.read_opt(&f("energy_performance_preference"))?,
            epp_available: list("energy_performance_available_preferences")?,
            boost: sysfs.read_u64_opt(&f("boost"))?.map(|v| v != 0),
            dir,
        })
    }
}

/// The largest raw energy-performance preference (the EPP field of
/// `MSR_HWP_REQUEST` and of AMD's CPPC request is 8 bits).
pub const EPP_RAW_MAX: u8 = 255;

/// An energy-performance preference as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EppRequest<'a> {
    /// A name from `energy_performance_available_preferences`
    /// (`default` is the firmware's default, whatever its value).
    Named(&'a str),
    /// A raw EPP value, 0 (performance) to 255 (power).
    Raw(u8),
}

impl<'a> EppRequest<'a> {
    /// Reads a preference: decimal digits are a raw value (0 to 255),
    /// anything else a name of 1 to 64 letters, digits, `_` or `-`.
    pub fn parse(s: &'a str) -> Result<EppRequest<'a>> {
        const WHAT: &str = "energy performance preference";
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u64>()
                .ok()
                .and_then(|v| u8::try_from(v).ok())
                .map(EppRequest::Raw)
                .ok_or_else(|| {
                    Error::invalid(
                        WHAT,
                        s,
                        format!(
                            "a raw value from 0 to {EPP_RAW_MAX} (0 favours performance, {EPP_RAW_MAX} power) or a name such as balance_power"
                        ),
                    )
                });
        }
        if s.is_empty()
            || s.len() > 64
            || !s
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            return Err(Error::invalid(
                WHAT,
                s,
                format!(
                    "a name of 1 to 64 letters, digits, '_' or '-', or a raw value from 0 to {EPP_RAW_MAX}"
                ),
            ));
        }
        Ok(EppRequest::Named(s))
    }
}

/// Whether `driver` takes a raw EPP value: intel_pstate in either mode
/// (with HWP EPP) and amd-pstate (since its "raw EPP writes" change; an
/// older kernel answers `EINVAL`, reported as the kernel's refusal).
pub fn epp_takes_raw(driver: &str) -> bool {
    matches!(
        driver,
        "intel_pstate" | "intel_cpufreq" | "amd-pstate-epp" | "amd-pstate"
    )
}

/// Whether `driver` refuses (`EBUSY`) any nonzero EPP while the policy's
/// governor is `performance`: the drivers without governors of their own,
/// intel_pstate active and amd-pstate-epp.
pub fn epp_busy_under_performance(driver: &str) -> bool {
    matches!(driver, "intel_pstate" | "amd-pstate-epp")
}

/// The EPP value `driver` gives a named preference (`epp_values[]`),
/// `None` for `default` (the firmware's) or a name it does not define.
pub fn epp_value(driver: &str, name: &str) -> Option<u8> {
    let amd = driver.starts_with("amd");
    Some(match name {
        "performance" => 0,
        "balance_performance" => 0x80,
        "balance_power" if amd => 0xbf,
        "balance_power" => 0xc0,
        "power" => 0xff,
        _ => return None,
    })
}

/// What `energy_performance_preference` may read back after `driver` took
/// raw value `epp`: the number, or the name that has that value (Intel
/// shows the name where one has it).
pub fn epp_raw_read_backs(driver: &str, epp: u8) -> Vec<String> {
    let mut out = vec![epp.to_string()];
    out.extend(
        [
            "performance",
            "balance_performance",
            "balance_power",
            "power",
        ]
        .into_iter()
        .filter(|n| epp_value(driver, n) == Some(epp))
        .map(str::to_owned),
    );
    out
}

/// intel_pstate's global state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelPstate {
    /// `status`: `active`, `passive` or `off`.
    pub status: String,
    /// `no_turbo` (true = turbo disabled).
    pub no_turbo: Option<bool>,
    /// `min_perf_pct`.
    pub min_perf_pct: Option<u32>,
    /// `max_perf_pct`.
    pub max_perf_pct: Option<u32>,
    /// `turbo_pct` (read-only).
    pub turbo_pct: Option<u32>,
    /// `num_pstates` (read-only).
    pub num_pstates: Option<u32>,
    /// `hwp_dynamic_boost`, present with HWP.
    pub hwp_dynamic_boost: Option<bool>,
}

/// The cpufreq side of the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpufreq {
    /// Active policies, by number.
    pub policies: Vec<Policy>,
    /// Inactive policies (every CPU offline: their files answer `EBUSY`).
    pub inactive_policies: BTreeSet<u32>,
    /// Global `cpufreq/boost` (acpi-cpufreq, amd-pstate), if present.
    pub boost: Option<bool>,
    /// intel_pstate globals, if the driver is loaded.
    pub intel_pstate: Option<IntelPstate>,
    /// amd_pstate `status` (`active`, `passive`, `guided`, `disable`).
    pub amd_pstate_status: Option<String>,
}

fn opt_u32(sysfs: &SysfsRoot, rel: &str) -> Result<Option<u32>> {
    match sysfs.read_u64_opt(rel) {
        Ok(v) => Ok(v.and_then(|v| u32::try_from(v).ok())),
        // intel_pstate answers EAGAIN while unregistered: nothing to show.
        Err(Error::TryAgain { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Cpufreq {
    /// Reads every policy and the global knobs. A host without cpufreq
    /// gives an empty policy list.
    pub fn read(sysfs: &SysfsRoot) -> Result<Cpufreq> {
        let mut policies = Vec::new();
        let mut inactive_policies = BTreeSet::new();
        for id in Self::policy_ids(sysfs)? {
            match Policy::read_active(sysfs, id)? {
                Some(p) => policies.push(p),
                None => {
                    inactive_policies.insert(id);
                }
            }
        }
        let intel_pstate = match sysfs.read_opt(&format!("{INTEL_PSTATE_DIR}/status"))? {
            Some(status) => Some(IntelPstate {
                status,
                no_turbo: opt_u32(sysfs, &format!("{INTEL_PSTATE_DIR}/no_turbo"))?.map(|v| v != 0),
                min_perf_pct: opt_u32(sysfs, &format!("{INTEL_PSTATE_DIR}/min_perf_pct"))?,
                max_perf_pct: opt_u32(sysfs, &format!("{INTEL_PSTATE_DIR}/max_perf_pct"))?,
                turbo_pct: opt_u32(sysfs, &format!("{INTEL_PSTATE_DIR}/turbo_pct"))?,
                num_pstates: opt_u32(sysfs, &format!("{INTEL_PSTATE_DIR}/num_pstates"))?,
                hwp_dynamic_boost: opt_u32(
                    sysfs,
                    &format!("{INTEL_PSTATE_DIR}/hwp_dynamic_boost"),
                )?
                .map(|v| v != 0),
            }),
            None => None,
        };
        Ok(Cpufreq {
            policies,
            inactive_policies,
            boost: sysfs
                .read_u64_opt(&format!("{CPUFREQ_DIR}/boost"))?
                .map(|v| v != 0),
            intel_pstate,
            amd_pstate_status: sysfs.read_opt(&format!("{AMD_PSTATE_DIR}/status"))?,
        })
    }

    /// Numbers of the `policyN` directories.
    pub fn policy_ids(sysfs: &SysfsRoot) -> Result<Vec<u32>> {
        Ok(sysfs
            .list(CPUFREQ_DIR)?
            .iter()
            .filter_map(|n| n.strip_prefix("policy")?.parse().ok())
            .collect())
    }

    /// The active policy that covers `cpu` (online or not: a policy shared
    /// with an online CPU stays active).
    pub fn policy_of(&self, cpu: u32) -> Option<&Policy> {
        self.policies.iter().find(|p| p.related_cpus.contains(&cpu))
    }

    /// The scaling driver in use (of the first policy).
    pub fn driver(&self) -> Option<&str> {
        self.policies.first().map(|p| p.driver.as_str())
    }
}

/// Reads just the policies that cover `cpus` (cheaper than [`Cpufreq::read`]
/// on large hosts). The policy of a CPU is found through `cpuN/cpufreq`,
/// which the kernel links to its policy directory.
pub fn policies_for(sysfs: &SysfsRoot, cpus: &BTreeSet<u32>) -> Result<Vec<Policy>> {
    policy_ids_for(sysfs, cpus)?
        .into_iter()
        .map(|id| Policy::read(sysfs, id))
        .collect()
}

/// The numbers of the policies covering `cpus`.
pub fn policy_ids_for(sysfs: &SysfsRoot, cpus: &BTreeSet<u32>) -> Result<BTreeSet<u32>> {
    let mut ids = BTreeSet::new();
    for &cpu in cpus {
        let id = match linked_policy(sysfs, cpu) {
            Some(id) => id,
            // Not a link (older kernels): search the active policies.
            None => {
                let mut found = None;
                for pid in Cpufreq::policy_ids(sysfs)? {
                    let related = match read_cpu_numbers(
                        sysfs,
                        &format!("{CPUFREQ_DIR}/policy{pid}/related_cpus"),
                    ) {
                        Err(Error::Busy { .. }) => continue,
                        other => other?,
                    };
                    if related.contains(&cpu) {
                        found = Some(pid);
                        break;
                    }
                }
                found.ok_or_else(|| Error::Unsupported {
                    path: sysfs.path(&format!("{CPU_DIR}/cpu{cpu}/cpufreq")),
                })?
            }
        };
        ids.insert(id);
    }
    Ok(ids)
}

/// The policy `cpu` belongs to by its `cpuN/cpufreq` link (which the
/// kernel keeps while the CPU is offline), `None` without one.
pub fn linked_policy(sysfs: &SysfsRoot, cpu: u32) -> Option<u32> {
    let link = sysfs.path(&format!("{CPU_DIR}/cpu{cpu}/cpufreq"));
    std::fs::read_link(&link)
        .ok()?
        .file_name()?
        .to_str()?
        .strip_prefix("policy")?
        .parse()
        .ok()
}

/// The few files of a policy a governor change needs: its CPUs and the
/// governors it offers. Reading them alone keeps a change on every CPU of
/// a large host from reading every attribute of every policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernorScope {
    /// Policy number (`policyN`).
    pub id: u32,
    /// Directory relative to the sysfs root.
    pub dir: String,
    /// `related_cpus`.
    pub related_cpus: BTreeSet<u32>,
    /// `scaling_available_governors`.
    pub available_governors: Vec<String>,
}

impl GovernorScope {
    /// Reads policy `id`'s CPUs and governor list.
    pub fn read(sysfs: &SysfsRoot, id: u32) -> Result<GovernorScope> {
        let dir = format!("{CPUFREQ_DIR}/policy{id}");
        let related_cpus = read_cpu_numbers(sysfs, &format!("{dir}/related_cpus"))?;
        let available_governors = sysfs
            .read_opt(&format!("{dir}/scaling_available_governors"))?
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(GovernorScope {
            id,
            dir,
            related_cpus,
            available_governors,
        })
    }

    /// Path of one of the policy's files.
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }
}

/// A space-separated CPU number list (`related_cpus`, `affected_cpus`).
fn read_cpu_numbers(sysfs: &SysfsRoot, rel: &str) -> Result<BTreeSet<u32>> {
    let text = sysfs.read(rel)?;
    text.split_whitespace()
        .map(|t| {
            t.parse::<u32>().map_err(|_| Error::Parse {
                path: sysfs.path(rel),
                content: crate::error::shorten(&text),
                reason: "not a space-separated CPU number list".into(),
            })
        })
        .collect()
}
