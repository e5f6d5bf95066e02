// SPDX-License-Identifier: LGPL-2.1-or-later
//! Benchmark: set the governor and min/max frequency on every CPU of a
//! 256-CPU simulated host, through the library (validation, journal,
//! read-back) versus plain shell writes of the same files
//! (`for f in ...; do echo ... > $f; done`). Rounds are interleaved and the
//! medians compared in one run, so machine noise hits both sides alike.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use libvirt_power::sim::{self, SimSpec};
use libvirt_power::{CpuSelection, Host, SetOptions, SysfsRoot};

const ROUNDS: usize = 21;
const CPUS: u32 = 256;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Governor, min and max for round `i` (alternating, so every round
/// really changes every file and the min <= max order matters).
fn values(i: usize) -> (&'static str, u64, u64) {
    if i.is_multiple_of(2) {
        ("performance", 1_000_000, 3_000_000)
    } else {
        ("powersave", 1_200_000, 3_200_000)
    }
}

fn shell_script(root: &Path, i: usize) -> String {
    let (gov, min, max) = values(i);
    let d = root.join("devices/system/cpu/cpufreq");
    format!(
        "for f in {d}/policy*/scaling_governor; do echo {gov} > $f; done\n\
         for f in {d}/policy*/scaling_max_freq; do echo {max} > $f; done\n\
         for f in {d}/policy*/scaling_min_freq; do echo {min} > $f; done\n",
        d = d.display()
    )
}

fn main() {
    let base = std::env::temp_dir().join(format!("lvp-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let lib_root = base.join("lib-sys");
    let sh_root = base.join("sh-sys");
    let spec = SimSpec::preset("large", Some(CPUS)).expect("preset");
    sim::generate(&lib_root, &spec).expect("generate");
    sim::generate(&sh_root, &spec).expect("generate");
    let host = Host::new(SysfsRoot::new(&lib_root), Some(base.join("state"))).expect("host");
    let all = CpuSelection::All;
    let opts = SetOptions::default();
    let (mut lib, mut sh) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS + 1 {
        let (gov, min, max) = values(i);
        let t = Instant::now();
        let r1 = host.set_governor(&all, gov, opts).expect("governor");
        let r2 = host
            .set_frequency_limits(&all, Some(min), Some(max), opts)
            .expect("limits");
        let dl = t.elapsed();
        assert_eq!(r1.changes.len() + r2.changes.len(), 3 * CPUS as usize);

        let script = shell_script(&sh_root, i);
        let t = Instant::now();
        let st = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .status()
            .expect("bash");
        let ds = t.elapsed();
        assert!(st.success());
        // Both trees must hold the same values.
        let probe = "devices/system/cpu/cpufreq/policy255/scaling_min_freq";
        assert_eq!(
            std::fs::read(lib_root.join(probe)).unwrap(),
            std::fs::read(sh_root.join(probe)).unwrap()
        );
        if i > 0 {
            // round 0 warms caches and writes the journal once
            lib.push(dl);
            sh.push(ds);
        }
    }
    let (ml, ms) = (median(lib), median(sh));
    println!(
        "set governor + min/max on {CPUS} CPUs (768 files), median of {ROUNDS} interleaved rounds:"
    );
    println!(
        "  libvirt-power : {:>8.2} ms  (validate, read back every file, journal, rollback-ready)",
        ml.as_secs_f64() * 1e3
    );
    println!(
        "  shell for-loop: {:>8.2} ms  (bash -c, echo > file, no checks)",
        ms.as_secs_f64() * 1e3
    );
    println!(
        "  ratio library/shell: {:.2}",
        ml.as_secs_f64() / ms.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&base);
}
