// SPDX-License-Identifier: LGPL-2.1-or-later
//! Writes a simulated host's sysfs tree: the kernel's files, contents,
//! units, modes and symlinks for a [`SimSpec`]; and rewrites the files
//! that follow from the CPUs' hotplug state ([`write_cpu_state`]), at
//! generation and after every hotplug write.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::kernel::{CpuPlace, Cpus, SmtControl};
use super::spec::{Driver, SimSpec, ZoneSpec};
use crate::cpulist::format_cpulist;

/// The simulator's record of what the kernel keeps in memory about the
/// CPUs ([`Cpus::record`]), beside the `libvirt-power-sim` marker at the
/// tree's root. Not a kernel file: the kernel keeps this state in memory.
pub const CPU_RECORD: &str = "libvirt-power-sim.cpus";

/// The suffix of the temporary files of an atomic replacement; a view of
/// the tree hides them.
pub const TMP_SUFFIX: &str = ".sim-tmp";

/// Where the CPU directories live, relative to the root.
const CPU_DIR: &str = "devices/system/cpu";

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

/// Replaces a file's content with `content` and a newline, atomically
/// (readers never see it half written), keeping its mode; no write when
/// the content is already there. The file must exist.
pub fn replace(path: &Path, content: &str) -> io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let content = format!("{content}\n");
    if fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(());
    }
    let mode = fs::metadata(path)?.permissions().mode();
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(
        ".{}-{}{TMP_SUFFIX}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let res = fs::write(&tmp, content.as_bytes())
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)))
        .and_then(|()| fs::rename(&tmp, path));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// [`replace`], or a new file (and its directories) where there is none.
fn put(path: &Path, content: &str) -> io::Result<()> {
    if path.exists() {
        replace(path, content)
    } else {
        write(path, content)
    }
}

/// The CPUs of `spec` as the hotplug rules see them at boot.
fn boot_cpus(spec: &SimSpec) -> io::Result<Cpus> {
    let n = spec.cpu_count();
    if let Some(bad) = spec.offline.iter().find(|c| **c == 0 || **c >= n) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "CPU {bad} cannot start offline: CPU 0 has no online file and the host has CPUs 0-{}",
                n - 1
            ),
        ));
    }
    let places: BTreeMap<u32, CpuPlace> = (0..n)
        .map(|cpu| {
            let (package, core, thread) = spec.place(cpu);
            (
                cpu,
                CpuPlace {
                    package,
                    die: 0,
                    core,
                    thread,
                },
            )
        })
        .collect();
    Ok(Cpus {
        places,
        online: spec.online(),
        smt: if spec.threads_per_core > 1 {
            SmtControl::On
        } else {
            SmtControl::NotSupported
        },
    })
}

fn numbers(set: &BTreeSet<u32>) -> String {
    set.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

/// Rewrites every file that follows from the CPUs' state `cpus`, as the
/// kernel shows them after a hotplug: the record ([`CPU_RECORD`]), the
/// `online` and `offline` lists, each `cpuN/online` (not CPU 0's), the
/// `topology/` directory of each online CPU (sibling lists of online CPUs
/// only) and none for an offline one, `smt/control` and `smt/active`,
/// each policy's `affected_cpus` (its `related_cpus` that are online;
/// empty makes it inactive) and the perf `power` PMU's `cpumask` (the
/// first online CPU of each package, as the RAPL PMU moves its reader on
/// hotplug). Unchanged files are not rewritten.
pub fn write_cpu_state(root: &Path, cpus: &Cpus) -> io::Result<()> {
    put(&root.join(CPU_RECORD), cpus.record().trim_end())?;
    let cpu_dir = root.join(CPU_DIR);
    put(&cpu_dir.join("online"), &format_cpulist(&cpus.online))?;
    put(&cpu_dir.join("offline"), &format_cpulist(&cpus.offline()))?;
    for (&cpu, place) in &cpus.places {
        let d = cpu_dir.join(format!("cpu{cpu}"));
        let online = cpus.online.contains(&cpu);
        if cpu != 0 {
            put(&d.join("online"), if online { "1" } else { "0" })?;
        }
        let t = d.join("topology");
        if !online {
            match fs::remove_dir_all(&t) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => continue,
            }
        }
        let core = format_cpulist(&cpus.core_cpus(cpu));
        let package = format_cpulist(&cpus.package_cpus(cpu));
        for (name, content) in [
            ("physical_package_id", place.package.to_string()),
            ("die_id", place.die.to_string()),
            ("core_id", place.core.to_string()),
            ("cluster_id", place.core.to_string()),
            ("core_cpus_list", core.clone()),
            ("thread_siblings_list", core),
            ("package_cpus_list", package.clone()),
            ("core_siblings_list", package),
        ] {
            put(&t.join(name), &content)?;
        }
    }
    put(&cpu_dir.join("smt/control"), &cpus.smt_control_shown())?;
    put(
        &cpu_dir.join("smt/active"),
        if cpus.smt_active() { "1" } else { "0" },
    )?;
    let freq_dir = cpu_dir.join("cpufreq");
    let policies = match fs::read_dir(&freq_dir) {
        Ok(rd) => rd.collect::<io::Result<Vec<_>>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    for entry in policies {
        let related = entry.path().join("related_cpus");
        let Ok(text) = fs::read_to_string(&related) else {
            continue;
        };
        let affected: BTreeSet<u32> = text
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .filter(|c| cpus.online.contains(c))
            .collect();
        put(&entry.path().join("affected_cpus"), &numbers(&affected))?;
    }
    let pmu = root.join("bus/event_source/devices/power");
    if pmu.is_dir() {
        let mut first: BTreeMap<u32, u32> = BTreeMap::new();
        for (&cpu, place) in &cpus.places {
            if cpus.online.contains(&cpu) {
                first.entry(place.package).or_insert(cpu);
            }
        }
        let list: Vec<String> = first.values().map(u32::to_string).collect();
        put(&pmu.join("cpumask"), &list.join(","))?;
    }
    Ok(())
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
    let cpus = boot_cpus(spec)?;
    let cpu_dir = root.join(CPU_DIR);
    let all = format!("0-{}", n - 1);
    for f in ["possible", "present"] {
        write(&cpu_dir.join(f), &all)?;
    }
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

    // The cpufreq links stay while a CPU is offline (cpufreq_add_dev()
    // makes them when the CPU device registers); the topology and online
    // files are write_cpu_state()'s.
    for cpu in 0..n {
        let d = cpu_dir.join(format!("cpu{cpu}"));
        fs::create_dir_all(&d)?;
        let policy = spec.policy_of(cpu);
        symlink(format!("../cpufreq/policy{policy}"), d.join("cpufreq"))?;
    }

    let freq_dir = cpu_dir.join("cpufreq");
    let mut policies: Vec<u32> = (0..n).map(|c| spec.policy_of(c)).collect();
    policies.sort_unstable();
    policies.dedup();
    for p in policies {
        let d = freq_dir.join(format!("policy{p}"));
        let related: BTreeSet<u32> = (0..n).filter(|c| spec.policy_of(*c) == p).collect();
        // affected_cpus (the online ones) is write_cpu_state()'s.
        write(&d.join("related_cpus"), &numbers(&related))?;
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
        ("intel-rapl-tpmi", &spec.tpmi_zones),
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
        // cpumask is write_cpu_state()'s.
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
    write_cpu_state(root, &cpus)
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
