// SPDX-License-Identifier: LGPL-2.1-or-later
//! Fixture tests: every preset, every setter, rejected input leaving the
//! tree byte-for-byte unchanged, rollback, restore.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{diff, sim_host, sim_spec_host, tree, tree_hash, without_dac_override};
use libvirt_power::host::{Knob, RestoreScope};
use libvirt_power::sim::{self, SimSpec};
use libvirt_power::sysfs::AttrGate;
use libvirt_power::{CpuSelection, Error, Host, SetOptions, SysfsRoot};

fn host(root: &Path, state: &Path) -> Host {
    Host::new(SysfsRoot::new(root), Some(state.to_owned())).unwrap()
}

/// A simulated tree whose writes follow the kernel's rules
/// (`sim::tree::store`), as the FUSE mount's do: the library reads back
/// what the kernel keeps, not what it wrote.
#[derive(Debug)]
struct KernelWrites(PathBuf);

impl AttrGate for KernelWrites {
    fn refuse(&self, rel: &str, _write: bool) -> Option<std::io::Error> {
        sim::tree::refusal(&self.0, Path::new(rel))
            .map(|e| std::io::Error::from_raw_os_error(e.errno()))
    }
    fn store(&self, rel: &str, value: &str) -> Option<std::io::Result<()>> {
        Some(sim::tree::store(&self.0, Path::new(rel), value))
    }
}

/// [`host`] on a tree whose writes the simulated kernel answers.
fn kernel_host(root: &Path, state: &Path) -> Host {
    let sysfs = SysfsRoot::new(root).with_gate(Arc::new(KernelWrites(root.to_owned())));
    Host::new(sysfs, Some(state.to_owned())).unwrap()
}

fn cpus(s: &str) -> CpuSelection {
    CpuSelection::parse(s).unwrap()
}

const OPTS: SetOptions = SetOptions {
    switch_governor: false,
    include_siblings: false,
    dry_run: false,
};

/// Asserts that `f` fails, that the message contains `needle`, and that the
/// tree is byte-for-byte what it was.
fn rejected(
    root: &Path,
    needle: &str,
    f: impl FnOnce() -> libvirt_power::Result<libvirt_power::SetReport>,
) -> Error {
    let before = tree_hash(root);
    let listing = tree(root);
    let err = match f() {
        Ok(r) => panic!("expected an error containing '{needle}', got {r:?}"),
        Err(e) => e,
    };
    assert!(
        err.to_string().contains(needle),
        "error '{err}' does not contain '{needle}'"
    );
    assert_eq!(
        tree_hash(root),
        before,
        "tree changed: {:?}",
        diff(&listing, &tree(root))
    );
    err
}

/// Runs `f` and returns the paths it changed.
fn changed(root: &Path, f: impl FnOnce()) -> Vec<String> {
    let before = tree(root);
    f();
    diff(&before, &tree(root))
}

#[test]
fn every_preset_is_discovered() {
    let expect = [
        // preset, cpus, policies, driver, zones
        (
            "acpi-cpufreq",
            4,
            4,
            "acpi-cpufreq",
            vec!["package-0", "package-0/dram"],
        ),
        (
            "intel-pstate-active",
            8,
            8,
            "intel_pstate",
            vec![
                "package-0",
                "package-0/core",
                "package-0/uncore",
                "psys",
                "mmio:package-0",
            ],
        ),
        (
            "intel-pstate-passive",
            8,
            8,
            "intel_cpufreq",
            vec!["package-0", "package-0/core", "package-0/uncore", "psys"],
        ),
        (
            "amd-pstate-epp",
            16,
            16,
            "amd-pstate-epp",
            vec!["package-0", "package-0/core"],
        ),
        (
            "two-socket",
            32,
            32,
            "intel_cpufreq",
            vec![
                "package-0",
                "package-0/core",
                "package-0/uncore",
                "package-0/dram",
                "package-1",
                "package-1/core",
                "package-1/uncore",
                "package-1/dram",
                "psys",
            ],
        ),
        (
            "two-socket-smt",
            16,
            16,
            "intel_cpufreq",
            vec!["package-0", "package-0/dram", "package-1", "package-1/dram"],
        ),
        // One CPU offline: its policy is inactive (EBUSY) and left out.
        (
            "two-socket-smt-offline",
            15,
            15,
            "intel_cpufreq",
            vec!["package-0", "package-0/dram", "package-1", "package-1/dram"],
        ),
        (
            "bios-locked",
            8,
            8,
            "intel_cpufreq",
            vec!["package-0", "package-0/core", "package-0/uncore"],
        ),
        (
            "large",
            16,
            16,
            "intel_cpufreq",
            vec!["package-0", "package-0/dram", "package-1", "package-1/dram"],
        ),
        (
            "xeon6",
            16,
            16,
            "intel_pstate",
            vec![
                "package-0-die-0",
                "package-0-die-1",
                "package-1-die-0",
                "package-1-die-1",
                "tpmi:package-0",
                "tpmi:package-0/dram",
                "tpmi:package-1",
                "tpmi:package-1/dram",
            ],
        ),
    ];
    assert_eq!(expect.len(), sim::PRESETS.len());
    for (preset, ncpu, npol, driver, zones) in expect {
        let (_t, root, state) = sim_host(preset);
        let snap = host(&root, &state).snapshot().unwrap();
        assert_eq!(snap.topology.online.len(), ncpu, "{preset}");
        assert_eq!(snap.cpufreq.policies.len(), npol, "{preset}");
        assert_eq!(snap.cpufreq.driver(), Some(driver), "{preset}");
        let mut keys: Vec<&str> = snap.zones.iter().map(|z| z.key.as_str()).collect();
        let mut want = zones.clone();
        keys.sort();
        want.sort();
        assert_eq!(keys, want, "{preset}");
        for p in &snap.cpufreq.policies {
            assert!(p.cpuinfo_min_khz < p.cpuinfo_max_khz, "{preset}");
            assert!(p.available_governors.contains(&p.governor), "{preset}");
        }
        for z in &snap.zones {
            assert_eq!(
                z.max_energy_range_uj,
                Some(262_143_328_850),
                "{preset} {}",
                z.key
            );
            assert_eq!(z.energy_uj, Some(0));
        }
    }
}

#[test]
fn discovery_details_match_the_kernel_files() {
    let (_t, root, state) = sim_host("intel-pstate-active");
    let snap = host(&root, &state).snapshot().unwrap();
    let p0 = &snap.cpufreq.policies[0];
    assert_eq!(p0.epp.as_deref(), Some("balance_performance"));
    assert_eq!(
        p0.epp_available,
        [
            "default",
            "performance",
            "balance_performance",
            "balance_power",
            "power"
        ]
    );
    assert_eq!(p0.setspeed, libvirt_power::cpufreq::Setspeed::Unsupported);
    let ip = snap.cpufreq.intel_pstate.as_ref().unwrap();
    assert_eq!(ip.status, "active");
    assert_eq!(ip.no_turbo, Some(false));
    assert_eq!((ip.min_perf_pct, ip.max_perf_pct), (Some(9), Some(100)));
    let pkg = snap.zones.iter().find(|z| z.key == "package-0").unwrap();
    assert_eq!(pkg.constraints[0].name, "long_term");
    assert_eq!(pkg.constraints[0].power_limit_uw, 28_000_000);
    assert_eq!(pkg.constraints[0].time_window_us, Some(27_983_872));
    assert_eq!(pkg.constraints[1].name, "short_term");
    assert_eq!(pkg.constraints[1].max_power_uw, None);
    // SMT siblings: 4 cores x 2 threads, cpu0's sibling is cpu4.
    assert_eq!(
        snap.topology.cpu(0).unwrap().siblings,
        BTreeSet::from([0, 4])
    );
    let (_t2, root2, state2) = sim_host("acpi-cpufreq");
    let snap = host(&root2, &state2).snapshot().unwrap();
    assert_eq!(snap.cpufreq.boost, Some(true));
    assert_eq!(
        snap.cpufreq.policies[0].available_frequencies_khz.first(),
        Some(&1_200_000)
    );
    assert_eq!(
        snap.cpufreq.policies[0].available_frequencies_khz.last(),
        Some(&2_101_000)
    );
}

#[test]
fn governor_changes_exactly_its_files() {
    let (_t, root, state) = sim_host("acpi-cpufreq");
    let h = host(&root, &state);
    let files = changed(&root, || {
        let r = h.set_governor(&cpus("1-2"), "powersave", OPTS).unwrap();
        assert_eq!(r.changes.len(), 2);
    });
    assert_eq!(
        files,
        [
            "devices/system/cpu/cpufreq/policy1/scaling_governor",
            "devices/system/cpu/cpufreq/policy2/scaling_governor"
        ]
    );
    assert_eq!(
        fs::read_to_string(root.join(&files[0])).unwrap(),
        "powersave\n"
    );
    // Journaled before the write.
    let j = h.journal().unwrap().load().unwrap();
    assert_eq!(j.get(&files[0]).map(String::as_str), Some("schedutil"));
    // Setting it again writes nothing.
    let r = h.set_governor(&cpus("1"), "powersave", OPTS).unwrap();
    assert!(r.changes.is_empty() && r.unchanged.len() == 1);
}

#[test]
fn governor_rejections_leave_the_tree_alone() {
    let (_t, root, state) = sim_host("acpi-cpufreq");
    let h = host(&root, &state);
    rejected(
        &root,
        "one of the governors policy0 offers: conservative, ondemand",
        || h.set_governor(&cpus("all"), "turbo", OPTS),
    );
    rejected(
        &root,
        "invalid CPU '9': an online CPU of this host: 0-3",
        || h.set_governor(&cpus("0,9"), "performance", OPTS),
    );
    rejected(&root, "a name of 1 to 64", || {
        h.set_governor(&cpus("0"), &"x".repeat(5000), OPTS)
    });
    rejected(&root, "a name of 1 to 64", || {
        h.set_governor(&cpus("0"), "perf\nformance", OPTS)
    });
    for bad in ["-1", "0-", "a", "3-1", "18446744073709551615"] {
        let e = CpuSelection::parse(bad).unwrap_err();
        assert!(e.to_string().contains("CPU list"), "{bad}: {e}");
    }
    // dry run validates and plans but writes nothing
    let before = tree_hash(&root);
    let r = h
        .set_governor(
            &cpus("all"),
            "performance",
            SetOptions {
                dry_run: true,
                ..OPTS
            },
        )
        .unwrap();
    assert_eq!(r.changes.len(), 4);
    assert_eq!(tree_hash(&root), before);
    assert!(h.journal().unwrap().load().unwrap().is_empty());
}

#[test]
fn exact_frequency_needs_userspace() {
    let (_t, root, state) = sim_host("acpi-cpufreq");
    let h = host(&root, &state);
    rejected(
        &root,
        "run the 'schedutil' governor; an exact frequency needs 'userspace'",
        || h.set_frequency(&cpus("0"), 1_800_000, OPTS),
    );
    rejected(
        &root,
        "invalid frequency '2200000 kHz': 1200000 to 2101000 kHz",
        || {
            h.set_frequency(
                &cpus("0"),
                2_200_000,
                SetOptions {
                    switch_governor: true,
                    ..OPTS
                },
            )
        },
    );
    rejected(
        &root,
        "invalid frequency '18446744073709551615 kHz'",
        || {
            h.set_frequency(
                &cpus("0"),
                u64::MAX,
                SetOptions {
                    switch_governor: true,
                    ..OPTS
                },
            )
        },
    );
    rejected(&root, "invalid frequency '0 kHz'", || {
        h.set_frequency(
            &cpus("0"),
            0,
            SetOptions {
                switch_governor: true,
                ..OPTS
            },
        )
    });
    let files = changed(&root, || {
        h.set_frequency(
            &cpus("0"),
            1_800_000,
            SetOptions {
                switch_governor: true,
                ..OPTS
            },
        )
        .unwrap();
    });
    assert_eq!(
        files,
        [
            "devices/system/cpu/cpufreq/policy0/scaling_governor",
            "devices/system/cpu/cpufreq/policy0/scaling_setspeed"
        ]
    );
    assert_eq!(
        fs::read_to_string(root.join(&files[1])).unwrap(),
        "1800000\n"
    );
    // Now under userspace, no switch needed.
    h.set_frequency(&cpus("0"), 1_500_000, OPTS).unwrap();
}

#[test]
fn intel_pstate_active_has_no_exact_frequency() {
    let (_t, root, state) = sim_host("intel-pstate-active");
    let h = host(&root, &state);
    rejected(&root, "or switch intel_pstate to passive mode", || {
        h.set_frequency(
            &cpus("0"),
            2_000_000,
            SetOptions {
                switch_governor: true,
                ..OPTS
            },
        )
    });
    // Passive mode has the userspace governor.
    let (_t2, root2, state2) = sim_host("intel-pstate-passive");
    let h2 = host(&root2, &state2);
    h2.set_frequency(
        &cpus("all"),
        2_000_000,
        SetOptions {
            switch_governor: true,
            ..OPTS
        },
    )
    .unwrap();
}

#[test]
fn limits_keep_min_below_max_at_every_step() {
    let (_t, root, state) = sim_host("acpi-cpufreq");
    let h = host(&root, &state);
    // Raise min above the old max? Rejected: min > current max.
    rejected(&root, "a minimum no higher than the maximum", || {
        h.set_frequency_limits(&cpus("0"), Some(2_000_000), Some(1_500_000), OPTS)
    });
    // Lower both below the old min (1.2 GHz is the min; move to 1.2-1.4):
    let r = h
        .set_frequency_limits(&cpus("0"), Some(1_300_000), Some(1_400_000), OPTS)
        .unwrap();
    // new max 1.4 >= old min 1.2: max first.
    assert!(
        r.changes[0].path.ends_with("scaling_max_freq")
            && r.changes[1].path.ends_with("scaling_min_freq")
    );
    // Move the range up (new max above old min): max first again.
    let r = h
        .set_frequency_limits(&cpus("0"), Some(1_900_000), Some(2_000_000), OPTS)
        .unwrap();
    assert!(r.changes[0].path.ends_with("scaling_max_freq"));
    // Move the range down below the current min (1.9 GHz): min first.
    let r = h
        .set_frequency_limits(&cpus("0"), Some(1_200_000), Some(1_500_000), OPTS)
        .unwrap();
    assert!(r.changes[0].path.ends_with("scaling_min_freq"), "{r:?}");
    // Only a max below the current min: rejected.
    h.set_frequency_limits(&cpus("1"), Some(1_800_000), None, OPTS)
        .unwrap();
    rejected(&root, "1800000 kHz > 1500000 kHz", || {
        h.set_frequency_limits(&cpus("1"), None, Some(1_500_000), OPTS)
    });
    rejected(&root, "a minimum, a maximum or both", || {
        h.set_frequency_limits(&cpus("1"), None, None, OPTS)
    });
    rejected(&root, "invalid maximum frequency '3000000 kHz'", || {
        h.set_frequency_limits(&cpus("1"), None, Some(3_000_000), OPTS)
    });
}

#[test]
fn epp_checks_values_and_governor() {
    let (_t, root, state) = sim_host("intel-pstate-active");
    let h = host(&root, &state);
    let files = changed(&root, || {
        h.set_epp(&cpus("0"), "power", OPTS).unwrap();
    });
    assert_eq!(
        files,
        ["devices/system/cpu/cpufreq/policy0/energy_performance_preference"]
    );
    rejected(
        &root,
        "one of the values policy0 offers: default, performance",
        || h.set_epp(&cpus("0"), "fast", OPTS),
    );
    h.set_governor(&cpus("1"), "performance", OPTS).unwrap();
    rejected(&root, "EBUSY", || h.set_epp(&cpus("1"), "power", OPTS));
    let (_t2, root2, state2) = sim_host("acpi-cpufreq");
    let h2 = host(&root2, &state2);
    let e = rejected(&root2, "not supported on this host", || {
        h2.set_epp(&cpus("0"), "power", OPTS)
    });
    assert!(matches!(e, Error::Unsupported { .. }));
    // amd-pstate-epp has EPP too.
    let (_t3, root3, state3) = sim_host("amd-pstate-epp");
    host(&root3, &state3)
        .set_epp(&cpus("all"), "balance_power", OPTS)
        .unwrap();
}

fn epp_file(root: &Path, policy: u32) -> String {
    fs::read_to_string(root.join(format!(
        "devices/system/cpu/cpufreq/policy{policy}/energy_performance_preference"
    )))
    .unwrap()
    .trim_end()
    .to_owned()
}

#[test]
fn epp_default_reads_back_resolved_and_is_applied() {
    let (_t, root, state) = sim_host("intel-pstate-active");
    let h = kernel_host(&root, &state);
    h.set_epp(&cpus("0"), "power", OPTS).unwrap();
    // The kernel stores the firmware's default and shows its name...
    let r = h.set_epp(&cpus("0"), "default", OPTS).unwrap();
    assert_eq!(epp_file(&root, 0), "balance_performance");
    assert_eq!(r.changes.len(), 1, "{}", r.to_text());
    assert_eq!(r.changes[0].read_back, "balance_performance");
    assert!(
        r.to_text()
            .contains("asked default, holds balance_performance"),
        "{}",
        r.to_text()
    );
    // ... or the number, where no name has the value.
    fs::write(
        root.join("devices/system/cpu/cpufreq/policy1/libvirt-power-sim.epp_default"),
        "115\n",
    )
    .unwrap();
    let r = h.set_epp(&cpus("1"), "default", OPTS).unwrap();
    assert_eq!(epp_file(&root, 1), "115");
    assert_eq!(r.changes[0].read_back, "115");
    // The journal keeps the original, and restore puts it back.
    h.restore(&RestoreScope::default(), OPTS).unwrap();
    assert_eq!(epp_file(&root, 0), "balance_performance");
    assert_eq!(epp_file(&root, 1), "balance_performance");
}

#[test]
fn epp_raw_values_are_taken_and_checked() {
    for preset in ["intel-pstate-active", "amd-pstate-epp"] {
        let (_t, root, state) = sim_host(preset);
        let h = kernel_host(&root, &state);
        // A raw value no name has reads back as the number.
        let r = h.set_epp(&cpus("0"), "115", OPTS).unwrap();
        assert_eq!(epp_file(&root, 0), "115", "{preset}");
        assert!(!r.changes[0].clamped(), "{preset}: {}", r.to_text());
        // 128 is balance_performance's value: Intel shows the name,
        // amd-pstate the number; both are accepted.
        let r = h.set_epp(&cpus("0-1"), "128", OPTS).unwrap();
        let shown = epp_file(&root, 1);
        assert!(
            shown == "balance_performance" && preset.starts_with("intel")
                || shown == "128" && preset.starts_with("amd"),
            "{preset}: {shown}"
        );
        assert_eq!(r.changes.len(), 2, "{preset}: {}", r.to_text());
        for bad in ["256", "99999999999999999999999"] {
            rejected(
                &root,
                &format!("'{bad}': a raw value from 0 to 255"),
                || h.set_epp(&cpus("0"), bad, OPTS),
            );
        }
    }
    // acpi-cpufreq has no EPP at all: a raw value out of range is named as
    // such before anything else.
    let (_t, root, state) = sim_host("acpi-cpufreq");
    rejected(&root, "'300': a raw value from 0 to 255", || {
        host(&root, &state).set_epp(&cpus("0"), "300", OPTS)
    });
}

#[test]
fn epp_under_the_performance_governor_is_checked_before_writing() {
    for preset in ["intel-pstate-active", "amd-pstate-epp"] {
        let (_t, root, state) = sim_host(preset);
        let h = kernel_host(&root, &state);
        h.set_governor(&cpus("0-1"), "performance", OPTS).unwrap();
        for value in ["power", "balance_power", "1", "128"] {
            let e = rejected(&root, "'performance' governor", || {
                h.set_epp(&cpus("0-1"), value, OPTS)
            });
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("'{value}'")) && msg.contains("EBUSY"),
                "{preset}: {msg}"
            );
            assert!(matches!(e, Error::InvalidState(_)), "{preset}: {e:?}");
        }
        // EPP 0 is taken, by name or number.
        h.set_epp(&cpus("0"), "performance", OPTS).unwrap();
        h.set_epp(&cpus("1"), "0", OPTS).unwrap();
        // `default` depends on the firmware's value: 0x80 here, so the
        // kernel's EBUSY, named, with policy 0 unchanged.
        let e = rejected(&root, "'default'", || {
            h.set_epp(&cpus("0"), "default", OPTS)
        });
        assert!(e.to_string().contains("'performance' governor"), "{e}");
    }
}

#[test]
fn turbo_uses_the_drivers_knob() {
    for (preset, file, off) in [
        (
            "intel-pstate-active",
            vec!["devices/system/cpu/intel_pstate/no_turbo"],
            "1",
        ),
        (
            "acpi-cpufreq",
            vec!["devices/system/cpu/cpufreq/boost"],
            "0",
        ),
    ] {
        let (_t, root, state) = sim_host(preset);
        let h = host(&root, &state);
        let files = changed(&root, || {
            h.set_turbo(false, OPTS).unwrap();
        });
        assert_eq!(files, file, "{preset}");
        assert_eq!(
            fs::read_to_string(root.join(&files[0])).unwrap().trim(),
            off
        );
    }
    let (_t, root, state) = sim_host("amd-pstate-epp");
    let files = changed(&root, || {
        host(&root, &state).set_turbo(false, OPTS).unwrap();
    });
    assert_eq!(files.len(), 16);
    assert!(files.iter().all(|f| f.ends_with("/boost")));
}

#[test]
fn perf_pct_limits() {
    let (_t, root, state) = sim_host("intel-pstate-active");
    let h = host(&root, &state);
    let files = changed(&root, || {
        h.set_perf_pct(Some(20), Some(80), OPTS).unwrap();
    });
    assert_eq!(
        files,
        [
            "devices/system/cpu/intel_pstate/max_perf_pct",
            "devices/system/cpu/intel_pstate/min_perf_pct"
        ]
    );
    rejected(
        &root,
        "invalid maximum performance percent '101': 0 to 100",
        || h.set_perf_pct(None, Some(101), OPTS),
    );
    rejected(&root, "'90-80'", || h.set_perf_pct(Some(90), None, OPTS));
    fs::write(root.join("devices/system/cpu/intel_pstate/status"), "off\n").unwrap();
    rejected(&root, "not registered", || {
        h.set_perf_pct(Some(30), None, OPTS)
    });
    let (_t2, root2, state2) = sim_host("acpi-cpufreq");
    rejected(&root2, "not supported on this host", || {
        host(&root2, &state2).set_perf_pct(Some(30), None, OPTS)
    });
}

#[test]
fn rapl_limits_validate_against_the_zone() {
    let (_t, root, state) = sim_host("two-socket");
    let h = host(&root, &state);
    let files = changed(&root, || {
        h.set_rapl_limit(
            "package-1",
            "long_term",
            Some(120_000_000),
            Some(500_000),
            OPTS,
        )
        .unwrap();
    });
    assert_eq!(
        files,
        [
            "devices/virtual/powercap/intel-rapl/intel-rapl:1/constraint_0_power_limit_uw",
            "devices/virtual/powercap/intel-rapl/intel-rapl:1/constraint_0_time_window_us"
        ]
    );
    rejected(
        &root,
        "invalid power limit '4095875001 uW': 1 to 4095875000 uW for package-0 long_term (the range of its intel-rapl register field)",
        || h.set_rapl_limit("package-0", "long_term", Some(4_095_875_001), None, OPTS),
    );
    rejected(&root, "invalid power limit '0 uW'", || {
        h.set_rapl_limit("package-0", "long_term", Some(0), None, OPTS)
    });
    rejected(
        &root,
        "invalid power limit '18446744073709551615 uW'",
        || h.set_rapl_limit("package-0", "long_term", Some(u64::MAX), None, OPTS),
    );
    rejected(&root, "the range of its intel-rapl register field", || {
        h.set_rapl_limit("package-0", "short_term", Some(5_000_000_000), None, OPTS)
    });
    rejected(&root, "invalid time window '0 us'", || {
        h.set_rapl_limit("package-0", "long_term", None, Some(0), OPTS)
    });
    rejected(
        &root,
        "invalid RAPL zone 'package-7': one of: package-0, package-0/core",
        || h.set_rapl_limit("package-7", "long_term", Some(1), None, OPTS),
    );
    rejected(
        &root,
        "one of zone package-0's constraints: long_term, short_term",
        || h.set_rapl_limit("package-0", "peak_power", Some(1), None, OPTS),
    );
    // dram subzone by key
    h.set_rapl_limit("package-0/dram", "long_term", Some(20_000_000), None, OPTS)
        .unwrap();
    // zone with no constraints
    let (_t2, root2, state2) = sim_host("amd-pstate-epp");
    rejected(&root2, "zone package-0 has no constraints", || {
        host(&root2, &state2).set_rapl_limit("package-0", "long_term", Some(1), None, OPTS)
    });
}

#[test]
fn rapl_enable() {
    let (_t, root, state) = sim_host("intel-pstate-passive");
    let h = host(&root, &state);
    let files = changed(&root, || {
        h.set_rapl_enabled("psys", false, OPTS).unwrap();
    });
    assert_eq!(
        files,
        ["devices/virtual/powercap/intel-rapl/intel-rapl:1/enabled"]
    );
    let r = h
        .set_rapl_limit("psys", "long_term", Some(50_000_000), None, OPTS)
        .unwrap();
    assert!(r.notes.iter().any(|n| n.contains("psys is disabled")));
}

#[test]
fn bios_locked_zone_answers_eacces() {
    let (_t, root, state) = sim_host("bios-locked");
    let before = tree_hash(&root);
    let r = root.clone();
    let err = without_dac_override(move || {
        Host::new(SysfsRoot::new(&r), Some(state))
            .unwrap()
            .set_rapl_limit(
                "package-0",
                "long_term",
                Some(30_000_000),
                Some(1_000_000),
                OPTS,
            )
    })
    .unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked"), "{err}");
    assert_eq!(tree_hash(&root), before);
}

#[test]
fn failing_third_write_rolls_back_every_cpu() {
    let (_t, root, state) = sim_host("acpi-cpufreq");
    let victim = root.join("devices/system/cpu/cpufreq/policy2/scaling_governor");
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o444)).unwrap();
    let before = tree_hash(&root);
    let listing = tree(&root);
    let (r, s) = (root.clone(), state.clone());
    let err = without_dac_override(move || {
        Host::new(SysfsRoot::new(&r), Some(s))
            .unwrap()
            .set_governor(&CpuSelection::All, "performance", OPTS)
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("policy2/scaling_governor"),
        "{err}"
    );
    assert_eq!(
        tree_hash(&root),
        before,
        "not rolled back: {:?}",
        diff(&listing, &tree(&root))
    );
    // Same for a multi-field change: limits on all CPUs, third file fails.
    let victim = root.join("devices/system/cpu/cpufreq/policy1/scaling_max_freq");
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o444)).unwrap();
    let before = tree_hash(&root);
    let (r, s) = (root.clone(), state.clone());
    without_dac_override(move || {
        Host::new(SysfsRoot::new(&r), Some(s))
            .unwrap()
            .set_frequency_limits(&CpuSelection::All, Some(1_300_000), Some(1_900_000), OPTS)
    })
    .unwrap_err();
    assert_eq!(tree_hash(&root), before);
}

#[test]
fn smt_siblings_are_reported_and_optionally_included() {
    let (_t, root, state) = sim_host("two-socket");
    let h = host(&root, &state);
    let opts = SetOptions {
        switch_governor: true,
        ..OPTS
    };
    let r = h.set_frequency(&cpus("0"), 2_000_000, opts).unwrap();
    assert_eq!(r.siblings_not_set, BTreeSet::from([16]));
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("SMT siblings 16 were not set"))
    );
    let files = changed(&root, || {
        let r = h
            .set_frequency(
                &cpus("1"),
                2_000_000,
                SetOptions {
                    include_siblings: true,
                    ..opts
                },
            )
            .unwrap();
        assert!(r.siblings_not_set.is_empty());
    });
    assert_eq!(files.len(), 4, "{files:?}"); // governor + setspeed of policy1 and policy17
    assert!(files.iter().any(|f| f.contains("policy17/")));
}

#[test]
fn shared_policies_are_written_once_and_reported() {
    let mut spec = SimSpec::preset("acpi-cpufreq", None).unwrap();
    spec.cpus_per_policy = 2;
    let (_t, root, state) = sim_spec_host(&spec);
    let h = host(&root, &state);
    let r = h.set_governor(&cpus("0,2"), "performance", OPTS).unwrap();
    assert_eq!(r.changes.len(), 1, "{r:?}");
    let r = h.set_governor(&cpus("1"), "performance", OPTS).unwrap();
    assert!(r.notes.iter().any(|n| n.contains("policy1 is shared by CPUs 1,3: the change also applies to CPUs 3")), "{r:?}");
}

#[test]
fn restore_returns_every_byte() {
    for preset in [
        "acpi-cpufreq",
        "intel-pstate-active",
        "two-socket",
        "amd-pstate-epp",
    ] {
        let (_t, root, state) = sim_host(preset);
        let original = tree(&root);
        let h = host(&root, &state);
        let o = SetOptions {
            switch_governor: true,
            ..OPTS
        };
        let _ = h.set_frequency(&cpus("0-1"), 2_000_000, o);
        let _ = h.set_governor(&cpus("2"), "performance", OPTS);
        let _ = h.set_frequency_limits(&cpus("all"), Some(1_300_000), Some(1_900_000), OPTS);
        let _ = h.set_epp(&cpus("3"), "power", OPTS);
        let _ = h.set_turbo(false, OPTS);
        let _ = h.set_perf_pct(Some(50), Some(60), OPTS);
        let _ = h.set_rapl_limit(
            "package-0",
            "long_term",
            Some(10_000_000),
            Some(100_000),
            OPTS,
        );
        let _ = h.set_rapl_enabled("package-0", false, OPTS);
        sim::settle(&root).unwrap();
        assert_ne!(
            diff(&original, &tree(&root)),
            Vec::<String>::new(),
            "{preset}"
        );
        // Restore one knob class, then one CPU, then the rest.
        h.restore(
            &RestoreScope {
                knob: Some(Knob::Turbo),
                ..Default::default()
            },
            OPTS,
        )
        .unwrap();
        h.restore(
            &RestoreScope {
                cpus: Some(cpus("0")),
                ..Default::default()
            },
            OPTS,
        )
        .unwrap();
        h.restore(&RestoreScope::default(), OPTS).unwrap();
        sim::settle(&root).unwrap();
        assert_eq!(
            diff(&original, &tree(&root)),
            Vec::<String>::new(),
            "{preset}"
        );
        assert!(h.journal().unwrap().load().unwrap().is_empty());
    }
}

#[test]
fn journal_refuses_another_root() {
    let (_t, root, state) = sim_host("acpi-cpufreq");
    host(&root, &state)
        .set_governor(&cpus("0"), "performance", OPTS)
        .unwrap();
    let err = Host::new(SysfsRoot::new("/elsewhere"), Some(state)).unwrap_err();
    assert!(
        err.to_string().contains("was written for sysfs root"),
        "{err}"
    );
}

#[test]
fn host_without_cpufreq_is_unsupported() {
    let t = common::TempDir::new("bare");
    let root = t.path().join("sys");
    fs::create_dir_all(root.join("devices/system/cpu")).unwrap();
    fs::write(root.join("devices/system/cpu/online"), "0-1\n").unwrap();
    let h = Host::new(SysfsRoot::new(&root), None).unwrap();
    assert!(matches!(
        h.set_governor(&cpus("0"), "performance", OPTS),
        Err(Error::Unsupported { .. })
    ));
    let snap = h.snapshot().unwrap();
    assert!(snap.cpufreq.policies.is_empty() && snap.zones.is_empty());
    assert!(matches!(
        h.restore(&RestoreScope::default(), OPTS),
        Err(Error::InvalidState(_))
    ));
}

#[test]
fn all_skips_online_cpus_without_cpufreq_and_says_which() {
    let (_t, root, state) = sim_host("acpi-cpufreq");
    // CPU 3 is online but has no cpufreq: no policy, no link.
    fs::remove_file(root.join("devices/system/cpu/cpu3/cpufreq")).unwrap();
    fs::remove_dir_all(root.join("devices/system/cpu/cpufreq/policy3")).unwrap();
    let h = kernel_host(&root, &state);
    let all = cpus("all");
    let mut reports = vec![
        h.set_governor(&all, "userspace", OPTS).unwrap(),
        h.set_frequency(&all, 1_800_000, OPTS).unwrap(),
        h.set_frequency_limits(&all, Some(1_300_000), None, OPTS)
            .unwrap(),
    ];
    reports.push(
        h.set_governor(
            &all,
            "performance",
            SetOptions {
                dry_run: true,
                ..OPTS
            },
        )
        .unwrap(),
    );
    for r in &reports {
        assert_eq!(r.changes.len(), 3, "{}", r.to_text());
        assert!(
            r.to_text().contains("CPU 3 has no cpufreq policy: skipped"),
            "{}",
            r.to_text()
        );
        assert_eq!(r.cpus_skipped, BTreeSet::from([3]));
    }
    // Named, it is an error that names it.
    rejected(&root, "cpu3/cpufreq", || {
        h.set_governor(&cpus("2-3"), "performance", OPTS)
    });
}

#[test]
fn boost_skips_inactive_policies_through_the_kernel() {
    // acpi-cpufreq: the global boost, with CPU 2 (its own policy) offline.
    let spec = SimSpec {
        offline: BTreeSet::from([2]),
        ..SimSpec::preset("acpi-cpufreq", None).unwrap()
    };
    let (_t, root, state) = sim_spec_host(&spec);
    let h = kernel_host(&root, &state);
    let r = h.set_turbo(false, OPTS).unwrap();
    assert_eq!(r.changes.len(), 1, "{}", r.to_text());
    assert_eq!(r.changes[0].path, "devices/system/cpu/cpufreq/boost");
    // amd-pstate-epp: per-policy boost; the inactive policy is skipped.
    let spec = SimSpec {
        offline: BTreeSet::from([3]),
        ..SimSpec::preset("amd-pstate-epp", None).unwrap()
    };
    let (_t2, root2, state2) = sim_spec_host(&spec);
    let h2 = kernel_host(&root2, &state2);
    let r = h2.set_turbo(false, OPTS).unwrap();
    assert_eq!(r.changes.len(), 15, "{}", r.to_text());
    assert!(r.to_text().contains("policy3"), "{}", r.to_text());
    h2.restore(&RestoreScope::default(), OPTS).unwrap();
}

// --- Issue 11 (hardening): RAPL journal keys, limits, TPMI, restore ---

const RAPL_DIR: &str = "devices/virtual/powercap/intel-rapl";

fn zone_limit_uw(h: &Host, key: &str) -> u64 {
    let zones = libvirt_power::rapl::read_zones(h.sysfs()).unwrap();
    libvirt_power::rapl::find_zone(&zones, key)
        .unwrap()
        .constraint("long_term")
        .unwrap()
        .power_limit_uw
}

/// Renumbers two top-level zones the way a driver reload or a package
/// going offline and back can: the zone that was `intel-rapl:a` is found
/// at `intel-rapl:b` and the other way round (their files are swapped).
fn swap_zone_files(root: &Path, a: u32, b: u32) {
    let da = root.join(format!("{RAPL_DIR}/intel-rapl:{a}"));
    let db = root.join(format!("{RAPL_DIR}/intel-rapl:{b}"));
    for entry in fs::read_dir(&da).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_file() {
            continue;
        }
        let name = entry.file_name();
        let (fa, fb) = (da.join(&name), db.join(&name));
        let (ca, cb) = (fs::read(&fa).unwrap(), fs::read(&fb).unwrap());
        let (ma, mb) = (
            fs::metadata(&fa).unwrap().permissions(),
            fs::metadata(&fb).unwrap().permissions(),
        );
        fs::set_permissions(&fa, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&fb, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&fa, cb).unwrap();
        fs::write(&fb, ca).unwrap();
        fs::set_permissions(&fa, mb).unwrap();
        fs::set_permissions(&fb, ma).unwrap();
    }
}

#[test]
fn rapl_restore_follows_the_zone_name_after_renumbering() {
    let (_t, root, state) = sim_host("two-socket");
    // package-1's firmware limit differs from package-0's.
    fs::write(
        root.join(format!(
            "{RAPL_DIR}/intel-rapl:1/constraint_0_power_limit_uw"
        )),
        "140000000\n",
    )
    .unwrap();
    let h = host(&root, &state);
    h.set_rapl_limit("package-1", "long_term", Some(100_000_000), None, OPTS)
        .unwrap();
    assert_eq!(zone_limit_uw(&h, "package-1"), 100_000_000);
    swap_zone_files(&root, 0, 1);
    assert_eq!(zone_limit_uw(&h, "package-1"), 100_000_000);
    assert_eq!(zone_limit_uw(&h, "package-0"), 150_000_000);
    h.restore(&RestoreScope::default(), OPTS).unwrap();
    assert_eq!(
        zone_limit_uw(&h, "package-1"),
        140_000_000,
        "package-1 not restored"
    );
    assert_eq!(
        zone_limit_uw(&h, "package-0"),
        150_000_000,
        "package-0 was written"
    );
    assert!(h.journal().unwrap().load().unwrap().is_empty());
}

fn write_journal(state: &Path, root: &Path, lines: &[&str]) {
    fs::create_dir_all(state).unwrap();
    let mut text = format!(
        "# libvirt-power original state v1\nroot\t{}\n",
        root.display()
    );
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    fs::write(state.join("original-state"), text).unwrap();
}

#[test]
fn journal_keys_are_checked_and_nothing_is_written_outside_the_root() {
    let (t, root, state) = sim_host("acpi-cpufreq");
    let outside = t.path().join("outside");
    fs::write(&outside, "precious\n").unwrap();
    for bad in [
        "../outside",
        "devices/system/cpu/cpufreq/policy0/../../../../../outside",
        "class/powercap/intel-rapl:0/../../../../outside",
        "rapl:../outside/enabled",
        "rapl:package-0/../../../outside",
        "devices/system/cpu/cpu0/online",
        "etc/passwd",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("{}", outside.display())])
    {
        write_journal(&state, &root, &[&format!("{bad}\tpwned")]);
        let before = tree_hash(&root);
        let err = match Host::new(SysfsRoot::new(&root), Some(state.clone())) {
            Ok(h) => h
                .restore(&RestoreScope::default(), OPTS)
                .map(|r| format!("{r:?}"))
                .expect_err(&format!("'{bad}' was restored")),
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(msg.contains(&format!("'{bad}'")), "{msg}");
        assert!(msg.contains("original-state"), "{msg}");
        assert_eq!(fs::read_to_string(&outside).unwrap(), "precious\n", "{bad}");
        assert_eq!(tree_hash(&root), before, "{bad}");
    }
}

#[test]
fn version_1_journals_are_read_by_index_path() {
    let (_t, root, state) = sim_host("two-socket");
    // What the previous version recorded: a limit of the zone at index 1
    // (package-1 here) and one of a zone that is gone since.
    write_journal(
        &state,
        &root,
        &[
            "class/powercap/intel-rapl:1/constraint_0_power_limit_uw\t140000000",
            "class/powercap/intel-rapl:7/enabled\t1",
            "devices/system/cpu/cpufreq/policy0/scaling_governor\tperformance",
        ],
    );
    let h = host(&root, &state);
    let r = h.restore(&RestoreScope::default(), OPTS).unwrap();
    assert_eq!(zone_limit_uw(&h, "package-1"), 140_000_000);
    assert_eq!(
        h.sysfs()
            .read("devices/system/cpu/cpufreq/policy0/scaling_governor")
            .unwrap(),
        "performance"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("class/powercap/intel-rapl:7/enabled")
                && n.contains("kept in the journal")
                && n.contains("no zone is at class/powercap/intel-rapl:7")),
        "{r:?}"
    );
    let left = h.journal().unwrap().load().unwrap();
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        ["class/powercap/intel-rapl:7/enabled"]
    );
}

#[test]
fn restore_keeps_the_entries_of_offline_cpus() {
    let (_t, root, state) = sim_host("acpi-cpufreq");
    let original = tree(&root);
    let h = host(&root, &state);
    h.set_governor(&cpus("all"), "performance", OPTS).unwrap();
    // CPU 2 goes offline: its policy is inactive, its files answer EBUSY.
    fs::write(root.join("devices/system/cpu/cpu2/online"), "0\n").unwrap();
    sim::settle(&root).unwrap();
    let gov = |p: u32| format!("devices/system/cpu/cpufreq/policy{p}/scaling_governor");
    // Restoring the offline CPU alone neither fails nor writes.
    let r = h
        .restore(
            &RestoreScope {
                cpus: Some(cpus("2")),
                ..Default::default()
            },
            OPTS,
        )
        .unwrap();
    assert!(r.changes.is_empty(), "{r:?}");
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains(&gov(2)) && n.contains("EBUSY")),
        "{r:?}"
    );
    // Restoring everything restores the others and keeps CPU 2's.
    let r = h.restore(&RestoreScope::default(), OPTS).unwrap();
    assert_eq!(r.changes.len(), 3, "{r:?}");
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains(&gov(2)) && n.contains("kept in the journal")),
        "{r:?}"
    );
    assert_eq!(
        h.journal()
            .unwrap()
            .load()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        [&gov(2)]
    );
    // Back online, the kept entry is restored.
    fs::write(root.join("devices/system/cpu/cpu2/online"), "1\n").unwrap();
    sim::settle(&root).unwrap();
    let r = h.restore(&RestoreScope::default(), OPTS).unwrap();
    assert_eq!(r.changes.len(), 1, "{r:?}");
    assert!(h.journal().unwrap().load().unwrap().is_empty());
    assert_eq!(diff(&original, &tree(&root)), Vec::<String>::new());
}

#[test]
fn rapl_limit_above_tdp_is_accepted_with_a_note() {
    let (_t, root, state) = sim_host("two-socket");
    let h = host(&root, &state);
    // max_power_uw of PL1 is the 150 W TDP; the 15-bit field holds 4095.875 W.
    let r = h
        .set_rapl_limit("package-0", "long_term", Some(200_000_000), None, OPTS)
        .unwrap();
    assert_eq!(zone_limit_uw(&h, "package-0"), 200_000_000);
    assert!(
        r.notes.iter().any(|n| n.contains("200000000 uW")
            && n.contains(
                "above its max_power_uw, the thermal design power (TDP) of 150000000 uW"
            )),
        "{r:?}"
    );
    let r = h
        .set_rapl_limit("package-0", "long_term", Some(4_095_875_000), None, OPTS)
        .unwrap();
    assert_eq!(r.changes.len(), 1);
    rejected(
        &root,
        "'4095875001 uW': 1 to 4095875000 uW for package-0 long_term",
        || h.set_rapl_limit("package-0", "long_term", Some(4_095_875_001), None, OPTS),
    );
    // At or below the TDP: no note.
    let r = h
        .set_rapl_limit("package-0", "long_term", Some(100_000_000), None, OPTS)
        .unwrap();
    assert!(r.notes.is_empty(), "{r:?}");
}

#[test]
fn rapl_limit_and_enable_are_all_or_nothing() {
    let (_t, root, state) = sim_host("two-socket");
    limit_window_and_switch_in_one_transaction(&root, &state);
}

fn limit_window_and_switch_in_one_transaction(root: &Path, state: &Path) {
    // package-0's enabled switch cannot be written: the limit written
    // before it must be put back.
    let enabled = root.join(format!("{RAPL_DIR}/intel-rapl:0/enabled"));
    fs::set_permissions(&enabled, fs::Permissions::from_mode(0o444)).unwrap();
    let before = tree_hash(root);
    let listing = tree(root);
    let (r, s) = (root.to_owned(), state.to_owned());
    let err = without_dac_override(move || {
        host(&r, &s).set_rapl(
            "package-0",
            "long_term",
            Some(90_000_000),
            Some(500_000),
            Some(false),
            OPTS,
        )
    })
    .unwrap_err();
    assert!(err.to_string().contains("enabled"), "{err}");
    assert_eq!(
        tree_hash(root),
        before,
        "not rolled back: {:?}",
        diff(&listing, &tree(root))
    );
    // Writable again: both land in one call, limit before switch.
    fs::set_permissions(&enabled, fs::Permissions::from_mode(0o644)).unwrap();
    let h = host(root, state);
    let r = h
        .set_rapl(
            "package-0",
            "long_term",
            Some(90_000_000),
            None,
            Some(false),
            OPTS,
        )
        .unwrap();
    let paths: Vec<&str> = r.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "class/powercap/intel-rapl:0/constraint_0_power_limit_uw",
            "class/powercap/intel-rapl:0/enabled"
        ]
    );
    assert!(r.notes.iter().any(|n| n.contains("is disabled")), "{r:?}");
    // An invalid limit leaves the switch alone too.
    rejected(root, "invalid power limit '0 uW'", || {
        h.set_rapl("package-0", "long_term", Some(0), None, Some(true), OPTS)
    });
}

#[test]
fn tpmi_and_die_zones_are_discovered_and_set() {
    let (_t, root, state) = sim_host("xeon6");
    let h = host(&root, &state);
    let zones = libvirt_power::rapl::read_zones(h.sysfs()).unwrap();
    let by_key = |k: &str| libvirt_power::rapl::find_zone(&zones, k).unwrap();
    assert_eq!(by_key("package-1-die-0").package, Some(1));
    assert_eq!(by_key("package-0-die-1").package, Some(0));
    let t1 = by_key("tpmi:package-1");
    assert_eq!(t1.package, Some(1));
    assert_eq!(t1.control_type, "intel-rapl-tpmi");
    assert_eq!(by_key("tpmi:package-1/dram").package, Some(1));
    // The TPMI field is 18 bits: 5000 W fits there, not in an MSR one.
    let r = h
        .set_rapl_limit(
            "tpmi:package-1",
            "long_term",
            Some(5_000_000_000),
            None,
            OPTS,
        )
        .unwrap();
    assert!(r.notes.iter().any(|n| n.contains("TDP")), "{r:?}");
    rejected(
        &root,
        "1 to 4095875000 uW for package-1-die-0 long_term",
        || {
            h.set_rapl_limit(
                "package-1-die-0",
                "long_term",
                Some(5_000_000_000),
                None,
                OPTS,
            )
        },
    );
    rejected(
        &root,
        "1 to 32767875000 uW for tpmi:package-1 long_term",
        || {
            h.set_rapl_limit(
                "tpmi:package-1",
                "long_term",
                Some(32_767_875_001),
                None,
                OPTS,
            )
        },
    );
    h.restore(&RestoreScope::default(), OPTS).unwrap();
    assert_eq!(zone_limit_uw(&h, "tpmi:package-1"), 350_000_000);
}
