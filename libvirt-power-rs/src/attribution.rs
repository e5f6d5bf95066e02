// SPDX-License-Identifier: LGPL-2.1-or-later
//! Attribution of measured energy to consumers (VMs) by weight.
//!
//! Every accounting interval the caller feeds the [`Attributor`] raw energy
//! counter readings per zone ([`ZoneSample`]: RAPL `package-N`, `dram`,
//! `psys`, ...), cumulative per-consumer weights ([`WeightSample`]: CPU cycles
//! or CPU time) and optionally the cumulative busy weight of the whole host
//! ([`HostWeight`]). The energy measured in each zone during the interval is
//! split among the consumers in proportion to their weight deltas:
//!
//! ```text
//! share_i = floor(measured_uj * w_i / max(host_w, sum_j w_j))
//! ```
//!
//! which, without host weights, is the classic
//! `Power(VM_i) = TotalActivePower * cycles_i / sum_j cycles_j`. The
//! accounting is exact in integer microjoules: for every zone and interval,
//! the sum of the shares plus the unattributed energy (idle or host-side work
//! and rounding remainders) equals the measured energy.
//!
//! # Matching weights to zones
//!
//! * A zone with `package: Some(p)` (a package or its DRAM) counts the
//!   consumer weight deltas reported for package `Some(p)`, plus the whole
//!   delta of samples reported with `package: None` (weights not split by
//!   package count for *every* package zone).
//! * A zone with `package: None` (platform-wide, e.g. `psys`) counts the
//!   consumer's weight deltas summed over all its samples.
//!
//! Host weights are matched to zones the same way. Zone names are opaque to
//! the engine; only `package` matters.
//!
//! # Idle and active energy
//!
//! [`Attributor::update_with_idle`] is handed, per zone and interval, the
//! part of the measured energy that is idle (static) power. Only the rest,
//! the active energy, is split by weight; what no consumer's weight claims
//! of it stays the host's. The idle part is kept as idle energy, or shared
//! among the consumers named as idle sharers in proportion to their idle
//! weights (vCPUs), by the same floor arithmetic, the remainder staying
//! idle. Per zone and interval:
//!
//! ```text
//! measured = sum of active shares + sum of idle shares + unattributed
//! unattributed = host active (rounding included) + idle kept
//! ```
//!
//! # Consumer life cycle
//!
//! A consumer first seen in [`Attributor::update`] has a baseline of 0: its
//! counter was opened when it started, so its whole first value belongs to
//! the current interval. [`Attributor::add_consumer`] registers a consumer
//! whose counters already hold a value. [`Attributor::retire_consumer`]
//! records the final readings of a consumer that vanished; they count in the
//! next update, after which the consumer takes no further energy. Its
//! cumulative energy stays queryable until [`Attributor::forget_consumer`].
//!
//! All maps are `BTreeMap`s, so every listing and report is in sorted,
//! deterministic order.

use std::collections::BTreeMap;

use crate::energy::WrappingCounter;

/// Package key of a sample: `Some(package)` or `None` (not split by package).
type PackageKey = Option<u32>;

/// Weights (cumulative values or deltas) keyed by package.
type Weights = BTreeMap<PackageKey, u64>;

/// One raw reading of an energy zone counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZoneSample {
    /// Zone name, e.g. `"package-0"`, `"dram"`, `"psys"`.
    pub zone: String,
    /// Package the zone belongs to; `None` for platform-wide zones (psys).
    pub package: Option<u32>,
    /// Raw counter value in µJ.
    pub raw_uj: u64,
    /// Value in µJ after which the counter wraps to 0 (`0` = does not wrap).
    pub range_uj: u64,
}

/// One cumulative weight reading of a consumer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeightSample {
    /// Consumer name (e.g. a VM name or UUID).
    pub consumer: String,
    /// Package the weight was counted on; `None` = not split by package.
    pub package: Option<u32>,
    /// Cumulative weight (CPU cycles or CPU time), monotonic since the
    /// consumer's counter was opened.
    pub weight: u64,
}

/// One cumulative busy weight reading of the whole host (VMs included).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostWeight {
    /// Package the weight was counted on; `None` = not split by package.
    pub package: Option<u32>,
    /// Cumulative busy weight of the host, in the consumers' unit.
    pub weight: u64,
}

/// Accounting of one zone over one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ZoneInterval {
    /// Zone name.
    pub zone: String,
    /// Energy measured in the zone during the interval, in µJ.
    pub measured_uj: u64,
    /// Part of `measured_uj` given to no consumer, in µJ.
    pub unattributed_uj: u64,
    /// `(consumer, µJ)` for every consumer with a non-zero weight in this
    /// zone during the interval, sorted by consumer name: its share of the
    /// active energy.
    pub shares: Vec<(String, u64)>,
    /// Idle energy of the interval kept as idle (not shared), µJ; part of
    /// `unattributed_uj`.
    pub idle_uj: u64,
    /// `(consumer, µJ)`: the idle energy shared among the idle sharers,
    /// sorted by consumer name.
    pub idle_shares: Vec<(String, u64)>,
}

impl ZoneInterval {
    /// The share in µJ of `consumer` of this interval's active energy, if
    /// it had one.
    pub fn share_uj(&self, consumer: &str) -> Option<u64> {
        self.shares
            .iter()
            .find(|(name, _)| name == consumer)
            .map(|&(_, uj)| uj)
    }

    /// The share in µJ of `consumer` of this interval's idle energy, if it
    /// had one.
    pub fn idle_share_uj(&self, consumer: &str) -> Option<u64> {
        self.idle_shares
            .iter()
            .find(|(name, _)| name == consumer)
            .map(|&(_, uj)| uj)
    }

    /// Active energy left to the host (what no consumer's weight
    /// claimed, rounding included), µJ.
    pub fn host_uj(&self) -> u64 {
        self.unattributed_uj.saturating_sub(self.idle_uj)
    }

    /// Whether the shares plus the unattributed energy equal the measured
    /// energy exactly, and the idle energy kept is part of the
    /// unattributed energy.
    pub fn conserved(&self) -> bool {
        let attributed: u128 = self
            .shares
            .iter()
            .chain(&self.idle_shares)
            .map(|&(_, uj)| u128::from(uj))
            .sum();
        self.idle_uj <= self.unattributed_uj
            && attributed.saturating_add(u128::from(self.unattributed_uj))
                == u128::from(self.measured_uj)
    }
}

/// Result of one [`Attributor::update`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IntervalReport {
    /// One entry per zone sampled in the update, sorted by zone name.
    pub zones: Vec<ZoneInterval>,
}

impl IntervalReport {
    /// Whether, for every zone, the shares plus the unattributed energy
    /// equal the measured energy exactly.
    pub fn conserved(&self) -> bool {
        self.zones.iter().all(ZoneInterval::conserved)
    }

    /// The entry of `zone`, if it was sampled in this update.
    pub fn zone(&self, zone: &str) -> Option<&ZoneInterval> {
        self.zones.iter().find(|z| z.zone == zone)
    }
}

#[derive(Debug, Clone)]
struct ZoneState {
    package: Option<u32>,
    counter: WrappingCounter,
    measured_uj: u64,
    unattributed_uj: u64,
    idle_uj: u64,
}

#[derive(Debug, Clone, Default)]
struct ConsumerState {
    /// Whether the consumer's current incarnation is alive.
    active: bool,
    /// Last cumulative readings of the current (or last) incarnation.
    last: Weights,
    /// Weight deltas recorded but not yet attributed (from a retirement).
    pending: Weights,
    /// Cumulative attributed energy per zone (active and idle shares), in
    /// µJ.
    energy_uj: BTreeMap<String, u64>,
    /// The idle shares' part of `energy_uj`, in µJ.
    idle_uj: BTreeMap<String, u64>,
}

impl ConsumerState {
    /// Adds the deltas of `readings` against `last` to `pending` and makes
    /// `readings` the new `last`.
    fn record(&mut self, readings: &Weights) {
        for (&key, &current) in readings {
            let previous = self.last.get(&key).copied().unwrap_or(0);
            let delta = counter_delta(previous, current);
            self.last.insert(key, current);
            let slot = self.pending.entry(key).or_insert(0);
            *slot = slot.saturating_add(delta);
        }
    }
}

/// Splits measured zone energy among consumers by weight, exactly.
///
/// See the [module documentation](self) for the model.
#[derive(Debug, Clone, Default)]
pub struct Attributor {
    zones: BTreeMap<String, ZoneState>,
    consumers: BTreeMap<String, ConsumerState>,
    host_last: Weights,
}

impl Attributor {
    /// Creates an engine with no zones and no consumers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `consumer` whose weight counters already hold the values in
    /// `baseline` (e.g. counters attached to a running VM); only growth past
    /// them is attributed.
    ///
    /// Samples naming another consumer are ignored; samples for the same
    /// package are added together. Re-registering an active consumer
    /// replaces its baseline. A retired consumer is registered anew (a new
    /// incarnation) and keeps its cumulative energy; final readings recorded
    /// by [`retire_consumer`](Self::retire_consumer) and not yet accounted
    /// still count in the next update. Packages absent from the baseline
    /// have a baseline of 0.
    pub fn add_consumer(&mut self, consumer: &str, baseline: &[WeightSample]) {
        let readings = fold_consumer(consumer, baseline);
        let state = self.consumers.entry(consumer.to_owned()).or_default();
        state.active = true;
        state.last = readings;
    }

    /// Records the final readings of `consumer`, which vanished during the
    /// current interval. The growth since its previous readings counts in
    /// the next [`update`](Self::update); afterwards the consumer takes no
    /// further energy, but its cumulative energy stays queryable until
    /// [`forget_consumer`](Self::forget_consumer).
    ///
    /// Samples naming another consumer are ignored. An unknown consumer is
    /// taken to have started and stopped within the interval (baseline 0).
    /// Retiring an already retired consumer again only adds growth past the
    /// previously recorded final readings, so repeating the call is harmless.
    pub fn retire_consumer(&mut self, consumer: &str, final_weights: &[WeightSample]) {
        let readings = fold_consumer(consumer, final_weights);
        let state = self.consumers.entry(consumer.to_owned()).or_default();
        state.record(&readings);
        state.active = false;
    }

    /// Drops every record of `consumer`, including its cumulative energy.
    /// Weight recorded by a retirement and not yet accounted is dropped too
    /// (the corresponding energy will be unattributed).
    pub fn forget_consumer(&mut self, consumer: &str) {
        self.consumers.remove(consumer);
    }

    /// Takes `sample` as a fresh baseline of its zone: the zone's count
    /// since its last sample is unknown (its counter may have wrapped more
    /// than once), so the next [`update`](Self::update) with this same
    /// reading measures nothing for the zone, and what the weights did in
    /// the interval takes none of its energy. A zone not sampled yet is
    /// left alone (its first sample is a baseline anyway).
    pub fn rebase_zone(&mut self, sample: &ZoneSample) {
        if let Some(state) = self.zones.get_mut(&sample.zone) {
            state.counter = WrappingCounter::new(sample.range_uj, sample.raw_uj);
        }
    }

    /// Accounts one interval and returns its per-zone report.
    ///
    /// * `zones`: one raw reading per zone. The first reading of a zone is
    ///   its baseline (nothing measured yet). If a zone's `range_uj` changes,
    ///   the new reading becomes a fresh baseline. If a zone name appears more
    ///   than once, only its first sample is used. Zones should be sampled in
    ///   every update: energy measured across skipped updates is attributed by
    ///   the weights of the update that sees it.
    /// * `weights`: cumulative consumer weights. Each consumer's delta is
    ///   `current - previous`, where previous is its baseline or last seen
    ///   value for that package (0 if none). A value lower than the previous
    ///   one is a counter reset: the delta is the current value. Samples of a
    ///   consumer for the same package are added together. A consumer absent
    ///   from `weights` has no weight this interval. A retired consumer seen
    ///   again is a new incarnation with baseline 0 that keeps adding to its
    ///   cumulative energy.
    /// * `host`: optional cumulative host busy weights, deltas computed the
    ///   same way, except that the first reading of a package key is a
    ///   baseline (no host delta for it yet). The denominator of a zone is
    ///   `max(host delta, sum of consumer deltas)`, so host-side work leaves
    ///   energy unattributed; without host data it is the consumer sum.
    ///
    /// A zone whose denominator is 0 leaves all its energy unattributed.
    pub fn update(
        &mut self,
        zones: &[ZoneSample],
        weights: &[WeightSample],
        host: &[HostWeight],
    ) -> IntervalReport {
        self.update_with_idle(zones, weights, host, &mut |_, _| 0, &[])
    }

    /// [`update`](Self::update) with idle energy apart (see the [module
    /// documentation](self)): `idle_of(zone, measured_uj)` answers the idle
    /// part of a zone's measured energy this interval (clamped to the
    /// measured energy); `idle_sharers` are `(consumer, weight)` pairs (a
    /// running domain and its vCPUs) that share the idle energy by weight.
    /// Empty: the idle energy is kept as idle.
    pub fn update_with_idle(
        &mut self,
        zones: &[ZoneSample],
        weights: &[WeightSample],
        host: &[HostWeight],
        idle_of: &mut dyn FnMut(&ZoneSample, u64) -> u64,
        idle_sharers: &[(String, u64)],
    ) -> IntervalReport {
        // 1. Consumer weight deltas.
        let mut current: BTreeMap<&str, Weights> = BTreeMap::new();
        for sample in weights {
            let slot = current
                .entry(sample.consumer.as_str())
                .or_default()
                .entry(sample.package)
                .or_insert(0);
            *slot = slot.saturating_add(sample.weight);
        }
        for (name, readings) in &current {
            let state = self.consumers.entry((*name).to_owned()).or_default();
            if !state.active {
                // New consumer or new incarnation of a retired one.
                state.active = true;
                state.last.clear();
            }
            state.record(readings);
        }
        let deltas: BTreeMap<String, Weights> = self
            .consumers
            .iter_mut()
            .filter(|(_, state)| !state.pending.is_empty())
            .map(|(name, state)| (name.clone(), std::mem::take(&mut state.pending)))
            .collect();

        // 2. Host weight deltas (first reading of a key is a baseline).
        let mut host_delta = Weights::new();
        for (key, value) in fold(host.iter().map(|h| (h.package, h.weight))) {
            if let Some(&previous) = self.host_last.get(&key) {
                host_delta.insert(key, counter_delta(previous, value));
            }
            self.host_last.insert(key, value);
        }

        // 3. Zones.
        let mut samples: BTreeMap<&str, &ZoneSample> = BTreeMap::new();
        for sample in zones {
            samples.entry(sample.zone.as_str()).or_insert(sample);
        }
        let mut report = IntervalReport::default();
        for sample in samples.into_values() {
            let measured_uj = self.measure_zone(sample);
            let idle_uj = idle_of(sample, measured_uj).min(measured_uj);
            let mut interval = self.attribute_zone(
                sample,
                measured_uj - idle_uj,
                measured_uj,
                &deltas,
                &host_delta,
            );
            self.share_idle(&mut interval, idle_uj, idle_sharers);
            report.zones.push(interval);
        }
        report
    }

    /// Updates the zone counter and returns the energy measured this
    /// interval.
    fn measure_zone(&mut self, sample: &ZoneSample) -> u64 {
        match self.zones.get_mut(&sample.zone) {
            Some(state) => {
                state.package = sample.package;
                let measured_uj = if state.counter.range_uj() == sample.range_uj {
                    state.counter.update(sample.raw_uj)
                } else {
                    state.counter = WrappingCounter::new(sample.range_uj, sample.raw_uj);
                    0
                };
                state.measured_uj = state.measured_uj.saturating_add(measured_uj);
                measured_uj
            }
            None => {
                self.zones.insert(
                    sample.zone.clone(),
                    ZoneState {
                        package: sample.package,
                        counter: WrappingCounter::new(sample.range_uj, sample.raw_uj),
                        measured_uj: 0,
                        unattributed_uj: 0,
                        idle_uj: 0,
                    },
                );
                0
            }
        }
    }

    /// Splits `active_uj` of one zone (of `measured_uj` in all) by weight
    /// and updates the cumulative counters; everything not given to a
    /// consumer is unattributed.
    fn attribute_zone(
        &mut self,
        sample: &ZoneSample,
        active_uj: u64,
        measured_uj: u64,
        deltas: &BTreeMap<String, Weights>,
        host_delta: &Weights,
    ) -> ZoneInterval {
        let package = sample.package;
        let zone_weights: Vec<(&str, u64)> = deltas
            .iter()
            .map(|(name, d)| (name.as_str(), zone_weight(package, d)))
            .filter(|&(_, w)| w > 0)
            .collect();
        let consumer_sum: u128 = zone_weights
            .iter()
            .fold(0u128, |acc, &(_, w)| acc.saturating_add(u128::from(w)));
        let host_sum = u128::from(zone_weight(package, host_delta));
        let denominator = consumer_sum.max(host_sum);

        let mut shares = Vec::with_capacity(zone_weights.len());
        let mut attributed: u64 = 0;
        for (name, weight) in zone_weights {
            // weight <= denominator, so the share is at most active_uj and
            // the product of two u64 values fits in u128.
            let share = u128::from(active_uj)
                .saturating_mul(u128::from(weight))
                .checked_div(denominator)
                .unwrap_or(0);
            let share = u64::try_from(share).unwrap_or(u64::MAX).min(active_uj);
            attributed = attributed.saturating_add(share);
            shares.push((name.to_owned(), share));
        }
        // Sum of floors <= measured_uj; saturating_sub is only a guard.
        let unattributed_uj = measured_uj.saturating_sub(attributed);

        for (name, share) in &shares {
            if let Some(state) = self.consumers.get_mut(name) {
                let slot = state.energy_uj.entry(sample.zone.clone()).or_insert(0);
                *slot = slot.saturating_add(*share);
            }
        }
        if let Some(state) = self.zones.get_mut(&sample.zone) {
            state.unattributed_uj = state.unattributed_uj.saturating_add(unattributed_uj);
        }
        ZoneInterval {
            zone: sample.zone.clone(),
            measured_uj,
            unattributed_uj,
            shares,
            idle_uj: 0,
            idle_shares: Vec::new(),
        }
    }

    /// Takes `idle_uj` (part of the interval's unattributed energy) apart:
    /// shared among `sharers` by weight, the rest kept as idle.
    fn share_idle(&mut self, interval: &mut ZoneInterval, idle_uj: u64, sharers: &[(String, u64)]) {
        let idle_uj = idle_uj.min(interval.unattributed_uj);
        let sum: u128 = sharers.iter().map(|&(_, w)| u128::from(w)).sum();
        let mut given = 0u64;
        if sum > 0 {
            for (name, weight) in sharers.iter().filter(|(_, w)| *w > 0) {
                let share = (u128::from(idle_uj) * u128::from(*weight))
                    .checked_div(sum)
                    .unwrap_or(0);
                let share = u64::try_from(share).unwrap_or(idle_uj).min(idle_uj - given);
                given += share;
                interval.idle_shares.push((name.clone(), share));
                let state = self.consumers.entry(name.clone()).or_default();
                for map in [&mut state.energy_uj, &mut state.idle_uj] {
                    let slot = map.entry(interval.zone.clone()).or_insert(0);
                    *slot = slot.saturating_add(share);
                }
            }
            interval.idle_shares.sort();
        }
        interval.unattributed_uj -= given;
        interval.idle_uj = idle_uj - given;
        if let Some(state) = self.zones.get_mut(&interval.zone) {
            state.unattributed_uj = state.unattributed_uj.saturating_sub(given);
            state.idle_uj = state.idle_uj.saturating_add(interval.idle_uj);
        }
    }

    /// Cumulative energy in µJ attributed to `consumer` in `zone`; `None` if
    /// the consumer or the zone is unknown.
    pub fn consumer_energy_uj(&self, consumer: &str, zone: &str) -> Option<u64> {
        let state = self.consumers.get(consumer)?;
        if !self.zones.contains_key(zone) {
            return None;
        }
        Some(state.energy_uj.get(zone).copied().unwrap_or(0))
    }

    /// Cumulative idle energy in µJ shared to `consumer` in `zone` (part of
    /// [`consumer_energy_uj`](Self::consumer_energy_uj)); `None` if the
    /// consumer or the zone is unknown.
    pub fn consumer_idle_uj(&self, consumer: &str, zone: &str) -> Option<u64> {
        let state = self.consumers.get(consumer)?;
        if !self.zones.contains_key(zone) {
            return None;
        }
        Some(state.idle_uj.get(zone).copied().unwrap_or(0))
    }

    /// Cumulative idle energy in µJ of `zone` kept as idle (part of
    /// [`unattributed_uj`](Self::unattributed_uj)); `None` if the zone is
    /// unknown.
    pub fn idle_uj(&self, zone: &str) -> Option<u64> {
        self.zones.get(zone).map(|z| z.idle_uj)
    }

    /// Cumulative energy in µJ attributed to `consumer` over all zones
    /// (saturating); `None` if the consumer is unknown.
    ///
    /// Overlapping zones (e.g. `psys` contains the packages) are all summed.
    pub fn consumer_total_uj(&self, consumer: &str) -> Option<u64> {
        let state = self.consumers.get(consumer)?;
        Some(
            state
                .energy_uj
                .values()
                .fold(0u64, |acc, &uj| acc.saturating_add(uj)),
        )
    }

    /// Cumulative energy in µJ of `zone` attributed to no consumer; `None`
    /// if the zone is unknown.
    pub fn unattributed_uj(&self, zone: &str) -> Option<u64> {
        self.zones.get(zone).map(|z| z.unattributed_uj)
    }

    /// Cumulative energy in µJ measured in `zone` since its baseline; `None`
    /// if the zone is unknown.
    pub fn measured_uj(&self, zone: &str) -> Option<u64> {
        self.zones.get(zone).map(|z| z.measured_uj)
    }

    /// Known consumers (active and retired, until forgotten), sorted.
    pub fn consumers(&self) -> impl Iterator<Item = &str> {
        self.consumers.keys().map(String::as_str)
    }

    /// Known zones, sorted.
    pub fn zones(&self) -> impl Iterator<Item = &str> {
        self.zones.keys().map(String::as_str)
    }
}

/// Delta of a cumulative counter; going backwards is a reset to 0.
fn counter_delta(previous: u64, current: u64) -> u64 {
    if current >= previous {
        current - previous
    } else {
        current
    }
}

/// Adds values up per package key (saturating).
fn fold(items: impl Iterator<Item = (PackageKey, u64)>) -> Weights {
    let mut out = Weights::new();
    for (key, value) in items {
        let slot = out.entry(key).or_insert(0);
        *slot = slot.saturating_add(value);
    }
    out
}

/// The readings in `samples` that belong to `consumer`, per package.
fn fold_consumer(consumer: &str, samples: &[WeightSample]) -> Weights {
    fold(
        samples
            .iter()
            .filter(|s| s.consumer == consumer)
            .map(|s| (s.package, s.weight)),
    )
}

/// Weight of `weights` that counts for a zone of `package` (saturating).
fn zone_weight(package: Option<u32>, weights: &Weights) -> u64 {
    match package {
        Some(p) => {
            let own = weights.get(&Some(p)).copied().unwrap_or(0);
            let unsplit = weights.get(&None).copied().unwrap_or(0);
            own.saturating_add(unsplit)
        }
        None => weights.values().fold(0u64, |acc, &w| acc.saturating_add(w)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE_UJ: u64 = 262_143_328_850;

    fn zone(name: &str, package: Option<u32>, raw_uj: u64) -> ZoneSample {
        ZoneSample {
            zone: name.to_owned(),
            package,
            raw_uj,
            range_uj: RANGE_UJ,
        }
    }

    fn pkg0(raw_uj: u64) -> ZoneSample {
        zone("package-0", Some(0), raw_uj)
    }

    fn w(consumer: &str, package: Option<u32>, weight: u64) -> WeightSample {
        WeightSample {
            consumer: consumer.to_owned(),
            package,
            weight,
        }
    }

    fn host(package: Option<u32>, weight: u64) -> HostWeight {
        HostWeight { package, weight }
    }

    fn zi(zone: &str, measured: u64, unattributed: u64, shares: &[(&str, u64)]) -> ZoneInterval {
        ZoneInterval {
            zone: zone.to_owned(),
            measured_uj: measured,
            unattributed_uj: unattributed,
            shares: shares.iter().map(|&(n, uj)| (n.to_owned(), uj)).collect(),
            ..ZoneInterval::default()
        }
    }

    #[test]
    fn idle_kept_apart_or_shared_by_vcpus() {
        let mut a = Attributor::new();
        let zones0 = [pkg0(0)];
        a.update(
            &zones0,
            &[w("a", Some(0), 0), w("b", Some(0), 0)],
            &[host(Some(0), 0)],
        );
        // 1000 uJ measured, 400 idle; 600 active split by weight 30/10 of a
        // host busy 100: a 180, b 60, host 360.
        let r = a.update_with_idle(
            &[pkg0(1000)],
            &[w("a", Some(0), 30), w("b", Some(0), 10)],
            &[host(Some(0), 100)],
            &mut |_, _| 400,
            &[],
        );
        let z = r.zone("package-0").unwrap();
        assert_eq!(z.shares, vec![("a".to_owned(), 180), ("b".to_owned(), 60)]);
        assert_eq!(z.idle_uj, 400);
        assert_eq!(z.host_uj(), 360);
        assert!(z.conserved());
        // The vCPU policy: 1000 uJ idle (more than measured is clamped to
        // it), shared 2:1 -> 666 and 333, 1 uJ stays idle.
        let r = a.update_with_idle(
            &[pkg0(2000)],
            &[w("a", Some(0), 30), w("b", Some(0), 10)],
            &[host(Some(0), 100)],
            &mut |_, m| m + 5,
            &[("a".to_owned(), 2), ("b".to_owned(), 1)],
        );
        let z = r.zone("package-0").unwrap();
        assert!(z.shares.is_empty());
        assert_eq!(z.idle_share_uj("a"), Some(666));
        assert_eq!(z.idle_share_uj("b"), Some(333));
        assert_eq!(z.idle_uj, 1);
        assert_eq!(z.unattributed_uj, 1);
        assert!(z.conserved());
        // Cumulative: a = 180 + 666, of which 666 idle.
        assert_eq!(a.consumer_energy_uj("a", "package-0"), Some(846));
        assert_eq!(a.consumer_idle_uj("a", "package-0"), Some(666));
        assert_eq!(a.idle_uj("package-0"), Some(401));
        assert_eq!(a.unattributed_uj("package-0"), Some(761));
        assert_eq!(a.measured_uj("package-0"), Some(2000));
    }

    #[test]
    fn first_zone_sample_is_baseline() {
        let mut a = Attributor::new();
        let r = a.update(&[pkg0(5_000)], &[w("a", Some(0), 100)], &[]);
        // Nothing measured yet; "a" has weight 100 but gets 0 µJ.
        assert_eq!(r.zones, vec![zi("package-0", 0, 0, &[("a", 0)])]);
        assert!(r.conserved());
        assert_eq!(a.measured_uj("package-0"), Some(0));
        assert_eq!(a.consumer_energy_uj("a", "package-0"), Some(0));
        assert_eq!(a.consumer_energy_uj("a", "psys"), None);
        assert_eq!(a.consumer_energy_uj("b", "package-0"), None);
    }

    #[test]
    fn two_consumers_three_to_one() {
        let mut a = Attributor::new();
        a.update(&[pkg0(5_000)], &[], &[]);
        // measured 6000 - 5000 = 1000; a:b = 3000:1000
        // a = floor(1000 * 3000 / 4000) = 750, b = floor(1000 * 1000 / 4000) = 250
        let r = a.update(
            &[pkg0(6_000)],
            &[w("a", Some(0), 3_000), w("b", Some(0), 1_000)],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 0, &[("a", 750), ("b", 250)])]
        );
        assert!(r.conserved());
        assert_eq!(r.zone("package-0").and_then(|z| z.share_uj("a")), Some(750));
        assert_eq!(a.consumer_energy_uj("a", "package-0"), Some(750));
        assert_eq!(a.consumer_total_uj("b"), Some(250));
        assert_eq!(a.unattributed_uj("package-0"), Some(0));
        assert_eq!(a.measured_uj("package-0"), Some(1_000));
        assert_eq!(a.consumers().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(a.zones().collect::<Vec<_>>(), ["package-0"]);
    }

    #[test]
    fn host_weight_larger_than_sum() {
        let mut a = Attributor::new();
        // Host baseline 10000.
        a.update(&[pkg0(0)], &[], &[host(Some(0), 10_000)]);
        // host delta 18000 - 10000 = 8000 > 3000 + 1000
        // a = floor(1000 * 3000 / 8000) = 375, b = floor(1000 * 1000 / 8000) = 125
        // unattributed = 1000 - 500 = 500
        let r = a.update(
            &[pkg0(1_000)],
            &[w("a", Some(0), 3_000), w("b", Some(0), 1_000)],
            &[host(Some(0), 18_000)],
        );
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 500, &[("a", 375), ("b", 125)])]
        );
        // Host delta 2000 smaller than the consumer sum 3000 + 1000: sum is used.
        // a = floor(1000 * 3000 / 4000) = 750, b = 250.
        let r = a.update(
            &[pkg0(2_000)],
            &[w("a", Some(0), 6_000), w("b", Some(0), 2_000)],
            &[host(Some(0), 20_000)],
        );
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 0, &[("a", 750), ("b", 250)])]
        );
        assert_eq!(a.unattributed_uj("package-0"), Some(500));
        assert_eq!(a.consumer_total_uj("a"), Some(375 + 750));
    }

    #[test]
    fn host_first_reading_is_baseline() {
        let mut a = Attributor::new();
        a.update(&[pkg0(0)], &[], &[]);
        // Host first seen now: no host delta, denominator = 100 + 100.
        let r = a.update(
            &[pkg0(1_000)],
            &[w("a", Some(0), 100), w("b", Some(0), 100)],
            &[host(Some(0), 1_000_000)],
        );
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 0, &[("a", 500), ("b", 500)])]
        );
    }

    #[test]
    fn rounding_remainder_is_unattributed() {
        let mut a = Attributor::new();
        a.update(&[pkg0(0)], &[], &[]);
        // 1000 / 3 = 333 each, remainder 1000 - 999 = 1
        let r = a.update(
            &[pkg0(1_000)],
            &[w("a", Some(0), 7), w("b", Some(0), 7), w("c", Some(0), 7)],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![zi(
                "package-0",
                1_000,
                1,
                &[("a", 333), ("b", 333), ("c", 333)]
            )]
        );
        assert!(r.conserved());
    }

    #[test]
    fn zone_wraps_across_interval() {
        let mut a = Attributor::new();
        a.update(&[pkg0(262_143_328_000)], &[], &[]);
        // (262143328850 - 262143328000) + 150 + 1 = 1001
        // 1:1 -> floor(1001 / 2) = 500 each, 1 unattributed
        let r = a.update(
            &[pkg0(150)],
            &[w("a", Some(0), 10), w("b", Some(0), 10)],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_001, 1, &[("a", 500), ("b", 500)])]
        );
        assert_eq!(a.measured_uj("package-0"), Some(1_001));
    }

    #[test]
    fn two_packages_per_package_weights() {
        let mut a = Attributor::new();
        let zones = |p0: u64, p1: u64, d0: u64| {
            vec![
                zone("package-0", Some(0), p0),
                zone("package-1", Some(1), p1),
                zone("dram-0", Some(0), d0),
            ]
        };
        a.update(&zones(0, 0, 0), &[], &[]);
        // package-0: 800 µJ, a 100 vs b 300 -> a = 800*100/400 = 200, b = 600
        // package-1: 900 µJ, a 300 only -> a = 900
        // dram-0 (package 0): 40 µJ -> a = 40*100/400 = 10, b = 30
        let r = a.update(
            &zones(800, 900, 40),
            &[
                w("a", Some(0), 100),
                w("a", Some(1), 300),
                w("b", Some(0), 300),
            ],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![
                zi("dram-0", 40, 0, &[("a", 10), ("b", 30)]),
                zi("package-0", 800, 0, &[("a", 200), ("b", 600)]),
                zi("package-1", 900, 0, &[("a", 900)]),
            ]
        );
        assert_eq!(a.consumer_total_uj("a"), Some(10 + 200 + 900));
        assert_eq!(a.consumer_energy_uj("b", "package-1"), Some(0));
    }

    #[test]
    fn unsplit_weights_count_for_every_package() {
        let mut a = Attributor::new();
        let zones = |p0: u64, p1: u64| {
            vec![
                zone("package-0", Some(0), p0),
                zone("package-1", Some(1), p1),
            ]
        };
        a.update(&zones(0, 0), &[], &[]);
        // c (unsplit) = 100 counts in both zones.
        // package-0: a 300 + c 100 = 400 -> 1000: a 750, c 250
        // package-1: c 100 only -> 1000: c 1000
        let r = a.update(
            &zones(1_000, 1_000),
            &[w("a", Some(0), 300), w("c", None, 100)],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![
                zi("package-0", 1_000, 0, &[("a", 750), ("c", 250)]),
                zi("package-1", 1_000, 0, &[("c", 1_000)]),
            ]
        );
    }

    #[test]
    fn psys_uses_all_package_weights() {
        let mut a = Attributor::new();
        let psys = |raw: u64| zone("psys", None, raw);
        a.update(&[psys(0)], &[], &[host(Some(0), 0), host(Some(1), 0)]);
        // a = 100 + 300 = 400, b = 100; sum 500 -> 1000: a 800, b 200
        let r = a.update(
            &[psys(1_000)],
            &[
                w("a", Some(0), 100),
                w("a", Some(1), 300),
                w("b", Some(0), 100),
            ],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![zi("psys", 1_000, 0, &[("a", 800), ("b", 200)])]
        );
        // Next: a +100/+300, b +100; host delta 600 + 400 = 1000 > 500
        // a = 1000*400/1000 = 400, b = 100, unattributed 500
        let r = a.update(
            &[psys(2_000)],
            &[
                w("a", Some(0), 200),
                w("a", Some(1), 600),
                w("b", Some(0), 200),
            ],
            &[host(Some(0), 600), host(Some(1), 400)],
        );
        assert_eq!(
            r.zones,
            vec![zi("psys", 1_000, 500, &[("a", 400), ("b", 100)])]
        );
        assert_eq!(a.consumer_energy_uj("a", "psys"), Some(1_200));
        assert_eq!(a.unattributed_uj("psys"), Some(500));
    }

    #[test]
    fn consumer_appearing_mid_interval() {
        let mut a = Attributor::new();
        a.add_consumer("old", &[w("old", Some(0), 10_000)]);
        a.update(&[pkg0(0)], &[w("old", Some(0), 10_000)], &[]);
        // "new" first seen: baseline 0, its whole 100 counts.
        // "att" attached to a running VM with baseline 5000: 5300 - 5000 = 300
        // "old": 10100 - 10000 = 100. Sum 500, measured 1000:
        // att 600, new 200, old 200
        a.add_consumer("att", &[w("att", Some(0), 5_000), w("other", Some(0), 1)]);
        let r = a.update(
            &[pkg0(1_000)],
            &[
                w("att", Some(0), 5_300),
                w("new", Some(0), 100),
                w("old", Some(0), 10_100),
            ],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![zi(
                "package-0",
                1_000,
                0,
                &[("att", 600), ("new", 200), ("old", 200)]
            )]
        );
        assert_eq!(a.consumers().collect::<Vec<_>>(), ["att", "new", "old"]);
    }

    #[test]
    fn consumer_retiring_mid_interval() {
        let mut a = Attributor::new();
        a.update(&[pkg0(0)], &[w("a", Some(0), 100), w("b", Some(0), 0)], &[]);
        // a vanished with final 400: delta 300; b delta 100.
        a.retire_consumer("a", &[w("a", Some(0), 400)]);
        // Repeating the retirement adds nothing.
        a.retire_consumer("a", &[w("a", Some(0), 400)]);
        // 1000: a = 1000*300/400 = 750, b = 250
        let r = a.update(&[pkg0(1_000)], &[w("b", Some(0), 100)], &[]);
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 0, &[("a", 750), ("b", 250)])]
        );
        // Afterwards a takes nothing: b gets everything.
        let r = a.update(&[pkg0(2_000)], &[w("b", Some(0), 200)], &[]);
        assert_eq!(r.zones, vec![zi("package-0", 1_000, 0, &[("b", 1_000)])]);
        assert_eq!(a.consumer_total_uj("a"), Some(750));
        assert_eq!(a.consumer_total_uj("b"), Some(1_250));
        a.forget_consumer("a");
        assert_eq!(a.consumer_total_uj("a"), None);
        assert_eq!(a.consumers().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn retired_consumer_seen_again_is_new_incarnation() {
        let mut a = Attributor::new();
        a.update(&[pkg0(0)], &[w("vm", Some(0), 500)], &[]);
        a.retire_consumer("vm", &[w("vm", Some(0), 600)]);
        // Final delta 100 plus the restarted VM at 50 (baseline 0): 150.
        // With x delta 150: 1000 -> 500 each.
        let r = a.update(
            &[pkg0(1_000)],
            &[w("vm", Some(0), 50), w("x", Some(0), 150)],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 0, &[("vm", 500), ("x", 500)])]
        );
        // vm 50 -> 350 (delta 300), x 150 -> 250 (delta 100): 750 / 250
        let r = a.update(
            &[pkg0(2_000)],
            &[w("vm", Some(0), 350), w("x", Some(0), 250)],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 0, &[("vm", 750), ("x", 250)])]
        );
        assert_eq!(a.consumer_total_uj("vm"), Some(1_250));
        // Retire, account, then seen again later: baseline 0 again.
        a.retire_consumer("vm", &[w("vm", Some(0), 350)]);
        a.update(&[pkg0(3_000)], &[w("x", Some(0), 350)], &[]);
        assert_eq!(a.consumer_total_uj("vm"), Some(1_250));
        // vm restarted at 100 (delta 100), x delta 100: 500 each.
        a.update(
            &[pkg0(4_000)],
            &[w("vm", Some(0), 100), w("x", Some(0), 450)],
            &[],
        );
        assert_eq!(a.consumer_total_uj("vm"), Some(1_750));
    }

    #[test]
    fn retire_unknown_consumer_counts_whole_value() {
        let mut a = Attributor::new();
        a.update(&[pkg0(0)], &[], &[]);
        a.retire_consumer("brief", &[w("brief", None, 100)]);
        let r = a.update(&[pkg0(1_000)], &[w("b", Some(0), 300)], &[]);
        // brief 100 (unsplit), b 300: 250 / 750
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 0, &[("b", 750), ("brief", 250)])]
        );
    }

    #[test]
    fn weight_counter_reset() {
        let mut a = Attributor::new();
        a.update(
            &[pkg0(0)],
            &[w("a", Some(0), 1_000), w("b", Some(0), 0)],
            &[],
        );
        // a goes 1000 -> 200: reset, delta 200; b 0 -> 600: delta 600.
        // 800 µJ: a = 800*200/800 = 200, b = 600
        let r = a.update(
            &[pkg0(800)],
            &[w("a", Some(0), 200), w("b", Some(0), 600)],
            &[],
        );
        assert_eq!(
            r.zones,
            vec![zi("package-0", 800, 0, &[("a", 200), ("b", 600)])]
        );
        // Host counter reset: 5000 -> 1000 gives delta 1000 (> 100 + 100).
        a.update(&[pkg0(800)], &[], &[host(Some(0), 5_000)]);
        let r = a.update(
            &[pkg0(1_800)],
            &[w("a", Some(0), 300), w("b", Some(0), 700)],
            &[host(Some(0), 1_000)],
        );
        // a = 1000*100/1000 = 100, b = 100, unattributed 800
        assert_eq!(
            r.zones,
            vec![zi("package-0", 1_000, 800, &[("a", 100), ("b", 100)])]
        );
    }

    #[test]
    fn zero_denominator() {
        let mut a = Attributor::new();
        a.update(&[pkg0(0)], &[w("a", Some(0), 5)], &[]);
        // No weights at all.
        let r = a.update(&[pkg0(1_000)], &[], &[]);
        assert_eq!(r.zones, vec![zi("package-0", 1_000, 1_000, &[])]);
        // Weights present but unchanged, host unchanged.
        a.update(&[pkg0(1_000)], &[], &[host(None, 7)]);
        let r = a.update(&[pkg0(3_000)], &[w("a", Some(0), 5)], &[host(None, 7)]);
        assert_eq!(r.zones, vec![zi("package-0", 2_000, 2_000, &[])]);
        // Weight only on another package.
        let r = a.update(&[pkg0(3_500)], &[w("a", Some(1), 9)], &[]);
        assert_eq!(r.zones, vec![zi("package-0", 500, 500, &[])]);
        assert_eq!(a.unattributed_uj("package-0"), Some(3_500));
        assert_eq!(a.consumer_energy_uj("a", "package-0"), Some(0));
    }

    #[test]
    fn rebased_zone_measures_nothing_for_the_interval() {
        let mut a = Attributor::new();
        a.update(&[pkg0(1_000)], &[w("vm", Some(0), 0)], &[]);
        a.update(&[pkg0(1_600)], &[w("vm", Some(0), 10)], &[]);
        assert_eq!(a.measured_uj("package-0"), Some(600));
        // The counter wrapped an unknown number of times: the interval's
        // energy is not measured, and its weight takes nothing.
        a.rebase_zone(&pkg0(300));
        let r = a.update(&[pkg0(300)], &[w("vm", Some(0), 50)], &[]);
        assert_eq!(
            r,
            IntervalReport {
                zones: vec![zi("package-0", 0, 0, &[("vm", 0)])]
            }
        );
        assert_eq!(a.measured_uj("package-0"), Some(600));
        // From the new baseline on, counted as before.
        let r = a.update(&[pkg0(500)], &[w("vm", Some(0), 60)], &[]);
        assert_eq!(r.zone("package-0").unwrap().share_uj("vm"), Some(200));
        assert_eq!(a.consumer_energy_uj("vm", "package-0"), Some(800));
        // A zone never sampled is left alone.
        a.rebase_zone(&zone("psys", None, 5));
        assert_eq!(a.measured_uj("psys"), None);
    }

    #[test]
    fn range_change_rebases_and_duplicates_ignored() {
        let mut a = Attributor::new();
        a.update(&[pkg0(100)], &[], &[]);
        let mut s = pkg0(50);
        s.range_uj = 1_000;
        // New range: fresh baseline at 50, nothing measured.
        let r = a.update(&[s.clone()], &[w("a", Some(0), 1)], &[]);
        assert_eq!(r.zones, vec![zi("package-0", 0, 0, &[("a", 0)])]);
        s.raw_uj = 10; // wraps: (1000 - 50) + 10 + 1 = 961
        let mut dup = s.clone();
        dup.raw_uj = 999;
        let r = a.update(&[s, dup], &[w("a", Some(0), 2)], &[]);
        assert_eq!(r.zones, vec![zi("package-0", 961, 0, &[("a", 961)])]);
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let mut a = Attributor::new();
        let z = ZoneSample {
            zone: "z".to_owned(),
            package: Some(0),
            raw_uj: 0,
            range_uj: 0,
        };
        a.update(std::slice::from_ref(&z), &[], &[host(None, 0)]);
        let z2 = ZoneSample {
            raw_uj: u64::MAX,
            ..z
        };
        let r = a.update(
            &[z2],
            &[
                w("a", Some(0), u64::MAX),
                w("a", None, u64::MAX),
                w("b", Some(0), u64::MAX),
                w("b", Some(0), u64::MAX),
            ],
            &[host(None, u64::MAX)],
        );
        assert!(r.conserved());
        // a and b both saturate at u64::MAX weight: equal halves.
        assert_eq!(
            r.zones,
            vec![zi(
                "z",
                u64::MAX,
                1,
                &[("a", u64::MAX / 2), ("b", u64::MAX / 2)]
            )]
        );
    }

    /// Deterministic 64-bit LCG (Knuth MMIX constants).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    #[test]
    fn conservation_over_random_intervals() {
        const RANGE: u64 = 1_000_000;
        let mut rng = Lcg(0x5eed);
        let mut a = Attributor::new();
        let zone_defs: [(&str, Option<u32>); 5] = [
            ("dram-0", Some(0)),
            ("dram-1", Some(1)),
            ("package-0", Some(0)),
            ("package-1", Some(1)),
            ("psys", None),
        ];
        let mut raw: Vec<u64> = zone_defs.iter().map(|_| rng.below(RANGE + 1)).collect();
        // Per consumer slot: Some(cumulative weights [pkg0, pkg1, unsplit]).
        let names: Vec<String> = (0..8).map(|i| format!("vm{i}")).collect();
        let mut live: Vec<Option<[u64; 3]>> = vec![None; names.len()];
        let mut prev_consumer: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut prev_zone: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut host_w = [0u64; 2];
        let mut total_shares: BTreeMap<String, u128> = BTreeMap::new();
        let mut total_unattr: BTreeMap<String, u128> = BTreeMap::new();

        for interval in 0..1_000 {
            // Consumers come and go.
            for (i, slot) in live.iter_mut().enumerate() {
                match slot {
                    None if rng.below(10) == 0 => {
                        if rng.below(2) == 0 {
                            let base = [rng.below(1_000), rng.below(1_000), rng.below(1_000)];
                            let samples = [
                                w(&names[i], Some(0), base[0]),
                                w(&names[i], Some(1), base[1]),
                                w(&names[i], None, base[2]),
                            ];
                            a.add_consumer(&names[i], &samples);
                            *slot = Some(base);
                        } else {
                            *slot = Some([0, 0, 0]);
                        }
                    }
                    Some(cum) if rng.below(20) == 0 => {
                        for c in cum.iter_mut() {
                            *c += rng.below(500);
                        }
                        let samples = [
                            w(&names[i], Some(0), cum[0]),
                            w(&names[i], Some(1), cum[1]),
                            w(&names[i], None, cum[2]),
                        ];
                        a.retire_consumer(&names[i], &samples);
                        *slot = None;
                    }
                    _ => {}
                }
                if interval % 250 == 249 && slot.is_none() && rng.below(2) == 0 {
                    a.forget_consumer(&names[i]);
                    prev_consumer.retain(|(c, _), _| c != &names[i]);
                }
            }
            let mut weights = Vec::new();
            for (i, slot) in live.iter_mut().enumerate() {
                if let Some(cum) = slot {
                    for c in cum.iter_mut() {
                        *c += rng.below(1_000);
                    }
                    if rng.below(50) == 0 {
                        cum[0] = rng.below(100); // counter reset
                    }
                    weights.push(w(&names[i], Some(0), cum[0]));
                    weights.push(w(&names[i], Some(1), cum[1]));
                    if rng.below(3) != 0 {
                        weights.push(w(&names[i], None, cum[2]));
                    }
                }
            }
            for h in host_w.iter_mut() {
                *h += rng.below(6_000);
            }
            let host = if rng.below(4) == 0 {
                vec![]
            } else {
                vec![host(Some(0), host_w[0]), host(Some(1), host_w[1])]
            };
            let zones: Vec<ZoneSample> = zone_defs
                .iter()
                .zip(raw.iter_mut())
                .map(|(&(name, package), r)| {
                    *r = (*r + rng.below(300_000)) % (RANGE + 1);
                    ZoneSample {
                        zone: name.to_owned(),
                        package,
                        raw_uj: *r,
                        range_uj: RANGE,
                    }
                })
                .collect();

            let report = a.update(&zones, &weights, &host);
            assert!(report.conserved(), "interval {interval}: {report:?}");
            assert_eq!(report.zones.len(), zone_defs.len());
            for z in &report.zones {
                *total_unattr.entry(z.zone.clone()).or_default() += u128::from(z.unattributed_uj);
                for (_, uj) in &z.shares {
                    *total_shares.entry(z.zone.clone()).or_default() += u128::from(*uj);
                }
            }

            // Cumulative counters never go backwards.
            for z in a.zones() {
                let now = (
                    a.measured_uj(z).unwrap_or(0),
                    a.unattributed_uj(z).unwrap_or(0),
                );
                let before = prev_zone.get(z).copied().unwrap_or((0, 0));
                assert!(now.0 >= before.0 && now.1 >= before.1);
                prev_zone.insert(z.to_owned(), now);
            }
            for c in a.consumers().map(str::to_owned).collect::<Vec<_>>() {
                for &(z, _) in &zone_defs {
                    let now = a.consumer_energy_uj(&c, z).unwrap_or(0);
                    let key = (c.clone(), z.to_owned());
                    let before = prev_consumer.get(&key).copied().unwrap_or(0);
                    assert!(now >= before, "{c} {z} went backwards");
                    prev_consumer.insert(key, now);
                }
            }
        }
        // Cumulative identity per zone: shares + unattributed = measured.
        for &(z, _) in &zone_defs {
            let measured = u128::from(a.measured_uj(z).unwrap_or(0));
            let unattr = u128::from(a.unattributed_uj(z).unwrap_or(0));
            assert_eq!(total_unattr.get(z).copied().unwrap_or(0), unattr);
            assert_eq!(total_shares.get(z).copied().unwrap_or(0) + unattr, measured);
            assert!(measured > 0);
        }
    }
}
