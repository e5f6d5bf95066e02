// SPDX-License-Identifier: LGPL-2.1-or-later
//! End to end: the patched libvirt daemon (`build/prefix`) on simulated
//! hosts, driven by the patched virsh over its unix socket and over TCP,
//! read-only, with bad input, over a FUSE mount that answers like the
//! kernel; the patched virsh against Debian's stock daemon; and the test
//! driver without privileges.
//!
//! Run as root (`cargo test --test e2e_daemon`); `scripts/test` sets
//! `LIBVIRT_POWER_REQUIRE_E2E=1`, which turns the skips (not root, no
//! FUSE) into failures. The harness is in `tests/support/daemon.rs`.
//! Every check compares the simulated tree byte for byte (tree hash) or
//! lists exactly which files changed and to what.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::common::TempDir;
use support::daemon::{self, Daemon, Run, SimHost, Virsh};

/// One setter of the contract on the acpi-cpufreq preset (4 CPUs, one
/// policy each, SMT siblings 0,2 and 1,3, governor schedutil,
/// 1.2-2.101 GHz; zone package-0 long_term 85 W / 999424 us).
struct Setter {
    /// virsh arguments, split at spaces.
    args: &'static str,
    /// Files it changes, `path=new line` (relative to the sysfs root):
    /// nothing else may change.
    changes: &'static [&'static str],
    /// Table rows that must show the change (see [`assert_row`]).
    shows: &'static [&'static str],
    restore: &'static str,
    /// Files the restore leaves on a plain tree because a kernel, not a
    /// write, puts them back (`scaling_setspeed` reads `<unsupported>`
    /// again once the governor leaves userspace).
    kernel_resets: &'static [&'static str],
}

const SETTERS: &[Setter] = &[
    Setter {
        args: "governor --cpu 0-1 --governor performance",
        changes: &[
            "devices/system/cpu/cpufreq/policy0/scaling_governor=performance",
            "devices/system/cpu/cpufreq/policy1/scaling_governor=performance",
        ],
        shows: &[
            "governor | 0 | Governor=performance",
            "governor | 1 | Governor=performance",
            "governor | 2 | Governor=schedutil",
            "frequency | 1 | Governor=performance",
            "frequency | 3 | Governor=schedutil",
        ],
        restore: "governor --cpu 0-1 --restore",
        kernel_resets: &[],
    },
    Setter {
        args: "frequency --cpu 2 --frequency 1.8GHz --switch-governor",
        changes: &[
            "devices/system/cpu/cpufreq/policy2/scaling_governor=userspace",
            "devices/system/cpu/cpufreq/policy2/scaling_setspeed=1800000",
        ],
        shows: &[
            "frequency --cpu 2 | 2 | Governor=userspace",
            "governor | 2 | Governor=userspace",
            "governor | 0 | Governor=schedutil",
        ],
        restore: "frequency --cpu 2 --restore",
        kernel_resets: &["devices/system/cpu/cpufreq/policy2/scaling_setspeed"],
    },
    Setter {
        args: "frequency --cpu all --min 1.4GHz --max 2GHz",
        changes: &[
            "devices/system/cpu/cpufreq/policy0/scaling_max_freq=2000000",
            "devices/system/cpu/cpufreq/policy0/scaling_min_freq=1400000",
            "devices/system/cpu/cpufreq/policy1/scaling_max_freq=2000000",
            "devices/system/cpu/cpufreq/policy1/scaling_min_freq=1400000",
            "devices/system/cpu/cpufreq/policy2/scaling_max_freq=2000000",
            "devices/system/cpu/cpufreq/policy2/scaling_min_freq=1400000",
            "devices/system/cpu/cpufreq/policy3/scaling_max_freq=2000000",
            "devices/system/cpu/cpufreq/policy3/scaling_min_freq=1400000",
        ],
        shows: &[
            "frequency | 0 | Min (kHz)=1400000; Max (kHz)=2000000",
            "frequency | 1 | Min (kHz)=1400000; Max (kHz)=2000000",
            "frequency | 2 | Min (kHz)=1400000; Max (kHz)=2000000",
            "frequency | 3 | Min (kHz)=1400000; Max (kHz)=2000000",
        ],
        restore: "frequency --restore",
        kernel_resets: &[],
    },
    Setter {
        args: "rapl-limit --zone package-0 --limit 50W --window 10ms",
        changes: &[
            "devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint_0_power_limit_uw=50000000",
            "devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint_0_time_window_us=10000",
        ],
        shows: &[
            "rapl-limit | package-0 | Constraint=long_term; Limit (uW)=50000000; \
                  Window (us)=10000; Max (uW)=85000000",
        ],
        restore: "rapl-limit --zone package-0 --restore",
        kernel_resets: &[],
    },
    Setter {
        args: "rapl-limit --disable",
        changes: &["devices/virtual/powercap/intel-rapl/intel-rapl:0/enabled=0"],
        shows: &["rapl-limit | package-0 | Enabled=no"],
        restore: "rapl-limit --restore",
        kernel_resets: &[],
    },
];

/// Rows of the three tables of the untouched acpi-cpufreq preset.
const ORIGINAL_ROWS: &[&str] = &[
    "frequency | 0 | Policy=0; Driver=acpi-cpufreq; Governor=schedutil; Current (kHz)=2100000; \
     Min (kHz)=1200000; Max (kHz)=2101000; HW min (kHz)=1200000; HW max (kHz)=2101000",
    "frequency | 3 | Policy=3; Governor=schedutil; Min (kHz)=1200000; Max (kHz)=2101000",
    "governor | 3 | Governor=schedutil; \
     Available governors=conservative ondemand userspace powersave performance schedutil",
    "rapl-limit | package-0 | Enabled=yes; Constraint=long_term; Limit (uW)=85000000; \
     Window (us)=999424; Max (uW)=85000000",
];

fn words(s: &str) -> Vec<&str> {
    s.split(' ').collect()
}

const GETTERS: [&str; 3] = ["frequency", "governor", "rapl-limit"];

/// The first virsh table of `text` (title line, dashes, rows; columns
/// start where the titles do) as rows of (title, cell), in column order.
fn parse_table(text: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    // A title starts after two spaces or the leading blanks; titles
    // themselves hold single spaces ("Current (kHz)").
    let b = header.as_bytes();
    let starts: Vec<usize> = (0..b.len())
        .filter(|&i| b[i] != b' ' && (b[..i].ends_with(b"  ") || b[..i].iter().all(|&c| c == b' ')))
        .collect();
    let cut = |line: &str, k: usize| -> String {
        let from = starts[k].min(line.len());
        let to = starts.get(k + 1).map_or(line.len(), |&e| e.min(line.len()));
        line.get(from..to).unwrap_or("").trim().to_owned()
    };
    let titles: Vec<String> = (0..starts.len()).map(|k| cut(header, k)).collect();
    // The first table only: its rows start with a blank; what follows it
    // (rapl-limit's "Energy accounting" line and table) is not its rows.
    lines
        .skip_while(|l| l.trim().chars().all(|c| c == '-'))
        .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
        .map(|l| {
            (0..starts.len())
                .map(|k| (titles[k].clone(), cut(l, k)))
                .collect()
        })
        .collect()
}

/// The first row of a table whose first cell is `key`.
fn find_row(table: &str, key: &str) -> Option<Vec<(String, String)>> {
    parse_table(table)
        .into_iter()
        .find(|r| r.first().is_some_and(|(_, c)| c == key))
}

/// The first cells of a table's rows.
fn keys(table: &str) -> Vec<String> {
    parse_table(table)
        .into_iter()
        .filter_map(|r| r.into_iter().next().map(|(_, c)| c))
        .collect()
}

/// Fails unless `table` has the row `shows` describes:
/// `getter args | first cell | Column=cell; Column=cell`.
fn assert_row(table: &str, shows: &str, context: &str) {
    let mut parts = shows.split(" | ");
    let (getter, key, cells) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let row = find_row(table, key)
        .unwrap_or_else(|| panic!("{context}: `virsh {getter}` has no row '{key}':\n{table}"));
    for cell in cells.split("; ") {
        let (column, want) = cell.split_once('=').unwrap();
        let got = row
            .iter()
            .find(|(t, _)| t == column)
            .map(|(_, c)| c.as_str());
        assert_eq!(
            got,
            Some(want),
            "{context}: `virsh {getter}`, row '{key}', column '{column}':\n{table}"
        );
    }
}

/// The output of the getter a `shows` line names.
fn shows_getter(shows: &str) -> Vec<&str> {
    words(shows.split(" | ").next().unwrap())
}

fn expected(s: &Setter) -> BTreeMap<String, String> {
    s.changes
        .iter()
        .map(|c| {
            let (p, v) = c.split_once('=').unwrap();
            (p.to_owned(), format!("{v}\n"))
        })
        .collect()
}

/// The getters' tables, without what changes by itself: rapl-limit's
/// energy accounting section (its interval number advances every second).
fn tables(v: &Virsh) -> [String; 3] {
    GETTERS.map(|g| {
        let out = v.ok(&[g]).stdout;
        match out.find("\nEnergy accounting:") {
            Some(i) => out[..=i].to_owned(),
            None => out,
        }
    })
}

/// The three tables of the untouched acpi-cpufreq preset.
fn assert_original_tables(t: &[String; 3], context: &str) {
    for (g, table) in GETTERS.iter().zip(t) {
        let want: &[&str] = if *g == "rapl-limit" {
            &["package-0", "package-0", "package-0/dram"]
        } else {
            &["0", "1", "2", "3"]
        };
        assert_eq!(keys(table), want, "{context}: virsh {g}:\n{table}");
    }
    for shows in ORIGINAL_ROWS {
        let k = GETTERS
            .iter()
            .position(|g| shows_getter(shows) == [*g])
            .unwrap();
        assert_row(&t[k], shows, context);
    }
}

#[test]
fn harness_private_daemon_answers_over_unix_tcp_and_read_only() {
    require_root!();
    let host = SimHost::plain("acpi-cpufreq");
    let mut d = Daemon::patched(&host.root, true);
    let unix = Virsh::new(&d.uri);
    let tcp = Virsh::new(d.tcp_uri.as_deref().unwrap());
    for v in [&unix, &tcp, &unix.ro(), &tcp.ro()] {
        let r = v.ok(&["nodeinfo"]);
        assert!(r.stdout.contains("CPU(s):"), "{r}");
        let r = v.ok(&["uri"]);
        assert_eq!(r.stdout.trim(), v.uri, "{r}");
        let r = v.ok(&["version"]);
        assert!(
            r.stdout.contains("Using library: libvirt 11.3.0")
                && r.stdout.contains("Using API: QEMU 11.3.0"),
            "{r}"
        );
        d.assert_answers(v);
    }
    // The daemon got the simulated host's root and a private log.
    let environ = std::fs::read(format!("/proc/{}/environ", d.pid())).unwrap();
    let want = format!("LIBVIRT_POWER_SYSFS_ROOT={}", host.root.display());
    assert!(
        environ.split(|&b| b == 0).any(|e| e == want.as_bytes()),
        "{want} not in the daemon's environment"
    );
    assert!(d.log_path().is_file(), "{}", d.log_path().display());

    // Dropping the harness stops and reaps both processes.
    let pid = d.pid();
    drop(d);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "virtqemud {pid} still exists after drop"
    );
    let r = unix.run(&["uri"]);
    assert!(!r.ok(), "a daemon still answers after drop:\n{r}");
}

/// A plain tree of `preset`, the patched daemon on it (with `tcp`, also
/// the TCP proxy), and virsh on its unix socket.
fn patched_on(preset: &str, tcp: bool) -> (SimHost, Daemon, Virsh) {
    daemon::require_patched();
    let host = SimHost::plain(preset);
    let d = Daemon::patched(&host.root, tcp);
    let v = Virsh::new(&d.uri);
    (host, d, v)
}

#[test]
fn setters_over_unix_and_tcp_change_exactly_their_files_and_restore() {
    require_root!();
    let (host, mut d, _) = patched_on("acpi-cpufreq", true);
    let original = host.tree();
    let original_hash = host.hash();
    for uri in [d.uri.clone(), d.tcp_uri.clone().unwrap()] {
        let v = Virsh::new(&uri);
        let before_all = tables(&v);
        assert_original_tables(&before_all, &uri);
        for s in SETTERS {
            let ctx = format!("{uri}: virsh {}", s.args);
            let saved: Vec<Vec<u8>> = s
                .kernel_resets
                .iter()
                .map(|p| std::fs::read(host.backing.join(p)).unwrap())
                .collect();
            let r = v.ok(&words(s.args));
            assert_eq!(host.changes(&original), expected(s), "{ctx}\n{r}");
            for shows in s.shows {
                assert_row(&v.ok(&shows_getter(shows)).stdout, shows, &ctx);
            }
            let r = v.ok(&words(s.restore));
            let left = host.changes(&original);
            assert_eq!(
                left.keys().collect::<Vec<_>>(),
                s.kernel_resets.iter().collect::<Vec<_>>(),
                "{ctx}: `virsh {}` left {left:?}\n{r}",
                s.restore
            );
            // Do what the kernel would, then every byte is the original.
            for (path, bytes) in s.kernel_resets.iter().zip(saved) {
                std::fs::write(host.backing.join(path), bytes).unwrap();
            }
            assert_eq!(host.hash(), original_hash, "{ctx}: after restore");
            assert_eq!(tables(&v), before_all, "{ctx}: tables after restore");
            d.assert_answers(&v);
        }
    }
}

#[test]
fn read_only_connections_refuse_every_setter_and_read_every_table() {
    require_root!();
    let (host, mut d, v) = patched_on("acpi-cpufreq", true);
    let original = host.hash();
    let want = tables(&v);
    // `virsh -r` over the unix socket and over TCP (refused by the client
    // library before anything travels), and a connection to the read-only
    // socket that does not say so (refused by the daemon).
    let ro_sock = daemon::prefix().join("run/libvirt/virtqemud-sock-ro");
    let readers = [
        v.ro(),
        Virsh::new(d.tcp_uri.as_deref().unwrap()).ro(),
        Virsh::new(&format!("qemu:///system?socket={}", ro_sock.display())),
    ];
    let raw_energy = |v: &Virsh| -> Vec<String> {
        v.ok(&["rapl-limit", "--raw"])
            .stdout
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_owned()))
            .filter(|k| k.starts_with("zone.") && k.ends_with(".energy"))
            .collect()
    };
    assert_eq!(
        raw_energy(&v).len(),
        2,
        "the privileged reader sees the counters"
    );
    for ro in &readers {
        let who = format!("{}{}", ro.uri, if ro.readonly { " -r" } else { "" });
        let got = tables(ro);
        assert_eq!(got[..2], want[..2], "{who}: read-only tables");
        // The same RAPL rows, without the raw energy counter (root-only in
        // sysfs since Linux 5.10, CVE-2020-8694).
        let (rw_rows, ro_rows) = (parse_table(&want[2]), parse_table(&got[2]));
        assert_eq!(rw_rows.len(), ro_rows.len(), "{who}:\n{}", got[2]);
        for (a, b) in rw_rows.iter().zip(&ro_rows) {
            for ((title, rw), (ro_title, ro_cell)) in a.iter().zip(b) {
                assert_eq!(title, ro_title, "{who}:\n{}", got[2]);
                if title == "Energy (uJ)" {
                    assert_ne!(rw, "-", "{who}:\n{}", want[2]);
                    assert_eq!(ro_cell, "-", "{who}: raw counter shown:\n{}", got[2]);
                } else {
                    assert_eq!(rw, ro_cell, "{who}: {title}:\n{}", got[2]);
                }
            }
        }
        assert_eq!(raw_energy(ro), Vec::<String>::new(), "{who}: raw counters");
        let dry = "governor --cpu 0 --governor performance --dry-run";
        let refused = SETTERS
            .iter()
            .flat_map(|s| [s.args, s.restore])
            .chain([dry]);
        for args in refused {
            let r = ro.run(&words(args));
            assert!(
                !r.ok()
                    && r.stderr
                        .contains("operation forbidden: read only access prevents virNodeSet"),
                "{who}: a read-only setter must be denied:\n{r}"
            );
            assert_eq!(host.hash(), original, "{who}: tree changed by\n{r}");
        }
        d.assert_answers(ro);
    }
}

/// Bad input on the acpi-cpufreq preset: `virsh arguments => what the
/// error must say; ...`, where the quoted value comes from the daemon's (or
/// virsh's own) message, not from virsh repeating the argument. `G5000`
/// and `Z5000` stand for 5000-character governor and zone names, `U64MAX`
/// for 2^64-1.
const BAD_INPUTS: &[&str] = &[
    // CPU lists (online CPUs 0-3)
    "governor --cpu 999 --governor performance => invalid CPU '999' ; 0-3",
    "governor --cpu -1 --governor performance => invalid CPU list '-1'",
    "governor --cpu 0- --governor performance => invalid CPU list '0-'",
    "governor --cpu a,b --governor performance => invalid CPU list 'a,b'",
    "frequency --cpu 999 --min 1.4GHz => invalid CPU '999' ; 0-3",
    "frequency --cpu 0- --frequency 1.8GHz --switch-governor => invalid CPU list '0-'",
    "governor --cpu 0-9999 --governor performance => invalid CPU list '0-9999' ; 0-8191",
    "frequency --cpu 0-3,^9999 --min 1.4GHz => invalid CPU list '0-3,^9999' ; 0-8191",
    "governor --cpu 0,^0 --governor performance => invalid CPU list '0,^0' ; selects no CPU",
    // governors
    "governor --cpu 0 --governor turbo => invalid governor 'turbo' ; userspace, powersave",
    "governor --cpu 0 --governor G5000 => invalid governor 'gggggggggggggggg",
    // frequencies outside the hardware's limits (1200000-2101000 kHz)
    "frequency --cpu 0 --frequency 3GHz --switch-governor => '3000000 kHz' ; 1200000 to 2101000 kHz",
    "frequency --cpu 0 --frequency 1GHz --switch-governor => '1000000 kHz' ; 1200000 to 2101000 kHz",
    "frequency --cpu 0 --max 3GHz => '3000000 kHz' ; 1200000 to 2101000 kHz",
    "frequency --cpu 0 --min 800MHz => '800000 kHz' ; 1200000 to 2101000 kHz",
    "frequency --cpu 0 --frequency U64MAX --switch-governor => '18446744073709551615 kHz'",
    "frequency --cpu 0 --frequency fast --switch-governor => Invalid value 'fast' for option --frequency",
    // an exact frequency needs the userspace governor
    "frequency --cpu 0 --frequency 1.8GHz => 'schedutil' governor ; needs 'userspace'",
    // RAPL (package-0: long_term max_power 85 W, the TDP, which a limit may
    // exceed; the 15-bit register field holds 1 to 4095875000 uW)
    "rapl-limit --zone package-9 --limit 50W => invalid RAPL zone 'package-9' ; package-0",
    "rapl-limit --zone Z5000 --limit 50W => invalid RAPL zone 'zzzzzzzzzzzzzzzz",
    "rapl-limit --zone package-0 --constraint medium_term --limit 50W => 'medium_term' ; long_term",
    "rapl-limit --zone package-0 --limit 5000W => '5000000000 uW' ; 1 to 4095875000 uW",
    "rapl-limit --zone package-0 --limit U64MAX => '18446744073709551615 uW' ; 1 to 4095875000 uW",
    "rapl-limit --zone package-0 --limit lots => Invalid value 'lots' for option --limit",
    "rapl-limit --zone package-0 --window 0 => invalid time window '0 us'",
    "rapl-limit --zone package-0 --window -5ms => Invalid value '-5ms' for option --window",
    "rapl-limit --zone package-0 --window U64MAX => invalid time window '18446744073709551615 us'",
    // units: case matters in an SI prefix (m is milli, M is mega)
    "rapl-limit --zone package-0 --limit 15MW => Invalid unit in '15MW' ; M is mega ; 15000mW",
    "rapl-limit --zone package-0 --window 10MS => Invalid unit in '10MS' ; M is mega",
    "frequency --cpu 0 --max 800mhz => Invalid unit in '800mhz' ; m is milli ; 2400MHz",
];

fn bad_args(line: &str) -> Vec<String> {
    line.split(' ')
        .map(|w| match w {
            "G5000" => "g".repeat(5000),
            "Z5000" => "z".repeat(5000),
            "U64MAX" => u64::MAX.to_string(),
            w => w.to_owned(),
        })
        .collect()
}

/// Runs every bad input against `d`: each fails with an error naming
/// the bad value, leaves the tree as it was, and the daemon answers.
fn assert_bad_inputs_refused(d: &mut Daemon, host: &SimHost, what: &str) -> usize {
    let v = Virsh::new(&d.uri);
    let original = host.hash();
    for case in BAD_INPUTS {
        let (line, needles) = case.split_once(" => ").unwrap();
        let args = bad_args(line);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = v.run(&args);
        let short = |s: &str| s.chars().take(300).collect::<String>();
        let shown = format!(
            "$ virsh {}\nexit {:?}\nstderr: {}",
            short(&args.join(" ")),
            r.code,
            short(&r.stderr)
        );
        assert!(!r.ok(), "{what}: accepted bad input\n{shown}");
        assert!(
            r.stderr.contains("error:"),
            "{what}: no error message\n{shown}"
        );
        for n in needles.split(" ; ") {
            assert!(
                r.stderr.contains(n),
                "{what}: the error does not name '{}'\n{shown}",
                short(n)
            );
        }
        assert_eq!(host.hash(), original, "{what}: tree changed\n{shown}");
        d.assert_answers(&v);
    }
    BAD_INPUTS.len()
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    require_root!();
    let (host, mut d, _) = patched_on("acpi-cpufreq", false);
    let n = assert_bad_inputs_refused(&mut d, &host, "plain tree");
    eprintln!("{n} bad inputs refused on a plain tree");
}

#[test]
fn bad_input_and_kernel_rejections_over_the_fuse_mount() {
    require_root!();
    daemon::require_patched();
    // The whole matrix on a tree that answers writes like the kernel.
    let host = match SimHost::fuse("acpi-cpufreq") {
        Ok(h) => h,
        Err(reason) => skip_or_fail!("{reason}"),
    };
    let mut d = Daemon::patched(&host.root, false);
    let n = assert_bad_inputs_refused(&mut d, &host, "FUSE mount");
    eprintln!("{n} bad inputs refused through FUSE");

    // The kernel rounds an exact frequency up to its table (1850 MHz ->
    // 1900 MHz) and the getter reports what the kernel holds; the restore
    // puts back every knob, and the kernel then shows `<unsupported>` in
    // scaling_setspeed again. Only scaling_cur_freq (the running
    // frequency, no knob) keeps the last value.
    let v = Virsh::new(&d.uri);
    let original = host.tree();
    let p2 = "devices/system/cpu/cpufreq/policy2";
    v.ok(&words(
        "frequency --cpu 2 --frequency 1850MHz --switch-governor",
    ));
    assert_eq!(host.read(&format!("{p2}/scaling_setspeed")), "1900000\n");
    assert_eq!(host.read(&format!("{p2}/scaling_governor")), "userspace\n");
    let shows = "frequency --cpu 2 | 2 | Governor=userspace; Current (kHz)=1900000";
    assert_row(&v.ok(&shows_getter(shows)).stdout, shows, "FUSE clamp");
    let r = v.ok(&words("frequency --cpu 2 --restore"));
    let left = host.changes(&original);
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        [&format!("{p2}/scaling_cur_freq")],
        "restore through the kernel left {left:?}\n{r}"
    );
    d.assert_answers(&v);
    drop(d);
    drop(host);

    // A firmware-locked RAPL zone: the kernel answers EACCES.
    let host = match SimHost::fuse("bios-locked") {
        Ok(h) => h,
        Err(reason) => skip_or_fail!("{reason}"),
    };
    let mut d = Daemon::patched(&host.root, false);
    let v = Virsh::new(&d.uri);
    let original = host.hash();
    for args in [
        "rapl-limit --zone package-0 --limit 30W",
        "rapl-limit --zone package-0 --window 1s",
        "rapl-limit --zone package-0 --constraint short_term --limit 50W --window 2ms",
    ] {
        let r = v.run(&words(args));
        assert!(
            !r.ok()
                && r.stderr.contains("error: operation forbidden:")
                && r.stderr.contains("(EACCES)")
                && r.stderr.contains("firmware has locked"),
            "a locked zone must give a permission error:\n{r}"
        );
        assert_eq!(host.hash(), original, "tree changed\n{r}");
        d.assert_answers(&v);
    }
    // Reading it still works.
    let shows = "rapl-limit | package-0 | Limit (uW)=45000000; Window (us)=27983872";
    assert_row(&v.ok(&shows_getter(shows)).stdout, shows, "bios-locked");
}

#[test]
fn patched_virsh_gets_a_clean_error_from_a_stock_daemon() {
    require_root!();
    daemon::require_patched();
    let mut d = Daemon::stock();
    let v = Virsh::new(&d.uri);
    // The POWER program's number (0x4c565057) is unknown to the daemon.
    let unknown = "error: Cannot find program 1280725079 version 1";
    let calls = [
        "frequency",
        "governor",
        "rapl-limit",
        "frequency --cpu 0 --min 1.4GHz",
        "frequency --cpu 0 --frequency 1.8GHz --switch-governor",
        "governor --cpu 0 --governor performance",
        "governor --restore",
        "rapl-limit --limit 50W",
        "rapl-limit --disable",
    ];
    for args in calls {
        let r = v.run(&words(args));
        assert!(
            !r.ok() && r.stderr.contains(unknown),
            "a stock daemon must answer 'unknown program':\n{r}"
        );
        d.assert_answers(&v);
    }
    // Stock libvirtd re-probes QEMU on every `version` here (it runs QEMU
    // as libvirt-qemu, which cannot open this machine's root-only
    // /dev/kvm, and finds its cache "outdated"): seconds each, so once.
    let r = v.ok(&["version"]);
    assert!(
        r.stdout.contains("Using library: libvirt 11.3.0")
            && r.stdout.contains("Running hypervisor: QEMU"),
        "{r}"
    );
}

/// Runs `script` (virsh commands separated by `;`) in one virsh process
/// on `test:///default`, as nobody with no capabilities when root; the
/// test driver keeps its simulated host for the one connection.
fn test_driver(script: &str, tmp: &Path) -> Run {
    let mut c = if daemon::root().is_ok() {
        let mut c = daemon::timed(Path::new("/usr/bin/setpriv"));
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(daemon::virsh_bin());
        c
    } else {
        daemon::timed(&daemon::virsh_bin())
    };
    c.args(["-c", "test:///default", script])
        .env("HOME", tmp)
        .env("TMPDIR", tmp)
        .env("XDG_RUNTIME_DIR", tmp);
    daemon::run(&mut c)
}

#[test]
fn test_driver_demonstrates_every_command_without_privileges() {
    daemon::require_patched();
    let tmp = TempDir::new("e2e-testdrv");
    if daemon::root().is_ok() {
        let ok = Command::new("chown")
            .arg("65534:65534")
            .arg(tmp.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown nobody {}", tmp.path().display());
    }
    // One virsh process: the three tables, then each setter, the tables
    // that show its change, its restore and the three tables again (equal
    // to the first ones). `echo @@N` ends the output of step N.
    enum Check {
        Nothing,
        Row(&'static str),
        Original(usize),
    }
    let mut steps: Vec<(String, Check)> = GETTERS
        .iter()
        .map(|g| ((*g).to_owned(), Check::Nothing))
        .collect();
    for s in SETTERS {
        steps.push((s.args.to_owned(), Check::Nothing));
        for shows in s.shows {
            steps.push((shows_getter(shows).join(" "), Check::Row(shows)));
        }
        steps.push((s.restore.to_owned(), Check::Nothing));
        for (k, g) in GETTERS.iter().enumerate() {
            steps.push(((*g).to_owned(), Check::Original(k)));
        }
    }
    let script: String = steps
        .iter()
        .enumerate()
        .map(|(i, (cmd, _))| format!("{cmd} ; echo @@{i} ; "))
        .collect();
    let r = test_driver(&script, tmp.path());
    assert!(r.ok() && r.stderr.is_empty(), "{r}");
    let mut outputs: Vec<&str> = Vec::new();
    let mut rest = r.stdout.as_str();
    for i in 0..steps.len() {
        let mark = format!("@@{i}\n");
        let at = rest
            .find(&mark)
            .unwrap_or_else(|| panic!("no output of step {i}:\n{r}"));
        outputs.push(&rest[..at]);
        rest = &rest[at + mark.len()..];
    }
    let first: [String; 3] = std::array::from_fn(|k| outputs[k].to_owned());
    assert_original_tables(&first, "test:///default");
    for (i, (cmd, check)) in steps.iter().enumerate() {
        let ctx = format!("test:///default, step {i} `{cmd}`");
        match check {
            Check::Nothing => {}
            Check::Row(shows) => assert_row(outputs[i], shows, &ctx),
            Check::Original(k) => assert_eq!(outputs[i], outputs[*k], "{ctx}: after restore"),
        }
    }
    // The test driver removed its simulated host when the connection closed.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| !n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[test]
fn restore_works_after_a_daemon_restart() {
    require_root!();
    let (host, mut d, v) = patched_on("acpi-cpufreq", false);
    let original = host.tree();
    let set = [
        "governor --cpu 0-1 --governor performance",
        "frequency --cpu all --min 1.4GHz --max 2GHz",
        "rapl-limit --zone package-0 --limit 50W --window 10ms",
        "rapl-limit --disable",
    ];
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    for args in set {
        v.ok(&words(args));
        let s = SETTERS.iter().find(|s| s.args == args).unwrap();
        want.extend(expected(s));
    }
    assert_eq!(host.changes(&original), want, "after the setters");
    let before = host.tree();
    d.restart();
    // The new daemon sees the changed host and restores from the journal
    // the first one wrote.
    assert_eq!(host.tree(), before, "the restart changed the host");
    let shows = "governor | 0 | Governor=performance";
    assert_row(&v.ok(&shows_getter(shows)).stdout, shows, "after restart");
    v.ok(&words("governor --restore"));
    let shows = "governor | 0 | Governor=schedutil";
    assert_row(
        &v.ok(&shows_getter(shows)).stdout,
        shows,
        "governor restored",
    );
    v.ok(&words("frequency --restore"));
    v.ok(&words("rapl-limit --restore"));
    assert_eq!(
        host.changes(&original),
        BTreeMap::new(),
        "restore after restart"
    );
    d.assert_answers(&v);
}

#[test]
fn concurrent_setters_on_many_cpus_keep_every_original() {
    require_root!();
    // 16 CPUs, one policy each; 16 clients set one CPU each at once.
    let (host, mut d, v) = patched_on("large", false);
    let original = host.tree();
    let n = keys(&v.ok(&["governor"]).stdout).len();
    assert_eq!(n, 16, "CPUs of the large preset");
    for args in [
        "governor --cpu {} --governor performance",
        "frequency --cpu {} --min 1.4GHz",
    ] {
        let runs: Vec<Run> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|cpu| {
                    let v = v.clone();
                    let args = args.replace("{}", &cpu.to_string());
                    s.spawn(move || v.run(&words(&args)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &runs {
            assert!(r.ok(), "{r}");
        }
    }
    let changed = host.changes(&original);
    for cpu in 0..n {
        let p = format!("devices/system/cpu/cpufreq/policy{cpu}");
        assert_eq!(changed[&format!("{p}/scaling_governor")], "performance\n");
        assert_eq!(changed[&format!("{p}/scaling_min_freq")], "1400000\n");
    }
    assert_eq!(changed.len(), 2 * n, "{changed:?}");
    v.ok(&words("governor --restore"));
    v.ok(&words("frequency --restore"));
    assert_eq!(host.changes(&original), BTreeMap::new(), "after restore");
    d.assert_answers(&v);
}

/// The frequency table's rows, by CPU, as "State/Governor/Current (kHz)".
fn cpu_states(table: &str) -> BTreeMap<String, String> {
    parse_table(table)
        .into_iter()
        .map(|row| {
            let cell = |t: &str| {
                row.iter()
                    .find(|(title, _)| title == t)
                    .map_or("?".to_owned(), |(_, c)| c.clone())
            };
            (
                cell("CPU"),
                format!(
                    "{}/{}/{}",
                    cell("State"),
                    cell("Governor"),
                    cell("Current (kHz)")
                ),
            )
        })
        .collect()
}

#[test]
fn offline_cpus_leave_virsh_frequency_working_and_are_shown_offline() {
    require_root!();
    // A simulated host that starts with CPU 13 offline (plain tree: the
    // library meets the inactive policy's EBUSY through its gate).
    let (host, mut d, v) = patched_on("two-socket-smt-offline", false);
    assert_eq!(host.read("devices/system/cpu/offline"), "13\n");
    let t = v.ok(&["frequency"]).stdout;
    assert_eq!(
        keys(&t),
        (0..16).map(|c| c.to_string()).collect::<Vec<_>>(),
        "{t}"
    );
    let states = cpu_states(&t);
    for (cpu, state) in &states {
        let want = if cpu == "13" {
            "offline/-/-"
        } else {
            "online/schedutil/2300000"
        };
        assert_eq!(state, want, "CPU {cpu}:\n{t}");
    }
    assert_row(
        &t,
        "frequency | 13 | Policy=13; Driver=-; Min (kHz)=-; HW max (kHz)=-",
        "offline CPU",
    );
    // Asked for alone, and in the governor table.
    let t = v.ok(&words("frequency --cpu 5,13")).stdout;
    assert_eq!(keys(&t), ["5", "13"], "{t}");
    assert_row(&t, "frequency | 13 | State=offline", "--cpu 5,13");
    let t = v.ok(&["governor"]).stdout;
    assert_row(&t, "governor | 13 | Governor=(offline)", "governor table");
    assert_row(&t, "governor | 5 | Governor=schedutil", "governor table");
    // A change for all CPUs skips it; naming it is refused as offline.
    let before = host.tree();
    v.ok(&words("governor --governor performance"));
    let changed = host.changes(&before);
    assert_eq!(changed.len(), 15, "{changed:?}");
    assert!(
        !changed.contains_key("devices/system/cpu/cpufreq/policy13/scaling_governor"),
        "{changed:?}"
    );
    let r = v.run(&words("frequency --cpu 12-13 --max 2GHz"));
    assert!(
        !r.ok() && r.stderr.contains("CPU 13 is offline"),
        "naming an offline CPU must say so:\n{r}"
    );
    d.assert_answers(&v);
    drop(d);
    drop(host);

    // SMT turned off the user's way, on the SMT preset mounted through
    // FUSE: `echo off > smt/control` while the daemon runs.
    let host = match SimHost::fuse("two-socket-smt") {
        Ok(h) => h,
        Err(reason) => skip_or_fail!("{reason}"),
    };
    let mut d = Daemon::patched(&host.root, false);
    let v = Virsh::new(&d.uri);
    let t = v.ok(&["frequency"]).stdout;
    assert!(
        !t.contains("State"),
        "no State column while all are online:\n{t}"
    );
    std::fs::write(host.root.join("devices/system/cpu/smt/control"), "off\n").unwrap();
    assert_eq!(host.read("devices/system/cpu/online"), "0-7\n");
    let t = v.ok(&["frequency"]).stdout;
    let states = cpu_states(&t);
    assert_eq!(states.len(), 16, "{t}");
    for (cpu, state) in &states {
        let n: u32 = cpu.parse().unwrap();
        let want = if n >= 8 {
            "offline/-/-"
        } else {
            "online/schedutil/2300000"
        };
        assert_eq!(state, want, "CPU {cpu} with SMT off:\n{t}");
    }
    // A change for all CPUs reaches the online ones only.
    v.ok(&words("frequency --max 2GHz"));
    let max = |p: u32| {
        host.read(&format!(
            "devices/system/cpu/cpufreq/policy{p}/scaling_max_freq"
        ))
    };
    assert_eq!(
        (max(0), max(7), max(8)),
        ("2000000\n".into(), "2000000\n".into(), "3600000\n".into())
    );
    // SMT back on: every CPU reports again.
    std::fs::write(host.root.join("devices/system/cpu/smt/control"), "on\n").unwrap();
    let t = v.ok(&["frequency"]).stdout;
    assert!(!t.contains("offline"), "{t}");
    assert_row(
        &t,
        "frequency | 8 | Governor=schedutil; Max (kHz)=3600000",
        "SMT on",
    );
    d.assert_answers(&v);
}

/// `accounting.tick` of the node getter (`virsh rapl-limit --raw`).
fn accounting_tick(v: &Virsh) -> u64 {
    let r = v.ok(&["rapl-limit", "--raw"]);
    r.stdout
        .lines()
        .find_map(|l| l.strip_prefix("accounting.tick="))
        .unwrap_or_else(|| panic!("no accounting.tick:\n{r}"))
        .parse()
        .unwrap()
}

#[test]
fn accounting_keeps_its_pace_through_wall_clock_steps() {
    require_root!();
    daemon::require_patched();
    // tests/clockstep/clockstep.c steps the daemon's wall clock (and the
    // wall-clock deadlines it sleeps to) by the seconds in a file.
    let tmp = TempDir::new("clockstep");
    let so = tmp.path().join("clockstep.so");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clockstep/clockstep.c");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&so)
        .arg(&src)
        .arg("-ldl")
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "cc {}: {}",
        src.display(),
        String::from_utf8_lossy(&cc.stderr)
    );
    let step = tmp.path().join("step");
    std::fs::write(&step, "0\n").unwrap();
    let host = SimHost::plain("acpi-cpufreq");
    let interval_ms = 200;
    let mut d = Daemon::patched_with_env(
        &host.root,
        false,
        &format!("power_accounting_interval = {interval_ms}"),
        &[
            ("LD_PRELOAD", so.as_os_str()),
            ("CLOCKSTEP_FILE", step.as_os_str()),
        ],
    );
    let v = Virsh::new(&d.uri);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while accounting_tick(&v) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "accounting does not tick"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // An hour back, then two hours forward: 3 s each at 200 ms is 15
    // intervals. Before the accounting slept on the monotonic clock, the
    // step back stopped it for an hour (0 or 1 ticks).
    let window = std::time::Duration::from_secs(3);
    let most = window.as_millis() as u64 / interval_ms + 2;
    for (secs, what) in [("-3600", "an hour back"), ("3600", "an hour forward")] {
        std::fs::write(&step, format!("{secs}\n")).unwrap();
        let before = accounting_tick(&v);
        let start = std::time::Instant::now();
        std::thread::sleep(window);
        let ticks = accounting_tick(&v) - before;
        let took = start.elapsed();
        eprintln!("wall clock stepped {what}: {ticks} ticks in {took:.1?} at {interval_ms} ms");
        assert!(
            ticks >= 5,
            "{what}: {ticks} ticks in {took:?} (interval {interval_ms} ms)"
        );
        assert!(
            ticks <= most + (took.saturating_sub(window).as_millis() as u64 / interval_ms),
            "{what}: {ticks} ticks in {took:?}: a burst"
        );
    }
    d.assert_answers(&v);
}

/// The daemon's resident memory, from /proc/PID/status.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn cpu_lists_have_one_syntax_and_bounded_work_for_every_caller() {
    require_root!();
    let (host, mut d, v) = patched_on("acpi-cpufreq", false);
    let ro = v.ro();
    // The getter and the setters take the same syntax: '^N' removes a CPU.
    let t = ro.ok(&words("frequency --cpu 0-3,^2")).stdout;
    assert_eq!(keys(&t), ["0", "1", "3"], "{t}");
    let before = host.tree();
    v.ok(&words("governor --cpu 0-3,^2 --governor performance"));
    let changed = host.changes(&before);
    assert_eq!(
        changed.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "devices/system/cpu/cpufreq/policy0/scaling_governor",
            "devices/system/cpu/cpufreq/policy1/scaling_governor",
            "devices/system/cpu/cpufreq/policy3/scaling_governor",
        ]
    );
    v.ok(&words("governor --restore"));

    // A read-only client cannot make the daemon allocate or loop per CPU
    // of a huge range: the range is refused by the same bound (0-8191) at
    // once, twenty times over, and the daemon's memory stays put.
    let pid = d.pid();
    let rss_before = rss_kib(pid);
    let original = host.hash();
    let start = std::time::Instant::now();
    for _ in 0..20 {
        let r = ro.run(&words("frequency --cpu 0-2147483647"));
        assert!(
            !r.ok()
                && r.stderr.contains("invalid CPU list '0-2147483647'")
                && r.stderr.contains("0-8191"),
            "a huge range must be refused naming the accepted one:\n{r}"
        );
    }
    let took = start.elapsed();
    let rss_after = rss_kib(pid);
    eprintln!(
        "20 read-only getters of CPUs 0-2147483647: refused in {took:.2?}; daemon RSS {rss_before} -> {rss_after} KiB"
    );
    assert!(
        rss_after < rss_before + 16 * 1024,
        "daemon RSS grew from {rss_before} to {rss_after} KiB"
    );
    // A list longer than POWER_CPUMAP_MAX (65536 bytes) does not travel.
    let long = "0,".repeat(40_000);
    for args in [
        vec!["frequency", "--cpu", long.as_str()],
        vec![
            "governor",
            "--cpu",
            long.as_str(),
            "--governor",
            "performance",
        ],
    ] {
        let r = v.run(&args);
        assert!(!r.ok() && r.stderr.contains("error:"), "{}", r.stderr);
    }
    assert_eq!(host.hash(), original, "tree changed");
    d.assert_answers(&ro);
}

#[test]
fn an_interval_longer_than_the_counters_allow_is_clamped_with_a_warning() {
    require_root!();
    daemon::require_patched();
    // acpi-cpufreq: package-0/dram has Intel's 262143328850 uJ range and no
    // max_power_uw, so 1 kW is assumed: it wraps in 262 s, and the longest
    // safe interval is half that, 131071 ms.
    let host = SimHost::plain("acpi-cpufreq");
    let mut d = Daemon::patched_with(&host.root, false, "power_accounting_interval = 3600000");
    let v = Virsh::new(&d.uri);
    let interval = v
        .ok(&["rapl-limit", "--raw"])
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("accounting.interval=").map(str::to_owned));
    assert_eq!(interval.as_deref(), Some("131071"));
    let log = d.log_of("virtqemud");
    assert!(
        log.contains("energy accounting interval 3600000 ms is longer than the counters allow")
            && log.contains("zone 'package-0/dram' wraps in 262142 ms at 1000 W; using 131071 ms"),
        "no clear warning in the daemon log:\n{}",
        log.lines()
            .filter(|l| l.contains("accounting"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    d.assert_answers(&v);
}
