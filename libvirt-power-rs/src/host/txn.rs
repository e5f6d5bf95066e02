// SPDX-License-Identifier: LGPL-2.1-or-later
//! The transaction engine: validated steps -> journal -> one `write(2)`
//! per file with read-back -> rollback in reverse order on failure.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::journal::{Journal, Key};
use crate::rapl;

use super::Host;
use super::types::{Change, SetReport};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Check {
    /// Must read back exactly.
    Exact,
    /// Numeric; the kernel may clamp or round silently: report it.
    Numeric,
    /// Must read back as one of these (a value the kernel shows in
    /// another form, such as a raw EPP shown by its name).
    OneOf(Vec<String>),
    /// The kernel stores what the value resolves to (EPP `default`): any
    /// read-back is accepted, and reported when it differs.
    Resolved,
}

#[derive(Debug, Clone)]
pub(super) struct Step {
    /// The file, relative to the sysfs root.
    pub(super) rel: String,
    /// The journal key its original is recorded under (see
    /// [`crate::journal::Key`]): the path itself for cpufreq files, the
    /// zone's name key for RAPL files.
    pub(super) key: String,
    pub(super) value: String,
    pub(super) check: Check,
}

impl Step {
    pub(super) fn exact(rel: String, value: impl Into<String>) -> Step {
        Step {
            key: rel.clone(),
            rel,
            value: value.into(),
            check: Check::Exact,
        }
    }
    pub(super) fn one_of(rel: String, value: impl Into<String>, ok: Vec<String>) -> Step {
        Step {
            key: rel.clone(),
            rel,
            value: value.into(),
            check: Check::OneOf(ok),
        }
    }
    pub(super) fn resolved(rel: String, value: impl Into<String>) -> Step {
        Step {
            key: rel.clone(),
            rel,
            value: value.into(),
            check: Check::Resolved,
        }
    }
    pub(super) fn numeric(rel: String, value: u64) -> Step {
        Step {
            key: rel.clone(),
            rel,
            value: value.to_string(),
            check: Check::Numeric,
        }
    }
    /// The same step, journaled under `key`.
    pub(super) fn keyed(self, key: String) -> Step {
        Step { key, ..self }
    }
}

/// Tokens that a file can show but that cannot be written back.
pub(super) fn writable(value: &str) -> bool {
    !value.is_empty() && !value.starts_with('<')
}

impl Host {
    /// Validated steps -> journal -> writes with read-back -> rollback,
    /// under the in-process lock and the journal's `flock`.
    pub(super) fn apply(&self, steps: Vec<Step>, dry_run: bool) -> Result<SetReport> {
        let _guard = self.txn.lock().unwrap_or_else(|p| p.into_inner());
        let _jlock = match &self.journal {
            Some(j) if !dry_run => Some(j.lock()?),
            _ => None,
        };
        self.apply_locked(steps, dry_run)
    }

    /// [`apply`](Self::apply) for a caller that already holds both locks
    /// (a restore, which reads and updates the journal around its writes).
    pub(super) fn apply_locked(&self, steps: Vec<Step>, dry_run: bool) -> Result<SetReport> {
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
            self.migrate_index_keys(j)?;
            let originals: Vec<(String, String)> = todo
                .iter()
                .map(|(s, o)| (s.key.clone(), o.clone()))
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
                let accepted = match &s.check {
                    Check::Exact => rb == s.value,
                    Check::OneOf(ok) => ok.contains(&rb),
                    Check::Numeric | Check::Resolved => true,
                };
                if !accepted {
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

    /// Records again, by the name of the zone found at their path, the
    /// journal's RAPL entries that a version 1 journal keyed by index path
    /// ([`Key::RaplIndex`]); an entry whose path holds no zone any more is
    /// left as it is (a restore refuses it by name). An entry already
    /// recorded by name for the same file keeps the index entry's value,
    /// which is the older original. The caller holds the journal's lock.
    pub(super) fn migrate_index_keys(&self, journal: &Journal) -> Result<()> {
        let map = journal.load()?;
        if let Some(migrated) = self.index_keys_by_name(&map)? {
            journal.store(&migrated)?;
        }
        Ok(())
    }

    /// `map` with its index-path RAPL keys resolved by name, or `None`
    /// when none resolves.
    pub(super) fn index_keys_by_name(
        &self,
        map: &BTreeMap<String, String>,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let index: Vec<(&String, String, String)> = map
            .keys()
            .filter_map(|k| match Key::parse(k) {
                Ok(Key::RaplIndex { dir, file }) => Some((k, dir, file)),
                _ => None,
            })
            .collect();
        if index.is_empty() {
            return Ok(None);
        }
        let zones = rapl::read_zones(&self.sysfs)?;
        let mut out = map.clone();
        let mut changed = false;
        for (k, dir, file) in index {
            let Some(z) = zones.iter().find(|z| z.dir == dir) else {
                continue;
            };
            let v = out.remove(k).unwrap_or_default();
            out.insert(Key::rapl(&z.key, &file), v);
            changed = true;
        }
        Ok(changed.then_some(out))
    }
}
