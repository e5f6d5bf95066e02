// SPDX-License-Identifier: LGPL-2.1-or-later
//! Writes a simulated host's sysfs tree: the kernel's files, contents,
//! units, modes and symlinks for a [`SimSpec`].

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::spec::{Driver, SimSpec, ZoneSpec};
use crate::cpulist::format_cpulist;

fn write(path: &Path, content: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, format!("{content}\n"))
}

fn write_mode(path: &Path, content: &str, mode: u32) -> io::Result<()> {
    write(path, content)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Writes the tree of `spec` under `root` (which must not exist or be
/// empty).
pub fn generate(root: &Path, spec: &SimSpec) -> io::Result<()> {
    if root.exists() && fs::read_dir(root)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not empty", root.display()),
        ));
    }
    let n = spec.cpu_count();
    let cpu_dir = root.join("devices/system/cpu");
    let all = format!("0-{}", n - 1);
    for f in ["online", "possible", "present"] {
        write(&cpu_dir.join(f), &all)?;
    }
    write(&cpu_dir.join("offline"), "")?;
    write(&cpu_dir.join("kernel_max"), "8191")?;
    write(&root.join("libvirt-power-sim"), &spec.name)?;

    let (driver, governors, governor) = match spec.driver {
        Driver::AcpiCpufreq => (
            "acpi-cpufreq",
            "conservative ondemand userspace powersave performance schedutil",
            "schedutil",
        ),
        Driver::IntelPstateActive => ("intel_pstate", "performance powersave", "powersave"),
        Driver::IntelPstatePassive => (
            "intel_cpufreq",
            "conservative ondemand userspace powersave performance schedutil",
            "schedutil",
        ),
        Driver::AmdPstateEpp => ("amd-pstate-epp", "performance powersave", "powersave"),
    };
    let epp = matches!(
        spec.driver,
        Driver::IntelPstateActive | Driver::AmdPstateEpp
    );

    for cpu in 0..n {
        let d = cpu_dir.join(format!("cpu{cpu}"));
        let (pkg, core, _thread) = spec.place(cpu);
        let sib: std::collections::BTreeSet<u32> = spec.siblings(cpu).into_iter().collect();
        let pkg_cpus: std::collections::BTreeSet<u32> =
            (0..n).filter(|c| spec.place(*c).0 == pkg).collect();
        if cpu != 0 {
            write(&d.join("online"), "1")?;
        }
        let t = d.join("topology");
        write(&t.join("physical_package_id"), &pkg.to_string())?;
        write(&t.join("die_id"), "0")?;
        write(&t.join("core_id"), &core.to_string())?;
        write(&t.join("cluster_id"), &core.to_string())?;
        write(&t.join("core_cpus_list"), &format_cpulist(&sib))?;
        write(&t.join("thread_siblings_list"), &format_cpulist(&sib))?;
        write(&t.join("package_cpus_list"), &format_cpulist(&pkg_cpus))?;
        write(&t.join("core_siblings_list"), &format_cpulist(&pkg_cpus))?;
        let policy = spec.policy_of(cpu);
        symlink(format!("../cpufreq/policy{policy}"), d.join("cpufreq"))?;
    }

    let freq_dir = cpu_dir.join("cpufreq");
    let mut policies: Vec<u32> = (0..n).map(|c| spec.policy_of(c)).collect();
    policies.sort_unstable();
    policies.dedup();
    for p in policies {
        let d = freq_dir.join(format!("policy{p}"));
        let cpus: std::collections::BTreeSet<u32> =
            (0..n).filter(|c| spec.policy_of(*c) == p).collect();
        let list = format_cpulist(&cpus);
        write(
            &d.join("affected_cpus"),
            &cpus
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        )?;
        write(
            &d.join("related_cpus"),
            &cpus
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        )?;
        let _ = list;
        write(&d.join("cpuinfo_min_freq"), &spec.min_khz.to_string())?;
        write(&d.join("cpuinfo_max_freq"), &spec.max_khz.to_string())?;
        write(
            &d.join("cpuinfo_transition_latency"),
            if epp { "0" } else { "20000" },
        )?;
        write(&d.join("scaling_driver"), driver)?;
        write(&d.join("scaling_governor"), governor)?;
        write(&d.join("scaling_available_governors"), governors)?;
        write(&d.join("scaling_min_freq"), &spec.min_khz.to_string())?;
        write(&d.join("scaling_max_freq"), &spec.max_khz.to_string())?;
        write(&d.join("scaling_cur_freq"), &spec.base_khz.to_string())?;
        write(&d.join("scaling_setspeed"), "<unsupported>")?;
        write_mode(
            &d.join("cpuinfo_cur_freq"),
            &spec.base_khz.to_string(),
            0o400,
        )?;
        match spec.driver {
            Driver::AcpiCpufreq => {
                let mut freqs = vec![spec.max_khz];
                let mut f = spec.base_khz;
                while f >= spec.min_khz {
                    freqs.push(f);
                    f -= 100_000;
                }
                write(
                    &d.join("scaling_available_frequencies"),
                    &freqs
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                )?;
                write(&d.join("bios_limit"), &spec.max_khz.to_string())?;
            }
            Driver::IntelPstateActive | Driver::IntelPstatePassive => {
                write(&d.join("base_frequency"), &spec.base_khz.to_string())?;
            }
            Driver::AmdPstateEpp => {
                write(&d.join("boost"), "1")?;
                write(&d.join("amd_pstate_max_freq"), &spec.max_khz.to_string())?;
                write(&d.join("amd_pstate_lowest_nonlinear_freq"), "1800000")?;
                write(&d.join("amd_pstate_highest_perf"), "166")?;
                write(&d.join("amd_pstate_prefcore_ranking"), "166")?;
            }
        }
        if epp {
            write(
                &d.join("energy_performance_preference"),
                "balance_performance",
            )?;
            write(
                &d.join("energy_performance_available_preferences"),
                "default performance balance_performance balance_power power",
            )?;
        }
    }
    match spec.driver {
        Driver::AcpiCpufreq => write(&freq_dir.join("boost"), "1")?,
        Driver::IntelPstateActive | Driver::IntelPstatePassive => {
            let ip = cpu_dir.join("intel_pstate");
            let active = spec.driver == Driver::IntelPstateActive;
            write(
                &ip.join("status"),
                if active { "active" } else { "passive" },
            )?;
            if spec.turbo_locked {
                write_mode(&ip.join("no_turbo"), "1", 0o444)?;
            } else {
                write(&ip.join("no_turbo"), "0")?;
            }
            write(&ip.join("max_perf_pct"), "100")?;
            let min_pct = (spec.min_khz * 100).div_ceil(spec.max_khz);
            write(&ip.join("min_perf_pct"), &min_pct.to_string())?;
            let pstates = spec.max_khz / 100_000 - spec.min_khz / 100_000 + 1;
            let turbo = (spec.max_khz - spec.base_khz) / 100_000;
            write(&ip.join("num_pstates"), &pstates.to_string())?;
            write(&ip.join("turbo_pct"), &(turbo * 100 / pstates).to_string())?;
            if active {
                write(&ip.join("hwp_dynamic_boost"), "0")?;
            }
        }
        Driver::AmdPstateEpp => {
            write(&cpu_dir.join("amd_pstate/status"), "active")?;
            write(&cpu_dir.join("amd_pstate/prefcore"), "enabled")?;
        }
    }

    let class = root.join("class/powercap");
    fs::create_dir_all(&class)?;
    for (ctype, zones) in [
        ("intel-rapl", &spec.zones),
        ("intel-rapl-mmio", &spec.mmio_zones),
    ] {
        if zones.is_empty() {
            continue;
        }
        let base = root.join("devices/virtual/powercap").join(ctype);
        write(&base.join("enabled"), "1")?;
        symlink(
            format!("../../devices/virtual/powercap/{ctype}"),
            class.join(ctype),
        )?;
        for (i, zone) in zones.iter().enumerate() {
            gen_zone(
                &base,
                &class,
                ctype,
                &format!("{i}"),
                zone,
                &format!("../../devices/virtual/powercap/{ctype}"),
            )?;
        }
    }

    if spec.power_pmu {
        let pmu = root.join("bus/event_source/devices/power");
        write(&pmu.join("type"), "23")?;
        let firsts: Vec<String> = (0..spec.packages)
            .map(|p| {
                (0..n)
                    .find(|c| spec.place(*c).0 == p)
                    .unwrap_or(0)
                    .to_string()
            })
            .collect();
        write(&pmu.join("cpumask"), &firsts.join(","))?;
        write(&pmu.join("format/event"), "config:0-7")?;
        let mut events = vec![
            ("energy-cores", "0x01"),
            ("energy-pkg", "0x02"),
            ("energy-ram", "0x03"),
        ];
        if spec.zones.iter().any(|z| z.name == "psys") {
            events.push(("energy-psys", "0x05"));
        }
        for (ev, code) in events {
            write(&pmu.join(format!("events/{ev}")), &format!("event={code}"))?;
            write(
                &pmu.join(format!("events/{ev}.scale")),
                "2.3283064365386962890625e-10",
            )?;
            write(&pmu.join(format!("events/{ev}.unit")), "Joules")?;
        }
    }
    Ok(())
}

fn gen_zone(
    parent: &Path,
    class: &Path,
    ctype: &str,
    idx: &str,
    zone: &ZoneSpec,
    link_base: &str,
) -> io::Result<()> {
    let entry = format!("{ctype}:{idx}");
    let d = parent.join(&entry);
    write(&d.join("name"), &zone.name)?;
    write(&d.join("enabled"), "1")?;
    write_mode(&d.join("energy_uj"), "0", 0o400)?;
    write(&d.join("max_energy_range_uj"), "262143328850")?;
    let lim_mode = if zone.locked { 0o444 } else { 0o644 };
    for (k, (name, limit, window, max)) in zone.constraints.iter().enumerate() {
        write_mode(&d.join(format!("constraint_{k}_name")), name, 0o444)?;
        write_mode(
            &d.join(format!("constraint_{k}_power_limit_uw")),
            &limit.to_string(),
            lim_mode,
        )?;
        if *window > 0 {
            write_mode(
                &d.join(format!("constraint_{k}_time_window_us")),
                &window.to_string(),
                lim_mode,
            )?;
        }
        if *max > 0 {
            write_mode(
                &d.join(format!("constraint_{k}_max_power_uw")),
                &max.to_string(),
                0o444,
            )?;
        }
    }
    let link = format!("{link_base}/{entry}");
    symlink(&link, class.join(&entry))?;
    for (j, child) in zone.children.iter().enumerate() {
        gen_zone(&d, class, ctype, &format!("{idx}:{j}"), child, &link)?;
    }
    Ok(())
}
