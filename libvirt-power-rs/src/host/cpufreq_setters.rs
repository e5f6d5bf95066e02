// SPDX-License-Identifier: LGPL-2.1-or-later
//! The cpufreq and intel_pstate setters: governor, exact frequency,
//! frequency limits, energy-performance preference, turbo and
//! intel_pstate performance percentages.

use std::collections::BTreeSet;

use crate::cpufreq::{
    self, CPUFREQ_DIR, Cpufreq, GovernorScope, INTEL_PSTATE_DIR, Policy, Setspeed,
};
use crate::cpulist::{CpuSelection, format_cpulist};
use crate::error::{Error, Result};
use crate::topology::Topology;

use super::Host;
use super::txn::Step;
use super::types::{SetOptions, SetReport};

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
