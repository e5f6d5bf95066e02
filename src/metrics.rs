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

/// A domain's counter in one zone (`energy.zone.<n>.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainZone {
    pub name: String,
    /// Package number, -1 for platform zones.
    pub package: i64,
    pub energy_uj: u64,
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
    /// Accounting totals (`zone.<n>.accounted.*`), monotonic.
    pub measured_uj: Option<u64>,
    pub unattributed_uj: Option<u64>,
    pub departed_uj: Option<u64>,
}

impl NodeZone {
    /// A top-level package zone (`package-0`), the ones `energy.total`
    /// sums; not subzones (`package-0/dram`), not the MMIO view of the same
    /// package (`mmio:package-0`), not other zones (`psys`, `dram-0`).
    pub fn is_package(&self) -> bool {
        self.name.starts_with("package-") && !self.name.contains('/')
    }
}

/// The daemon's accounting loop, when it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounting {
    pub tick: u64,
    pub interval_ms: Option<u64>,
    pub weight: Option<String>,
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
                })
            })
            .collect();
        let accounting = p.u64("accounting.tick").map(|tick| Accounting {
            tick,
            interval_ms: p.u64("accounting.interval"),
            weight: p.str("accounting.weight").map(str::to_string),
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

#[derive(Debug, Clone, PartialEq)]
pub struct ZonePower {
    pub name: String,
    /// Measured power: from the accounting totals when they are there in
    /// both samples, else from the raw counter.
    pub measured_w: Option<f64>,
    pub unattributed_w: Option<f64>,
    pub departed_w: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DomainPower {
    pub uuid: String,
    /// From `energy.total`.
    pub package_w: Option<f64>,
    /// Share of the host's package power, percent.
    pub share_pct: Option<f64>,
    pub zones: Vec<(String, Option<f64>)>,
}

/// Power between two samples: counter deltas over the wall time between
/// them.
#[derive(Debug, Clone, PartialEq)]
pub struct Power {
    pub interval_s: f64,
    /// Sum over the host's package zones ([`NodeZone::is_package`]).
    pub host_package_w: Option<f64>,
    /// Unattributed power summed over the same package zones.
    pub host_unattributed_w: Option<f64>,
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

pub fn power(prev: &Sample, cur: &Sample) -> Power {
    let interval_s = cur.monotonic_s - prev.monotonic_s;
    let mut zones = Vec::new();
    let mut host_package_w = None;
    let mut host_unattributed_w = None;
    if let (Ok(pn), Ok(cn)) = (&prev.node, &cur.node) {
        let mut package_sum = Some(0.0);
        let mut unattributed_sum = Some(0.0);
        let mut any_package = false;
        for cz in &cn.zones {
            let pz = pn.zones.iter().find(|z| z.name == cz.name);
            let acc =
                |f: fn(&NodeZone) -> Option<u64>| pz.and_then(|pz| counter_delta(f(pz)?, f(cz)?));
            let measured_uj = pz.and_then(|pz| match (pz.measured_uj, cz.measured_uj) {
                (Some(p), Some(c)) => counter_delta(p, c),
                _ => wrapping_delta(pz.energy_uj?, cz.energy_uj?, cz.max_energy_range_uj),
            });
            let zp = ZonePower {
                name: cz.name.clone(),
                measured_w: watts(measured_uj, interval_s),
                unattributed_w: watts(acc(|z| z.unattributed_uj), interval_s),
                departed_w: watts(acc(|z| z.departed_uj), interval_s),
            };
            if cz.is_package() {
                any_package = true;
                let add = |sum: Option<f64>, w: Option<f64>| Some(sum? + w?);
                package_sum = add(package_sum, zp.measured_w);
                unattributed_sum = add(unattributed_sum, zp.unattributed_w);
            }
            zones.push(zp);
        }
        if any_package {
            host_package_w = package_sum;
            host_unattributed_w = unattributed_sum;
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
            let package_w = match (pe, ce) {
                (Some(pe), Some(ce)) => watts(
                    pe.total_uj
                        .zip(ce.total_uj)
                        .and_then(|(p, c)| counter_delta(p, c)),
                    interval_s,
                ),
                _ => None,
            };
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
                            (cz.name.clone(), watts(d, interval_s))
                        })
                        .collect()
                })
                .unwrap_or_default();
            DomainPower {
                uuid: cd.uuid.clone(),
                package_w,
                share_pct,
                zones,
            }
        })
        .collect();
    Power {
        interval_s,
        host_package_w,
        host_unattributed_w,
        zones,
        domains,
    }
}

/// µJ as exact decimal joules (`1234567` -> `1.234567`), no float rounding.
pub fn uj_as_joules(uj: u64) -> String {
    format!("{}.{:06}", uj / 1_000_000, uj % 1_000_000)
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

    /// Domain params as the contract describes them.
    pub(crate) fn domain_params(total_uj: u64, zones: &[(&str, i32, u64)], weight: u64) -> Params {
        let mut v = vec![
            ("energy.weight".to_string(), s("cycles")),
            (
                "energy.weight.value".to_string(),
                TypedValue::ULLong(weight),
            ),
            ("energy.tick".to_string(), TypedValue::ULLong(42)),
            ("energy.total".to_string(), TypedValue::ULLong(total_uj)),
            (
                "energy.zone.count".to_string(),
                TypedValue::UInt(u32::try_from(zones.len()).unwrap()),
            ),
        ];
        for (n, (name, pkg, e)) in zones.iter().enumerate() {
            v.push((format!("energy.zone.{n}.name"), s(name)));
            v.push((format!("energy.zone.{n}.package"), TypedValue::Int(*pkg)));
            v.push((format!("energy.zone.{n}.energy"), TypedValue::ULLong(*e)));
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
        // Only the package zone counts for the host package power.
        assert_eq!(pw.host_package_w, Some(20.0));
        assert_eq!(pw.host_unattributed_w, Some(1.0));
        let d = pw.domain("u-a").unwrap();
        assert_eq!(d.package_w, Some(10.0));
        assert_eq!(d.share_pct, Some(50.0));
        assert_eq!(d.zones, vec![("package-0".to_string(), Some(10.0))]);
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
        assert_eq!(d.zones[0].1, None);
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
        assert_eq!(ns_as_seconds(1_500_000_000), "1.500000000");
    }
}
