// SPDX-License-Identifier: LGPL-2.1-or-later
//! `lvp_host`: opening a host, its setters and restore, with their flags
//! and the `lvp_knob` classes.

use std::ffi::c_char;
use std::path::PathBuf;

use crate::cpulist::CpuSelection;
use crate::error::Error;
use crate::host::{Host, Knob, RestoreScope, SetOptions};
use crate::sysfs::SysfsRoot;

use super::args::{CEnum, check_flags, enum_arg, null, opt_str_arg, str_arg};
use super::castable::{Castable, free_box, set_boxed_mut_ptr, try_ref_from_ptr};
use super::guard::{guard, lib_err};
use super::report::{give_report, lvp_report};
use super::result::lvp_result;

/// Switch to the `userspace` governor before setting an exact frequency.
pub const LVP_FLAG_SWITCH_GOVERNOR: u32 = 1 << 0;
/// Apply per-CPU changes to the SMT siblings of the named CPUs too.
pub const LVP_FLAG_INCLUDE_SIBLINGS: u32 = 1 << 1;
/// Validate and plan only; write nothing.
pub const LVP_FLAG_DRY_RUN: u32 = 1 << 2;
/// The minimum argument is given.
pub const LVP_SET_MIN: u32 = 1 << 8;
/// The maximum argument is given.
pub const LVP_SET_MAX: u32 = 1 << 9;
/// The power limit argument is given.
pub const LVP_SET_POWER: u32 = 1 << 10;
/// The time window argument is given.
pub const LVP_SET_WINDOW: u32 = 1 << 11;
/// The enabled argument is given ([`lvp_host_set_rapl`]).
pub const LVP_SET_ENABLED: u32 = 1 << 12;

const COMMON_FLAGS: u32 = LVP_FLAG_DRY_RUN;
const CPU_FLAGS: u32 = LVP_FLAG_DRY_RUN | LVP_FLAG_INCLUDE_SIBLINGS;

fn options(flags: u32) -> SetOptions {
    SetOptions {
        switch_governor: flags & LVP_FLAG_SWITCH_GOVERNOR != 0,
        include_siblings: flags & LVP_FLAG_INCLUDE_SIBLINGS != 0,
        dry_run: flags & LVP_FLAG_DRY_RUN != 0,
    }
}

/// Knob classes for [`lvp_host_restore`].
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lvp_knob {
    /// Every knob.
    LVP_KNOB_ALL = 0,
    /// cpufreq governor.
    LVP_KNOB_GOVERNOR = 1,
    /// Exact frequency (`scaling_setspeed`).
    LVP_KNOB_FREQUENCY = 2,
    /// Frequency limits.
    LVP_KNOB_FREQUENCY_LIMITS = 3,
    /// Energy-performance preference.
    LVP_KNOB_EPP = 4,
    /// Turbo / boost.
    LVP_KNOB_TURBO = 5,
    /// intel_pstate performance percent limits.
    LVP_KNOB_PERF_PCT = 6,
    /// RAPL power limits and windows.
    LVP_KNOB_RAPL_LIMIT = 7,
    /// RAPL zone enable.
    LVP_KNOB_RAPL_ENABLED = 8,
}

impl CEnum for lvp_knob {
    const WHAT: &'static str = "knob class";
    const ALL: &'static [lvp_knob] = {
        use lvp_knob as K;
        &[
            K::LVP_KNOB_ALL,
            K::LVP_KNOB_GOVERNOR,
            K::LVP_KNOB_FREQUENCY,
            K::LVP_KNOB_FREQUENCY_LIMITS,
            K::LVP_KNOB_EPP,
            K::LVP_KNOB_TURBO,
            K::LVP_KNOB_PERF_PCT,
            K::LVP_KNOB_RAPL_LIMIT,
            K::LVP_KNOB_RAPL_ENABLED,
        ]
    };
    fn to_u32(self) -> u32 {
        self as u32
    }
}

impl lvp_knob {
    /// The library's knob class (`None`: every knob).
    fn knob(self) -> Option<Knob> {
        match self {
            lvp_knob::LVP_KNOB_ALL => None,
            lvp_knob::LVP_KNOB_GOVERNOR => Some(Knob::Governor),
            lvp_knob::LVP_KNOB_FREQUENCY => Some(Knob::Frequency),
            lvp_knob::LVP_KNOB_FREQUENCY_LIMITS => Some(Knob::FrequencyLimits),
            lvp_knob::LVP_KNOB_EPP => Some(Knob::Epp),
            lvp_knob::LVP_KNOB_TURBO => Some(Knob::Turbo),
            lvp_knob::LVP_KNOB_PERF_PCT => Some(Knob::PerfPct),
            lvp_knob::LVP_KNOB_RAPL_LIMIT => Some(Knob::RaplLimit),
            lvp_knob::LVP_KNOB_RAPL_ENABLED => Some(Knob::RaplEnabled),
        }
    }
}

/// A host (sysfs root + journal). Opaque.
pub struct lvp_host {
    _private: [u8; 0],
}

impl Castable for lvp_host {
    type RustType = Host;
    const NAME: &'static str = "host";
}

/// Opens a host. `sysfs_root` NULL means the environment's choice
/// (`LIBVIRT_POWER_SYSFS_ROOT`, else `/sys`); `state_dir` NULL means no
/// original-state journal (and no restore). Free with [`lvp_host_free`].
///
/// # Safety
/// String arguments are NULL or NUL-terminated; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_new(
    sysfs_root: *const c_char,
    state_dir: *const c_char,
    out: *mut *mut lvp_host,
) -> lvp_result {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: forwarded contract.
        let root = unsafe { opt_str_arg(sysfs_root, "sysfs_root") }?;
        // SAFETY: forwarded contract.
        let state = unsafe { opt_str_arg(state_dir, "state_dir") }?;
        let sysfs = root.map_or_else(SysfsRoot::from_env, SysfsRoot::new);
        let host = Host::new(sysfs, state.map(PathBuf::from)).map_err(lib_err)?;
        // SAFETY: out is non-NULL and valid.
        unsafe { set_boxed_mut_ptr(out, host) };
        Ok(())
    })
}

/// Frees a host; NULL is fine.
///
/// # Safety
/// `host` is NULL or from [`lvp_host_new`], not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_free(host: *mut lvp_host) {
    guard(|| {
        // SAFETY: host is NULL or from lvp_host_new, not used afterwards.
        unsafe { free_box(host) };
        Ok(())
    });
}

/// # Safety
/// `cpus` is NULL or NUL-terminated.
unsafe fn cpus_arg(cpus: *const c_char) -> Result<CpuSelection, lvp_result> {
    // SAFETY: forwarded contract.
    let s = unsafe { str_arg(cpus, "cpus") }?;
    CpuSelection::parse(s).map_err(lib_err)
}

/// Sets an exact frequency (kHz) on `cpus` (`"all"`, `"3"`, `"0-3,8"`)
/// through the `userspace` governor. Flags: `LVP_FLAG_SWITCH_GOVERNOR`,
/// `LVP_FLAG_INCLUDE_SIBLINGS`, `LVP_FLAG_DRY_RUN`. If `report_out` is not
/// NULL it receives a report to free with `lvp_report_free`.
///
/// # Safety
/// Pointers are NULL or valid; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_set_frequency(
    host: *const lvp_host,
    cpus: *const c_char,
    frequency_khz: u64,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, CPU_FLAGS | LVP_FLAG_SWITCH_GOVERNOR)?;
        // SAFETY: forwarded contract.
        let sel = unsafe { cpus_arg(cpus) }?;
        let r = host
            .set_frequency(&sel, frequency_khz, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Sets frequency limits (kHz): `min_khz` if `LVP_SET_MIN` is in flags,
/// `max_khz` if `LVP_SET_MAX` is.
///
/// # Safety
/// Pointers are NULL or valid; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_set_frequency_limits(
    host: *const lvp_host,
    cpus: *const c_char,
    min_khz: u64,
    max_khz: u64,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, CPU_FLAGS | LVP_SET_MIN | LVP_SET_MAX)?;
        // SAFETY: forwarded contract.
        let sel = unsafe { cpus_arg(cpus) }?;
        let min = (flags & LVP_SET_MIN != 0).then_some(min_khz);
        let max = (flags & LVP_SET_MAX != 0).then_some(max_khz);
        let r = host
            .set_frequency_limits(&sel, min, max, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Sets the cpufreq governor.
///
/// # Safety
/// Pointers are NULL or valid; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_set_governor(
    host: *const lvp_host,
    cpus: *const c_char,
    governor: *const c_char,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, CPU_FLAGS)?;
        // SAFETY: forwarded contract.
        let sel = unsafe { cpus_arg(cpus) }?;
        // SAFETY: forwarded contract.
        let gov = unsafe { str_arg(governor, "governor") }?;
        let r = host
            .set_governor(&sel, gov, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Sets the energy-performance preference: a name the policies offer
/// (`default` reads back as what the firmware's default resolved to) or a
/// raw EPP value `"0"` to `"255"` (intel_pstate, amd-pstate). Under the
/// `performance` governor of intel_pstate or amd-pstate-epp only EPP 0 is
/// taken: anything else is `LVP_RESULT_INVALID_STATE`, nothing written.
///
/// # Safety
/// Pointers are NULL or valid; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_set_epp(
    host: *const lvp_host,
    cpus: *const c_char,
    epp: *const c_char,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, CPU_FLAGS)?;
        // SAFETY: forwarded contract.
        let sel = unsafe { cpus_arg(cpus) }?;
        // SAFETY: forwarded contract.
        let epp = unsafe { str_arg(epp, "epp") }?;
        let r = host.set_epp(&sel, epp, options(flags)).map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Turns turbo/boost on (`enabled` = 1) or off (0).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_set_turbo(
    host: *const lvp_host,
    enabled: i32,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, COMMON_FLAGS)?;
        if enabled != 0 && enabled != 1 {
            return Err(lib_err(Error::invalid(
                "turbo setting",
                enabled.to_string(),
                "0 (off) or 1 (on)",
            )));
        }
        let r = host
            .set_turbo(enabled == 1, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Sets intel_pstate's performance percent limits (`LVP_SET_MIN`,
/// `LVP_SET_MAX` select which).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_set_perf_pct(
    host: *const lvp_host,
    min_pct: u64,
    max_pct: u64,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, COMMON_FLAGS | LVP_SET_MIN | LVP_SET_MAX)?;
        let min = (flags & LVP_SET_MIN != 0).then_some(min_pct);
        let max = (flags & LVP_SET_MAX != 0).then_some(max_pct);
        let r = host
            .set_perf_pct(min, max, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Sets a RAPL constraint of zone `zone` (key such as `package-0`):
/// `power_limit_uw` if `LVP_SET_POWER`, `time_window_us` if
/// `LVP_SET_WINDOW`. `constraint` is a name (`long_term`) or index.
///
/// # Safety
/// Pointers are NULL or valid; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_set_rapl_limit(
    host: *const lvp_host,
    zone: *const c_char,
    constraint: *const c_char,
    power_limit_uw: u64,
    time_window_us: u64,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, COMMON_FLAGS | LVP_SET_POWER | LVP_SET_WINDOW)?;
        // SAFETY: forwarded contract.
        let zone = unsafe { str_arg(zone, "zone") }?;
        // SAFETY: forwarded contract.
        let constraint = unsafe { str_arg(constraint, "constraint") }?;
        let p = (flags & LVP_SET_POWER != 0).then_some(power_limit_uw);
        let w = (flags & LVP_SET_WINDOW != 0).then_some(time_window_us);
        let r = host
            .set_rapl_limit(zone, constraint, p, w, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Enables (1) or disables (0) a RAPL zone.
///
/// # Safety
/// Pointers are NULL or valid; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_set_rapl_enabled(
    host: *const lvp_host,
    zone: *const c_char,
    enabled: i32,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, COMMON_FLAGS)?;
        // SAFETY: forwarded contract.
        let zone = unsafe { str_arg(zone, "zone") }?;
        if enabled != 0 && enabled != 1 {
            return Err(lib_err(Error::invalid(
                "zone enable setting",
                enabled.to_string(),
                "0 or 1",
            )));
        }
        let r = host
            .set_rapl_enabled(zone, enabled == 1, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Sets any of a RAPL constraint's power limit (`LVP_SET_POWER`), its
/// time window (`LVP_SET_WINDOW`) and zone `zone`'s enabled switch
/// (`LVP_SET_ENABLED`: `enabled` 1 or 0) in one transaction: all are
/// checked before the first write, and if a later write fails the earlier
/// ones are put back, so the zone is left as it was or as asked. At least
/// one of the three flags is given. `constraint` is a name (`long_term`)
/// or index; it is not read when only `LVP_SET_ENABLED` is given (it may
/// then be NULL).
///
/// # Safety
/// Pointers are NULL or valid; strings NUL-terminated.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn lvp_host_set_rapl(
    host: *const lvp_host,
    zone: *const c_char,
    constraint: *const c_char,
    power_limit_uw: u64,
    time_window_us: u64,
    enabled: i32,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(
            flags,
            COMMON_FLAGS | LVP_SET_POWER | LVP_SET_WINDOW | LVP_SET_ENABLED,
        )?;
        // SAFETY: forwarded contract.
        let zone = unsafe { str_arg(zone, "zone") }?;
        let p = (flags & LVP_SET_POWER != 0).then_some(power_limit_uw);
        let w = (flags & LVP_SET_WINDOW != 0).then_some(time_window_us);
        let constraint = if p.is_some() || w.is_some() {
            // SAFETY: forwarded contract.
            unsafe { str_arg(constraint, "constraint") }?
        } else {
            ""
        };
        let on = if flags & LVP_SET_ENABLED != 0 {
            if enabled != 0 && enabled != 1 {
                return Err(lib_err(Error::invalid(
                    "zone enable setting",
                    enabled.to_string(),
                    "0 or 1",
                )));
            }
            Some(enabled == 1)
        } else {
            None
        };
        let r = host
            .set_rapl(zone, constraint, p, w, on, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}

/// Restores journaled originals: of the policies covering `cpus` (NULL:
/// any), of knob class `knob` (an `lvp_knob`; another number gives
/// `LVP_RESULT_INVALID_ARGUMENT`), of RAPL zone `zone` (NULL: any).
///
/// # Safety
/// Pointers are NULL or valid; strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_restore(
    host: *const lvp_host,
    cpus: *const c_char,
    knob: u32,
    zone: *const c_char,
    flags: u32,
    report_out: *mut *mut lvp_report,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        check_flags(flags, COMMON_FLAGS)?;
        // SAFETY: forwarded contract.
        let cpus = match unsafe { opt_str_arg(cpus, "cpus") }? {
            Some(s) => Some(CpuSelection::parse(s).map_err(lib_err)?),
            None => None,
        };
        // SAFETY: forwarded contract.
        let zone = unsafe { opt_str_arg(zone, "zone") }?.map(str::to_owned);
        let knob = enum_arg::<lvp_knob>(knob)?.knob();
        let r = host
            .restore(&RestoreScope { cpus, knob, zone }, options(flags))
            .map_err(lib_err)?;
        // SAFETY: forwarded contract.
        unsafe { give_report(r, report_out) };
        Ok(())
    })
}
