// SPDX-License-Identifier: LGPL-2.1-or-later
//! The cpufreq and intel_pstate setters: governor, exact frequency,
//! frequency limits, energy-performance preference, turbo and
//! intel_pstate performance percentages.
//!
//! Offline CPUs: `all` means the online CPUs with a cpufreq policy; the
//! others (offline CPUs, online CPUs without cpufreq) are skipped and the
//! report says so. Naming an offline CPU is an error that says it is
//! offline. A policy whose CPUs are all offline is inactive (every file
//! `EBUSY`) and never written; a per-policy `boost` skips it too.

use std::collections::BTreeSet;

use crate::cpufreq::{
    self, CPUFREQ_DIR, Cpufreq, EppRequest, GovernorScope, INTEL_PSTATE_DIR, Policy, Setspeed,
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

/// What a CPU selection resolves to.
struct Targets<P> {
    topo: Topology,
    /// The CPUs the change applies to.
    set: BTreeSet<u32>,
    /// Their policies (numbers, or read).
    policies: P,
    /// The CPUs `all` skipped, and the notes that say why.
    skipped: Skipped,
}

/// The CPUs an `all` selection left out, and why.
#[derive(Default)]
struct Skipped {
    cpus: BTreeSet<u32>,
    notes: Vec<String>,
}

impl Skipped {
    /// Adds them to a setter's report.
    fn report(self, report: &mut SetReport) {
        report.cpus_skipped.extend(self.cpus);
        report.notes.extend(self.notes);
    }
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
    /// without `include_siblings`) only the online list is. The returned
    /// [`Skipped`] names the CPUs `all` skipped.
    fn target_policies(
        &self,
        cpus: &CpuSelection,
        opts: &SetOptions,
        sibling_notes: bool,
    ) -> Result<Targets<Vec<Policy>>> {
        let t = self.target_policy_ids(cpus, opts, sibling_notes)?;
        let policies = t
            .policies
            .iter()
            .map(|id| Policy::read(&self.sysfs, *id))
            .collect::<Result<Vec<_>>>()?;
        Ok(Targets {
            topo: t.topo,
            set: t.set,
            policies,
            skipped: t.skipped,
        })
    }

    /// Refuses a selection that names an offline CPU, with the CPU named.
    fn check_online(topo: &Topology, cpus: &CpuSelection) -> Result<()> {
        let CpuSelection::List(list) = cpus else {
            return Ok(());
        };
        let offline: BTreeSet<u32> = list
            .iter()
            .filter(|c| topo.present.contains(c) && !topo.online.contains(c))
            .copied()
            .collect();
        match offline.first() {
            None => Ok(()),
            Some(first) => Err(Error::invalid(
                "CPU",
                first.to_string(),
                format!(
                    "an online CPU: {} {} {} offline (online CPUs: {})",
                    if offline.len() == 1 { "CPU" } else { "CPUs" },
                    format_cpulist(&offline),
                    if offline.len() == 1 { "is" } else { "are" },
                    format_cpulist(&topo.online)
                ),
            )),
        }
    }

    /// [`Self::target_policies`] without reading the policies.
    fn target_policy_ids(
        &self,
        cpus: &CpuSelection,
        opts: &SetOptions,
        sibling_notes: bool,
    ) -> Result<Targets<BTreeSet<u32>>> {
        let topo = if sibling_notes || opts.include_siblings {
            Topology::read(&self.sysfs)?
        } else {
            Topology::read_online(&self.sysfs)?
        };
        Self::check_online(&topo, cpus)?;
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
        let mut skipped = Skipped::default();
        if *cpus == CpuSelection::All {
            let offline = topo.offline();
            if !offline.is_empty() {
                skipped.notes.push(format!(
                    "{} {} {} offline: skipped (a policy whose CPUs are all offline is inactive until one comes back)",
                    if offline.len() == 1 { "CPU" } else { "CPUs" },
                    format_cpulist(&offline),
                    if offline.len() == 1 { "is" } else { "are" },
                ));
                skipped.cpus.extend(offline);
            }
            // An online CPU without cpufreq (no policy link) is skipped too.
            let without: BTreeSet<u32> = set
                .iter()
                .filter(|c| cpufreq::linked_policy(&self.sysfs, **c).is_none())
                .copied()
                .collect();
            if !without.is_empty() && without.len() < set.len() {
                set.retain(|c| !without.contains(c));
                skipped.notes.push(format!(
                    "{} {} {} no cpufreq policy: skipped",
                    if without.len() == 1 { "CPU" } else { "CPUs" },
                    format_cpulist(&without),
                    if without.len() == 1 { "has" } else { "have" },
                ));
                skipped.cpus.extend(without);
            }
        }
        let policies = cpufreq::policy_ids_for(&self.sysfs, &set)?;
        Ok(Targets {
            topo,
            set,
            policies,
            skipped,
        })
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
            let extra: BTreeSet<u32> = related
                .difference(set)
                .filter(|c| topo.online.contains(c))
                .copied()
                .collect();
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
        let Targets {
            topo,
            set,
            policies: ids,
            skipped,
        } = self.target_policy_ids(cpus, &opts, false)?;
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
        skipped.report(&mut report);
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
        let Targets {
            topo,
            set,
            policies,
            skipped,
        } = self.target_policies(cpus, &opts, true)?;
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
        skipped.report(&mut report);
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
        let Targets {
            topo,
            set,
            policies,
            skipped,
        } = self.target_policies(cpus, &opts, true)?;
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
        skipped.report(&mut report);
        Ok(report)
    }

    /// Sets the energy-performance preference: a name the policies offer
    /// (`default` is the firmware's default: the kernel then shows what it
    /// resolved to, which is accepted and reported) or a raw EPP value 0-255
    /// (intel_pstate, amd-pstate: shown back as the number or the name
    /// that has it). Under the `performance` governor intel_pstate and
    /// amd-pstate-epp take only EPP 0: anything else is refused before a
    /// write.
    pub fn set_epp(&self, cpus: &CpuSelection, epp: &str, opts: SetOptions) -> Result<SetReport> {
        const WHAT: &str = "energy performance preference";
        let request = EppRequest::parse(epp)?;
        let Targets {
            topo,
            set,
            policies,
            skipped,
        } = self.target_policies(cpus, &opts, false)?;
        let mut steps = Vec::new();
        let mut default_under_performance = false;
        for p in &policies {
            let rel = p.file("energy_performance_preference");
            if p.epp.is_none() {
                return Err(Error::Unsupported {
                    path: self.sysfs.path(&rel),
                });
            }
            let offered = || {
                format!(
                    "one of the values policy{} offers: {}{}",
                    p.id,
                    p.epp_available.join(", "),
                    if cpufreq::epp_takes_raw(&p.driver) {
                        format!(", or a raw value from 0 to {}", cpufreq::EPP_RAW_MAX)
                    } else {
                        String::new()
                    }
                )
            };
            // The EPP value the kernel would store, where it is known.
            let (value, step) = match request {
                EppRequest::Named(name) => {
                    if !p.epp_available.iter().any(|e| e == name) {
                        return Err(Error::invalid(WHAT, epp, offered()));
                    }
                    if name == "default" {
                        (None, Step::resolved(rel, name))
                    } else {
                        (cpufreq::epp_value(&p.driver, name), Step::exact(rel, name))
                    }
                }
                EppRequest::Raw(v) => {
                    if !cpufreq::epp_takes_raw(&p.driver) {
                        return Err(Error::invalid(
                            WHAT,
                            epp,
                            format!("{} (driver {} takes no raw value)", offered(), p.driver),
                        ));
                    }
                    let ok = cpufreq::epp_raw_read_backs(&p.driver, v);
                    (Some(v), Step::one_of(rel, epp, ok))
                }
            };
            if p.governor == "performance" && cpufreq::epp_busy_under_performance(&p.driver) {
                match value {
                    Some(v) if v > 0 => {
                        return Err(Error::InvalidState(format!(
                            "cannot set energy performance preference '{epp}' (EPP {v}) on policy{} (CPUs {}): it runs the 'performance' governor, under which {} takes only EPP 0 ('performance') and answers EBUSY; switch the governor to 'powersave' first",
                            p.id,
                            format_cpulist(&p.related_cpus),
                            p.driver
                        )));
                    }
                    Some(_) => {}
                    // `default`: the firmware's value decides (below).
                    None => default_under_performance = true,
                }
            }
            steps.push(step);
        }
        let mut report = match self.apply(steps, opts.dry_run) {
            Err(Error::Busy { path, .. }) if default_under_performance => {
                return Err(Error::InvalidState(format!(
                    "cannot set energy performance preference 'default' at {}: the kernel answered EBUSY, as the firmware's default is not EPP 0 and the policy runs the 'performance' governor, which takes only EPP 0; switch the governor to 'powersave' first",
                    path.display()
                )));
            }
            r => r?,
        };
        Self::scope_notes(&mut report, &topo, &set, &related_of(&policies), false);
        skipped.report(&mut report);
        Ok(report)
    }

    /// Turns turbo/boost on or off: intel_pstate `no_turbo` (inverted),
    /// else the global cpufreq `boost`, else every active policy's `boost`
    /// (an inactive policy, all its CPUs offline, answers `EBUSY`: it is
    /// skipped and the report says so).
    pub fn set_turbo(&self, enabled: bool, opts: SetOptions) -> Result<SetReport> {
        let no_turbo = format!("{INTEL_PSTATE_DIR}/no_turbo");
        let global = format!("{CPUFREQ_DIR}/boost");
        let mut inactive = BTreeSet::new();
        let steps = if self.sysfs.exists(&no_turbo) {
            vec![Step::exact(no_turbo, if enabled { "0" } else { "1" })]
        } else if self.sysfs.exists(&global) {
            vec![Step::exact(global, if enabled { "1" } else { "0" })]
        } else {
            let mut steps = Vec::new();
            for id in Cpufreq::policy_ids(&self.sysfs)? {
                let f = format!("{CPUFREQ_DIR}/policy{id}/boost");
                if !self.sysfs.exists(&f) {
                    continue;
                }
                match self
                    .sysfs
                    .read(&format!("{CPUFREQ_DIR}/policy{id}/affected_cpus"))
                {
                    Err(Error::Busy { .. }) => {
                        inactive.insert(id);
                        continue;
                    }
                    Ok(cpus) if cpus.trim().is_empty() => {
                        inactive.insert(id);
                        continue;
                    }
                    _ => {}
                }
                steps.push(Step::exact(f, if enabled { "1" } else { "0" }));
            }
            if steps.is_empty() {
                return Err(Error::Unsupported {
                    path: self.sysfs.path(&global),
                });
            }
            steps
        };
        let mut report = self.apply(steps, opts.dry_run)?;
        if !inactive.is_empty() {
            report.notes.push(format!(
                "policies {} are inactive (all their CPUs offline): skipped",
                inactive
                    .iter()
                    .map(|p| format!("policy{p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(report)
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::sim::{self, SimSpec};
    use crate::sysfs::SysfsRoot;
    use crate::testutil::TempDir;

    fn smt_off_host(t: &TempDir, preset: &str) -> (Host, std::path::PathBuf) {
        let root = t.path().join("sys");
        sim::generate(&root, &SimSpec::preset(preset, None).unwrap()).unwrap();
        sim::tree::store(&root, Path::new("devices/system/cpu/smt/control"), "off").unwrap();
        let state = t.path().join("state");
        (Host::new(SysfsRoot::new(&root), Some(state)).unwrap(), root)
    }

    #[test]
    fn all_skips_offline_cpus_and_says_so() {
        let t = TempDir::new("setters-offline-all");
        let (host, root) = smt_off_host(&t, "two-socket-smt");
        let all = CpuSelection::All;
        let r = host
            .set_governor(&all, "performance", SetOptions::default())
            .unwrap();
        assert_eq!(r.changes.len(), 8, "{}", r.to_text());
        assert!(
            r.notes.iter().any(|n| n.contains("CPUs 8-15 are offline")),
            "{:?}",
            r.notes
        );
        let r = host
            .set_frequency_limits(&all, None, Some(2_000_000), SetOptions::default())
            .unwrap();
        assert_eq!(r.changes.len(), 8);
        assert!(r.notes.iter().any(|n| n.contains("8-15")), "{:?}", r.notes);
        // The inactive policies kept their settings.
        let gov = |p: u32| {
            std::fs::read_to_string(root.join(format!(
                "devices/system/cpu/cpufreq/policy{p}/scaling_governor"
            )))
            .unwrap()
        };
        assert_eq!(gov(0), "performance\n");
        assert_eq!(gov(8), "schedutil\n");
    }

    #[test]
    fn naming_an_offline_cpu_says_it_is_offline() {
        let t = TempDir::new("setters-offline-named");
        let (host, _root) = smt_off_host(&t, "two-socket-smt");
        for (list, named) in [
            ("9", "CPU 9 is offline"),
            ("0,9-10", "CPUs 9-10 are offline"),
        ] {
            let err = host
                .set_governor(
                    &CpuSelection::parse(list).unwrap(),
                    "performance",
                    SetOptions::default(),
                )
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{err}");
        }
        let err = host
            .set_frequency(
                &CpuSelection::parse("12").unwrap(),
                2_000_000,
                SetOptions::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("CPU 12 is offline"), "{err}");
        // A CPU that does not exist is still refused as before.
        let err = host
            .set_governor(
                &CpuSelection::parse("99").unwrap(),
                "performance",
                SetOptions::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(!err.contains("offline"), "{err}");
    }

    #[test]
    fn per_policy_boost_skips_inactive_policies() {
        let t = TempDir::new("setters-offline-boost");
        let (host, root) = smt_off_host(&t, "amd-pstate-epp");
        let r = host.set_turbo(false, SetOptions::default()).unwrap();
        // amd-pstate-epp: 8 cores x 2 threads, a policy per CPU.
        assert_eq!(r.changes.len(), 8, "{}", r.to_text());
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("policy8") && n.contains("inactive")),
            "{:?}",
            r.notes
        );
        let boost = |p: u32| {
            std::fs::read_to_string(
                root.join(format!("devices/system/cpu/cpufreq/policy{p}/boost")),
            )
            .unwrap()
        };
        assert_eq!((boost(0), boost(8)), ("0\n".into(), "1\n".into()));
    }
}
