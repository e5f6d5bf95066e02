// SPDX-License-Identifier: LGPL-2.1-or-later
//! The RAPL setters: a constraint's power limit and time window, and a
//! zone's `enabled` switch.

use crate::error::{Error, Result};
use crate::rapl::{self, MAX_TIME_WINDOW_US};

use super::Host;
use super::txn::Step;
use super::types::{SetOptions, SetReport};

impl Host {
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
}
