// SPDX-License-Identifier: LGPL-2.1-or-later
//! Restore: puts the journaled originals back through the transaction
//! engine, in an order the kernel accepts.

use std::collections::BTreeMap;

use crate::cpufreq;
use crate::error::{Error, Result};
use crate::rapl;
use crate::topology::Topology;

use super::Host;
use super::txn::{Check, Step, writable};
use super::types::{Knob, RestoreScope, SetOptions, SetReport};

impl Host {
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
}
