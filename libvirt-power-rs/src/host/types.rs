// SPDX-License-Identifier: LGPL-2.1-or-later
//! The setters' options and reports, knob classes and restore scopes.

use std::collections::BTreeSet;

use crate::cpulist::CpuSelection;
use crate::error::{Error, Result};
use crate::rapl;

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
    /// CPUs an `all` selection left out: offline ones, and online ones
    /// without a cpufreq policy (the notes say which are which).
    pub cpus_skipped: BTreeSet<u32>,
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
