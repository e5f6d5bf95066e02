// SPDX-License-Identifier: LGPL-2.1-or-later
//! Energy counters of the RAPL `power` perf PMU.
//!
//! [`PowerPmu`] describes the PMU found under
//! `<sysfs>/bus/event_source/devices/power` (read through
//! [`SysfsRoot`]) and opens system-wide per-CPU [`PowerCounter`]s that
//! report cumulative microjoules. The kernel counts package energy with
//! `pid = -1` on one CPU per package (the PMU's `cpumask`).

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::Path;

use perf_event_open::config::{Cpu, Opts, Proc};
use perf_event_open::count::Counter;
use perf_event_open::event::dp::DynamicPmu;

use super::{PerfError, PerfTarget, open_error};
use crate::error::Error;
use crate::sysfs::SysfsRoot;

/// Where the power PMU lives, relative to the sysfs root.
pub const PMU_DIR: &str = "bus/event_source/devices/power";

/// Compile-time check that the counters can move to another thread.
fn _assert_send<T: Send>() {}
const _: fn() = || {
    _assert_send::<PowerCounter>();
};

/// One energy event of the power PMU.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerEvent {
    /// Event name, e.g. `energy-pkg`.
    pub name: String,
    /// `perf_event_attr.config` value.
    pub config: u64,
    /// Joules per count (`<name>.scale`; 1.0 if absent).
    pub scale_j: f64,
    /// Unit of `count * scale_j` (`<name>.unit`, normally `Joules`; empty if
    /// absent).
    pub unit: String,
}

/// The RAPL `power` perf PMU.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerPmu {
    pmu_type: u32,
    events: Vec<PowerEvent>,
    cpus: Vec<u32>,
}

impl PowerPmu {
    /// Reads the power PMU description from `bus/event_source/devices/power`
    /// of `sysfs` (`/sys` in production). Returns `Ok(None)` if that
    /// directory does not exist (or is empty).
    ///
    /// Events are the files in `events/` without a `.` in their name, sorted
    /// by name. Their terms (`event=0x02,umask=0x1`) are placed into `config`
    /// according to `format/<term>` (`config:0-7`); a term without a format
    /// file is ignored, except `event`, which then is the whole `config`.
    pub fn discover(sysfs: &SysfsRoot) -> Result<Option<PowerPmu>, PerfError> {
        if sysfs.list(PMU_DIR).map_err(sysfs_error)?.is_empty() {
            return Ok(None);
        }
        let type_rel = format!("{PMU_DIR}/type");
        let type_text = sysfs.read(&type_rel).map_err(sysfs_error)?;
        let pmu_type = type_text.trim().parse::<u32>().map_err(|e| {
            parse_error(
                &sysfs.path(&type_rel),
                format!("bad PMU type {type_text:?}: {e}"),
            )
        })?;
        let cpumask_rel = format!("{PMU_DIR}/cpumask");
        let cpus = match sysfs.read_opt(&cpumask_rel).map_err(sysfs_error)? {
            Some(text) => {
                parse_cpu_list(&text).map_err(|r| parse_error(&sysfs.path(&cpumask_rel), r))?
            }
            None => Vec::new(),
        };
        let events = read_events(sysfs)?;
        Ok(Some(PowerPmu {
            pmu_type,
            events,
            cpus,
        }))
    }

    /// The event called `name`, if the PMU lists it.
    pub fn event(&self, name: &str) -> Option<&PowerEvent> {
        self.events.iter().find(|e| e.name == name)
    }

    /// The events, sorted by name.
    pub fn events(&self) -> &[PowerEvent] {
        &self.events
    }

    /// The dynamic PMU type for `perf_event_attr.type`.
    pub fn pmu_type(&self) -> u32 {
        self.pmu_type
    }

    /// The CPUs to open counters on (`cpumask`: one per package); empty if
    /// the PMU has no `cpumask`.
    pub fn cpus(&self) -> &[u32] {
        &self.cpus
    }

    /// Opens a system-wide counter of `event` (e.g. `energy-pkg`) on `cpu`.
    /// Needs `CAP_PERFMON` (or `perf_event_paranoid <= 0`) and a real power
    /// PMU; fails with [`PerfError::NotSupported`] if the kernel has no PMU of
    /// this type.
    pub fn open(&self, event: &str, cpu: u32) -> Result<PowerCounter, PerfError> {
        let ev = self
            .events
            .iter()
            .find(|e| e.name == event)
            .ok_or_else(|| PerfError::UnknownEvent {
                event: event.to_owned(),
            })?;
        if i32::try_from(cpu).is_err() {
            return Err(PerfError::InvalidCpu { cpu });
        }
        let pmu = DynamicPmu {
            ty: self.pmu_type,
            config: ev.config,
            config1: 0,
            config2: 0,
            config3: 0,
        };
        let opts = Opts {
            enable: true,
            ..Opts::default()
        };
        let name = format!("power/{}/", ev.name);
        let counter = Counter::new(pmu, (Cpu(cpu), Proc::ALL), &opts)
            .map_err(|e| open_error(e, &name, PerfTarget::Cpu { cpu }))?;
        Ok(PowerCounter {
            counter,
            event: name,
            cpu,
            factor: UjFactor::new(ev.scale_j),
            last_uj: 0,
        })
    }
}

fn parse_error(path: &Path, reason: impl Into<String>) -> PerfError {
    PerfError::Parse {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A sysfs read error as a [`PerfError`]: a missing file is
/// [`PerfError::File`] with `ENOENT`, a parse error keeps its reason.
fn sysfs_error(e: Error) -> PerfError {
    match e {
        Error::Unsupported { path } => PerfError::File {
            path,
            source: io::Error::from_raw_os_error(libc::ENOENT),
        },
        Error::Parse { path, reason, .. } => PerfError::Parse { path, reason },
        Error::KernelRejected { path, source, .. }
        | Error::Locked { path, source }
        | Error::NotPermitted { path, source }
        | Error::TryAgain { path, source }
        | Error::Busy { path, source }
        | Error::Io { path, source } => PerfError::File { path, source },
        other => PerfError::File {
            path: Default::default(),
            source: io::Error::other(other.to_string()),
        },
    }
}

/// Parses a CPU list such as `0,36` or `0-3,8` with the crate's parser.
fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    crate::cpulist::parse_cpulist("cpumask", text)
        .map(|set| set.into_iter().collect())
        .map_err(|e| e.to_string())
}

/// Parses a format description such as `config:0-7` or `config:0-3,32-35`
/// into the field name and the bit positions, ascending.
fn parse_format(text: &str) -> Result<(String, Vec<u32>), String> {
    let text = text.trim();
    let (field, ranges) = text
        .split_once(':')
        .ok_or_else(|| format!("bad format {text:?}"))?;
    let mut bits = BTreeSet::new();
    for part in ranges.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let first: u32 = first
            .parse()
            .map_err(|_| format!("bad format bits {part:?}"))?;
        let last: u32 = last
            .parse()
            .map_err(|_| format!("bad format bits {part:?}"))?;
        if first > last || last > 63 {
            return Err(format!("bad format bits {part:?}"));
        }
        bits.extend(first..=last);
    }
    if bits.is_empty() {
        return Err(format!("format {text:?} has no bits"));
    }
    Ok((field.trim().to_owned(), bits.into_iter().collect()))
}

/// Parses a term value: `0x`-prefixed hex or decimal.
fn parse_term_value(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Computes `config` from an event description such as `event=0x02`, placing
/// each term's value into the bits named by `<PMU_DIR>/format/<term>`.
/// `event_rel` is the event file, for error reports.
fn event_config(sysfs: &SysfsRoot, event_rel: &str, text: &str) -> Result<u64, PerfError> {
    let event_path = &sysfs.path(event_rel);
    let mut config = 0u64;
    for term in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (name, value) = match term.split_once('=') {
            Some((name, value)) => (name.trim(), value),
            None => (term, "1"),
        };
        let value = parse_term_value(value)
            .ok_or_else(|| parse_error(event_path, format!("bad value in term {term:?}")))?;
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(parse_error(event_path, format!("bad term {term:?}")));
        }
        let format_rel = format!("{PMU_DIR}/format/{name}");
        let format_path = sysfs.path(&format_rel);
        let (field, bits) = match sysfs.read_opt(&format_rel).map_err(sysfs_error)? {
            Some(format) => parse_format(&format).map_err(|r| parse_error(&format_path, r))?,
            None if name == "event" => ("config".to_owned(), (0..64).collect()),
            None => continue,
        };
        if field != "config" {
            return Err(parse_error(
                &format_path,
                format!("term {name:?} sets {field}, only config is supported"),
            ));
        }
        for (i, &bit) in bits.iter().enumerate() {
            if i < 64 && value >> i & 1 == 1 {
                config |= 1 << bit;
            }
        }
        if bits.len() < 64 && value >> bits.len() != 0 {
            return Err(parse_error(
                event_path,
                format!("value of term {term:?} does not fit {} bits", bits.len()),
            ));
        }
    }
    Ok(config)
}

fn read_events(sysfs: &SysfsRoot) -> Result<Vec<PowerEvent>, PerfError> {
    let events_rel = format!("{PMU_DIR}/events");
    // `<event>.scale`, `.unit`, `.per-pkg`, ... describe an event.
    let mut names: Vec<String> = sysfs
        .list(&events_rel)
        .map_err(sysfs_error)?
        .into_iter()
        .filter(|name| !name.contains('.'))
        .collect();
    names.sort();
    let mut events = Vec::with_capacity(names.len());
    for name in names {
        let rel = format!("{events_rel}/{name}");
        let text = sysfs.read(&rel).map_err(sysfs_error)?;
        let config = event_config(sysfs, &rel, &text)?;
        let scale_rel = format!("{events_rel}/{name}.scale");
        let scale_j = match sysfs.read_opt(&scale_rel).map_err(sysfs_error)? {
            Some(text) => {
                let scale = text.trim().parse::<f64>().ok();
                match scale {
                    Some(s) if s.is_finite() && s > 0.0 && (s * 1e6).is_finite() => s,
                    _ => {
                        return Err(parse_error(
                            &sysfs.path(&scale_rel),
                            format!("bad scale {text:?}"),
                        ));
                    }
                }
            }
            None => 1.0,
        };
        let unit = sysfs
            .read_opt(&format!("{events_rel}/{name}.unit"))
            .map_err(sysfs_error)?
            .map(|u| u.trim().to_owned())
            .unwrap_or_default();
        events.push(PowerEvent {
            name,
            config,
            scale_j,
            unit,
        });
    }
    Ok(events)
}

/// Microjoules per count as `mantissa * 2^exp`, the exact value of the `f64`
/// nearest to `scale_j * 1e6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UjFactor {
    mantissa: u64,
    exp: i32,
}

impl UjFactor {
    fn new(scale_j: f64) -> Self {
        let factor = scale_j * 1e6;
        if !(factor.is_finite() && factor > 0.0) {
            return UjFactor {
                mantissa: 0,
                exp: 0,
            };
        }
        let bits = factor.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        if biased == 0 {
            UjFactor {
                mantissa: fraction,
                exp: -1074,
            }
        } else {
            UjFactor {
                mantissa: fraction | (1 << 52),
                exp: biased - 1075,
            }
        }
    }

    /// `floor(count * factor)`, exact, saturating at `u64::MAX`.
    fn apply(self, count: u64) -> u64 {
        // < 2^64 * 2^53, fits in u128.
        let product = u128::from(count) * u128::from(self.mantissa);
        let shift = self.exp.unsigned_abs();
        let value = if self.exp < 0 {
            product.checked_shr(shift).unwrap_or(0)
        } else if product == 0 {
            0
        } else if shift >= product.leading_zeros() {
            u128::MAX
        } else {
            product << shift
        };
        u64::try_from(value).unwrap_or(u64::MAX)
    }
}

/// A system-wide energy counter on one CPU, from [`PowerPmu::open`].
pub struct PowerCounter {
    counter: Counter,
    event: String,
    cpu: u32,
    factor: UjFactor,
    last_uj: u64,
}

impl fmt::Debug for PowerCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PowerCounter")
            .field("event", &self.event)
            .field("cpu", &self.cpu)
            .field("last_uj", &self.last_uj)
            .finish()
    }
}

impl PowerCounter {
    /// Energy counted since the counter was opened, in microjoules; never
    /// decreases.
    ///
    /// The kernel extends the 32-bit RAPL registers to a 64-bit count. The
    /// result is `floor(count * s)` computed exactly in integer arithmetic,
    /// where `s` is the `f64` nearest to `scale_j * 1e6` (relative error at
    /// most 2^-53, none for the usual power-of-two RAPL scales): it is at most
    /// 1 µJ below the exact product and never loses precision as the count
    /// grows.
    pub fn read_uj(&mut self) -> Result<u64, PerfError> {
        let stat = self.counter.stat().map_err(|source| PerfError::Io {
            event: self.event.clone(),
            target: PerfTarget::Cpu { cpu: self.cpu },
            source,
        })?;
        self.last_uj = self.last_uj.max(self.factor.apply(stat.count));
        Ok(self.last_uj)
    }

    /// The event, as `power/<name>/`.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The CPU the counter is bound to.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }
}

/// Power PMU trees for tests (of this module and of the energy meter).
#[cfg(test)]
pub(crate) mod fixture {
    use super::PMU_DIR;
    use crate::sysfs::SysfsRoot;
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::Path;

    /// Writes `rel` (relative to the PMU directory) under the sysfs tree
    /// `root`.
    pub(crate) fn write(root: &Path, rel: &str, content: &str) {
        let path = root.join(PMU_DIR).join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, content).expect("write");
    }

    /// A PMU type number that no PMU on this host has.
    pub(crate) fn unused_pmu_type() -> u32 {
        let sys = SysfsRoot::new("/sys");
        let used: BTreeSet<u32> = sys
            .list("bus/event_source/devices")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|pmu| {
                sys.read_u64(&format!("bus/event_source/devices/{pmu}/type"))
                    .ok()
            })
            .filter_map(|t| u32::try_from(t).ok())
            .collect();
        (4096..).find(|t| !used.contains(t)).unwrap_or(4096)
    }

    /// The power PMU of an Intel server (as Linux 6.1 shows it) under
    /// `root`, counting on the CPUs of `cpumask`.
    pub(crate) fn intel(root: &Path, pmu_type: &str, cpumask: &str) {
        write(root, "type", &format!("{pmu_type}\n"));
        write(root, "cpumask", &format!("{cpumask}\n"));
        write(root, "format/event", "config:0-7\n");
        let events = [
            ("energy-cores", "0x01"),
            ("energy-pkg", "0x02"),
            ("energy-ram", "0x03"),
            ("energy-gpu", "0x04"),
            ("energy-psys", "0x05"),
        ];
        for (event, code) in events {
            write(root, &format!("events/{event}"), &format!("event={code}\n"));
            write(
                root,
                &format!("events/{event}.scale"),
                "2.3283064365386962890625e-10\n",
            );
            write(root, &format!("events/{event}.unit"), "Joules\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::test_lock;
    use crate::testutil::TempDir;
    use std::fs;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn microjoule_conversion() {
        let rapl = UjFactor::new(2f64.powi(-32));
        assert_eq!(rapl.apply(0), 0);
        assert_eq!(rapl.apply(1), 0);
        assert_eq!(rapl.apply(1 << 32), 1_000_000);
        assert_eq!(rapl.apply(3 << 31), 1_500_000);
        assert_eq!(rapl.apply(u64::MAX), 4_294_967_295_999_999);
        let joule = UjFactor::new(1.0);
        assert_eq!(joule.apply(7), 7_000_000);
        assert_eq!(joule.apply(u64::MAX), u64::MAX);
        let amd = UjFactor::new(1.52587890625e-05);
        assert_eq!(amd.apply(1 << 16), 1_000_000);
        let mut prev = 0;
        for count in (0..1_000_000u64).step_by(997) {
            let uj = rapl.apply(count);
            assert!(uj >= prev);
            prev = uj;
        }
        assert_eq!(UjFactor::new(f64::NAN).apply(5), 0);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,36\n"), Ok(vec![0, 36]));
        assert_eq!(parse_cpu_list("0-3,8"), Ok(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list(""), Ok(vec![]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("0-4294967295").is_err());
    }

    /// A temporary sysfs tree with the power PMU of a two-socket Intel
    /// server.
    fn intel_tree(name: &str, pmu_type: &str) -> TempDir {
        let tree = TempDir::new(&format!("perf-{name}"));
        fixture::intel(tree.path(), pmu_type, "0,36");
        tree
    }

    fn sysfs_of(tree: &TempDir) -> SysfsRoot {
        SysfsRoot::new(tree.path())
    }

    #[test]
    fn discover_intel_tree() {
        let _lock = test_lock();
        let tree = intel_tree("intel", "9");
        let pmu = PowerPmu::discover(&sysfs_of(&tree))
            .expect("discover")
            .expect("power PMU present");
        assert_eq!(pmu.pmu_type(), 9);
        assert_eq!(pmu.cpus(), &[0, 36]);
        let names: Vec<&str> = pmu.events().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "energy-cores",
                "energy-gpu",
                "energy-pkg",
                "energy-psys",
                "energy-ram"
            ]
        );
        let pkg = &pmu.events()[2];
        assert_eq!(pkg.config, 2);
        assert_eq!(pkg.scale_j, 2f64.powi(-32));
        assert_eq!(pkg.unit, "Joules");
        assert_eq!(pmu.events()[4].config, 3);
    }

    #[test]
    fn discover_without_power_pmu() {
        let _lock = test_lock();
        let tree = TempDir::new("perf-empty");
        assert_eq!(
            PowerPmu::discover(&sysfs_of(&tree)).expect("discover"),
            None
        );
        assert_eq!(
            PowerPmu::discover(&SysfsRoot::new(tree.path().join("missing"))).expect("discover"),
            None
        );
    }

    #[test]
    fn discover_reports_paths() {
        let _lock = test_lock();
        let tree = intel_tree("badtype", "nine");
        match PowerPmu::discover(&sysfs_of(&tree)) {
            Err(PerfError::Parse { path, .. }) => assert!(path.ends_with("power/type")),
            other => panic!("unexpected {other:?}"),
        }

        let tree = intel_tree("badscale", "9");
        fixture::write(tree.path(), "events/energy-ram.scale", "-1\n");
        match PowerPmu::discover(&sysfs_of(&tree)) {
            Err(PerfError::Parse { path, .. }) => {
                assert!(path.ends_with("events/energy-ram.scale"));
            }
            other => panic!("unexpected {other:?}"),
        }

        let tree = intel_tree("badmask", "9");
        fixture::write(tree.path(), "cpumask", "0,x\n");
        match PowerPmu::discover(&sysfs_of(&tree)) {
            Err(PerfError::Parse { path, .. }) => assert!(path.ends_with("power/cpumask")),
            other => panic!("unexpected {other:?}"),
        }

        let tree = intel_tree("notype", "9");
        fs::remove_file(tree.path().join(PMU_DIR).join("type")).expect("rm");
        match PowerPmu::discover(&sysfs_of(&tree)) {
            Err(PerfError::File { path, source }) => {
                assert!(path.ends_with("power/type"));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn event_terms_follow_format() {
        let _lock = test_lock();
        let tree = intel_tree("terms", "9");
        fixture::write(tree.path(), "format/umask", "config:8-15\n");
        fixture::write(tree.path(), "format/split", "config:0-3,32-35\n");
        fixture::write(tree.path(), "format/flag", "config:63\n");
        fixture::write(tree.path(), "format/other", "config1:0-7\n");
        let sysfs = sysfs_of(&tree);
        let event_rel = format!("{PMU_DIR}/events/x");
        let config = |text: &str| event_config(&sysfs, &event_rel, text);
        assert_eq!(config("event=0x02,umask=0x3\n").expect("ok"), 0x302);
        assert_eq!(config("event=0x02,unknown=7").expect("ok"), 0x02);
        assert_eq!(config("split=0xab").expect("ok"), 0xb | 0xa << 32);
        assert_eq!(config("flag").expect("ok"), 1 << 63);
        assert_eq!(config("event=10").expect("ok"), 10);
        assert!(matches!(
            config("event=0x100"),
            Err(PerfError::Parse { .. })
        ));
        assert!(matches!(config("event=zz"), Err(PerfError::Parse { .. })));
        assert!(matches!(config("../x=1"), Err(PerfError::Parse { .. })));
        match config("other=1") {
            Err(PerfError::Parse { path, .. }) => assert!(path.ends_with("format/other")),
            other => panic!("unexpected {other:?}"),
        }
        fs::remove_file(tree.path().join(PMU_DIR).join("format/event")).expect("rm");
        assert_eq!(config("event=0x1234").expect("ok"), 0x1234);
    }

    #[test]
    fn open_on_missing_pmu_is_not_supported() {
        let _lock = test_lock();
        let pmu_type = fixture::unused_pmu_type();
        let tree = intel_tree("nopmu", &pmu_type.to_string());
        let pmu = PowerPmu::discover(&sysfs_of(&tree))
            .expect("discover")
            .expect("pmu");
        let err = pmu.open("energy-pkg", 0).unwrap_err();
        assert!(
            matches!(
                &err,
                PerfError::NotSupported { event, target: PerfTarget::Cpu { cpu: 0 }, .. }
                    if event == "power/energy-pkg/"
            ),
            "{err}"
        );
        let err = pmu.open("energy-nope", 0).unwrap_err();
        assert!(matches!(err, PerfError::UnknownEvent { .. }), "{err}");
        let err = pmu.open("energy-pkg", u32::MAX).unwrap_err();
        assert!(matches!(err, PerfError::InvalidCpu { .. }), "{err}");
    }

    #[test]
    fn real_power_pmu() {
        let _lock = test_lock();
        let pmu = match PowerPmu::discover(&SysfsRoot::new("/sys")).expect("discover /sys") {
            Some(pmu) => pmu,
            None => {
                eprintln!("skipped: no power PMU on this host");
                return;
            }
        };
        let cpu = pmu.cpus().first().copied().unwrap_or(0);
        let Some(event) = pmu.events().iter().find(|e| e.name == "energy-pkg") else {
            eprintln!("skipped: power PMU without energy-pkg");
            return;
        };
        let mut counter = pmu.open(&event.name, cpu).expect("open energy-pkg");
        let e0 = counter.read_uj().expect("read");
        thread::sleep(Duration::from_millis(200));
        let e1 = counter.read_uj().expect("read");
        assert!(e1 >= e0);
    }
}
