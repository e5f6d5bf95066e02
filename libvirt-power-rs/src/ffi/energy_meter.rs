// SPDX-License-Identifier: LGPL-2.1-or-later
//! `lvp_energy_meter`: monotonic per-zone energy counters.

use std::ffi::c_char;
use std::sync::Mutex;

use crate::error::Error;
use crate::rapl::EnergyMeter;

use super::args::{null, str_arg};
use super::castable::{Castable, free_box, set_boxed_mut_ptr, try_ref_from_ptr};
use super::guard::{guard, lib_err};
use super::host::lvp_host;
use super::result::lvp_result;

/// Monotonic per-zone energy counters. Opaque.
pub struct lvp_energy_meter {
    _private: [u8; 0],
}

impl Castable for lvp_energy_meter {
    type RustType = Mutex<EnergyMeter>;
    const NAME: &'static str = "meter";
}

/// Starts monotonic energy counters for every readable RAPL zone. Free
/// with [`lvp_energy_meter_free`].
///
/// # Safety
/// `host` is live; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_energy_meter_new(
    host: *const lvp_host,
    out: *mut *mut lvp_energy_meter,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let host = unsafe { try_ref_from_ptr(host) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let m = EnergyMeter::new(host.sysfs()).map_err(lib_err)?;
        // SAFETY: out is non-NULL and valid.
        unsafe { set_boxed_mut_ptr(out, Mutex::new(m)) };
        Ok(())
    })
}

/// Frees a meter; NULL is fine.
///
/// # Safety
/// `meter` is NULL or from [`lvp_energy_meter_new`], not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_energy_meter_free(meter: *mut lvp_energy_meter) {
    guard(|| {
        // SAFETY: meter is NULL or from lvp_energy_meter_new, not used
        // afterwards.
        unsafe { free_box(meter) };
        Ok(())
    });
}

/// Reads every zone and gives the energy of zone `zone` since the meter
/// was created, in µJ (monotonic; wrap-around of `energy_uj` handled).
///
/// # Safety
/// `meter` is live; `zone` NUL-terminated; `out_uj` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_energy_meter_read(
    meter: *const lvp_energy_meter,
    zone: *const c_char,
    out_uj: *mut u64,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let m = unsafe { try_ref_from_ptr(meter) }?;
        // SAFETY: forwarded contract.
        let zone = unsafe { str_arg(zone, "zone") }?;
        if out_uj.is_null() {
            return Err(null("out_uj"));
        }
        let mut m = m.lock().unwrap_or_else(|p| p.into_inner());
        let readings = m.read().map_err(lib_err)?;
        let r = readings.iter().find(|r| r.key == zone).ok_or_else(|| {
            let keys: Vec<&str> = readings.iter().map(|r| r.key.as_str()).collect();
            lib_err(Error::invalid(
                "RAPL zone",
                zone,
                format!("one of the metered zones: {}", keys.join(", ")),
            ))
        })?;
        // SAFETY: out_uj is non-NULL and valid.
        unsafe { *out_uj = r.total_uj };
        Ok(())
    })
}
