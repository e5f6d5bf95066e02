// SPDX-License-Identifier: LGPL-2.1-or-later
//! Restore: puts the journaled originals back through the transaction
//! engine, in an order the kernel accepts.
//!
//! The journal is read, written back and updated under one hold of the
//! in-process lock and the journal's `flock`, so a set from another
//! thread or process lands wholly before or wholly after a restore, and
//! the original it records is never dropped by the restore's update.
//!
//! An entry that cannot be put back now stays in the journal and the
//! report says which and why, while the others are restored: a file of an
//! inactive cpufreq policy (its CPUs all offline: the kernel answers
//! `EBUSY`), a file that is gone, a RAPL zone not on the host (by name), or
//! a version 1 entry whose index path holds no zone any more.

use crate::cpufreq;
use crate::cpulist::{CpuSelection, format_cpulist};
use crate::error::{Error, Result};
use crate::journal::Key;
use crate::rapl::{self, RaplZone};
use crate::topology::Topology;

use super::Host;
use super::txn::{Check, Step, writable};
use super::types::{Knob, RestoreScope, SetOptions, SetReport};

/// A journal entry that stays there, and why.
struct Kept {
    key: String,
    reason: String,
}

impl Host {
    /// Puts back the journaled originals within `scope` and drops them from
    /// the journal. Entries that cannot be put back now are kept and named
    /// in the report's notes. Without a journal there is nothing to
    /// restore.
    pub fn restore(&self, scope: &RestoreScope, opts: SetOptions) -> Result<SetReport> {
        let Some(journal) = &self.journal else {
            return Err(Error::InvalidState(
                "no state directory was given, so no originals were recorded".into(),
            ));
        };
        let _guard = self.txn.lock().unwrap_or_else(|p| p.into_inner());
        let _jlock = journal.lock()?;
        let mut entries = journal.load()?;
        if let Some(migrated) = self.index_keys_by_name(&entries)? {
            if !opts.dry_run {
                journal.store(&migrated)?;
            }
            entries = migrated;
        }
        let needs_zones = scope.zone.is_some()
            || entries
                .keys()
                .any(|k| !matches!(Key::parse(k), Ok(Key::Path(_))));
        let zones = if needs_zones {
            rapl::read_zones(&self.sysfs)?
        } else {
            Vec::new()
        };
        let policy_dirs = match &scope.cpus {
            Some(sel) => Some(self.restore_policy_dirs(sel)?),
            None => None,
        };
        let zone = match &scope.zone {
            Some(key) => Some(rapl::find_zone(&zones, key)?),
            None => None,
        };

        let mut steps: Vec<(u8, Step)> = Vec::new();
        let mut forget: Vec<String> = Vec::new();
        let mut kept: Vec<Kept> = Vec::new();
        for (key, value) in &entries {
            let parsed = Key::parse(key).map_err(|why| Error::Journal {
                path: journal.path(),
                reason: why,
            })?;
            let rel = match resolve(&parsed, &zones) {
                Ok(rel) => rel,
                Err(reason) => {
                    if selected_unresolved(&parsed, scope, zone, policy_dirs.is_some()) {
                        kept.push(Kept {
                            key: key.clone(),
                            reason,
                        });
                    }
                    continue;
                }
            };
            if scope.knob.is_some_and(|kn| Knob::of_path(&rel) != kn) {
                continue;
            }
            if let Some(ds) = &policy_dirs
                && !ds.iter().any(|d| rel.starts_with(d.as_str()))
            {
                continue;
            }
            if zone.is_some_and(|z| !rel.starts_with(&format!("{}/", z.dir))) {
                continue;
            }
            if !writable(value) {
                forget.push(key.clone());
                continue;
            }
            // A file the kernel will not serve now (an inactive policy's,
            // one that is gone) stays journaled for a later restore.
            match self.sysfs.read(&rel) {
                Ok(_) => {}
                Err(e @ (Error::Busy { .. } | Error::Unsupported { .. })) => {
                    kept.push(Kept {
                        key: key.clone(),
                        reason: match e {
                            Error::Busy { .. } => format!(
                                "{} answers EBUSY (its cpufreq policy is inactive: its CPUs are offline)",
                                self.sysfs.path(&rel).display()
                            ),
                            e => e.to_string(),
                        },
                    });
                    continue;
                }
                Err(e) => return Err(e),
            }
            forget.push(key.clone());
            steps.push((
                self.restore_order(&rel, value),
                restore_step(rel, key, value),
            ));
        }
        // Order: governors first (so a userspace setspeed can follow), then
        // min/max pairs in the safe order, then everything else.
        steps.sort_by_key(|(p, _)| *p);
        let mut report =
            self.apply_locked(steps.into_iter().map(|(_, s)| s).collect(), opts.dry_run)?;
        #[cfg(test)]
        tests::between_writes_and_forget(journal);
        if !opts.dry_run {
            journal.forget(&forget)?;
        }
        for k in &kept {
            report.notes.push(format!(
                "not restored, kept in the journal {}: {}: {}",
                journal.path().display(),
                k.key,
                k.reason
            ));
        }
        Ok(report)
    }

    /// The policy directories (`.../policyN/`) of the CPUs of `sel`,
    /// offline ones included: their policies keep their `cpuN/cpufreq`
    /// links, and their entries are kept if the policy is inactive.
    fn restore_policy_dirs(&self, sel: &CpuSelection) -> Result<Vec<String>> {
        let topo = Topology::read_online(&self.sysfs)?;
        let set = match sel {
            CpuSelection::All => topo.present.clone(),
            CpuSelection::List(set) => {
                if let Some(bad) = set.iter().find(|c| !topo.present.contains(c)) {
                    return Err(Error::invalid(
                        "CPU",
                        bad.to_string(),
                        format!(
                            "a present CPU of this host: {}",
                            format_cpulist(&topo.present)
                        ),
                    ));
                }
                set.clone()
            }
        };
        let mut ids = std::collections::BTreeSet::new();
        for cpu in set {
            match cpufreq::linked_policy(&self.sysfs, cpu) {
                Some(id) => {
                    ids.insert(id);
                }
                None if topo.online.contains(&cpu) => {
                    ids.extend(cpufreq::policy_ids_for(
                        &self.sysfs,
                        &std::collections::BTreeSet::from([cpu]),
                    )?);
                }
                // An offline CPU without a policy link has nothing to find.
                None => {}
            }
        }
        Ok(ids
            .into_iter()
            .map(|id| format!("{}/policy{id}/", cpufreq::CPUFREQ_DIR))
            .collect())
    }

    /// Where a file goes in the restore order.
    fn restore_order(&self, rel: &str, value: &str) -> u8 {
        match rel.rsplit('/').next().unwrap_or("") {
            "scaling_governor" => 0,
            "scaling_max_freq" | "max_perf_pct" => {
                // Max before min unless the restored max is below the
                // current min.
                let min_rel = rel.replace("max_", "min_");
                let cur_min = self.sysfs.read_u64(&min_rel).unwrap_or(0);
                if value.parse::<u64>().unwrap_or(u64::MAX) >= cur_min {
                    1
                } else {
                    3
                }
            }
            "scaling_min_freq" | "min_perf_pct" => 2,
            "scaling_setspeed" => 4,
            _ => 5,
        }
    }
}

fn restore_step(rel: String, key: &str, value: &str) -> Step {
    Step {
        rel,
        key: key.to_owned(),
        value: value.to_owned(),
        check: if value.parse::<u64>().is_ok() {
            Check::Numeric
        } else {
            Check::Exact
        },
    }
}

/// The file a journal key names on this host, or why there is none.
fn resolve(key: &Key, zones: &[RaplZone]) -> std::result::Result<String, String> {
    match key {
        Key::Path(p) => Ok(p.clone()),
        Key::Rapl { zone, file } => match rapl::find_zone(zones, zone) {
            Ok(z) => Ok(z.file(file)),
            Err(Error::InvalidState(why)) => Err(why),
            Err(_) => Err(format!("this host has no RAPL zone named {zone}")),
        },
        Key::RaplIndex { dir, .. } => Err(format!(
            "a version 1 entry, recorded by the zone's index path; no zone is at {dir} now, \
             so the zone it meant cannot be found by name: check and remove the line"
        )),
    }
}

/// Whether an entry that names no file on this host falls within the
/// scope (so the report names it as kept): RAPL entries when the scope
/// names no CPUs, and only the scope's zone if it names one.
fn selected_unresolved(
    key: &Key,
    scope: &RestoreScope,
    zone: Option<&RaplZone>,
    cpus_scoped: bool,
) -> bool {
    let file = match key {
        Key::Path(p) => p.rsplit('/').next().unwrap_or(""),
        Key::Rapl { file, .. } | Key::RaplIndex { file, .. } => file.as_str(),
    };
    let knob = if file == "enabled" {
        Knob::RaplEnabled
    } else {
        Knob::RaplLimit
    };
    if matches!(key, Key::Path(_)) || cpus_scoped || scope.knob.is_some_and(|k| k != knob) {
        return false;
    }
    match (key, zone) {
        (Key::Rapl { zone: z, .. }, Some(sel)) => *z == sel.key,
        (Key::RaplIndex { .. }, Some(_)) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::path::Path;

    use crate::journal::Journal;
    use crate::sim::{SimSpec, generate};
    use crate::sysfs::SysfsRoot;
    use crate::testutil::TempDir;

    use super::super::types::{RestoreScope, SetOptions};
    use super::Host;

    type Hook = Box<dyn FnOnce(&Journal)>;

    thread_local! {
        static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    /// Runs the hook a test installed, at the point where a restore has
    /// written the originals back and not yet dropped them from the journal.
    pub(super) fn between_writes_and_forget(journal: &Journal) {
        if let Some(h) = HOOK.with(|h| h.borrow_mut().take()) {
            h(journal);
        }
    }

    const GOV: &str = "devices/system/cpu/cpufreq/policy0/scaling_governor";

    fn host(root: &Path, state: &Path) -> Host {
        Host::new(SysfsRoot::new(root), Some(state.to_owned())).unwrap()
    }

    /// A set from another process (another `Host` on the same state
    /// directory) lands while a restore runs. The interleaving is made
    /// explicit: at the restore's step between its writes and its journal
    /// update, the set runs at once if the journal's lock is free (it could
    /// have run there), else after the restore returns (it would have
    /// waited for the lock). Either way the journal must still hold the
    /// original the set displaced.
    #[test]
    fn a_set_during_a_restore_keeps_its_original() {
        let t = TempDir::new("restore-race");
        let root = t.path().join("sys");
        let state = t.path().join("state");
        generate(&root, &SimSpec::preset("acpi-cpufreq", None).unwrap()).unwrap();
        let opts = SetOptions::default();
        let a = host(&root, &state);
        let original = a.sysfs().read(GOV).unwrap();
        a.set_governor(
            &crate::CpuSelection::parse("0").unwrap(),
            "performance",
            opts,
        )
        .unwrap();
        let deferred = std::rc::Rc::new(RefCell::new(false));
        let d = deferred.clone();
        let (r, s) = (root.clone(), state.clone());
        HOOK.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |j: &Journal| {
                if j.try_lock().unwrap().is_some() {
                    host(&r, &s)
                        .set_governor(&crate::CpuSelection::parse("0").unwrap(), "powersave", opts)
                        .unwrap();
                } else {
                    *d.borrow_mut() = true;
                }
            }));
        });
        a.restore(&RestoreScope::default(), opts).unwrap();
        if *deferred.borrow() {
            host(&root, &state)
                .set_governor(&crate::CpuSelection::parse("0").unwrap(), "powersave", opts)
                .unwrap();
        }
        assert_eq!(a.sysfs().read(GOV).unwrap(), "powersave");
        assert_eq!(
            a.journal().unwrap().load().unwrap().get(GOV),
            Some(&original),
            "the original governor was lost from the journal"
        );
    }
}
