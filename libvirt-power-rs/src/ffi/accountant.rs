// SPDX-License-Identifier: LGPL-2.1-or-later
//! `lvp_accountant`: per-domain energy accounting, and the `lvp_weight`
//! that splits energy among domains.

use std::ffi::c_char;
use std::path::Path;
use std::sync::Mutex;

use crate::accounting::{Accountant, IdlePolicy, SetAside};
use crate::error::{Error, shorten};
use crate::perf::{WeightKind, WeightPreference};

use super::args::{CEnum, enum_arg, null, out_of_range, str_arg};
use super::castable::{Castable, free_box, set_boxed_mut_ptr, try_ref_from_ptr};
use super::guard::{fail, guard, lib_err};
use super::host::lvp_host;
use super::out::copy_out;
use super::result::lvp_result;

/// The weight that splits energy among domains.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lvp_weight {
    /// Cycles where the host can count them, else CPU time (as input), or
    /// "not decided yet" (as output, before the first domain).
    LVP_WEIGHT_AUTO = 0,
    /// CPU cycles (hardware PMU).
    LVP_WEIGHT_CYCLES = 1,
    /// CPU time in nanoseconds.
    LVP_WEIGHT_CPU_TIME = 2,
}

impl CEnum for lvp_weight {
    const WHAT: &'static str = "weight";
    const ALL: &'static [lvp_weight] = &[
        lvp_weight::LVP_WEIGHT_AUTO,
        lvp_weight::LVP_WEIGHT_CYCLES,
        lvp_weight::LVP_WEIGHT_CPU_TIME,
    ];
    fn to_u32(self) -> u32 {
        self as u32
    }
}

impl lvp_weight {
    /// The weight in use as C sees it (`AUTO`: not decided yet).
    fn of_kind(k: Option<WeightKind>) -> lvp_weight {
        match k {
            Some(WeightKind::Cycles) => lvp_weight::LVP_WEIGHT_CYCLES,
            Some(WeightKind::CpuTimeNs) => lvp_weight::LVP_WEIGHT_CPU_TIME,
            None => lvp_weight::LVP_WEIGHT_AUTO,
        }
    }

    /// The weight asked for, as the library's preference.
    fn preference(self) -> WeightPreference {
        match self {
            lvp_weight::LVP_WEIGHT_AUTO => WeightPreference::Auto,
            lvp_weight::LVP_WEIGHT_CYCLES => WeightPreference::Cycles,
            lvp_weight::LVP_WEIGHT_CPU_TIME => WeightPreference::CpuTime,
        }
    }
}

/// What happens to idle (static) energy.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lvp_idle_policy {
    /// Counted apart, as the host's idle energy (the default).
    LVP_IDLE_APART = 0,
    /// Shared among the running domains in proportion to their vCPUs.
    LVP_IDLE_VCPUS = 1,
}

impl CEnum for lvp_idle_policy {
    const WHAT: &'static str = "idle policy";
    const ALL: &'static [lvp_idle_policy] = &[
        lvp_idle_policy::LVP_IDLE_APART,
        lvp_idle_policy::LVP_IDLE_VCPUS,
    ];
    fn to_u32(self) -> u32 {
        self as u32
    }
}

/// Per-domain energy accounting. Opaque.
pub struct lvp_accountant {
    _private: [u8; 0],
}

impl Castable for lvp_accountant {
    type RustType = Mutex<Accountant>;
    const NAME: &'static str = "accountant";
}

fn no_domain(id: &str) -> lvp_result {
    fail(
        lvp_result::LVP_RESULT_NO_SUCH_DOMAIN,
        format!("no accounted domain '{}'", shorten(id)),
    )
}

/// Starts per-domain energy accounting over the host's readable RAPL
/// zones, weighing domains by `weight` (an `lvp_weight`; another number
/// gives `LVP_RESULT_INVALID_ARGUMENT`). Free with
/// [`lvp_accountant_free`].
///
/// # Safety
/// `host` is live; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_new(
    host: *const lvp_host,
    weight: u32,
    out: *mut *mut lvp_accountant,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let pref = enum_arg::<lvp_weight>(weight)?.preference();
        let acc = Accountant::new(host.sysfs(), pref).map_err(lib_err)?;
        // SAFETY: out is non-NULL and valid.
        unsafe { set_boxed_mut_ptr(out, Mutex::new(acc)) };
        Ok(())
    })
}

/// Frees an accountant and closes its counters; NULL is fine.
///
/// # Safety
/// `acc` is NULL or from [`lvp_accountant_new`], not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_free(acc: *mut lvp_accountant) {
    guard(|| {
        // SAFETY: acc is NULL or from lvp_accountant_new, not used
        // afterwards.
        unsafe { free_box(acc) };
        Ok(())
    });
}

/// Starts accounting domain `id` (e.g. its UUID) whose QEMU process is
/// `pid`, counting all its threads, existing ones included. `out_weight`
/// (may be NULL) receives the weight in use.
///
/// # Safety
/// `acc` is live; `id` NUL-terminated; `out_weight` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_add_domain(
    acc: *const lvp_accountant,
    id: *const c_char,
    pid: i32,
    out_weight: *mut lvp_weight,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        let kind = acc
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add_domain(id, pid)
            .map_err(lib_err)?;
        if !out_weight.is_null() {
            // SAFETY: non-NULL and valid per the contract.
            unsafe { *out_weight = lvp_weight::of_kind(Some(kind)) };
        }
        Ok(())
    })
}

/// Stops accounting `id` (its last weight counts in the next tick); its
/// energy stays readable.
///
/// # Safety
/// `acc` is live; `id` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_remove_domain(
    acc: *const lvp_accountant,
    id: *const c_char,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        let mut a = acc.lock().unwrap_or_else(|p| p.into_inner());
        if a.domain_weight(id).is_none() {
            return Err(no_domain(id));
        }
        a.remove_domain(id).map_err(lib_err)
    })
}

/// One accounting interval: reads every zone's energy and every domain's
/// weight and attributes the energy.
///
/// # Safety
/// `acc` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_tick(acc: *const lvp_accountant) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        acc.lock()
            .unwrap_or_else(|p| p.into_inner())
            .tick()
            .map(drop)
            .map_err(lib_err)
    })
}

/// `LVP_RESULT_INVALID_ARGUMENT` unless `zone` is one of the accounted
/// zones.
fn check_zone(a: &Accountant, zone: &str) -> Result<(), lvp_result> {
    if a.zones().any(|z| z == zone) {
        return Ok(());
    }
    let keys: Vec<&str> = a.zones().collect();
    Err(lib_err(Error::invalid(
        "RAPL zone",
        zone,
        format!("one of the accounted zones: {}", keys.join(", ")),
    )))
}

/// Energy attributed to domain `id` in `zone` since it was added, µJ.
///
/// # Safety
/// `acc` is live; strings NUL-terminated; `out_uj` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_domain_energy(
    acc: *const lvp_accountant,
    id: *const c_char,
    zone: *const c_char,
    out_uj: *mut u64,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe { domain_zone_value(acc, id, zone, out_uj, Accountant::domain_energy_uj) }
}

/// One of a domain's per-zone counters (`get`) into `out_uj`: the body of
/// the domain energy getters. Before the first tick a known domain has 0.
///
/// # Safety
/// `acc` is live; strings NUL-terminated; `out_uj` valid.
unsafe fn domain_zone_value(
    acc: *const lvp_accountant,
    id: *const c_char,
    zone: *const c_char,
    out_uj: *mut u64,
    get: fn(&Accountant, &str, &str) -> Option<u64>,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        // SAFETY: forwarded contract.
        let zone = unsafe { str_arg(zone, "zone") }?;
        if out_uj.is_null() {
            return Err(null("out_uj"));
        }
        let a = acc.lock().unwrap_or_else(|p| p.into_inner());
        check_zone(&a, zone)?;
        let uj = match get(&a, id, zone) {
            Some(v) => v,
            None if a.domain_weight(id).is_some() => 0,
            None => return Err(no_domain(id)),
        };
        // SAFETY: out_uj is non-NULL and valid.
        unsafe { *out_uj = uj };
        Ok(())
    })
}

/// The domain's last raw weight (cycles or CPU nanoseconds, see
/// [`lvp_accountant_info`]).
///
/// # Safety
/// `acc` is live; `id` NUL-terminated; `out_weight` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_domain_weight(
    acc: *const lvp_accountant,
    id: *const c_char,
    out_weight: *mut u64,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        if out_weight.is_null() {
            return Err(null("out_weight"));
        }
        let w = acc
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .domain_weight(id)
            .ok_or_else(|| no_domain(id))?;
        // SAFETY: out_weight is non-NULL and valid.
        unsafe { *out_weight = w };
        Ok(())
    })
}

/// Energy of `zone` measured since the first tick (`what` 0), left
/// unattributed (`what` 1), attributed to domains no longer accounted
/// (`what` 2, "departed"), counted as idle (`what` 3, part of the
/// unattributed energy) or left to the host's own work (`what` 4, the
/// unattributed energy less the idle), µJ. For every zone, measured = the
/// accounted domains' energy + departed + host + idle.
///
/// # Safety
/// `acc` is live; `zone` NUL-terminated; `out_uj` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_zone_energy(
    acc: *const lvp_accountant,
    zone: *const c_char,
    what: u32,
    out_uj: *mut u64,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let zone = unsafe { str_arg(zone, "zone") }?;
        if out_uj.is_null() {
            return Err(null("out_uj"));
        }
        let a = acc.lock().unwrap_or_else(|p| p.into_inner());
        check_zone(&a, zone)?;
        let v = match what {
            0 => a.measured_uj(zone),
            1 => a.unattributed_uj(zone),
            2 => a.departed_uj(zone),
            3 => a.idle_uj(zone),
            4 => a.host_uj(zone),
            _ => {
                return Err(lib_err(Error::invalid(
                    "zone energy selector",
                    what.to_string(),
                    "0 (measured), 1 (unattributed), 2 (departed), 3 (idle) or 4 (host)",
                )));
            }
        };
        // SAFETY: out_uj is non-NULL and valid.
        unsafe { *out_uj = v.unwrap_or(0) };
        Ok(())
    })
}

/// The weight in use and the number of perf file descriptors held.
///
/// # Safety
/// `acc` is live; out pointers valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_info(
    acc: *const lvp_accountant,
    out_weight: *mut lvp_weight,
    out_fds: *mut usize,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        if out_weight.is_null() || out_fds.is_null() {
            return Err(null("out pointer"));
        }
        let a = acc.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: both non-NULL and valid.
        unsafe {
            *out_weight = lvp_weight::of_kind(a.weight_kind());
            *out_fds = a.fd_count();
        }
        Ok(())
    })
}

/// Keeps the accountant's counters in the file `path` across daemon
/// restarts: loads what an earlier accountant saved there (if the file
/// exists) and saves after every tick. A domain added again with the same
/// process lifetime (pid and start time) resumes its counters; another
/// process under the same id starts from 0. Call before the first domain
/// and tick.
///
/// A damaged file (not the format, a bad number, totals that do not add
/// up) is set aside and accounting starts afresh: the call succeeds, and
/// [`lvp_accountant_state_set_aside`] says where the file went. A failed
/// call (the file unreadable, or it cannot be set aside) changes nothing
/// and can be repeated.
///
/// # Safety
/// `acc` is live; `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_set_state_file(
    acc: *const lvp_accountant,
    path: *const c_char,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let path = unsafe { str_arg(path, "path") }?;
        let mut a = acc.lock().unwrap_or_else(|p| p.into_inner());
        a.set_state_file(Path::new(path)).map_err(lib_err)
    })
}

/// The number of RAPL zones accounted (fixed for the accountant's life).
///
/// # Safety
/// `acc` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_zone_count(acc: *const lvp_accountant) -> usize {
    let mut n = 0;
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        n = acc
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .zones()
            .count();
        Ok(())
    });
    n
}

/// Zone `index`: its key (as in the node getters, e.g. `package-0`) into
/// `name` (`name_len` bytes, NUL-terminated; `out_n` gets the key's length)
/// and its package (-1 for a platform zone such as `psys`).
///
/// # Safety
/// `acc` is live; `name` valid for `name_len` bytes; `out_n` and
/// `out_package` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_zone(
    acc: *const lvp_accountant,
    index: usize,
    name: *mut c_char,
    name_len: usize,
    out_n: *mut usize,
    out_package: *mut i32,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        if out_package.is_null() {
            return Err(null("out_package"));
        }
        let a = acc.lock().unwrap_or_else(|p| p.into_inner());
        let count = a.zones().count();
        let key = a
            .zones()
            .nth(index)
            .ok_or_else(|| out_of_range("zone", index, count))?;
        let package = a
            .zone_package(key)
            .flatten()
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or(-1);
        // SAFETY: out_package is non-NULL and valid.
        unsafe { *out_package = package };
        // SAFETY: forwarded contract.
        unsafe { copy_out(key, name, name_len, out_n) }
    })
}

/// The number of completed ticks (carried across restarts with a state
/// file): counters read between two calls with the same value belong to
/// one interval.
///
/// # Safety
/// `acc` is live; `out_ticks` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_ticks(
    acc: *const lvp_accountant,
    out_ticks: *mut u64,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        if out_ticks.is_null() {
            return Err(null("out_ticks"));
        }
        let t = acc.lock().unwrap_or_else(|p| p.into_inner()).ticks();
        // SAFETY: out_ticks is non-NULL and valid.
        unsafe { *out_ticks = t };
        Ok(())
    })
}

/// The idle power the accountant uses for `zone`, learned from the zone's
/// power against its package's busy fraction, µW. `out_known` is false
/// (and `out_uw` 0) while it is still being learned or cannot be told from
/// the dynamic power (the host has run at a single load); all of that
/// zone's energy is then treated as active.
///
/// # Safety
/// `acc` is live; `zone` NUL-terminated; out pointers valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_zone_idle_power(
    acc: *const lvp_accountant,
    zone: *const c_char,
    out_uw: *mut u64,
    out_known: *mut bool,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let zone = unsafe { str_arg(zone, "zone") }?;
        if out_uw.is_null() || out_known.is_null() {
            return Err(null("out pointer"));
        }
        let a = acc.lock().unwrap_or_else(|p| p.into_inner());
        check_zone(&a, zone)?;
        let uw = a.idle_power_uw(zone);
        // SAFETY: both non-NULL and valid.
        unsafe {
            *out_uw = uw.unwrap_or(0);
            *out_known = uw.is_some();
        }
        Ok(())
    })
}

/// The idle part of domain `id`'s energy in `zone` (0 unless idle energy
/// is shared by vCPUs, see [`lvp_accountant_set_idle_policy`]), µJ.
///
/// # Safety
/// `acc` is live; strings NUL-terminated; `out_uj` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_domain_idle_energy(
    acc: *const lvp_accountant,
    id: *const c_char,
    zone: *const c_char,
    out_uj: *mut u64,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe { domain_zone_value(acc, id, zone, out_uj, Accountant::domain_idle_uj) }
}

/// Sets what happens to idle energy from the next tick on (an
/// `lvp_idle_policy`; another number gives `LVP_RESULT_INVALID_ARGUMENT`).
///
/// # Safety
/// `acc` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_set_idle_policy(
    acc: *const lvp_accountant,
    policy: u32,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        let policy = match enum_arg::<lvp_idle_policy>(policy)? {
            lvp_idle_policy::LVP_IDLE_APART => IdlePolicy::Apart,
            lvp_idle_policy::LVP_IDLE_VCPUS => IdlePolicy::Vcpus,
        };
        acc.lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_idle_policy(policy);
        Ok(())
    })
}

/// Sets the vCPU count of domain `id` (its weight in the idle energy under
/// `LVP_IDLE_VCPUS`; 1 until set).
///
/// # Safety
/// `acc` is live; `id` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_set_domain_vcpus(
    acc: *const lvp_accountant,
    id: *const c_char,
    vcpus: u32,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        let mut a = acc.lock().unwrap_or_else(|p| p.into_inner());
        if a.domain_weight(id).is_none() {
            return Err(no_domain(id));
        }
        a.set_domain_vcpus(id, vcpus).map_err(lib_err)
    })
}

/// The longest accounting interval that keeps every zone's energy count
/// unambiguous, ms (at least 1): half the time the fastest-wrapping zone's
/// `energy_uj` takes to wrap at the highest power it can draw (twice the
/// largest `constraint_K_max_power_uw` of the zone, of its package for
/// `core` and `uncore`, else twice 500 W). An interval up to this long
/// stays safe when a tick comes an interval late. `UINT64_MAX` if no zone
/// wraps. Fixed for the accountant's life; see
/// [`lvp_accountant_max_interval_zone`] for the zone.
///
/// # Safety
/// `acc` is live; `out_ms` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_max_interval_ms(
    acc: *const lvp_accountant,
    out_ms: *mut u64,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        if out_ms.is_null() {
            return Err(null("out_ms"));
        }
        let bound = acc.lock().unwrap_or_else(|p| p.into_inner()).max_interval();
        // SAFETY: out_ms is non-NULL and valid.
        unsafe { *out_ms = bound.map_or(u64::MAX, |b| b.max_interval_ms) };
        Ok(())
    })
}

/// The zone that sets [`lvp_accountant_max_interval_ms`]: its index for
/// [`lvp_accountant_zone`] into `out_index`, and the power its wrap time
/// assumes into `out_peak_uw` (may be NULL). `SIZE_MAX` (and 0) if no
/// zone wraps.
///
/// # Safety
/// `acc` is live; `out_index` valid; `out_peak_uw` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_max_interval_zone(
    acc: *const lvp_accountant,
    out_index: *mut usize,
    out_peak_uw: *mut u64,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        if out_index.is_null() {
            return Err(null("out_index"));
        }
        let a = acc.lock().unwrap_or_else(|p| p.into_inner());
        let (index, peak_uw) = match a.max_interval() {
            Some(b) => (
                a.zones().position(|z| z == b.zone).unwrap_or(usize::MAX),
                b.wrap.peak_uw,
            ),
            None => (usize::MAX, 0),
        };
        // SAFETY: out_index is non-NULL and valid; out_peak_uw is checked.
        unsafe {
            *out_index = index;
            if !out_peak_uw.is_null() {
                *out_peak_uw = peak_uw;
            }
        }
        Ok(())
    })
}

/// Time `zone`'s energy was not measured since the first tick (carried
/// across restarts with a state file): the intervals longer than the
/// zone's fastest wrap (its count then ambiguous: the interval's energy is
/// left out of every total rather than guessed) or of unknown length, how
/// many (`out_intervals`) and how long (`out_ms`).
///
/// # Safety
/// `acc` is live; `zone` NUL-terminated; out pointers valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_zone_unmeasured(
    acc: *const lvp_accountant,
    zone: *const c_char,
    out_intervals: *mut u64,
    out_ms: *mut u64,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        // SAFETY: forwarded contract.
        let zone = unsafe { str_arg(zone, "zone") }?;
        if out_intervals.is_null() || out_ms.is_null() {
            return Err(null("out pointer"));
        }
        let a = acc.lock().unwrap_or_else(|p| p.into_inner());
        check_zone(&a, zone)?;
        let u = a.unmeasured(zone).unwrap_or_default();
        // SAFETY: both non-NULL and valid.
        unsafe {
            *out_intervals = u.intervals;
            *out_ms = u.ns / 1_000_000;
        }
        Ok(())
    })
}

/// Where [`lvp_accountant_set_state_file`] set a damaged state file aside
/// (`<file>.damaged`, or `<file>.damaged.N`, never over an earlier one),
/// into `buf` (`len` bytes, NUL-terminated; `out_len` gets the path's
/// length): empty if it did not. Accounting then started afresh; log this
/// once, with [`lvp_accountant_state_set_aside_reason`].
///
/// # Safety
/// `acc` is live; `buf` NULL or valid for `len` bytes; `out_len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_state_set_aside(
    acc: *const lvp_accountant,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe {
        set_aside_text(acc, buf, len, out_len, |s| {
            s.path.to_string_lossy().into_owned()
        })
    }
}

/// Why [`lvp_accountant_set_state_file`] set the state file aside (the
/// parse error, naming the file and the bad line), into `buf` as
/// [`lvp_accountant_state_set_aside`] does: empty if it did not.
///
/// # Safety
/// `acc` is live; `buf` NULL or valid for `len` bytes; `out_len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_accountant_state_set_aside_reason(
    acc: *const lvp_accountant,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe { set_aside_text(acc, buf, len, out_len, |s| s.reason.clone()) }
}

/// Copies one text about the set-aside state file (`get`; empty if none)
/// into a caller buffer: the body of the two getters.
///
/// # Safety
/// `acc` is live; `buf` NULL or valid for `len` bytes; `out_len` valid.
unsafe fn set_aside_text(
    acc: *const lvp_accountant,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    get: fn(&SetAside) -> String,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let acc = unsafe { try_ref_from_ptr(acc) }?;
        let text = acc
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .state_set_aside()
            .map(get)
            .unwrap_or_default();
        // SAFETY: forwarded contract.
        unsafe { copy_out(&text, buf, len, out_len) }
    })
}
