// SPDX-License-Identifier: LGPL-2.1-or-later
//! The host: state snapshots, checked setters with rollback, and restore
//! from the original-state journal.
//!
//! Every setter works in three phases:
//!
//! 1. **validate** against the hardware's own limits (cpuinfo min/max, the
//!    available governor and EPP lists, `max_power_uw`), reading only the
//!    files the change needs; nothing is written if anything is wrong;
//! 2. **journal** the original value of every knob about to change for the
//!    first time (see [`crate::journal`]);
//! 3. **write** each file once, read it back, report a silent kernel clamp,
//!    and on any failure put back what was already written, in reverse
//!    order, so a multi-CPU or multi-field change is all-or-nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::cpufreq::{
    self, CPUFREQ_DIR, Cpufreq, GovernorScope, INTEL_PSTATE_DIR, Policy, Setspeed,
};
use crate::cpulist::{CpuSelection, format_cpulist};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::rapl::{self, MAX_TIME_WINDOW_US, RaplZone};
use crate::sysfs::SysfsRoot;
use crate::topology::Topology;

/// Options shared by the setters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// For an exact frequency: switch the policy to the `userspace`
    /// governor first (journaled and rolled back like any other write).
    pub switch_governor: bool,
    /// Apply a per-CPU change to the SMT siblings of the named CPUs too.
    pub include_siblings: bool,
    /// Validate and plan only; write nothing.
    pub dry_run: bool,
}

/// A knob class, for restore filters and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Knob {
    /// `scaling_governor`.
    Governor,
    /// `scaling_setspeed`.
    Frequency,
    /// `scaling_min_freq` / `scaling_max_freq`.
    FrequencyLimits,
    /// `energy_performance_preference`.
    Epp,
    /// `no_turbo`, `boost`.
    Turbo,
    /// intel_pstate `min_perf_pct` / `max_perf_pct`.
    PerfPct,
    /// RAPL `constraint_K_power_limit_uw` / `constraint_K_time_window_us`.
    RaplLimit,
    /// RAPL zone `enabled`.
    RaplEnabled,
    /// Anything else.
    Other,
}

impl Knob {
    /// The knob a file belongs to.
    pub fn of_path(rel: &str) -> Knob {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        match name {
            "scaling_governor" => Knob::Governor,
            "scaling_setspeed" => Knob::Frequency,
            "scaling_min_freq" | "scaling_max_freq" => Knob::FrequencyLimits,
            "energy_performance_preference" => Knob::Epp,
            "no_turbo" | "boost" => Knob::Turbo,
            "min_perf_pct" | "max_perf_pct" => Knob::PerfPct,
            "enabled" if rel.starts_with(rapl::POWERCAP_DIR) => Knob::RaplEnabled,
            n if n.starts_with("constraint_") => Knob::RaplLimit,
            _ => Knob::Other,
        }
    }

    /// Parses a knob name as used by the tools (`governor`, `frequency`,
    /// `limits`, `epp`, `turbo`, `perf-pct`, `rapl-limit`, `rapl-enabled`).
    pub fn parse(s: &str) -> Result<Knob> {
        Ok(match s {
            "governor" => Knob::Governor,
            "frequency" => Knob::Frequency,
            "limits" => Knob::FrequencyLimits,
            "epp" => Knob::Epp,
            "turbo" => Knob::Turbo,
            "perf-pct" => Knob::PerfPct,
            "rapl-limit" => Knob::RaplLimit,
            "rapl-enabled" => Knob::RaplEnabled,
            _ => {
                return Err(Error::invalid(
                    "knob",
                    s,
                    "one of: governor, frequency, limits, epp, turbo, perf-pct, rapl-limit, rapl-enabled",
                ));
            }
        })
    }
}

/// One file the change wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Path relative to the sysfs root.
    pub path: String,
    /// What it held before.
    pub old: String,
    /// What was written.
    pub new: String,
    /// What it holds afterwards (differs from `new` when the kernel
    /// clamped or rounded the value).
    pub read_back: String,
}

impl Change {
    /// Whether the kernel changed the value on the way in.
    pub fn clamped(&self) -> bool {
        self.read_back != self.new
    }
}

/// What a setter did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetReport {
    /// Files written, in write order (planned writes when `dry_run`).
    pub changes: Vec<Change>,
    /// Files that already held the requested value (not written).
    pub unchanged: Vec<String>,
    /// CPUs whose SMT siblings were left out of a frequency change.
    pub siblings_not_set: BTreeSet<u32>,
    /// Human-readable remarks (shared policies, clamps, siblings).
    pub notes: Vec<String>,
    /// Nothing was written.
    pub dry_run: bool,
}

impl SetReport {
    /// The report as text, one line per item.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let verb = if self.dry_run { "would set" } else { "set" };
            out.push_str(&format!("{verb} {}: {} -> {}", c.path, c.old, c.new));
            if c.clamped() && !self.dry_run {
                out.push_str(&format!(" (kernel holds {})", c.read_back));
            }
            out.push('\n');
        }
        for u in &self.unchanged {
            out.push_str(&format!("unchanged {u}\n"));
        }
        for n in &self.notes {
            out.push_str(n);
            out.push('\n');
        }
        out
    }

    /// Changes the kernel clamped or rounded.
    pub fn clamped(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.clamped())
    }
}

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

/// Which journal entries a restore puts back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreScope {
    /// Only knobs of policies covering these CPUs (`None`: any).
    pub cpus: Option<CpuSelection>,
    /// Only this knob class (`None`: every knob).
    pub knob: Option<Knob>,
    /// Only this RAPL zone (by key).
    pub zone: Option<String>,
}

/// What the scope notes need of a policy, whichever way it was read.
trait PolicyCpus {
    fn id(&self) -> u32;
    fn related_cpus(&self) -> &BTreeSet<u32>;
}

impl PolicyCpus for Policy {
    fn id(&self) -> u32 {
        self.id
    }
    fn related_cpus(&self) -> &BTreeSet<u32> {
        &self.related_cpus
    }
}

impl PolicyCpus for GovernorScope {
    fn id(&self) -> u32 {
        self.id
    }
    fn related_cpus(&self) -> &BTreeSet<u32> {
        &self.related_cpus
    }
}

fn related_of<P: PolicyCpus>(policies: &[P]) -> Vec<(u32, &BTreeSet<u32>)> {
    policies
        .iter()
        .map(|p| (p.id(), p.related_cpus()))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Must read back exactly.
    Exact,
    /// Numeric; the kernel may clamp or round silently: report it.
    Numeric,
}

#[derive(Debug, Clone)]
struct Step {
    rel: String,
    value: String,
    check: Check,
}

impl Step {
    fn exact(rel: String, value: impl Into<String>) -> Step {
        Step {
            rel,
            value: value.into(),
            check: Check::Exact,
        }
    }
    fn numeric(rel: String, value: u64) -> Step {
        Step {
            rel,
            value: value.to_string(),
            check: Check::Numeric,
        }
    }
}

/// A host, reached through a sysfs root, with an optional journal.
///
/// A `Host` is `Send + Sync`; changes are serialised by an internal lock
/// (and between processes by the journal's `flock`).
#[derive(Debug)]
pub struct Host {
    sysfs: SysfsRoot,
    journal: Option<Journal>,
    txn: Mutex<()>,
}

/// Tokens that a file can show but that cannot be written back.
fn writable(value: &str) -> bool {
    !value.is_empty() && !value.starts_with('<')
}

fn check_name(what: &str, value: &str) -> Result<()> {
    if value.is_empty()
        || value.len() > 64
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::invalid(
            what,
            value,
            "a name of 1 to 64 letters, digits, '_' or '-'",
        ));
    }
    Ok(())
}

impl Host {
    /// A host at `sysfs`, journaling originals in `state_dir` if given.
    pub fn new(sysfs: SysfsRoot, state_dir: Option<PathBuf>) -> Result<Host> {
        let journal = match state_dir {
            Some(dir) => Some(Journal::open(dir, sysfs.root())?),
            None => None,
        };
        Ok(Host {
            sysfs,
            journal,
            txn: Mutex::new(()),
        })
    }

    /// The sysfs tree.
    pub fn sysfs(&self) -> &SysfsRoot {
        &self.sysfs
    }

    /// The journal, if any.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

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

    /// Resolves a CPU selection (adding SMT siblings if asked) and loads
    /// the policies covering it. `sibling_notes`: the caller reports SMT
    /// siblings it left out, so the whole topology is read; otherwise (and
    /// without `include_siblings`) only the online list is.
    fn target_policies(
        &self,
        cpus: &CpuSelection,
        opts: &SetOptions,
        sibling_notes: bool,
    ) -> Result<(Topology, BTreeSet<u32>, Vec<Policy>)> {
        let (topo, set, ids) = self.target_policy_ids(cpus, opts, sibling_notes)?;
        let policies = ids
            .into_iter()
            .map(|id| Policy::read(&self.sysfs, id))
            .collect::<Result<Vec<_>>>()?;
        Ok((topo, set, policies))
    }

    /// [`Self::target_policies`] without reading the policies.
    fn target_policy_ids(
        &self,
        cpus: &CpuSelection,
        opts: &SetOptions,
        sibling_notes: bool,
    ) -> Result<(Topology, BTreeSet<u32>, BTreeSet<u32>)> {
        let topo = if sibling_notes || opts.include_siblings {
            Topology::read(&self.sysfs)?
        } else {
            Topology::read_online(&self.sysfs)?
        };
        let mut set = cpus.resolve(&topo.online)?;
        if opts.include_siblings {
            let extra: Vec<u32> = set
                .iter()
                .filter_map(|c| topo.cpu(*c))
                .flat_map(|t| t.siblings.iter().copied())
                .filter(|c| topo.online.contains(c))
                .collect();
            set.extend(extra);
        }
        if !self.sysfs.exists(CPUFREQ_DIR) {
            return Err(Error::Unsupported {
                path: self.sysfs.path(CPUFREQ_DIR),
            });
        }
        let ids = cpufreq::policy_ids_for(&self.sysfs, &set)?;
        Ok((topo, set, ids))
    }

    /// Notes on shared policies and left-out SMT siblings.
    /// `policies`: (policy number, its `related_cpus`).
    fn scope_notes(
        report: &mut SetReport,
        topo: &Topology,
        set: &BTreeSet<u32>,
        policies: &[(u32, &BTreeSet<u32>)],
        freq: bool,
    ) {
        let covered: BTreeSet<u32> = policies
            .iter()
            .flat_map(|(_, related)| related.iter().copied())
            .collect();
        for (id, related) in policies {
            let extra: BTreeSet<u32> = related.difference(set).copied().collect();
            if !extra.is_empty() {
                report.notes.push(format!(
                    "policy{id} is shared by CPUs {}: the change also applies to CPUs {}",
                    format_cpulist(related),
                    format_cpulist(&extra)
                ));
            }
        }
        if freq {
            let left: BTreeSet<u32> = set
                .iter()
                .filter_map(|c| topo.cpu(*c))
                .flat_map(|t| t.siblings.iter().copied())
                .filter(|c| !covered.contains(c) && topo.online.contains(c))
                .collect();
            if !left.is_empty() {
                report.notes.push(format!(
                    "SMT siblings {} were not set: on many CPUs a core runs at the highest frequency any of its threads asks for, so the change may have no effect until they are set too (use the include-siblings option)",
                    format_cpulist(&left)
                ));
                report.siblings_not_set = left;
            }
        }
    }

    /// Sets the cpufreq governor of the policies covering `cpus`.
    pub fn set_governor(
        &self,
        cpus: &CpuSelection,
        governor: &str,
        opts: SetOptions,
    ) -> Result<SetReport> {
        check_name("governor", governor)?;
        let (topo, set, ids) = self.target_policy_ids(cpus, &opts, false)?;
        let policies = ids
            .into_iter()
            .map(|id| GovernorScope::read(&self.sysfs, id))
            .collect::<Result<Vec<_>>>()?;
        let mut steps = Vec::new();
        for p in &policies {
            if !p.available_governors.iter().any(|g| g == governor) {
                return Err(Error::invalid(
                    "governor",
                    governor,
                    format!(
                        "one of the governors policy{} offers: {}",
                        p.id,
                        p.available_governors.join(", ")
                    ),
                ));
            }
            steps.push(Step::exact(p.file("scaling_governor"), governor));
        }
        let mut report = self.apply(steps, opts.dry_run)?;
        Self::scope_notes(&mut report, &topo, &set, &related_of(&policies), false);
        Ok(report)
    }

    /// Sets an exact frequency through the `userspace` governor's
    /// `scaling_setspeed`.
    pub fn set_frequency(
        &self,
        cpus: &CpuSelection,
        frequency_khz: u64,
        opts: SetOptions,
    ) -> Result<SetReport> {
        let (topo, set, policies) = self.target_policies(cpus, &opts, true)?;
        let mut steps = Vec::new();
        for p in &policies {
            check_khz("frequency", frequency_khz, p)?;
            if p.setspeed == Setspeed::Absent {
                return Err(Error::Unsupported {
                    path: self.sysfs.path(&p.file("scaling_setspeed")),
                });
            }
            if p.governor != "userspace" {
                if !p.available_governors.iter().any(|g| g == "userspace") {
                    return Err(Error::InvalidState(format!(
                        "policy{} (driver {}) offers no 'userspace' governor (available: {}), so it cannot hold an exact frequency; set frequency limits instead{}",
                        p.id,
                        p.driver,
                        p.available_governors.join(", "),
                        if p.driver == "intel_pstate" {
                            ", or switch intel_pstate to passive mode"
                        } else {
                            ""
                        }
                    )));
                }
                if !opts.switch_governor {
                    return Err(Error::InvalidState(format!(
                        "CPUs {} (policy{}) run the '{}' governor; an exact frequency needs 'userspace': set that governor first or ask for the governor switch",
                        format_cpulist(&p.related_cpus),
                        p.id,
                        p.governor
                    )));
                }
                steps.push(Step::exact(p.file("scaling_governor"), "userspace"));
            }
            steps.push(Step::numeric(p.file("scaling_setspeed"), frequency_khz));
        }
        let mut report = self.apply(steps, opts.dry_run)?;
        Self::scope_notes(&mut report, &topo, &set, &related_of(&policies), true);
        Ok(report)
    }

    /// Sets `scaling_min_freq` and/or `scaling_max_freq`, in the order that
    /// keeps min <= max at every moment.
    pub fn set_frequency_limits(
        &self,
        cpus: &CpuSelection,
        min_khz: Option<u64>,
        max_khz: Option<u64>,
        opts: SetOptions,
    ) -> Result<SetReport> {
        if min_khz.is_none() && max_khz.is_none() {
            return Err(Error::invalid(
                "frequency limits",
                "none",
                "a minimum, a maximum or both",
            ));
        }
        let (topo, set, policies) = self.target_policies(cpus, &opts, true)?;
        let mut steps = Vec::new();
        for p in &policies {
            if let Some(v) = min_khz {
                check_khz("minimum frequency", v, p)?;
            }
            if let Some(v) = max_khz {
                check_khz("maximum frequency", v, p)?;
            }
            let new_min = min_khz.unwrap_or(p.scaling_min_khz);
            let new_max = max_khz.unwrap_or(p.scaling_max_khz);
            if new_min > new_max {
                return Err(Error::invalid(
                    if min_khz.is_some() {
                        "minimum frequency"
                    } else {
                        "maximum frequency"
                    },
                    format!("{} kHz", if min_khz.is_some() { new_min } else { new_max }),
                    format!(
                        "a minimum no higher than the maximum ({new_min} kHz > {new_max} kHz on policy{}); give both limits to move the range",
                        p.id
                    ),
                ));
            }
            let min_step = min_khz.map(|v| Step::numeric(p.file("scaling_min_freq"), v));
            let max_step = max_khz.map(|v| Step::numeric(p.file("scaling_max_freq"), v));
            // cpupower's order: max first unless the new max is below the
            // old min.
            if new_max >= p.scaling_min_khz {
                steps.extend(max_step);
                steps.extend(min_step);
            } else {
                steps.extend(min_step);
                steps.extend(max_step);
            }
        }
        let mut report = self.apply(steps, opts.dry_run)?;
        Self::scope_notes(&mut report, &topo, &set, &related_of(&policies), true);
        Ok(report)
    }

    /// Sets the energy-performance preference.
    pub fn set_epp(&self, cpus: &CpuSelection, epp: &str, opts: SetOptions) -> Result<SetReport> {
        check_name("energy performance preference", epp)?;
        let (topo, set, policies) = self.target_policies(cpus, &opts, false)?;
        let mut steps = Vec::new();
        for p in &policies {
            if p.epp.is_none() {
                return Err(Error::Unsupported {
                    path: self.sysfs.path(&p.file("energy_performance_preference")),
                });
            }
            if !p.epp_available.iter().any(|e| e == epp) {
                return Err(Error::invalid(
                    "energy performance preference",
                    epp,
                    format!(
                        "one of the values policy{} offers: {}",
                        p.id,
                        p.epp_available.join(", ")
                    ),
                ));
            }
            if p.governor == "performance"
                && epp != "performance"
                && p.driver.starts_with("intel_pstate")
            {
                return Err(Error::InvalidState(format!(
                    "policy{} runs the 'performance' governor, under which intel_pstate accepts only the 'performance' preference (the kernel answers EBUSY); switch the governor to 'powersave' first",
                    p.id
                )));
            }
            steps.push(Step::exact(p.file("energy_performance_preference"), epp));
        }
        let mut report = self.apply(steps, opts.dry_run)?;
        Self::scope_notes(&mut report, &topo, &set, &related_of(&policies), false);
        Ok(report)
    }

    /// Turns turbo/boost on or off: intel_pstate `no_turbo` (inverted),
    /// else the global cpufreq `boost`, else every per-policy `boost`.
    pub fn set_turbo(&self, enabled: bool, opts: SetOptions) -> Result<SetReport> {
        let no_turbo = format!("{INTEL_PSTATE_DIR}/no_turbo");
        let global = format!("{CPUFREQ_DIR}/boost");
        let steps = if self.sysfs.exists(&no_turbo) {
            vec![Step::exact(no_turbo, if enabled { "0" } else { "1" })]
        } else if self.sysfs.exists(&global) {
            vec![Step::exact(global, if enabled { "1" } else { "0" })]
        } else {
            let mut steps = Vec::new();
            for id in Cpufreq::policy_ids(&self.sysfs)? {
                let f = format!("{CPUFREQ_DIR}/policy{id}/boost");
                if self.sysfs.exists(&f) {
                    steps.push(Step::exact(f, if enabled { "1" } else { "0" }));
                }
            }
            if steps.is_empty() {
                return Err(Error::Unsupported {
                    path: self.sysfs.path(&global),
                });
            }
            steps
        };
        self.apply(steps, opts.dry_run)
    }

    /// Sets intel_pstate's `min_perf_pct` and/or `max_perf_pct` (0-100).
    pub fn set_perf_pct(
        &self,
        min_pct: Option<u64>,
        max_pct: Option<u64>,
        opts: SetOptions,
    ) -> Result<SetReport> {
        let status_rel = format!("{INTEL_PSTATE_DIR}/status");
        let status = self.sysfs.read(&status_rel)?;
        if status == "off" {
            return Err(Error::InvalidState(
                "intel_pstate is not registered (status 'off'): its performance limits are unavailable".into(),
            ));
        }
        if min_pct.is_none() && max_pct.is_none() {
            return Err(Error::invalid(
                "performance limits",
                "none",
                "a minimum, a maximum or both",
            ));
        }
        for (what, v) in [
            ("minimum performance percent", min_pct),
            ("maximum performance percent", max_pct),
        ] {
            if let Some(v) = v.filter(|v| *v > 100) {
                return Err(Error::invalid(what, v.to_string(), "0 to 100"));
            }
        }
        let min_rel = format!("{INTEL_PSTATE_DIR}/min_perf_pct");
        let max_rel = format!("{INTEL_PSTATE_DIR}/max_perf_pct");
        let cur_min = self.sysfs.read_u64(&min_rel)?;
        let cur_max = self.sysfs.read_u64(&max_rel)?;
        let (new_min, new_max) = (min_pct.unwrap_or(cur_min), max_pct.unwrap_or(cur_max));
        if new_min > new_max {
            return Err(Error::invalid(
                "performance percent limits",
                format!("{new_min}-{new_max}"),
                "a minimum no higher than the maximum",
            ));
        }
        let min_step = min_pct.map(|v| Step::numeric(min_rel, v));
        let max_step = max_pct.map(|v| Step::numeric(max_rel, v));
        let steps: Vec<Step> = if new_max >= cur_min {
            max_step.into_iter().chain(min_step).collect()
        } else {
            min_step.into_iter().chain(max_step).collect()
        };
        self.apply(steps, opts.dry_run)
    }

    /// Sets a RAPL constraint's power limit and/or time window.
    pub fn set_rapl_limit(
        &self,
        zone: &str,
        constraint: &str,
        power_limit_uw: Option<u64>,
        time_window_us: Option<u64>,
        opts: SetOptions,
    ) -> Result<SetReport> {
        let zones = rapl::read_zones(&self.sysfs)?;
        let z = rapl::find_zone(&zones, zone)?;
        let c = z.constraint(constraint).ok_or_else(|| {
            let names: Vec<String> = z.constraints.iter().map(|c| c.name.clone()).collect();
            Error::invalid(
                "RAPL constraint",
                constraint,
                if names.is_empty() {
                    format!("zone {} has no constraints", z.key)
                } else {
                    format!("one of zone {}'s constraints: {}", z.key, names.join(", "))
                },
            )
        })?;
        if power_limit_uw.is_none() && time_window_us.is_none() {
            return Err(Error::invalid(
                "RAPL limit",
                "none",
                "a power limit, a time window or both",
            ));
        }
        let mut steps = Vec::new();
        if let Some(p) = power_limit_uw {
            let ceiling = c.ceiling_uw();
            if p == 0 || p > ceiling {
                return Err(Error::invalid(
                    "power limit",
                    format!("{p} uW"),
                    format!(
                        "1 to {ceiling} uW for {} {} ({})",
                        z.key,
                        c.name,
                        if c.max_power_uw.is_some_and(|m| m > 0) {
                            "its max_power_uw"
                        } else {
                            "the RAPL register's range"
                        }
                    ),
                ));
            }
            steps.push(Step::numeric(
                z.file(&format!("constraint_{}_power_limit_uw", c.index)),
                p,
            ));
        }
        if let Some(w) = time_window_us {
            if c.time_window_us.is_none() {
                return Err(Error::Unsupported {
                    path: self
                        .sysfs
                        .path(&z.file(&format!("constraint_{}_time_window_us", c.index))),
                });
            }
            if w == 0 || w > MAX_TIME_WINDOW_US {
                return Err(Error::invalid(
                    "time window",
                    format!("{w} us"),
                    format!("1 to {MAX_TIME_WINDOW_US} us"),
                ));
            }
            steps.push(Step::numeric(
                z.file(&format!("constraint_{}_time_window_us", c.index)),
                w,
            ));
        }
        let mut report = self.apply(steps, opts.dry_run)?;
        if z.enabled == Some(false) {
            report.notes.push(format!(
                "zone {} is disabled: its limits take effect once it is enabled",
                z.key
            ));
        }
        Ok(report)
    }

    /// Enables or disables a RAPL zone's power limiting.
    pub fn set_rapl_enabled(
        &self,
        zone: &str,
        enabled: bool,
        opts: SetOptions,
    ) -> Result<SetReport> {
        let zones = rapl::read_zones(&self.sysfs)?;
        let z = rapl::find_zone(&zones, zone)?;
        if z.enabled.is_none() {
            return Err(Error::Unsupported {
                path: self.sysfs.path(&z.file("enabled")),
            });
        }
        self.apply(
            vec![Step::exact(
                z.file("enabled"),
                if enabled { "1" } else { "0" },
            )],
            opts.dry_run,
        )
    }

    /// Puts back the journaled originals within `scope` and drops them from
    /// the journal. Without a journal there is nothing to restore.
    pub fn restore(&self, scope: &RestoreScope, opts: SetOptions) -> Result<SetReport> {
        let Some(journal) = &self.journal else {
            return Err(Error::InvalidState(
                "no state directory was given, so no originals were recorded".into(),
            ));
        };
        let entries = journal.load()?;
        let mut dirs: Option<Vec<String>> = None;
        if let Some(sel) = &scope.cpus {
            let topo = Topology::read(&self.sysfs)?;
            let set = sel.resolve(&topo.online)?;
            dirs = Some(
                cpufreq::policies_for(&self.sysfs, &set)?
                    .into_iter()
                    .map(|p| format!("{}/", p.dir))
                    .collect(),
            );
        }
        if let Some(key) = &scope.zone {
            let zones = rapl::read_zones(&self.sysfs)?;
            let z = rapl::find_zone(&zones, key)?;
            let d = format!("{}/", z.dir);
            dirs = Some(match dirs {
                Some(v) => v.into_iter().filter(|x| x == &d).collect(),
                None => vec![d],
            });
        }
        let selected: BTreeMap<&String, &String> = entries
            .iter()
            .filter(|(k, _)| scope.knob.is_none_or(|kn| Knob::of_path(k) == kn))
            .filter(|(k, _)| {
                dirs.as_ref()
                    .is_none_or(|ds| ds.iter().any(|d| k.starts_with(d.as_str())))
            })
            .collect();
        // Order: governors first (so a userspace setspeed can follow), then
        // min/max pairs in the safe order, then everything else.
        let mut steps: Vec<(u8, Step)> = Vec::new();
        let mut forget: Vec<String> = Vec::new();
        for (k, v) in &selected {
            forget.push((*k).clone());
            if !writable(v) {
                continue;
            }
            let numeric = v.parse::<u64>().is_ok();
            let step = Step {
                rel: (*k).clone(),
                value: (*v).clone(),
                check: if numeric {
                    Check::Numeric
                } else {
                    Check::Exact
                },
            };
            let prio = match k.rsplit('/').next().unwrap_or("") {
                "scaling_governor" => 0,
                "scaling_max_freq" | "max_perf_pct" => {
                    // Max before min unless the restored max is below the
                    // current min.
                    let min_rel = k.replace("max_", "min_");
                    let cur_min = self.sysfs.read_u64(&min_rel).unwrap_or(0);
                    if v.parse::<u64>().unwrap_or(u64::MAX) >= cur_min {
                        1
                    } else {
                        3
                    }
                }
                "scaling_min_freq" | "min_perf_pct" => 2,
                "scaling_setspeed" => 4,
                _ => 5,
            };
            steps.push((prio, step));
        }
        steps.sort_by_key(|(p, _)| *p);
        let report = self.apply(steps.into_iter().map(|(_, s)| s).collect(), opts.dry_run)?;
        if !opts.dry_run {
            let _lock = journal.lock()?;
            journal.forget(&forget)?;
        }
        Ok(report)
    }

    /// Validated steps -> journal -> writes with read-back -> rollback.
    fn apply(&self, steps: Vec<Step>, dry_run: bool) -> Result<SetReport> {
        let _guard = self.txn.lock().unwrap_or_else(|p| p.into_inner());
        let _jlock = match &self.journal {
            Some(j) if !dry_run => Some(j.lock()?),
            _ => None,
        };
        let mut report = SetReport {
            dry_run,
            ..SetReport::default()
        };
        // Phase 1: read every original before writing anything.
        let mut todo: Vec<(Step, String)> = Vec::new();
        for s in steps {
            let old = match todo.iter().find(|(t, _)| t.rel == s.rel) {
                Some((_, o)) => o.clone(),
                None => self.sysfs.read(&s.rel)?,
            };
            if old == s.value && !todo.iter().any(|(t, _)| t.rel == s.rel) {
                report.unchanged.push(s.rel);
                continue;
            }
            todo.push((s, old));
        }
        if dry_run {
            report.changes = todo
                .into_iter()
                .map(|(s, old)| Change {
                    path: s.rel,
                    old,
                    read_back: s.value.clone(),
                    new: s.value,
                })
                .collect();
            return Ok(report);
        }
        // Phase 2: journal the originals.
        if let Some(j) = &self.journal {
            let originals: Vec<(String, String)> = todo
                .iter()
                .map(|(s, o)| (s.rel.clone(), o.clone()))
                .collect();
            j.record(&originals)?;
        }
        // Phase 3: write, read back, roll back on failure.
        let mut done: Vec<(String, String)> = Vec::new();
        for (s, old) in &todo {
            let result = self.sysfs.write(&s.rel, &s.value).and_then(|()| {
                let rb = self.sysfs.read(&s.rel);
                // The write happened even if the read-back fails: undo it.
                done.push((s.rel.clone(), old.clone()));
                let rb = rb?;
                if s.check == Check::Exact && rb != s.value {
                    return Err(Error::NotApplied {
                        path: self.sysfs.path(&s.rel),
                        written: s.value.clone(),
                        read_back: rb,
                    });
                }
                Ok(rb)
            });
            match result {
                Ok(rb) => report.changes.push(Change {
                    path: s.rel.clone(),
                    old: old.clone(),
                    new: s.value.clone(),
                    read_back: rb,
                }),
                Err(e) => return Err(self.rollback(&done, e)),
            }
        }
        for c in report.changes.iter().filter(|c| c.clamped()) {
            report.notes.push(format!(
                "the kernel adjusted {}: asked {}, holds {}",
                c.path, c.new, c.read_back
            ));
        }
        Ok(report)
    }

    fn rollback(&self, done: &[(String, String)], cause: Error) -> Error {
        let mut failures = Vec::new();
        for (rel, old) in done.iter().rev() {
            if !writable(old) {
                continue;
            }
            if let Err(e) = self.sysfs.write(rel, old) {
                failures.push(e.to_string());
            }
        }
        if failures.is_empty() {
            cause
        } else {
            Error::RollbackFailed {
                cause: Box::new(cause),
                failures: failures.join("; "),
            }
        }
    }
}

fn check_khz(what: &str, khz: u64, p: &Policy) -> Result<()> {
    if khz < p.cpuinfo_min_khz || khz > p.cpuinfo_max_khz {
        return Err(Error::invalid(
            what,
            format!("{khz} kHz"),
            format!(
                "{} to {} kHz (the hardware limits of policy{}, CPUs {})",
                p.cpuinfo_min_khz,
                p.cpuinfo_max_khz,
                p.id,
                format_cpulist(&p.related_cpus)
            ),
        ));
    }
    Ok(())
}
