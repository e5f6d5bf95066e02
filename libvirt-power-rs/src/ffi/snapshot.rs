// SPDX-License-Identifier: LGPL-2.1-or-later
//! `lvp_snapshot`: everything readable about the host at one moment, and
//! the fixed-size state structs its getters fill.

use std::ffi::c_char;

use crate::cpufreq::Setspeed;
use crate::error::Error;
use crate::host::{Snapshot, SnapshotParts};

use super::args::{null, out_of_range};
use super::castable::{Castable, free_box, set_boxed_mut_ptr, try_ref_from_ptr};
use super::guard::{fail, guard, lib_err};
use super::host::lvp_host;
use super::out::{copy_out, name_field};
use super::result::lvp_result;

/// [`lvp_host_snapshot_parts`]: read the CPUs, their topology and the
/// cpufreq policies.
pub const LVP_SNAPSHOT_CPUFREQ: u32 = 1 << 0;
/// [`lvp_host_snapshot_parts`]: read the RAPL zones.
pub const LVP_SNAPSHOT_RAPL: u32 = 1 << 1;

/// Size of the fixed name fields in the state structs, NUL included.
pub const LVP_NAME_MAX: usize = 64;

/// Everything readable about the host at one moment. Opaque.
pub struct lvp_snapshot {
    _private: [u8; 0],
}

impl Castable for lvp_snapshot {
    type RustType = Snapshot;
    const NAME: &'static str = "snapshot";
}

/// One CPU's frequency state. An offline CPU (`online` 0) has no ids
/// (-1), its policy number if it has one, and no frequency data (zeros and
/// empty names).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lvp_cpu_state {
    /// Logical CPU number.
    pub cpu: u32,
    /// Package id, -1 if unknown.
    pub package: i32,
    /// Core id, -1 if unknown.
    pub core: i32,
    /// cpufreq policy number, -1 if the CPU has no policy.
    pub policy: i32,
    /// `scaling_cur_freq`, 0 if unknown.
    pub cur_khz: u64,
    /// `scaling_min_freq`.
    pub min_khz: u64,
    /// `scaling_max_freq`.
    pub max_khz: u64,
    /// `cpuinfo_min_freq`.
    pub cpuinfo_min_khz: u64,
    /// `cpuinfo_max_freq`.
    pub cpuinfo_max_khz: u64,
    /// `scaling_setspeed` under `userspace`, 0 otherwise.
    pub setspeed_khz: u64,
    /// Governor, NUL-terminated.
    pub governor: [c_char; LVP_NAME_MAX],
    /// Scaling driver, NUL-terminated.
    pub driver: [c_char; LVP_NAME_MAX],
    /// Energy-performance preference, empty if none.
    pub epp: [c_char; LVP_NAME_MAX],
    /// 1 if the CPU is online, 0 if it is offline.
    pub online: i32,
}

/// One RAPL zone.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lvp_zone_state {
    /// Key (`package-0`, `package-0/dram`, `psys`, `mmio:package-0`).
    pub key: [c_char; LVP_NAME_MAX],
    /// `name` file.
    pub name: [c_char; LVP_NAME_MAX],
    /// Package, -1 for platform zones.
    pub package: i32,
    /// 1 enabled, 0 disabled, -1 unknown.
    pub enabled: i32,
    /// 1 if `energy_uj` was readable.
    pub has_energy: i32,
    /// Raw `energy_uj`.
    pub energy_uj: u64,
    /// `max_energy_range_uj`, 0 if unknown.
    pub max_energy_range_uj: u64,
    /// Number of constraints.
    pub constraint_count: u32,
}

/// One RAPL constraint.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lvp_constraint_state {
    /// K in `constraint_K_*`.
    pub index: u32,
    /// `long_term`, `short_term`, `peak_power`.
    pub name: [c_char; LVP_NAME_MAX],
    /// `power_limit_uw`.
    pub power_limit_uw: u64,
    /// `time_window_us`, 0 if the constraint has none.
    pub time_window_us: u64,
    /// `max_power_uw`, 0 if unknown.
    pub max_power_uw: u64,
    /// The highest limit the library accepts.
    pub ceiling_uw: u64,
}

/// Host-wide state.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct lvp_host_state {
    /// Online CPUs.
    pub cpu_count: u32,
    /// cpufreq policies.
    pub policy_count: u32,
    /// RAPL zones.
    pub zone_count: u32,
    /// 1 turbo on, 0 off, -1 unknown.
    pub turbo: i32,
    /// intel_pstate min_perf_pct, -1 if absent.
    pub min_perf_pct: i32,
    /// intel_pstate max_perf_pct, -1 if absent.
    pub max_perf_pct: i32,
    /// Scaling driver of policy 0, empty if none.
    pub driver: [c_char; LVP_NAME_MAX],
    /// intel_pstate or amd_pstate status, empty if neither.
    pub pstate_status: [c_char; LVP_NAME_MAX],
}

/// Reads the host's whole state. Free with [`lvp_snapshot_free`].
///
/// # Safety
/// `host` is live; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_snapshot(
    host: *const lvp_host,
    out: *mut *mut lvp_snapshot,
) -> lvp_result {
    // SAFETY: forwarded contract.
    unsafe { lvp_host_snapshot_parts(host, LVP_SNAPSHOT_CPUFREQ | LVP_SNAPSHOT_RAPL, out) }
}

/// Reads the parts of the host's state named in `parts`
/// (`LVP_SNAPSHOT_CPUFREQ`, `LVP_SNAPSHOT_RAPL`); the others read as
/// empty (no CPUs and policies, or no zones). Free with
/// [`lvp_snapshot_free`].
///
/// # Safety
/// `host` is live; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_host_snapshot_parts(
    host: *const lvp_host,
    parts: u32,
    out: *mut *mut lvp_snapshot,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        if parts & !(LVP_SNAPSHOT_CPUFREQ | LVP_SNAPSHOT_RAPL) != 0 {
            return Err(fail(
                lvp_result::LVP_RESULT_INVALID_FLAGS,
                format!(
                    "unknown snapshot part bits 0x{parts:x}: expected LVP_SNAPSHOT_CPUFREQ (0x1) and/or LVP_SNAPSHOT_RAPL (0x2)"
                ),
            ));
        }
        let parts = SnapshotParts {
            cpufreq: parts & LVP_SNAPSHOT_CPUFREQ != 0,
            rapl: parts & LVP_SNAPSHOT_RAPL != 0,
        };
        let snap = host.snapshot_parts(parts).map_err(lib_err)?;
        // SAFETY: out is non-NULL and valid.
        unsafe { set_boxed_mut_ptr(out, snap) };
        Ok(())
    })
}

/// Frees a snapshot; NULL is fine.
///
/// # Safety
/// `snap` is NULL or from [`lvp_host_snapshot`], not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_snapshot_free(snap: *mut lvp_snapshot) {
    guard(|| {
        // SAFETY: snap is NULL or from lvp_host_snapshot(_parts), not used
        // afterwards.
        unsafe { free_box(snap) };
        Ok(())
    });
}

/// Host-wide state.
///
/// # Safety
/// `snap` is live; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_snapshot_host(
    snap: *const lvp_snapshot,
    out: *mut lvp_host_state,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { try_ref_from_ptr(snap) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let f = &s.cpufreq;
        let turbo = match (&f.intel_pstate, f.boost) {
            (Some(ip), _) if ip.no_turbo.is_some() => i32::from(ip.no_turbo == Some(false)),
            (_, Some(b)) => i32::from(b),
            _ => match f.policies.iter().find_map(|p| p.boost) {
                Some(b) => i32::from(b),
                None => -1,
            },
        };
        let ip = f.intel_pstate.as_ref();
        let pct = |v: Option<u32>| v.and_then(|v| i32::try_from(v).ok()).unwrap_or(-1);
        let status = ip
            .map(|i| i.status.clone())
            .or_else(|| f.amd_pstate_status.clone())
            .unwrap_or_default();
        let state = lvp_host_state {
            cpu_count: u32::try_from(s.topology.online.len()).unwrap_or(u32::MAX),
            policy_count: u32::try_from(f.policies.len()).unwrap_or(u32::MAX),
            zone_count: u32::try_from(s.zones.len()).unwrap_or(u32::MAX),
            turbo,
            min_perf_pct: pct(ip.and_then(|i| i.min_perf_pct)),
            max_perf_pct: pct(ip.and_then(|i| i.max_perf_pct)),
            driver: name_field(f.driver().unwrap_or("")),
            pstate_status: name_field(&status),
        };
        // SAFETY: out is non-NULL and valid.
        unsafe { *out = state };
        Ok(())
    })
}

/// Number of CPUs in the snapshot: the present ones, online or offline
/// (`lvp_cpu_state.online`).
///
/// # Safety
/// `snap` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_snapshot_cpu_count(snap: *const lvp_snapshot) -> usize {
    let mut n = 0;
    guard(|| {
        // SAFETY: forwarded contract.
        n = unsafe { try_ref_from_ptr(snap) }?.topology.cpus.len();
        Ok(())
    });
    n
}

/// The state of the `idx`-th CPU (in CPU order, offline ones included).
///
/// # Safety
/// `snap` is live; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_snapshot_cpu(
    snap: *const lvp_snapshot,
    idx: usize,
    out: *mut lvp_cpu_state,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { try_ref_from_ptr(snap) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let t = s
            .topology
            .cpus
            .get(idx)
            .ok_or_else(|| out_of_range("CPU", idx, s.topology.cpus.len()))?;
        let id = |v: Option<u32>| v.and_then(|v| i32::try_from(v).ok()).unwrap_or(-1);
        let p = s.frequency_policy(t.cpu);
        let state = lvp_cpu_state {
            cpu: t.cpu,
            online: i32::from(t.online),
            package: id(t.package),
            core: id(t.core),
            policy: id(s.policy_id(t.cpu)),
            cur_khz: p.and_then(|p| p.scaling_cur_khz).unwrap_or(0),
            min_khz: p.map_or(0, |p| p.scaling_min_khz),
            max_khz: p.map_or(0, |p| p.scaling_max_khz),
            cpuinfo_min_khz: p.map_or(0, |p| p.cpuinfo_min_khz),
            cpuinfo_max_khz: p.map_or(0, |p| p.cpuinfo_max_khz),
            setspeed_khz: match p.map(|p| &p.setspeed) {
                Some(Setspeed::Khz(k)) => *k,
                _ => 0,
            },
            governor: name_field(p.map_or("", |p| p.governor.as_str())),
            driver: name_field(p.map_or("", |p| p.driver.as_str())),
            epp: name_field(p.and_then(|p| p.epp.as_deref()).unwrap_or("")),
        };
        // SAFETY: out is non-NULL and valid.
        unsafe { *out = state };
        Ok(())
    })
}

/// A list belonging to the `idx`-th CPU's policy, space-separated:
/// `what` 0 = available governors, 1 = available frequencies (kHz),
/// 2 = available energy-performance preferences; empty for an offline
/// CPU.
///
/// # Safety
/// `snap` is live; `buf` NULL or valid for `len`; `out_n` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_snapshot_cpu_list(
    snap: *const lvp_snapshot,
    idx: usize,
    what: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { try_ref_from_ptr(snap) }?;
        let t = s
            .topology
            .cpus
            .get(idx)
            .ok_or_else(|| out_of_range("CPU", idx, s.topology.cpus.len()))?;
        let p = s.frequency_policy(t.cpu);
        let text = match what {
            0 => p.map(|p| p.available_governors.join(" ")),
            1 => p.map(|p| {
                p.available_frequencies_khz
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            2 => p.map(|p| p.epp_available.join(" ")),
            _ => {
                return Err(lib_err(Error::invalid(
                    "list selector",
                    what.to_string(),
                    "0 (governors), 1 (frequencies) or 2 (EPP values)",
                )));
            }
        }
        .unwrap_or_default();
        // SAFETY: forwarded contract.
        unsafe { copy_out(&text, buf, len, out_n) }
    })
}

/// Number of RAPL zones in the snapshot.
///
/// # Safety
/// `snap` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_snapshot_zone_count(snap: *const lvp_snapshot) -> usize {
    let mut n = 0;
    guard(|| {
        // SAFETY: forwarded contract.
        n = unsafe { try_ref_from_ptr(snap) }?.zones.len();
        Ok(())
    });
    n
}

/// The `idx`-th RAPL zone.
///
/// # Safety
/// `snap` is live; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_snapshot_zone(
    snap: *const lvp_snapshot,
    idx: usize,
    out: *mut lvp_zone_state,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { try_ref_from_ptr(snap) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let z = s
            .zones
            .get(idx)
            .ok_or_else(|| out_of_range("zone", idx, s.zones.len()))?;
        let state = lvp_zone_state {
            key: name_field(&z.key),
            name: name_field(&z.name),
            package: z.package.and_then(|p| i32::try_from(p).ok()).unwrap_or(-1),
            enabled: z.enabled.map_or(-1, i32::from),
            has_energy: i32::from(z.energy_uj.is_some()),
            energy_uj: z.energy_uj.unwrap_or(0),
            max_energy_range_uj: z.max_energy_range_uj.unwrap_or(0),
            constraint_count: u32::try_from(z.constraints.len()).unwrap_or(u32::MAX),
        };
        // SAFETY: out is non-NULL and valid.
        unsafe { *out = state };
        Ok(())
    })
}

/// Constraint `cidx` of zone `idx`.
///
/// # Safety
/// `snap` is live; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_snapshot_constraint(
    snap: *const lvp_snapshot,
    idx: usize,
    cidx: usize,
    out: *mut lvp_constraint_state,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { try_ref_from_ptr(snap) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let z = s
            .zones
            .get(idx)
            .ok_or_else(|| out_of_range("zone", idx, s.zones.len()))?;
        let c = z
            .constraints
            .get(cidx)
            .ok_or_else(|| out_of_range("constraint", cidx, z.constraints.len()))?;
        let state = lvp_constraint_state {
            index: c.index,
            name: name_field(&c.name),
            power_limit_uw: c.power_limit_uw,
            time_window_us: c.time_window_us.unwrap_or(0),
            max_power_uw: c.max_power_uw.unwrap_or(0),
            ceiling_uw: c.ceiling_uw(),
        };
        // SAFETY: out is non-NULL and valid.
        unsafe { *out = state };
        Ok(())
    })
}
