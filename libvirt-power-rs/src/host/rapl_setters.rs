// SPDX-License-Identifier: LGPL-2.1-or-later
//! The RAPL setters: a constraint's power limit and time window, and a
//! zone's `enabled` switch, alone or together in one transaction.
//!
//! Each file is journaled under the zone's name key
//! (`rapl:package-0/constraint_0_power_limit_uw`, see
//! [`crate::journal::Key`]), so a restore finds the zone even if the
//! kernel has numbered it differently since.

use crate::error::{Error, Result};
use crate::journal::Key;
use crate::rapl::{self, Constraint, MAX_TIME_WINDOW_US, RaplZone};

use super::Host;
use super::txn::Step;
use super::types::{SetOptions, SetReport};

/// A step on one of `z`'s files, journaled by the zone's name.
fn zone_step(z: &RaplZone, file: &str, step: impl FnOnce(String) -> Step) -> Step {
    step(z.file(file)).keyed(Key::rapl(&z.key, file))
}

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
        self.set_rapl(zone, constraint, power_limit_uw, time_window_us, None, opts)
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
        let step = self.enabled_step(z, enabled)?;
        self.apply(vec![step], opts.dry_run)
    }

    /// Sets any of a constraint's power limit and time window and the
    /// zone's `enabled` switch in one transaction: everything is checked
    /// before the first write, and if a later write fails the earlier ones
    /// are put back, so the zone ends as it was or as asked. The limit is
    /// written before the switch, so a zone being enabled starts with its
    /// new limit. At least one of the three must be given.
    pub fn set_rapl(
        &self,
        zone: &str,
        constraint: &str,
        power_limit_uw: Option<u64>,
        time_window_us: Option<u64>,
        enabled: Option<bool>,
        opts: SetOptions,
    ) -> Result<SetReport> {
        if power_limit_uw.is_none() && time_window_us.is_none() && enabled.is_none() {
            return Err(Error::invalid(
                "RAPL setting",
                "none",
                "a power limit, a time window, the enabled switch or several of them",
            ));
        }
        let zones = rapl::read_zones(&self.sysfs)?;
        let z = rapl::find_zone(&zones, zone)?;
        let mut steps = Vec::new();
        let mut notes = Vec::new();
        if power_limit_uw.is_some() || time_window_us.is_some() {
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
            if let Some(p) = power_limit_uw {
                steps.push(limit_step(z, c, p)?);
                notes.extend(above_rated_note(z, c, p));
            }
            if let Some(w) = time_window_us {
                let file = format!("constraint_{}_time_window_us", c.index);
                if c.time_window_us.is_none() {
                    return Err(Error::Unsupported {
                        path: self.sysfs.path(&z.file(&file)),
                    });
                }
                if w == 0 || w > MAX_TIME_WINDOW_US {
                    return Err(Error::invalid(
                        "time window",
                        format!("{w} us"),
                        format!("1 to {MAX_TIME_WINDOW_US} us"),
                    ));
                }
                steps.push(zone_step(z, &file, |rel| Step::numeric(rel, w)));
            }
        }
        if let Some(on) = enabled {
            steps.push(self.enabled_step(z, on)?);
        }
        let mut report = self.apply(steps, opts.dry_run)?;
        report.notes.extend(notes);
        let ends_disabled = enabled.map_or(z.enabled == Some(false), |on| !on);
        if ends_disabled && (power_limit_uw.is_some() || time_window_us.is_some()) {
            report.notes.push(format!(
                "zone {} is disabled: its limits take effect once it is enabled",
                z.key
            ));
        }
        Ok(report)
    }

    fn enabled_step(&self, z: &RaplZone, enabled: bool) -> Result<Step> {
        if z.enabled.is_none() {
            return Err(Error::Unsupported {
                path: self.sysfs.path(&z.file("enabled")),
            });
        }
        Ok(zone_step(z, "enabled", |rel| {
            Step::exact(rel, if enabled { "1" } else { "0" })
        }))
    }
}

/// The step writing limit `p` to constraint `c`, checked against the
/// register field's range: the kernel masks a larger value to the field
/// (a wrap), so that is the one bound (see [`crate::rapl`]).
fn limit_step(z: &RaplZone, c: &Constraint, p: u64) -> Result<Step> {
    let ceiling = c.ceiling_uw();
    if p == 0 || p > ceiling {
        return Err(Error::invalid(
            "power limit",
            format!("{p} uW"),
            format!(
                "1 to {ceiling} uW for {} {} (the range of its {} register field)",
                z.key, c.name, z.control_type
            ),
        ));
    }
    let file = format!("constraint_{}_power_limit_uw", c.index);
    Ok(zone_step(z, &file, |rel| Step::numeric(rel, p)))
}

/// A note when limit `p` is above the constraint's `max_power_uw`, which
/// the hardware accepts: for `long_term` that is the thermal design power.
fn above_rated_note(z: &RaplZone, c: &Constraint, p: u64) -> Option<String> {
    let rated = c.rated_max_uw().filter(|&m| p > m)?;
    let what = if c.name == "long_term" {
        "max_power_uw, the thermal design power (TDP)"
    } else {
        "max_power_uw"
    };
    Some(format!(
        "the {} limit of {}, {p} uW, is above its {what} of {rated} uW: the hardware accepts it, \
         and the zone may draw more than that for as long as cooling allows",
        c.name, z.key
    ))
}
