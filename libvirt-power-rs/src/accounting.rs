// SPDX-License-Identifier: LGPL-2.1-or-later
//! Per-domain energy accounting: the loop a daemon runs.
//!
//! An [`Accountant`] holds one [`ProcessCounter`] per domain (a VM's QEMU
//! process, all its threads), reads every RAPL zone's `energy_uj` and
//! splits each interval's energy with the [`Attributor`]. The weight is
//! CPU cycles where the host has a cycles PMU, CPU time otherwise (and the
//! accountant says which).
//!
//! The denominator of the split is the host's whole busy weight when it can
//! be measured (CPU time: the busy time in `/proc/stat`), so the host's own
//! work stays unattributed; with cycles it is the sum over domains (the
//! published formula). A domain's counter is not split by package (a
//! process moves between packages), so its weight counts for every package
//! zone. Conservation holds per zone and interval: sum over domains +
//! unattributed = measured.
//!
//! Totals keep the same identity: `measured = sum over accounted domains +
//! departed + unattributed`, where `departed` holds the energy of domains
//! that stopped (moved there at the first tick after their removal).
//!
//! # Daemon restarts
//!
//! With a state file ([`Accountant::set_state_file`]) every tick saves the
//! totals and each domain's counters with the identity of its process
//! lifetime (pid and start time from `/proc/<pid>/stat`, read through the
//! accountant's [`ProcfsRoot`]). After a restart,
//! [`Accountant::add_domain`] on the same process lifetime resumes from the
//! saved counters, so a domain's counters never go backwards within its
//! lifetime; a new lifetime (same id, other process) starts from 0. Saved
//! domains not (yet) resumed count as departed, so the identity holds
//! throughout. Energy used while no daemon ran is not measured. The file
//! is replaced atomically but not fsynced: it only matters while the
//! domains' processes live, and they do not outlive the machine.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::attribution::{Attributor, HostWeight, IntervalReport, WeightSample, ZoneSample};
use crate::error::{Error, Result};
use crate::perf::{ProcessCounter, WeightKind, WeightPreference};
use crate::procfs::ProcfsRoot;
use crate::rapl::{self, RaplZone};
use crate::sysfs::SysfsRoot;

/// Nanoseconds per `/proc/stat` tick (USER_HZ is 100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

/// Header line of the state file.
const STATE_HEADER: &str = "libvirt-power-accounting 1";

/// One domain's counter and its last reading.
#[derive(Debug)]
struct Domain {
    counter: ProcessCounter,
    last_weight: u64,
    lifetime: Lifetime,
}

/// Identifies one run of a process: pid and start time (clock ticks
/// after boot, field 22 of `/proc/<pid>/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lifetime {
    pid: i32,
    start_ticks: u64,
}

impl Lifetime {
    fn of(procfs: &ProcfsRoot, pid: i32) -> Option<Lifetime> {
        let start_ticks = procfs.pid_stat(pid).ok()?.start_ticks;
        Some(Lifetime { pid, start_ticks })
    }
}

/// A domain's counters saved by an earlier daemon, not resumed yet.
#[derive(Debug, Clone)]
struct Saved {
    lifetime: Lifetime,
    energy_uj: BTreeMap<String, u64>,
}

/// Per-zone totals carried over from the state file.
#[derive(Debug, Clone, Copy, Default)]
struct ZoneBase {
    measured_uj: u64,
    unattributed_uj: u64,
}

/// The accounting state of a daemon.
#[derive(Debug)]
pub struct Accountant {
    sysfs: SysfsRoot,
    procfs: ProcfsRoot,
    zones: Vec<RaplZone>,
    pref: WeightPreference,
    attributor: Attributor,
    domains: BTreeMap<String, Domain>,
    kind: Option<WeightKind>,
    /// Removed domains whose last interval is accounted at the next tick.
    retiring: BTreeSet<String>,
    /// Energy a domain had before this accountant took it over (resumed
    /// from the state file), per zone.
    bases: BTreeMap<String, BTreeMap<String, u64>>,
    /// Energy of domains no longer accounted, per zone.
    departed_uj: BTreeMap<String, u64>,
    /// Saved domains not resumed yet.
    saved: BTreeMap<String, Saved>,
    zone_bases: BTreeMap<String, ZoneBase>,
    ticks: u64,
    state_file: Option<PathBuf>,
}

fn host_busy_ns(procfs: &ProcfsRoot) -> Option<u64> {
    procfs
        .stat()
        .ok()
        .map(|s| s.total.busy_ticks().saturating_mul(NS_PER_TICK))
}

impl Accountant {
    /// An accountant over the RAPL zones of `sysfs` whose energy is
    /// readable, with the machine's `/proc`.
    pub fn new(sysfs: &SysfsRoot, pref: WeightPreference) -> Result<Accountant> {
        Self::with_procfs(sysfs, &ProcfsRoot::default(), pref)
    }

    /// An accountant over the RAPL zones of `sysfs` that reads process
    /// lifetimes, thread lists and the host's busy time from `procfs`.
    pub fn with_procfs(
        sysfs: &SysfsRoot,
        procfs: &ProcfsRoot,
        pref: WeightPreference,
    ) -> Result<Accountant> {
        let zones = rapl::read_zones(sysfs)?
            .into_iter()
            .filter(|z| z.energy_uj.is_some())
            .collect();
        Ok(Accountant {
            sysfs: sysfs.clone(),
            procfs: procfs.clone(),
            zones,
            pref,
            attributor: Attributor::new(),
            domains: BTreeMap::new(),
            kind: None,
            retiring: BTreeSet::new(),
            bases: BTreeMap::new(),
            departed_uj: BTreeMap::new(),
            saved: BTreeMap::new(),
            zone_bases: BTreeMap::new(),
            ticks: 0,
            state_file: None,
        })
    }

    /// Keeps the counters in `path` across daemon restarts: loads what an
    /// earlier accountant saved there (if the file exists) and saves after
    /// every tick. Call before the first domain is added.
    pub fn set_state_file(&mut self, path: &Path) -> Result<()> {
        if !self.domains.is_empty() || self.ticks > 0 {
            return Err(Error::InvalidState(format!(
                "{}: the accounting state file must be set before the first domain and tick",
                path.display()
            )));
        }
        match std::fs::read_to_string(path) {
            Ok(text) => self.load_state(path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::from_io(path.to_owned(), None, e)),
        }
        self.state_file = Some(path.to_owned());
        Ok(())
    }

    fn load_state(&mut self, path: &Path, text: &str) -> Result<()> {
        let bad = |line: &str, reason: &str| Error::Parse {
            path: path.to_owned(),
            content: crate::error::shorten(line),
            reason: reason.to_owned(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(STATE_HEADER) {
            return Err(bad(
                text.lines().next().unwrap_or(""),
                &format!("expected the header '{STATE_HEADER}'"),
            ));
        }
        let num = |line: &str, v: Option<&str>| -> Result<u64> {
            v.and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(line, "expected a number"))
        };
        for line in lines {
            let f: Vec<&str> = line.split(' ').collect();
            match f.first().copied() {
                Some("tick") => self.ticks = num(line, f.get(1).copied())?,
                Some("zone") if f.len() == 5 => {
                    let zone = f[1].to_owned();
                    self.zone_bases.insert(
                        zone.clone(),
                        ZoneBase {
                            measured_uj: num(line, Some(f[2]))?,
                            unattributed_uj: num(line, Some(f[3]))?,
                        },
                    );
                    self.departed_uj.insert(zone, num(line, Some(f[4]))?);
                }
                Some("domain") if f.len() >= 4 => {
                    let pid = i32::try_from(num(line, Some(f[2]))?)
                        .map_err(|_| bad(line, "pid out of range"))?;
                    let mut energy_uj = BTreeMap::new();
                    for kv in &f[4..] {
                        let (z, v) = kv
                            .split_once('=')
                            .ok_or_else(|| bad(line, "expected zone=microjoules"))?;
                        energy_uj.insert(z.to_owned(), num(line, Some(v))?);
                    }
                    self.saved.insert(
                        f[1].to_owned(),
                        Saved {
                            lifetime: Lifetime {
                                pid,
                                start_ticks: num(line, Some(f[3]))?,
                            },
                            energy_uj,
                        },
                    );
                }
                _ => return Err(bad(line, "unknown line")),
            }
        }
        Ok(())
    }

    fn save_state(&self) -> Result<()> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let mut text = format!("{STATE_HEADER}\ntick {}\n", self.ticks);
        for z in self.zones() {
            let _ = writeln!(
                text,
                "zone {z} {} {} {}",
                self.measured_uj(z).unwrap_or(0),
                self.unattributed_uj(z).unwrap_or(0),
                self.departed_own_uj(z)
            );
        }
        let mut domain_line =
            |id: &str, l: Lifetime, energy: &mut dyn Iterator<Item = (&str, u64)>| {
                let _ = write!(text, "domain {id} {} {}", l.pid, l.start_ticks);
                for (z, uj) in energy {
                    let _ = write!(text, " {z}={uj}");
                }
                text.push('\n');
            };
        for (id, d) in &self.domains {
            let mut energy = self
                .zones()
                .map(|z| (z, self.domain_energy_uj(id, z).unwrap_or(0)));
            domain_line(id, d.lifetime, &mut energy);
        }
        // Saved domains not resumed yet stay saved.
        for (id, s) in &self.saved {
            let mut energy = s.energy_uj.iter().map(|(z, uj)| (z.as_str(), *uj));
            domain_line(id, s.lifetime, &mut energy);
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::from_io(tmp.clone(), None, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::from_io(path.clone(), None, e))
    }

    /// Keys of the zones accounted.
    pub fn zones(&self) -> impl Iterator<Item = &str> {
        self.zones.iter().map(|z| z.key.as_str())
    }

    /// The weight in use (`None` before the first domain).
    pub fn weight_kind(&self) -> Option<WeightKind> {
        self.kind
    }

    /// Starts accounting domain `id` whose QEMU process is `pid`. Weight
    /// counted before this call is not charged to the domain.
    pub fn add_domain(&mut self, id: &str, pid: i32) -> Result<WeightKind> {
        if id.is_empty() || id.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "domain id",
                id,
                "a non-empty id without white space (e.g. the domain's UUID)",
            ));
        }
        if self.domains.contains_key(id) {
            return Err(Error::invalid(
                "domain",
                id,
                "a domain that is not accounted yet",
            ));
        }
        let pref = match self.kind {
            Some(WeightKind::Cycles) => WeightPreference::Cycles,
            Some(WeightKind::CpuTimeNs) => WeightPreference::CpuTime,
            None => self.pref,
        };
        let mut counter = ProcessCounter::open_in(&self.procfs, pid, pref)?;
        let kind = counter.kind();
        let reading = counter.read()?;
        let lifetime = Lifetime::of(&self.procfs, pid).unwrap_or(Lifetime {
            pid,
            start_ticks: 0,
        });
        // A domain removed and added again before the next tick: settle
        // its last incarnation first.
        if self.retiring.remove(id) {
            self.depart(id);
        }
        if let Some(saved) = self.saved.remove(id) {
            if saved.lifetime == lifetime {
                // The same process lifetime, resumed after a restart.
                self.bases.insert(id.to_owned(), saved.energy_uj);
            } else {
                // An earlier lifetime of this id: its energy has departed.
                self.add_departed(&saved.energy_uj);
            }
        }
        self.attributor.add_consumer(
            id,
            &[WeightSample {
                consumer: id.into(),
                package: None,
                weight: reading.value,
            }],
        );
        self.kind = Some(kind);
        self.domains.insert(
            id.to_owned(),
            Domain {
                counter,
                last_weight: reading.value,
                lifetime,
            },
        );
        Ok(kind)
    }

    /// Stops accounting `id`: its last weight still counts in the next
    /// tick, which then moves its energy to the departed totals.
    pub fn remove_domain(&mut self, id: &str) -> Result<()> {
        let mut d = self.domains.remove(id).ok_or_else(|| self.unknown(id))?;
        self.retiring.insert(id.to_owned());
        let weight = d.counter.read().map(|r| r.value).unwrap_or(d.last_weight);
        self.attributor.retire_consumer(
            id,
            &[WeightSample {
                consumer: id.into(),
                package: None,
                weight,
            }],
        );
        Ok(())
    }

    /// Moves a removed domain's energy to the departed totals now, without
    /// waiting for the next tick (its last interval's weight is dropped).
    pub fn forget_domain(&mut self, id: &str) {
        if self.retiring.remove(id) {
            self.depart(id);
        }
    }

    fn depart(&mut self, id: &str) {
        let mut energy: BTreeMap<String, u64> = BTreeMap::new();
        for z in self.zones() {
            if let Some(uj) = self.domain_energy_uj(id, z) {
                energy.insert(z.to_owned(), uj);
            }
        }
        self.attributor.forget_consumer(id);
        self.bases.remove(id);
        self.add_departed(&energy);
    }

    fn add_departed(&mut self, energy: &BTreeMap<String, u64>) {
        for (z, uj) in energy {
            let slot = self.departed_uj.entry(z.clone()).or_insert(0);
            *slot = slot.saturating_add(*uj);
        }
    }

    fn departed_own_uj(&self, zone: &str) -> u64 {
        self.departed_uj.get(zone).copied().unwrap_or(0)
    }

    /// Energy in `zone` of domains no longer accounted: removed ones
    /// (from the moment of their removal; the next tick adds their last
    /// interval), and domains saved by an earlier daemon and not resumed
    /// yet, µJ.
    pub fn departed_uj(&self, zone: &str) -> Option<u64> {
        self.zone_index(zone)?;
        let pending: u64 = self
            .saved
            .values()
            .filter_map(|s| s.energy_uj.get(zone))
            .fold(0u64, |a, &b| a.saturating_add(b));
        let retiring: u64 = self
            .retiring
            .iter()
            .filter_map(|id| self.domain_energy_uj(id, zone))
            .fold(0u64, |a, b| a.saturating_add(b));
        Some(
            self.departed_own_uj(zone)
                .saturating_add(pending)
                .saturating_add(retiring),
        )
    }

    fn zone_index(&self, zone: &str) -> Option<usize> {
        self.zones.iter().position(|z| z.key == zone)
    }

    /// The package of `zone` (`None` for platform zones such as `psys`).
    pub fn zone_package(&self, zone: &str) -> Option<Option<u32>> {
        self.zone_index(zone).map(|i| self.zones[i].package)
    }

    /// Completed ticks (carried over a restart with the state file).
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Ids of the domains accounted now.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.keys().map(String::as_str)
    }

    fn unknown(&self, id: &str) -> Error {
        let ids: Vec<&str> = self.domains.keys().map(String::as_str).collect();
        Error::invalid(
            "domain",
            id,
            format!("one of the accounted domains: {}", ids.join(", ")),
        )
    }

    /// One interval: reads energy and weights, attributes.
    pub fn tick(&mut self) -> Result<IntervalReport> {
        let mut zones = Vec::with_capacity(self.zones.len());
        for z in &self.zones {
            zones.push(ZoneSample {
                zone: z.key.clone(),
                package: z.package,
                raw_uj: self.sysfs.read_u64(&z.file("energy_uj"))?,
                range_uj: z.max_energy_range_uj.unwrap_or(0),
            });
        }
        let mut weights = Vec::with_capacity(self.domains.len());
        for (id, d) in &mut self.domains {
            d.counter.refresh_threads()?;
            let r = d.counter.read()?;
            d.last_weight = r.value;
            weights.push(WeightSample {
                consumer: id.clone(),
                package: None,
                weight: r.value,
            });
        }
        let host: Vec<HostWeight> = match (self.kind, host_busy_ns(&self.procfs)) {
            (Some(WeightKind::CpuTimeNs), Some(ns)) => vec![HostWeight {
                package: None,
                weight: ns,
            }],
            _ => Vec::new(),
        };
        let report = self.attributor.update(&zones, &weights, &host);
        for id in std::mem::take(&mut self.retiring) {
            self.depart(&id);
        }
        self.ticks += 1;
        self.save_state()?;
        Ok(report)
    }

    /// Energy attributed to `id` in `zone` during its process lifetime
    /// (since it was first added, across daemon restarts with a state
    /// file), µJ.
    pub fn domain_energy_uj(&self, id: &str, zone: &str) -> Option<u64> {
        let own = self.attributor.consumer_energy_uj(id, zone);
        let base = self.bases.get(id).and_then(|b| b.get(zone)).copied();
        match (own, base) {
            (None, None) if self.domains.contains_key(id) && self.zone_index(zone).is_some() => {
                Some(0)
            }
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        }
    }

    /// The domain's last raw weight (cycles or CPU ns).
    pub fn domain_weight(&self, id: &str) -> Option<u64> {
        self.domains.get(id).map(|d| d.last_weight)
    }

    /// Energy of `zone` not attributed to any domain, µJ.
    pub fn unattributed_uj(&self, zone: &str) -> Option<u64> {
        self.total(zone, self.attributor.unattributed_uj(zone), |b| {
            b.unattributed_uj
        })
    }

    /// Energy measured in `zone` since the first tick (of the first
    /// daemon, with a state file), µJ.
    pub fn measured_uj(&self, zone: &str) -> Option<u64> {
        self.total(zone, self.attributor.measured_uj(zone), |b| b.measured_uj)
    }

    fn total(&self, zone: &str, own: Option<u64>, base: impl Fn(&ZoneBase) -> u64) -> Option<u64> {
        self.zone_index(zone)?;
        let b = self.zone_bases.get(zone).map_or(0, base);
        Some(own.unwrap_or(0).saturating_add(b))
    }

    /// perf file descriptors held.
    pub fn fd_count(&self) -> usize {
        self.domains.values().map(|d| d.counter.fd_count()).sum()
    }
}
