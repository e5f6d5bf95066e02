// SPDX-License-Identifier: LGPL-2.1-or-later
//! `lvp_sim_create`: a simulated host tree for libvirt's test driver.

use std::ffi::c_char;
use std::path::Path;

use crate::error::Error;
use crate::sim::{PRESETS, SimSpec, generate, settle};

use super::args::{opt_str_arg, str_arg};
use super::guard::{guard, lib_err};
use super::result::lvp_result;

/// Creates a simulated host tree (see the `sim` module) in `dir`, which
/// must be missing or empty: preset `preset` (NULL means `acpi-cpufreq`),
/// `cpus` CPUs where the preset lets the count vary (0: its default).
/// libvirt's test driver uses it to give `test:///` connections a host
/// whose power settings can be changed without root.
///
/// # Safety
/// `dir` and `preset` are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lvp_sim_create(
    dir: *const c_char,
    preset: *const c_char,
    cpus: u32,
) -> lvp_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let dir = unsafe { str_arg(dir, "dir") }?;
        // SAFETY: forwarded contract.
        let preset = unsafe { opt_str_arg(preset, "preset") }?.unwrap_or("acpi-cpufreq");
        let spec = SimSpec::preset(preset, (cpus > 0).then_some(cpus)).ok_or_else(|| {
            lib_err(Error::invalid(
                "simulated host preset",
                preset,
                PRESETS.join(", "),
            ))
        })?;
        let root = Path::new(dir);
        generate(root, &spec)
            .and_then(|()| settle(root))
            .map_err(|e| {
                lib_err(Error::Io {
                    path: root.to_path_buf(),
                    source: e,
                })
            })
    })
}
