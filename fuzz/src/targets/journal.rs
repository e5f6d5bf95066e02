// SPDX-License-Identifier: LGPL-2.1-or-later
//! `journal`: the original-state journal's reader (`Journal::load`, which
//! reads its file) on arbitrary file contents, and its writer
//! (`Journal::store`) on what the reader accepted.
//!
//! Properties: no panic; a journal the reader accepts is either refused by
//! the writer with an error, or written and read back to the same entries.
//! The last line ending in '\r' that once loaded as a different value
//! than `store` wrote back is kept in `fuzz/regressions/journal/`.

use std::path::Path;

use libvirt_power::journal::Journal;

use super::Scratch;
use crate::{Outcome, Runner, Target};

/// The sysfs root the journals are written for.
const ROOT: &str = "/sys";

/// The target.
pub fn target() -> Target {
    Target {
        name: "journal",
        about: "Journal::load on arbitrary file contents; store/load round trip",
        dict: &[
            b"# libvirt-power original state v1\n",
            b"root\t/sys\n",
            b"root\t/sys/\n",
            b"root\t/other\n",
            b"\t",
            b"\n",
            b"\r\n",
            b"\r",
            b"devices/system/cpu/cpufreq/policy0/scaling_governor\tschedutil\n",
            b"class/powercap/intel-rapl:0/constraint_0_power_limit_uw\t150000000\n",
        ],
        max_len: 4096,
        seeds,
        setup,
    }
}

fn setup() -> Runner {
    let scratch = Scratch::new("journal");
    let journal = Journal::open(&scratch.0, Path::new(ROOT)).expect("open an empty journal");
    let file = journal.path();
    Box::new(move |data: &[u8]| {
        let _keep = &scratch;
        std::fs::write(&file, data).expect("write the journal file");
        let Ok(map) = journal.load() else {
            return Outcome::Refused;
        };
        if journal.store(&map).is_ok() {
            let back = journal.load().expect("a journal just stored loads");
            assert_eq!(
                back, map,
                "store(load(b)) does not load back the same entries"
            );
        }
        Outcome::Accepted
    })
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        b"# libvirt-power original state v1\nroot\t/sys\n".to_vec(),
        b"# libvirt-power original state v1\nroot\t/sys\n\
devices/system/cpu/cpufreq/policy0/scaling_governor\tschedutil\n\
devices/system/cpu/cpufreq/policy0/scaling_max_freq\t3500000\n\
devices/system/cpu/intel_pstate/no_turbo\t0\n\
class/powercap/intel-rapl:0/constraint_0_power_limit_uw\t150000000\n\
devices/system/cpu/cpufreq/policy1/energy_performance_preference\t\n"
            .to_vec(),
    ]
}
