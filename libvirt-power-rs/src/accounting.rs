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

use std::collections::BTreeMap;

use crate::attribution::{Attributor, HostWeight, IntervalReport, WeightSample, ZoneSample};
use crate::error::{Error, Result};
use crate::perf::{ProcessCounter, WeightKind, WeightPreference};
use crate::rapl::{self, RaplZone};
use crate::sysfs::SysfsRoot;

/// Nanoseconds per `/proc/stat` tick (USER_HZ is 100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

/// One domain's counter and its last reading.
#[derive(Debug)]
struct Domain {
    counter: ProcessCounter,
    last_weight: u64,
}

/// The accounting state of a daemon.
#[derive(Debug)]
pub struct Accountant {
    sysfs: SysfsRoot,
    zones: Vec<RaplZone>,
    pref: WeightPreference,
    attributor: Attributor,
    domains: BTreeMap<String, Domain>,
    kind: Option<WeightKind>,
}

fn host_busy_ns() -> Option<u64> {
    crate::topology::proc_stat_jiffies()
        .ok()
        .map(|(busy, _)| busy.saturating_mul(NS_PER_TICK))
}

impl Accountant {
    /// An accountant over the RAPL zones of `sysfs` whose energy is
    /// readable.
    pub fn new(sysfs: &SysfsRoot, pref: WeightPreference) -> Result<Accountant> {
        let zones = rapl::read_zones(sysfs)?
            .into_iter()
            .filter(|z| z.energy_uj.is_some())
            .collect();
        Ok(Accountant {
            sysfs: sysfs.clone(),
            zones,
            pref,
            attributor: Attributor::new(),
            domains: BTreeMap::new(),
            kind: None,
        })
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
        let mut counter = ProcessCounter::open(pid, pref)?;
        let kind = counter.kind();
        let reading = counter.read()?;
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
            },
        );
        Ok(kind)
    }

    /// Stops accounting `id`: its last weight still counts in the next
    /// tick; its energy stays readable until [`Accountant::forget_domain`].
    pub fn remove_domain(&mut self, id: &str) -> Result<()> {
        let mut d = self.domains.remove(id).ok_or_else(|| self.unknown(id))?;
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

    /// Drops a removed domain's counters.
    pub fn forget_domain(&mut self, id: &str) {
        self.attributor.forget_consumer(id);
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
        let host: Vec<HostWeight> = match (self.kind, host_busy_ns()) {
            (Some(WeightKind::CpuTimeNs), Some(ns)) => vec![HostWeight {
                package: None,
                weight: ns,
            }],
            _ => Vec::new(),
        };
        Ok(self.attributor.update(&zones, &weights, &host))
    }

    /// Energy attributed to `id` in `zone` since it was added, µJ.
    pub fn domain_energy_uj(&self, id: &str, zone: &str) -> Option<u64> {
        self.attributor.consumer_energy_uj(id, zone)
    }

    /// The domain's last raw weight (cycles or CPU ns).
    pub fn domain_weight(&self, id: &str) -> Option<u64> {
        self.domains.get(id).map(|d| d.last_weight)
    }

    /// Energy of `zone` not attributed to any domain, µJ.
    pub fn unattributed_uj(&self, zone: &str) -> Option<u64> {
        self.attributor.unattributed_uj(zone)
    }

    /// Energy measured in `zone` since the first tick, µJ.
    pub fn measured_uj(&self, zone: &str) -> Option<u64> {
        self.attributor.measured_uj(zone)
    }

    /// perf file descriptors held.
    pub fn fd_count(&self) -> usize {
        self.domains.values().map(|d| d.counter.fd_count()).sum()
    }
}
