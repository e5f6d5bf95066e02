// SPDX-License-Identifier: LGPL-2.1-or-later
//! The energy model behind `top` and `exporter`, free of FFI: typed
//! parameters as libvirt returns them, parsed into per-domain and per-zone
//! counters, and power computed from two samples.
//!
//! Counters are µJ (`_uj`), power is watts (`_w`), times are seconds (`_s`)
//! unless a name says otherwise.

/// One typed parameter value (`virTypedParameter`), owned.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    Int(i32),
    UInt(u32),
    LLong(i64),
    ULLong(u64),
    Double(f64),
    Boolean(bool),
    String(String),
}

/// An ordered list of typed parameters, looked up by field name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<(String, TypedValue)>);

impl Params {
    pub fn get(&self, field: &str) -> Option<&TypedValue> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, v)| v)
    }

    /// An unsigned value of any integer type; negative values are `None`.
    pub fn u64(&self, field: &str) -> Option<u64> {
        match self.get(field)? {
            TypedValue::UInt(v) => Some(u64::from(*v)),
            TypedValue::ULLong(v) => Some(*v),
            TypedValue::Int(v) => u64::try_from(*v).ok(),
            TypedValue::LLong(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// A signed value of any integer type that fits an `i64`.
    pub fn i64(&self, field: &str) -> Option<i64> {
        match self.get(field)? {
            TypedValue::Int(v) => Some(i64::from(*v)),
            TypedValue::UInt(v) => Some(i64::from(*v)),
            TypedValue::LLong(v) => Some(*v),
            TypedValue::ULLong(v) => i64::try_from(*v).ok(),
            _ => None,
        }
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        match self.get(field)? {
            TypedValue::String(s) => Some(s),
            _ => None,
        }
    }

    fn has_prefix(&self, prefix: &str) -> bool {
        self.0.iter().any(|(f, _)| f.starts_with(prefix))
    }
}

/// What the daemon splits a zone's energy by (`energy.weight`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightKind {
    /// CPU cycles counted by perf.
    Cycles,
    /// CPU time in nanoseconds.
    CpuTime,
    /// A kind this tool does not know; exported raw.
    Other(String),
}

impl WeightKind {
    pub fn parse(s: &str) -> WeightKind {
        match s {
            "cycles" => WeightKind::Cycles,
            "cpu_time" => WeightKind::CpuTime,
            other => WeightKind::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            WeightKind::Cycles => "cycles",
            WeightKind::CpuTime => "cpu_time",
            WeightKind::Other(s) => s,
        }
    }
}

/// What the daemon does with a zone's idle energy
/// (`accounting.idle_policy`, `qemu.conf` `power_accounting_idle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Idle energy is its own counter (`zone.<n>.accounted.idle`).
    Apart,
    /// Idle energy is shared among the running domains by vCPU count
    /// (`energy.zone.<n>.idle`).
    Vcpus,
    /// A policy this tool does not know; shown raw.
    Other(String),
}

impl IdlePolicy {
    pub fn parse(s: &str) -> IdlePolicy {
        match s {
            "apart" => IdlePolicy::Apart,
            "vcpus" => IdlePolicy::Vcpus,
            other => IdlePolicy::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            IdlePolicy::Apart => "apart",
            IdlePolicy::Vcpus => "vcpus",
            IdlePolicy::Other(s) => s,
        }
    }
}

/// A domain's counter in one zone (`energy.zone.<n>.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainZone {
    pub name: String,
    /// Package number, -1 for platform zones.
    pub package: i64,
    /// Everything attributed to the domain in the zone, idle part included.
    pub energy_uj: u64,
    /// The part of `energy_uj` that is shared idle energy
    /// (`energy.zone.<n>.idle`; 0 under the `apart` policy). `None` from a
    /// daemon that does not report it.
    pub idle_uj: Option<u64>,
}

impl DomainZone {
    /// A top-level package zone; see [`NodeZone::is_package`].
    pub fn is_package(&self) -> bool {
        is_package_zone(&self.name)
    }
}

/// The `energy.*` stats group of one domain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainEnergy {
    pub weight: Option<WeightKind>,
    /// Cycles, or CPU nanoseconds for `cpu_time`.
    pub weight_value: Option<u64>,
    pub tick: Option<u64>,
    /// Sum over the package zones.
    pub total_uj: Option<u64>,
    pub zones: Vec<DomainZone>,
}

impl DomainEnergy {
    /// `None` when the record has no `energy.*` field at all (a daemon
    /// without the energy group, or the test driver).
    pub fn from_params(p: &Params) -> Option<DomainEnergy> {
        if !p.has_prefix("energy.") {
            return None;
        }
        let count = p.u64("energy.zone.count").unwrap_or(0);
        let zones = (0..count)
            .filter_map(|n| {
                let key = |f: &str| format!("energy.zone.{n}.{f}");
                Some(DomainZone {
                    name: p.str(&key("name"))?.to_string(),
                    package: p.i64(&key("package")).unwrap_or(-1),
                    energy_uj: p.u64(&key("energy"))?,
                    idle_uj: p.u64(&key("idle")),
                })
            })
            .collect();
        Some(DomainEnergy {
            weight: p.str("energy.weight").map(WeightKind::parse),
            weight_value: p.u64("energy.weight.value"),
            tick: p.u64("energy.tick"),
            total_uj: p.u64("energy.total"),
            zones,
        })
    }

    /// The idle part of `total_uj`: the sum of the package zones' idle
    /// counters, `None` if the daemon reports none.
    pub fn total_idle_uj(&self) -> Option<u64> {
        let mut idle = self
            .zones
            .iter()
            .filter(|z| z.is_package())
            .filter_map(|z| z.idle_uj)
            .peekable();
        idle.peek()?;
        Some(idle.sum())
    }
}

/// One running domain in a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSample {
    pub name: String,
    pub uuid: String,
    pub energy: Option<DomainEnergy>,
}

/// One RAPL zone of the host (`zone.<n>.*` of virNodeGetRaplLimit).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeZone {
    pub name: String,
    pub package: i64,
    /// Raw `energy_uj`; wraps at `max_energy_range_uj`.
    pub energy_uj: Option<u64>,
    pub max_energy_range_uj: Option<u64>,
    /// Accounting totals (`zone.<n>.accounted.*`), monotonic. Per zone,
    /// measured = Σ running domains + departed + host + idle, and
    /// unattributed = host + idle.
    pub measured_uj: Option<u64>,
    pub unattributed_uj: Option<u64>,
    pub departed_uj: Option<u64>,
    /// Active energy no domain claimed (`.accounted.host`). A daemon that
    /// does not keep idle energy apart reports only `.unattributed`; then
    /// this is `.unattributed` and `idle_uj` is `None`.
    pub host_uj: Option<u64>,
    /// Idle energy kept as idle (`.accounted.idle`), not shared with
    /// domains.
    pub idle_uj: Option<u64>,
    /// The zone's learned idle power (`.accounted.idle_power`, µW); `None`
    /// while the daemon is still learning it, or from an older daemon.
    pub idle_power_uw: Option<u64>,
}

/// See [`NodeZone::is_package`].
fn is_package_zone(name: &str) -> bool {
    name.starts_with("package-") && !name.contains('/')
}

impl NodeZone {
    /// A top-level package zone (`package-0`), the ones `energy.total`
    /// sums; not subzones (`package-0/dram`), not the MMIO view of the same
    /// package (`mmio:package-0`), not other zones (`psys`, `dram-0`).
    pub fn is_package(&self) -> bool {
        is_package_zone(&self.name)
    }

    /// The daemon keeps this zone's idle energy apart from the host's
    /// active energy (it reports `.accounted.idle`).
    pub fn splits_idle(&self) -> bool {
        self.idle_uj.is_some()
    }
}

/// The daemon's accounting loop, when it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounting {
    pub tick: u64,
    pub interval_ms: Option<u64>,
    pub weight: Option<String>,
    /// `None` from a daemon that does not split idle energy.
    pub idle_policy: Option<IdlePolicy>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeSample {
    pub zones: Vec<NodeZone>,
    /// `None`: accounting is off (no `accounting.*` fields).
    pub accounting: Option<Accounting>,
}

impl NodeSample {
    pub fn from_params(p: &Params) -> NodeSample {
        let count = p.u64("zone.count").unwrap_or(0);
        let zones = (0..count)
            .filter_map(|n| {
                let key = |f: &str| format!("zone.{n}.{f}");
                Some(NodeZone {
                    name: p.str(&key("name"))?.to_string(),
                    package: p.i64(&key("package")).unwrap_or(-1),
                    energy_uj: p.u64(&key("energy")),
                    max_energy_range_uj: p.u64(&key("max_energy_range")),
                    measured_uj: p.u64(&key("accounted.measured")),
                    unattributed_uj: p.u64(&key("accounted.unattributed")),
                    departed_uj: p.u64(&key("accounted.departed")),
                    host_uj: p
                        .u64(&key("accounted.host"))
                        .or_else(|| p.u64(&key("accounted.unattributed"))),
                    idle_uj: p.u64(&key("accounted.idle")),
                    idle_power_uw: p.u64(&key("accounted.idle_power")),
                })
            })
            .collect();
        let accounting = p.u64("accounting.tick").map(|tick| Accounting {
            tick,
            interval_ms: p.u64("accounting.interval"),
            weight: p.str("accounting.weight").map(str::to_string),
            idle_policy: p.str("accounting.idle_policy").map(IdlePolicy::parse),
        });
        NodeSample { zones, accounting }
    }
}

/// Everything read from libvirt at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Monotonic clock, seconds from an arbitrary origin.
    pub monotonic_s: f64,
    /// Wall clock, seconds since the Unix epoch.
    pub unix_time_s: f64,
    pub domains: Vec<DomainSample>,
    /// The node getter's result, or the reason it failed.
    pub node: Result<NodeSample, String>,
}

/// Growth of a counter that only goes up; a reset (the domain restarted,
/// the daemon's counters started over) gives `None`, never a negative.
pub fn counter_delta(prev: u64, cur: u64) -> Option<u64> {
    cur.checked_sub(prev)
}

/// Growth of a raw RAPL counter that wraps at `range` µJ.
pub fn wrapping_delta(prev: u64, cur: u64, range: Option<u64>) -> Option<u64> {
    match (cur.checked_sub(prev), range) {
        (Some(d), _) => Some(d),
        (None, Some(r)) if r >= prev => Some(r - prev + cur),
        (None, _) => None,
    }
}

fn watts(delta_uj: Option<u64>, interval_s: f64) -> Option<f64> {
    if interval_s <= 0.0 {
        return None;
    }
    // Precision: f64 is exact for µJ deltas below 2^53 (9 GJ).
    delta_uj.map(|d| d as f64 / 1e6 / interval_s)
}

/// The time the accounting counters grew over between two readings: the
/// ticks they advanced by times the accounting interval. `None` when the
/// tick did not advance (or went back: the daemon restarted) or the
/// interval is unknown; the wall time is used then.
pub fn accounted_seconds(prev_tick: u64, cur_tick: u64, interval_ms: Option<u64>) -> Option<f64> {
    let ticks = cur_tick.checked_sub(prev_tick).filter(|&t| t > 0)?;
    let ms = interval_ms.filter(|&ms| ms > 0)?;
    // Precision: exact below 2^53 ms (285,000 years).
    Some(ticks as f64 * ms as f64 / 1e3)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZonePower {
    pub name: String,
    /// Measured power: from the accounting totals when they are there in
    /// both samples, else from the raw counter.
    pub measured_w: Option<f64>,
    pub unattributed_w: Option<f64>,
    pub departed_w: Option<f64>,
    /// Active power no domain claimed; the unattributed power from a daemon
    /// that does not keep idle energy apart.
    pub host_w: Option<f64>,
    /// Idle power kept as idle (not shared with domains).
    pub idle_w: Option<f64>,
    /// The zone's learned idle power in the current sample (not a
    /// difference); `None` while it is being learned.
    pub idle_power_w: Option<f64>,
}

/// A domain's power in one zone.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainZonePower {
    pub name: String,
    /// Package number, -1 for platform zones.
    pub package: i64,
    /// The domain's counter in the current sample.
    pub energy_uj: u64,
    pub w: Option<f64>,
    /// The part of `w` that is shared idle power (`vcpus` policy).
    pub idle_w: Option<f64>,
}

impl DomainZonePower {
    pub fn is_package(&self) -> bool {
        is_package_zone(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DomainPower {
    pub uuid: String,
    /// From `energy.total`.
    pub package_w: Option<f64>,
    /// Share of the host's package power, percent.
    pub share_pct: Option<f64>,
    /// The part of `package_w` that is shared idle power: the package
    /// zones' `energy.zone.<n>.idle`.
    pub idle_w: Option<f64>,
    /// Seconds the domain's watts are over: its `energy.tick` advance times
    /// the accounting interval, else the wall time.
    pub interval_s: f64,
    pub zones: Vec<DomainZonePower>,
}

impl DomainPower {
    pub fn zone(&self, name: &str) -> Option<&DomainZonePower> {
        self.zones.iter().find(|z| z.name == name)
    }

    /// The package zones the domain has energy in (a counter above 0),
    /// ordered as the daemon lists them.
    pub fn packages(&self) -> Vec<&DomainZonePower> {
        self.zones
            .iter()
            .filter(|z| z.is_package() && z.energy_uj > 0)
            .collect()
    }
}

/// Power between two samples. Accounting counters only grow at an
/// accounting tick, so their deltas are divided by the ticks they advanced
/// by times the accounting interval; without a tick advance (no accounting,
/// a refresh shorter than the accounting interval) by the wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct Power {
    /// Wall time between the two samples.
    pub interval_s: f64,
    /// Accounting ticks the host counters advanced by (`accounting.tick`).
    pub ticks: Option<u64>,
    /// `ticks` × `accounting.interval`, the seconds the host's accounting
    /// counters grew over; `None` when the tick did not advance.
    pub accounted_s: Option<f64>,
    /// Sum over the host's package zones ([`NodeZone::is_package`]).
    pub host_package_w: Option<f64>,
    /// Unattributed power summed over the same package zones.
    pub host_unattributed_w: Option<f64>,
    /// Host (active, no domain) power over the package zones.
    pub host_active_w: Option<f64>,
    /// Idle power kept as idle over the package zones.
    pub host_idle_w: Option<f64>,
    /// Learned idle power over the package zones, when known for all.
    pub host_idle_power_w: Option<f64>,
    pub zones: Vec<ZonePower>,
    pub domains: Vec<DomainPower>,
}

impl Power {
    pub fn domain(&self, uuid: &str) -> Option<&DomainPower> {
        self.domains.iter().find(|d| d.uuid == uuid)
    }

    pub fn zone(&self, name: &str) -> Option<&ZonePower> {
        self.zones.iter().find(|z| z.name == name)
    }
}

fn accounting(s: &Sample) -> Option<&Accounting> {
    s.node.as_ref().ok()?.accounting.as_ref()
}

pub fn power(prev: &Sample, cur: &Sample) -> Power {
    let wall_s = cur.monotonic_s - prev.monotonic_s;
    let (pa, ca) = (accounting(prev), accounting(cur));
    let interval_ms = ca.and_then(|a| a.interval_ms);
    let ticks = pa.zip(ca).and_then(|(p, c)| counter_delta(p.tick, c.tick));
    let accounted_s = pa
        .zip(ca)
        .and_then(|(p, c)| accounted_seconds(p.tick, c.tick, interval_ms));
    let acc_s = accounted_s.unwrap_or(wall_s);
    let mut zones = Vec::new();
    let mut host_package_w = None;
    let mut host_unattributed_w = None;
    let mut host_active_w = None;
    let mut host_idle_w = None;
    let mut host_idle_power_w = None;
    if let (Ok(pn), Ok(cn)) = (&prev.node, &cur.node) {
        let add = |sum: Option<f64>, w: Option<f64>| Some(sum? + w?);
        let mut package_sum = Some(0.0);
        let mut unattributed_sum = Some(0.0);
        let mut active_sum = Some(0.0);
        let mut idle_sum = Some(0.0);
        let mut idle_power_sum = Some(0.0);
        let mut any_package = false;
        for cz in &cn.zones {
            let pz = pn.zones.iter().find(|z| z.name == cz.name);
            let acc = |f: fn(&NodeZone) -> Option<u64>| {
                watts(pz.and_then(|pz| counter_delta(f(pz)?, f(cz)?)), acc_s)
            };
            let measured_w = match pz {
                Some(pz) => match (pz.measured_uj, cz.measured_uj) {
                    (Some(p), Some(c)) => watts(counter_delta(p, c), acc_s),
                    _ => watts(
                        pz.energy_uj
                            .zip(cz.energy_uj)
                            .and_then(|(p, c)| wrapping_delta(p, c, cz.max_energy_range_uj)),
                        wall_s,
                    ),
                },
                None => None,
            };
            let zp = ZonePower {
                name: cz.name.clone(),
                measured_w,
                unattributed_w: acc(|z| z.unattributed_uj),
                departed_w: acc(|z| z.departed_uj),
                host_w: acc(|z| z.host_uj),
                idle_w: acc(|z| z.idle_uj),
                idle_power_w: cz.idle_power_uw.map(|uw| uw as f64 / 1e6),
            };
            if cz.is_package() {
                any_package = true;
                package_sum = add(package_sum, zp.measured_w);
                unattributed_sum = add(unattributed_sum, zp.unattributed_w);
                active_sum = add(active_sum, zp.host_w);
                idle_sum = add(idle_sum, zp.idle_w);
                idle_power_sum = add(idle_power_sum, zp.idle_power_w);
            }
            zones.push(zp);
        }
        if any_package {
            host_package_w = package_sum;
            host_unattributed_w = unattributed_sum;
            host_active_w = active_sum;
            host_idle_w = idle_sum;
            host_idle_power_w = idle_power_sum;
        }
    }
    let domains = cur
        .domains
        .iter()
        .map(|cd| {
            let pe = prev
                .domains
                .iter()
                .find(|d| d.uuid == cd.uuid)
                .and_then(|d| d.energy.as_ref());
            let ce = cd.energy.as_ref();
            // The domain's own tick: its stats are read before the host's,
            // and a tick may fall in between.
            let interval_s = pe
                .zip(ce)
                .and_then(|(p, c)| accounted_seconds(p.tick?, c.tick?, interval_ms))
                .unwrap_or(wall_s);
            let delta = |f: fn(&DomainEnergy) -> Option<u64>| {
                let (p, c) = pe.zip(ce)?;
                counter_delta(f(p)?, f(c)?)
            };
            let package_w = watts(delta(|e| e.total_uj), interval_s);
            let idle_w = watts(delta(DomainEnergy::total_idle_uj), interval_s);
            let share_pct = match (package_w, host_package_w) {
                (Some(d), Some(h)) if h > 0.0 => Some(d / h * 100.0),
                _ => None,
            };
            let zones = ce
                .map(|ce| {
                    ce.zones
                        .iter()
                        .map(|cz| {
                            let pz = pe.and_then(|pe| pe.zones.iter().find(|z| z.name == cz.name));
                            let d = pz.and_then(|pz| counter_delta(pz.energy_uj, cz.energy_uj));
                            let idle = pz.and_then(|pz| counter_delta(pz.idle_uj?, cz.idle_uj?));
                            DomainZonePower {
                                name: cz.name.clone(),
                                package: cz.package,
                                energy_uj: cz.energy_uj,
                                w: watts(d, interval_s),
                                idle_w: watts(idle, interval_s),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            DomainPower {
                uuid: cd.uuid.clone(),
                package_w,
                share_pct,
                idle_w,
                interval_s,
                zones,
            }
        })
        .collect();
    Power {
        interval_s: wall_s,
        ticks,
        accounted_s,
        host_package_w,
        host_unattributed_w,
        host_active_w,
        host_idle_w,
        host_idle_power_w,
        zones,
        domains,
    }
}

/// µJ as exact decimal joules (`1234567` -> `1.234567`), no float rounding.
pub fn uj_as_joules(uj: u64) -> String {
    format!("{}.{:06}", uj / 1_000_000, uj % 1_000_000)
}

/// µW as exact decimal watts.
pub fn uw_as_watts(uw: u64) -> String {
    uj_as_joules(uw)
}

/// ns as exact decimal seconds.
pub fn ns_as_seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn s(v: &str) -> TypedValue {
        TypedValue::String(v.to_string())
    }

    /// Domain params of a daemon without idle accounting (tick 42).
    pub(crate) fn domain_params(total_uj: u64, zones: &[(&str, i32, u64)], weight: u64) -> Params {
        let zones: Vec<DomZone> = zones.iter().map(|&(n, p, e)| (n, p, e, None)).collect();
        domain_params_at(42, total_uj, &zones, weight)
    }

    /// One zone of a domain: name, package, energy µJ, idle µJ (`None`:
    /// the field is absent).
    pub(crate) type DomZone<'a> = (&'a str, i32, u64, Option<u64>);

    /// Domain params as virHostPowerAccountingDomainStats lists them.
    pub(crate) fn domain_params_at(
        tick: u64,
        total_uj: u64,
        zones: &[DomZone],
        weight: u64,
    ) -> Params {
        let mut v = vec![
            ("energy.weight".to_string(), s("cycles")),
            (
                "energy.weight.value".to_string(),
                TypedValue::ULLong(weight),
            ),
            ("energy.tick".to_string(), TypedValue::ULLong(tick)),
            ("energy.total".to_string(), TypedValue::ULLong(total_uj)),
            (
                "energy.zone.count".to_string(),
                TypedValue::UInt(u32::try_from(zones.len()).unwrap()),
            ),
        ];
        for (n, (name, pkg, e, idle)) in zones.iter().enumerate() {
            v.push((format!("energy.zone.{n}.name"), s(name)));
            v.push((format!("energy.zone.{n}.package"), TypedValue::Int(*pkg)));
            v.push((format!("energy.zone.{n}.energy"), TypedValue::ULLong(*e)));
            if let Some(idle) = idle {
                v.push((format!("energy.zone.{n}.idle"), TypedValue::ULLong(*idle)));
            }
        }
        Params(v)
    }

    /// Accounting totals of one zone in µJ: measured, unattributed,
    /// departed.
    pub(crate) type Accounted = (u64, u64, u64);

    /// Node params; `acc` adds accounting fields (measured, unattributed,
    /// departed) per zone.
    pub(crate) fn node_params(
        zones: &[(&str, i32, u64)],
        acc: Option<(u64, &[Accounted])>,
    ) -> Params {
        let mut v = vec![(
            "zone.count".to_string(),
            TypedValue::UInt(u32::try_from(zones.len()).unwrap()),
        )];
        for (n, (name, pkg, e)) in zones.iter().enumerate() {
            v.push((format!("zone.{n}.name"), s(name)));
            v.push((format!("zone.{n}.package"), TypedValue::Int(*pkg)));
            v.push((format!("zone.{n}.enabled"), TypedValue::Boolean(true)));
            v.push((format!("zone.{n}.energy"), TypedValue::ULLong(*e)));
            v.push((
                format!("zone.{n}.max_energy_range"),
                TypedValue::ULLong(262_143_328_850),
            ));
            if let Some((_, a)) = acc {
                v.push((
                    format!("zone.{n}.accounted.measured"),
                    TypedValue::ULLong(a[n].0),
                ));
                v.push((
                    format!("zone.{n}.accounted.unattributed"),
                    TypedValue::ULLong(a[n].1),
                ));
                v.push((
                    format!("zone.{n}.accounted.departed"),
                    TypedValue::ULLong(a[n].2),
                ));
            }
        }
        if let Some((tick, _)) = acc {
            v.push(("accounting.tick".to_string(), TypedValue::ULLong(tick)));
            v.push(("accounting.interval".to_string(), TypedValue::UInt(1000)));
            v.push(("accounting.weight".to_string(), s("cycles")));
        }
        Params(v)
    }

    /// Accounting totals of one zone from a daemon that keeps idle energy
    /// apart, in µJ: measured, departed, host, idle, and the idle power in
    /// µW once learned. Unattributed is host + idle, as the daemon reports.
    pub(crate) type AccountedIdle = (u64, u64, u64, u64, Option<u64>);

    /// Node params in the daemon's order: the zones, then the accounting
    /// fields (tick, `interval_ms`, the idle policy) and per zone the
    /// accounted counters.
    pub(crate) fn node_params_idle(
        zones: &[(&str, i32, u64)],
        tick: u64,
        interval_ms: u32,
        policy: &str,
        acc: &[AccountedIdle],
    ) -> Params {
        let mut v = node_params(zones, None).0;
        v.push(("accounting.tick".to_string(), TypedValue::ULLong(tick)));
        v.push((
            "accounting.interval".to_string(),
            TypedValue::UInt(interval_ms),
        ));
        v.push(("accounting.weight".to_string(), s("cpu_time")));
        v.push(("accounting.idle_policy".to_string(), s(policy)));
        for (n, &(measured, departed, host, idle, idle_power)) in acc.iter().enumerate() {
            let mut f = |what: &str, uj: u64| {
                v.push((format!("zone.{n}.accounted.{what}"), TypedValue::ULLong(uj)));
            };
            f("measured", measured);
            f("unattributed", host + idle);
            f("departed", departed);
            f("idle", idle);
            f("host", host);
            if let Some(uw) = idle_power {
                f("idle_power", uw);
            }
        }
        Params(v)
    }

    pub(crate) fn sample(
        t_s: f64,
        domains: Vec<DomainSample>,
        node: Result<NodeSample, String>,
    ) -> Sample {
        Sample {
            monotonic_s: t_s,
            unix_time_s: 1_700_000_000.0 + t_s,
            domains,
            node,
        }
    }

    pub(crate) fn dom(name: &str, uuid: &str, p: &Params) -> DomainSample {
        DomainSample {
            name: name.to_string(),
            uuid: uuid.to_string(),
            energy: DomainEnergy::from_params(p),
        }
    }

    #[test]
    fn domain_params_parse_into_zones() {
        let p = domain_params(
            5_000_000,
            &[("package-0", 0, 4_000_000), ("dram-0", 0, 1_000_000)],
            99,
        );
        let e = DomainEnergy::from_params(&p).unwrap();
        assert_eq!(e.weight, Some(WeightKind::Cycles));
        assert_eq!(e.weight_value, Some(99));
        assert_eq!(e.tick, Some(42));
        assert_eq!(e.total_uj, Some(5_000_000));
        assert_eq!(e.zones.len(), 2);
        assert_eq!(e.zones[1].name, "dram-0");
        assert_eq!(e.zones[1].energy_uj, 1_000_000);
    }

    #[test]
    fn no_energy_group_is_none() {
        let p = Params(vec![("state.state".into(), TypedValue::Int(1))]);
        assert_eq!(DomainEnergy::from_params(&p), None);
        assert_eq!(WeightKind::parse("cpu_time"), WeightKind::CpuTime);
        assert_eq!(WeightKind::parse("odd").as_str(), "odd");
    }

    #[test]
    fn node_params_with_and_without_accounting() {
        let off = NodeSample::from_params(&node_params(
            &[("package-0", 0, 10), ("psys", -1, 20)],
            None,
        ));
        assert_eq!(off.accounting, None);
        assert_eq!(off.zones.len(), 2);
        assert!(off.zones[0].is_package());
        assert!(!off.zones[1].is_package());
        assert_eq!(off.zones[0].measured_uj, None);

        let on = NodeSample::from_params(&node_params(
            &[("package-0", 0, 10)],
            Some((7, &[(100, 5, 1)])),
        ));
        let acc = on.accounting.unwrap();
        assert_eq!(
            (acc.tick, acc.interval_ms, acc.weight.as_deref()),
            (7, Some(1000), Some("cycles"))
        );
        assert_eq!(
            (
                on.zones[0].measured_uj,
                on.zones[0].unattributed_uj,
                on.zones[0].departed_uj
            ),
            (Some(100), Some(5), Some(1))
        );
    }

    #[test]
    fn node_params_with_idle_accounting() {
        let zones = [("package-0", 0, 10), ("package-1", 1, 20), ("psys", -1, 30)];
        let acc: &[AccountedIdle] = &[
            (100, 1, 10, 20, Some(12_500_000)),
            (200, 0, 5, 30, None),
            (300, 0, 7, 0, None),
        ];
        let n = NodeSample::from_params(&node_params_idle(&zones, 9, 500, "vcpus", acc));
        let a = n.accounting.as_ref().unwrap();
        assert_eq!(a.idle_policy, Some(IdlePolicy::Vcpus));
        assert_eq!(a.weight.as_deref(), Some("cpu_time"));
        assert_eq!(a.interval_ms, Some(500));
        let z0 = &n.zones[0];
        assert_eq!(
            (
                z0.measured_uj,
                z0.unattributed_uj,
                z0.departed_uj,
                z0.host_uj,
                z0.idle_uj,
                z0.idle_power_uw
            ),
            (
                Some(100),
                Some(30),
                Some(1),
                Some(10),
                Some(20),
                Some(12_500_000)
            )
        );
        assert!(z0.splits_idle());
        // Still learning: no idle_power field.
        assert_eq!(n.zones[1].idle_power_uw, None);
        assert_eq!(n.zones[1].idle_uj, Some(30));
        assert_eq!(n.zones[2].host_uj, Some(7));
        assert_eq!(IdlePolicy::parse("apart"), IdlePolicy::Apart);
        assert_eq!(IdlePolicy::parse("later").as_str(), "later");
    }

    #[test]
    fn older_daemon_host_is_unattributed_and_idle_unknown() {
        let n = NodeSample::from_params(&node_params(
            &[("package-0", 0, 10)],
            Some((7, &[(100, 5, 1)])),
        ));
        assert_eq!(n.accounting.as_ref().unwrap().idle_policy, None);
        let z = &n.zones[0];
        assert_eq!(
            (z.host_uj, z.idle_uj, z.idle_power_uw),
            (Some(5), None, None)
        );
        assert!(!z.splits_idle());
        // Accounting off: nothing to fall back on.
        let off = NodeSample::from_params(&node_params(&[("package-0", 0, 10)], None));
        assert_eq!((off.zones[0].host_uj, off.zones[0].idle_uj), (None, None));
        // A domain without `energy.zone.<n>.idle`.
        let d = DomainEnergy::from_params(&domain_params(5, &[("package-0", 0, 5)], 1)).unwrap();
        assert_eq!(d.zones[0].idle_uj, None);
        assert_eq!(d.total_idle_uj(), None);
    }

    #[test]
    fn domain_idle_fields_parse_and_sum_over_packages() {
        let p = domain_params_at(
            3,
            90,
            &[
                ("package-0", 0, 50, Some(10)),
                ("package-1", 1, 40, Some(2)),
                ("package-1/dram", 1, 8, Some(4)),
            ],
            1,
        );
        let e = DomainEnergy::from_params(&p).unwrap();
        assert_eq!(e.zones[1].idle_uj, Some(2));
        assert!(e.zones[1].is_package() && !e.zones[2].is_package());
        // The subzone's idle part is not in the package total.
        assert_eq!(e.total_idle_uj(), Some(12));
    }

    /// Two packages under the vcpus policy; the domains' counters, the
    /// host's and the idle energy add up to the measured energy in both
    /// samples, as the daemon guarantees.
    pub(crate) fn two_package_samples(t1_s: f64, tick1: u64) -> (Sample, Sample) {
        let zones = [("package-0", 0, 0), ("package-1", 1, 0)];
        let n0 = node_params_idle(
            &zones,
            10,
            500,
            "vcpus",
            &[
                (100_000_000, 0, 10_000_000, 20_000_000, None),
                (200_000_000, 0, 5_000_000, 30_000_000, None),
            ],
        );
        let n1 = node_params_idle(
            &zones,
            tick1,
            500,
            "vcpus",
            &[
                (140_000_000, 0, 14_000_000, 26_000_000, Some(3_000_000)),
                (220_000_000, 0, 7_000_000, 31_000_000, None),
            ],
        );
        let a0 = domain_params_at(
            10,
            90_000_000,
            &[
                ("package-0", 0, 50_000_000, Some(10_000_000)),
                ("package-1", 1, 40_000_000, Some(2_000_000)),
            ],
            1,
        );
        let a1 = domain_params_at(
            tick1,
            120_000_000,
            &[
                ("package-0", 0, 70_000_000, Some(15_000_000)),
                ("package-1", 1, 50_000_000, Some(3_000_000)),
            ],
            2,
        );
        let b0 = domain_params_at(
            10,
            145_000_000,
            &[
                ("package-0", 0, 20_000_000, Some(4_000_000)),
                ("package-1", 1, 125_000_000, Some(1_000_000)),
            ],
            1,
        );
        let b1 = domain_params_at(
            tick1,
            162_000_000,
            &[
                ("package-0", 0, 30_000_000, Some(9_000_000)),
                ("package-1", 1, 132_000_000, Some(2_000_000)),
            ],
            2,
        );
        let s0 = sample(
            0.0,
            vec![dom("a", "u-a", &a0), dom("b", "u-b", &b0)],
            Ok(NodeSample::from_params(&n0)),
        );
        let s1 = sample(
            t1_s,
            vec![dom("a", "u-a", &a1), dom("b", "u-b", &b1)],
            Ok(NodeSample::from_params(&n1)),
        );
        for s in [&s0, &s1] {
            let n = s.node.as_ref().unwrap();
            for z in &n.zones {
                let domains: u64 = s
                    .domains
                    .iter()
                    .map(|d| d.energy.as_ref().unwrap())
                    .map(|e| e.zones.iter().find(|x| x.name == z.name).unwrap().energy_uj)
                    .sum();
                let rest = z.departed_uj.unwrap() + z.host_uj.unwrap() + z.idle_uj.unwrap();
                assert_eq!(
                    domains + rest,
                    z.measured_uj.unwrap(),
                    "fixture: {}",
                    z.name
                );
            }
        }
        (s0, s1)
    }

    #[test]
    fn watts_of_host_idle_and_domains_over_accounting_ticks() {
        // 2.3 s of wall time, but the counters grew over 4 ticks of 500 ms.
        let (s0, s1) = two_package_samples(2.3, 14);
        let pw = power(&s0, &s1);
        assert_eq!(pw.interval_s, 2.3);
        assert_eq!((pw.ticks, pw.accounted_s), (Some(4), Some(2.0)));
        let z0 = pw.zone("package-0").unwrap();
        assert_eq!(
            (
                z0.measured_w,
                z0.host_w,
                z0.idle_w,
                z0.departed_w,
                z0.unattributed_w
            ),
            (Some(20.0), Some(2.0), Some(3.0), Some(0.0), Some(5.0))
        );
        assert_eq!(z0.idle_power_w, Some(3.0));
        assert_eq!(pw.zone("package-1").unwrap().idle_power_w, None);
        assert_eq!(pw.host_package_w, Some(30.0));
        assert_eq!(pw.host_active_w, Some(3.0));
        assert_eq!(pw.host_idle_w, Some(3.5));
        assert_eq!(pw.host_unattributed_w, Some(6.5));
        // One package is still learning: no host-wide idle power.
        assert_eq!(pw.host_idle_power_w, None);

        let a = pw.domain("u-a").unwrap();
        assert_eq!(a.interval_s, 2.0);
        assert_eq!((a.package_w, a.idle_w), (Some(15.0), Some(3.0)));
        assert_eq!(a.share_pct, Some(50.0));
        let split: Vec<(i64, Option<f64>, Option<f64>)> = a
            .packages()
            .iter()
            .map(|z| (z.package, z.w, z.idle_w))
            .collect();
        assert_eq!(
            split,
            [(0, Some(10.0), Some(2.5)), (1, Some(5.0), Some(0.5))]
        );
        // The identity in watts, per zone.
        for z in &pw.zones {
            let domains: f64 = pw
                .domains
                .iter()
                .map(|d| d.zone(&z.name).unwrap().w.unwrap())
                .sum();
            let rest = z.departed_w.unwrap() + z.host_w.unwrap() + z.idle_w.unwrap();
            assert_eq!(domains + rest, z.measured_w.unwrap(), "{}", z.name);
        }
    }

    #[test]
    fn tick_that_did_not_advance_falls_back_to_wall_time() {
        assert_eq!(accounted_seconds(3, 5, Some(1500)), Some(3.0));
        assert_eq!(accounted_seconds(5, 5, Some(1000)), None);
        // The daemon restarted: its tick began again.
        assert_eq!(accounted_seconds(9, 2, Some(1000)), None);
        assert_eq!(accounted_seconds(1, 2, None), None);
        assert_eq!(accounted_seconds(1, 2, Some(0)), None);

        let (s0, mut s1) = two_package_samples(4.0, 10);
        // The counters cannot grow without a tick; these do in the fixture,
        // which shows the divisor used.
        let pw = power(&s0, &s1);
        assert_eq!((pw.ticks, pw.accounted_s), (Some(0), None));
        assert_eq!(pw.zone("package-0").unwrap().measured_w, Some(10.0));
        assert_eq!(pw.domain("u-a").unwrap().interval_s, 4.0);
        assert_eq!(pw.domain("u-a").unwrap().package_w, Some(7.5));

        // A domain whose stats were read before a tick that the host's
        // counters already include: each is divided by its own ticks.
        let a = s1.domains.iter_mut().find(|d| d.uuid == "u-a").unwrap();
        a.energy.as_mut().unwrap().tick = Some(13);
        if let Ok(n) = &mut s1.node {
            n.accounting.as_mut().unwrap().tick = 14;
        }
        let pw = power(&s0, &s1);
        assert_eq!(pw.accounted_s, Some(2.0));
        assert_eq!(pw.domain("u-a").unwrap().interval_s, 1.5);
        assert_eq!(pw.domain("u-a").unwrap().package_w, Some(20.0));
        assert_eq!(pw.domain("u-b").unwrap().interval_s, 4.0);
    }

    #[test]
    fn package_zones_exclude_subzones_mmio_and_platform() {
        let z = |name: &str, package| NodeZone {
            name: name.into(),
            package,
            ..NodeZone::default()
        };
        assert!(z("package-1", 1).is_package());
        assert!(!z("package-0/dram", 0).is_package());
        assert!(!z("mmio:package-0", 0).is_package());
        assert!(!z("psys", -1).is_package());
        assert!(!z("dram-0", 0).is_package());
    }

    #[test]
    fn watts_from_two_samples() {
        let acc0: &[Accounted] = &[(10_000_000, 1_000_000, 0), (2_000_000, 0, 0)];
        let acc1: &[Accounted] = &[(50_000_000, 3_000_000, 1_000_000), (6_000_000, 0, 0)];
        let zones = [("package-0", 0, 0), ("package-0/dram", 0, 0)];
        let n0 = NodeSample::from_params(&node_params(&zones, Some((1, acc0))));
        let n1 = NodeSample::from_params(&node_params(&zones, Some((3, acc1))));
        let a0 = domain_params(1_000_000, &[("package-0", 0, 1_000_000)], 1);
        let a1 = domain_params(21_000_000, &[("package-0", 0, 21_000_000)], 2);
        let p0 = sample(10.0, vec![dom("a", "u-a", &a0)], Ok(n0));
        let p1 = sample(12.0, vec![dom("a", "u-a", &a1)], Ok(n1));
        let pw = power(&p0, &p1);
        assert_eq!(pw.interval_s, 2.0);
        assert_eq!(pw.zone("package-0").unwrap().measured_w, Some(20.0));
        assert_eq!(pw.zone("package-0").unwrap().unattributed_w, Some(1.0));
        assert_eq!(pw.zone("package-0").unwrap().departed_w, Some(0.5));
        assert_eq!(pw.zone("package-0/dram").unwrap().measured_w, Some(2.0));
        // An older daemon: host is the unattributed power, idle unknown.
        assert_eq!(pw.zone("package-0").unwrap().host_w, Some(1.0));
        assert_eq!(pw.zone("package-0").unwrap().idle_w, None);
        assert_eq!(pw.host_active_w, Some(1.0));
        assert_eq!(pw.host_idle_w, None);
        assert_eq!(pw.host_idle_power_w, None);
        assert_eq!((pw.ticks, pw.accounted_s), (Some(2), Some(2.0)));
        // Only the package zone counts for the host package power.
        assert_eq!(pw.host_package_w, Some(20.0));
        assert_eq!(pw.host_unattributed_w, Some(1.0));
        let d = pw.domain("u-a").unwrap();
        assert_eq!(d.package_w, Some(10.0));
        assert_eq!(d.share_pct, Some(50.0));
        assert_eq!(
            d.zones,
            vec![DomainZonePower {
                name: "package-0".to_string(),
                package: 0,
                energy_uj: 21_000_000,
                w: Some(10.0),
                idle_w: None,
            }]
        );
        assert_eq!(d.idle_w, None);
    }

    #[test]
    fn counter_reset_gives_no_power_not_negative() {
        let a0 = domain_params(50_000_000, &[("package-0", 0, 50_000_000)], 1);
        // The domain restarted: its counters began again.
        let a1 = domain_params(1_000_000, &[("package-0", 0, 1_000_000)], 1);
        let n = |e| {
            Ok(NodeSample::from_params(&node_params(
                &[("package-0", 0, e)],
                None,
            )))
        };
        let p0 = sample(0.0, vec![dom("a", "u", &a0)], n(100_000_000));
        let p1 = sample(1.0, vec![dom("a", "u", &a1)], n(50_000_000));
        let pw = power(&p0, &p1);
        let d = pw.domain("u").unwrap();
        assert_eq!(d.package_w, None);
        assert_eq!(d.share_pct, None);
        assert_eq!(d.zones[0].w, None);
        // The raw node counter wrapped at max_energy_range: still positive.
        let w = pw.zone("package-0").unwrap().measured_w.unwrap();
        assert!(w > 0.0, "{w}");
        assert_eq!(counter_delta(5, 3), None);
        assert_eq!(wrapping_delta(5, 3, None), None);
        assert_eq!(wrapping_delta(8, 2, Some(10)), Some(4));
    }

    #[test]
    fn new_domain_and_failed_node_give_none() {
        let a = domain_params(5, &[("package-0", 0, 5)], 1);
        let p0 = sample(0.0, vec![], Err("Cannot find program".into()));
        let p1 = sample(
            1.0,
            vec![dom("a", "u", &a)],
            Err("Cannot find program".into()),
        );
        let pw = power(&p0, &p1);
        assert_eq!(pw.host_package_w, None);
        assert!(pw.zones.is_empty());
        assert_eq!(pw.domain("u").unwrap().package_w, None);
    }

    #[test]
    fn exact_decimal_units() {
        assert_eq!(uj_as_joules(0), "0.000000");
        assert_eq!(uj_as_joules(1_234_567), "1.234567");
        assert_eq!(uj_as_joules(u64::MAX), "18446744073709.551615");
        assert_eq!(uw_as_watts(12_500_000), "12.500000");
        assert_eq!(ns_as_seconds(1_500_000_000), "1.500000000");
    }
}
