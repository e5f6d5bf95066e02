// SPDX-License-Identifier: LGPL-2.1-or-later
//! Load: 16 clients make 10,000 mixed node power calls each against the
//! patched daemon (`build/prefix`) over its unix socket, through the
//! libvirt C API (a virsh process per call would take hours here), on a
//! simulated 16-CPU host (`large` preset, a cpufreq policy per CPU, two
//! RAPL packages).
//!
//! - Client `c` owns CPU `c`: it sets that CPU's governor and min/max
//!   frequency and knows their values at every moment, so each of its
//!   reads of its CPU must show exactly its last successful set.
//! - The two packages' long_term RAPL constraints are shared: every
//!   client sets them, always a limit with the window derived from it
//!   ([`window_us_for`]), so a torn pair is visible. A logical clock taken
//!   before and after each call tells which sets may have been the last
//!   (no other set started after they returned); the tree must hold one
//!   of those pairs.
//! - About 3 % of the calls are bad input (an unknown governor, a minimum
//!   below the hardware's, a limit of 5000 W, above the register field):
//!   refused with an error naming the value, changing nothing.
//!
//! After the run: the daemon still answers, its resident memory grew by
//! less than [`RSS_GROWTH_LIMIT_KIB`], only the knobs changed, each holds
//! its expected value, and the restores (virsh) give back the original
//! tree byte for byte. The summary line gives the numbers.
//!
//! Run as root (`cargo test --test load -- --nocapture`);
//! `LIBVIRT_POWER_REQUIRE_E2E=1` turns the skip when not root into a
//! failure.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::daemon::{self, Daemon, SimHost, Virsh};
use support::node_api::{Conn, Param, Params};

const CLIENTS: u32 = 16;
const CALLS_PER_CLIENT: u32 = 10_000;
const GOVERNORS: [&str; 6] = [
    "performance",
    "powersave",
    "ondemand",
    "conservative",
    "userspace",
    "schedutil",
];
const ZONES: [&str; 2] = ["package-0", "package-1"];
/// How much the daemon's resident memory may grow over the run: loose
/// (malloc arenas of 16 worker threads, logs), yet a leak of 400 bytes a
/// call would pass it.
const RSS_GROWTH_LIMIT_KIB: u64 = 64 * 1024;
/// A run without a single call finishing for this long is a hang.
const HANG: Duration = Duration::from_secs(300);

/// The window every set pairs with `limit_uw`.
fn window_us_for(limit_uw: u64) -> u64 {
    1_000 + limit_uw / 1_000
}

fn policy_dir(cpu: u32) -> String {
    format!("devices/system/cpu/cpufreq/policy{cpu}")
}

/// What the host offers and had before the run.
struct Hw {
    min_khz: u64,
    max_khz: u64,
    governor: String,
    /// By zone name: its directory, the long_term limit and window it had,
    /// and its max power.
    zones: BTreeMap<&'static str, Zone>,
}

#[derive(Clone)]
struct Zone {
    dir: String,
    limit_uw: u64,
    window_us: u64,
    max_uw: u64,
}

fn num(host: &SimHost, rel: &str) -> u64 {
    let text = host.read(rel);
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{rel}: '{}': {e}", text.trim()))
}

impl Hw {
    fn read(host: &SimHost) -> Hw {
        let p = policy_dir(0);
        let top = "devices/virtual/powercap/intel-rapl";
        let mut zones = BTreeMap::new();
        for name in ZONES {
            let dir = (0..8)
                .map(|i| format!("{top}/intel-rapl:{i}"))
                .find(|d| {
                    host.backing.join(d).join("name").is_file()
                        && host.read(&format!("{d}/name")).trim() == name
                })
                .unwrap_or_else(|| panic!("no zone {name} under {top}"));
            assert_eq!(
                host.read(&format!("{dir}/constraint_0_name")).trim(),
                "long_term"
            );
            zones.insert(
                name,
                Zone {
                    limit_uw: num(host, &format!("{dir}/constraint_0_power_limit_uw")),
                    window_us: num(host, &format!("{dir}/constraint_0_time_window_us")),
                    max_uw: num(host, &format!("{dir}/constraint_0_max_power_uw")),
                    dir,
                },
            );
        }
        Hw {
            min_khz: num(host, &format!("{p}/cpuinfo_min_freq")),
            max_khz: num(host, &format!("{p}/cpuinfo_max_freq")),
            governor: host
                .read(&format!("{p}/scaling_governor"))
                .trim()
                .to_owned(),
            zones,
        }
    }
}

/// xorshift64*: a fixed sequence per client.
struct Rng(u64);

impl Rng {
    fn new(seed: u32) -> Rng {
        Rng(0x9e37_79b9_7f4a_7c15 ^ (u64::from(seed) + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9))
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A client's CPU as it set it last.
#[derive(Clone, Debug, PartialEq)]
struct Own {
    governor: String,
    min_khz: u64,
    max_khz: u64,
}

/// One successful set of a shared RAPL constraint, with the logical clock
/// before the call and after it returned.
#[derive(Clone, Debug)]
struct RaplSet {
    zone: &'static str,
    limit_uw: u64,
    window_us: u64,
    start: u64,
    end: u64,
}

#[derive(Default)]
struct Report {
    ok: u64,
    refused: u64,
    own: Option<Own>,
    rapl: Vec<RaplSet>,
    /// The first refusal of each kind, for the summary.
    refusals: BTreeMap<&'static str, String>,
}

/// Shared by the clients: the logical clock, calls finished, the stop
/// flag a failing client raises, and a lock for each kind of file.
///
/// The locks are there for the stand-in, not the daemon: the plain tree
/// rewrites a file in place (`O_TRUNC`, then the value), so a read that
/// overlaps a write of the same file sees it empty, which a kernel
/// attribute never shows (its show and store are each atomic); and every
/// call reads far more than it writes (a RAPL setter reads all zones, a
/// getter all CPUs). The FUSE mount answers like the kernel, but at some
/// 200 ms a frequency getter (every file through FUSE, uncached) 160,000
/// calls would take hours. So a setter of a kind runs alone with respect
/// to the other calls of its kind (`write`), getters run together
/// (`read`), and calls of the two kinds run at once.
#[derive(Default)]
struct Shared {
    clock: AtomicU64,
    done: AtomicU64,
    stop: AtomicBool,
    cpufreq: RwLock<()>,
    rapl: RwLock<()>,
}

/// The block of `cpu` in a virNodeGetFrequency answer, as (governor, min,
/// max); checks every block has min <= max within the hardware's range.
fn frequency_blocks(p: &Params, hw: &Hw) -> Result<BTreeMap<u32, Own>, String> {
    let count = p
        .uint("cpu.count")
        .ok_or_else(|| format!("no cpu.count in {p:?}"))?;
    let mut out = BTreeMap::new();
    for i in 0..count {
        let f = |name: &str| format!("cpu.{i}.{name}");
        let id = p.uint(&f("id")).ok_or_else(|| format!("no {}", f("id")))?;
        let own = Own {
            governor: p.str(&f("governor")).unwrap_or("").to_owned(),
            min_khz: p.ullong(&f("min_frequency")).unwrap_or(0),
            max_khz: p.ullong(&f("max_frequency")).unwrap_or(0),
        };
        let in_range =
            (hw.min_khz..=own.max_khz).contains(&own.min_khz) && own.max_khz <= hw.max_khz;
        if !in_range || !GOVERNORS.contains(&own.governor.as_str()) {
            return Err(format!("CPU {id} reads {own:?}: not a state any set makes"));
        }
        out.insert(id, own);
    }
    Ok(out)
}

/// Checks a virNodeGetRaplLimit answer: each shared constraint within its
/// zone's range (a read may fall between a set's two writes, so the pair
/// itself is checked only at the end).
fn check_rapl(p: &Params, hw: &Hw) -> Result<(), String> {
    let count = p
        .uint("zone.count")
        .ok_or_else(|| format!("no zone.count in {p:?}"))?;
    let mut seen = 0;
    for n in 0..count {
        let Some(name) = p.str(&format!("zone.{n}.name")) else {
            return Err(format!("no zone.{n}.name"));
        };
        let Some(zone) = hw.zones.get(name) else {
            continue;
        };
        seen += 1;
        let f = |field: &str| format!("zone.{n}.constraint.0.{field}");
        let (limit, window) = (p.ullong(&f("power_limit")), p.ullong(&f("time_window")));
        match (p.str(&f("name")), limit, window) {
            (Some("long_term"), Some(l), Some(w)) if l <= zone.max_uw && w > 0 => {}
            other => return Err(format!("zone {name} long_term reads {other:?}")),
        }
    }
    if seen == ZONES.len() {
        Ok(())
    } else {
        Err(format!("{seen} of the zones {ZONES:?} in {p:?}"))
    }
}

/// Client `c`: [`CALLS_PER_CLIENT`] calls on its own connection.
fn client(c: u32, uri: &str, hw: &Hw, shared: &Shared) -> Result<Report, String> {
    let conn = Conn::open(uri).map_err(|e| e.to_string())?;
    let cpu = c.to_string();
    let mut rng = Rng::new(c);
    let mut own = Own {
        governor: hw.governor.clone(),
        min_khz: hw.min_khz,
        max_khz: hw.max_khz,
    };
    let mut set_own = false;
    let mut r = Report::default();
    let steps = (hw.max_khz - hw.min_khz) / 100_000 + 1;
    let tick = || shared.clock.fetch_add(1, Ordering::SeqCst);
    for i in 0..CALLS_PER_CLIENT {
        if shared.stop.load(Ordering::Relaxed) {
            return Err("stopped: another client failed".into());
        }
        let at = |what: String| format!("client {c}, call {i}: {what}");
        // Bad input: the call, what the error must name, its kind.
        let mut bad: Option<(Result<(), support::node_api::Error>, String, &'static str)> = None;
        match rng.below(100) {
            0..25 => {
                let _g = shared.cpufreq.read().unwrap();
                let p = conn
                    .get_frequency(Some(&cpu))
                    .map_err(|e| at(e.to_string()))?;
                let blocks = frequency_blocks(&p, hw).map_err(at)?;
                if blocks.len() != 1 || blocks.get(&c) != Some(&own) {
                    return Err(at(format!("own CPU reads {blocks:?}, last set {own:?}")));
                }
            }
            25..35 => {
                let _g = shared.cpufreq.read().unwrap();
                let p = conn.get_frequency(None).map_err(|e| at(e.to_string()))?;
                let blocks = frequency_blocks(&p, hw).map_err(at)?;
                if blocks.len() != CLIENTS as usize || blocks.get(&c) != Some(&own) {
                    return Err(at(format!(
                        "all CPUs: {} blocks, own {:?}, last set {own:?}",
                        blocks.len(),
                        blocks.get(&c)
                    )));
                }
            }
            35..50 => {
                let _g = shared.rapl.read().unwrap();
                let p = conn.get_rapl_limit(None).map_err(|e| at(e.to_string()))?;
                check_rapl(&p, hw).map_err(at)?;
            }
            50..65 => {
                let g = GOVERNORS[rng.below(GOVERNORS.len() as u64) as usize];
                let _g = shared.cpufreq.write().unwrap();
                conn.set_governor(Some(&cpu), Some(g), 0)
                    .map_err(|e| at(e.to_string()))?;
                own.governor = g.to_owned();
                set_own = true;
            }
            65..80 => {
                let a = rng.below(steps);
                let b = rng.below(steps);
                let (lo, hi) = (a.min(b), a.max(b));
                let (min_khz, max_khz) = (hw.min_khz + lo * 100_000, hw.min_khz + hi * 100_000);
                let _g = shared.cpufreq.write().unwrap();
                conn.set_frequency(
                    Some(&cpu),
                    &[
                        Param::ULLong("min_frequency", min_khz),
                        Param::ULLong("max_frequency", max_khz),
                    ],
                    0,
                )
                .map_err(|e| at(e.to_string()))?;
                own.min_khz = min_khz;
                own.max_khz = max_khz;
                set_own = true;
            }
            80..97 => {
                let zone = ZONES[rng.below(ZONES.len() as u64) as usize];
                let max_w = hw.zones[zone].max_uw / 1_000_000;
                let limit_uw = (10 + rng.below(max_w - 10)) * 1_000_000;
                let window_us = window_us_for(limit_uw);
                let _g = shared.rapl.write().unwrap();
                let start = tick();
                conn.set_rapl_limit(
                    zone,
                    None,
                    &[
                        Param::ULLong("power_limit", limit_uw),
                        Param::ULLong("time_window", window_us),
                    ],
                    0,
                )
                .map_err(|e| at(e.to_string()))?;
                let end = tick();
                r.rapl.push(RaplSet {
                    zone,
                    limit_uw,
                    window_us,
                    start,
                    end,
                });
            }
            97 => {
                let g = "turbo-boost";
                let _g = shared.cpufreq.write().unwrap();
                bad = Some((
                    conn.set_governor(Some(&cpu), Some(g), 0),
                    g.into(),
                    "governor",
                ));
            }
            98 => {
                let min_khz = hw.min_khz / 2;
                let _g = shared.cpufreq.write().unwrap();
                bad = Some((
                    conn.set_frequency(Some(&cpu), &[Param::ULLong("min_frequency", min_khz)], 0),
                    min_khz.to_string(),
                    "frequency",
                ));
            }
            _ => {
                let zone = ZONES[rng.below(ZONES.len() as u64) as usize];
                // Above the register's 15-bit field of 1/8 W (a limit
                // above max_power_uw, the TDP, is allowed).
                let limit_uw = 5_000_000_000;
                let _g = shared.rapl.write().unwrap();
                bad = Some((
                    conn.set_rapl_limit(zone, None, &[Param::ULLong("power_limit", limit_uw)], 0),
                    limit_uw.to_string(),
                    "rapl-limit",
                ));
            }
        }
        match bad {
            None => r.ok += 1,
            Some((Ok(()), value, kind)) => {
                return Err(at(format!("bad {kind} value {value} was accepted")));
            }
            Some((Err(e), value, kind)) => {
                if !e.message.contains(&value) {
                    return Err(at(format!("the refusal does not name {value}: {e}")));
                }
                r.refused += 1;
                r.refusals.entry(kind).or_insert_with(|| e.to_string());
            }
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
    r.own = set_own.then_some(own);
    Ok(r)
}

/// VmRSS of a process, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// The sets of `zone` that may have been applied last: no other set of
/// the zone started after they returned.
fn last_candidates<'a>(sets: &'a [RaplSet], zone: &str) -> Vec<&'a RaplSet> {
    let of_zone: Vec<&RaplSet> = sets.iter().filter(|s| s.zone == zone).collect();
    let latest_start = of_zone.iter().map(|s| s.start).max();
    of_zone
        .iter()
        .copied()
        .filter(|s| latest_start.is_none_or(|t| t < s.end))
        .collect()
}

#[test]
fn sixteen_clients_ten_thousand_mixed_calls_each_keep_the_last_set_and_restore() {
    require_root!();
    daemon::require_patched();
    // A plain tree (see `Shared` for why not the FUSE mount).
    let host = SimHost::plain("large");
    let original = host.tree();
    let original_hash = host.hash();
    let hw = Hw::read(&host);
    let mut d = Daemon::patched(&host.root, false);
    let v = Virsh::new(&d.uri);
    let rss_before_kib = rss_kib(d.pid());

    let shared = Shared::default();
    let start = Instant::now();
    let results: Vec<Result<Report, String>> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (uri, hw, shared) = (&d.uri, &hw, &shared);
                s.spawn(move || {
                    let r = client(c, uri, hw, shared);
                    if r.is_err() {
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        // A hang detector, not a time limit: fails only when no call at
        // all finishes for HANG.
        let total = u64::from(CLIENTS * CALLS_PER_CLIENT);
        let (mut last, mut since) = (0, Instant::now());
        while !clients.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(200));
            let now = shared.done.load(Ordering::Relaxed);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > HANG && now < total {
                eprintln!(
                    "load: no call finished for {HANG:?} ({now} of {total} done)\n{}",
                    d.tails()
                );
                std::process::abort();
            }
        }
        clients.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed();
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "client failures:\n{failures:#?}\n{}",
        d.tails()
    );
    let reports: Vec<Report> = results.into_iter().map(Result::unwrap).collect();

    d.assert_answers(&v);
    let rss_after_kib = rss_kib(d.pid());
    let ok: u64 = reports.iter().map(|r| r.ok).sum();
    let refused: u64 = reports.iter().map(|r| r.refused).sum();
    let log_kib = std::fs::metadata(d.log_path()).map_or(0, |m| m.len() / 1024);
    println!(
        "load: {CLIENTS} clients x {CALLS_PER_CLIENT} calls: {ok} ok, {refused} refused, \
         {:.1} s ({:.0} calls/s), daemon RSS before/after {rss_before_kib}/{rss_after_kib} KiB \
         (daemon log {log_kib} KiB)",
        elapsed.as_secs_f64(),
        (ok + refused) as f64 / elapsed.as_secs_f64()
    );
    let mut refusals: BTreeMap<&str, &String> = BTreeMap::new();
    for r in &reports {
        for (k, m) in &r.refusals {
            refusals.entry(k).or_insert(m);
        }
    }
    for (kind, message) in &refusals {
        println!("load: a refused {kind}: {message}");
    }
    assert_eq!(ok + refused, u64::from(CLIENTS * CALLS_PER_CLIENT));
    assert!(
        rss_after_kib <= rss_before_kib + RSS_GROWTH_LIMIT_KIB,
        "the daemon's RSS grew from {rss_before_kib} to {rss_after_kib} KiB"
    );

    // Only the knobs changed, each to its last set.
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    for (c, r) in reports.iter().enumerate() {
        let Some(own) = &r.own else { continue };
        let p = policy_dir(u32::try_from(c).unwrap());
        want.insert(format!("{p}/scaling_governor"), own.governor.clone());
        want.insert(format!("{p}/scaling_min_freq"), own.min_khz.to_string());
        want.insert(format!("{p}/scaling_max_freq"), own.max_khz.to_string());
    }
    let rapl: Vec<RaplSet> = reports.iter().flat_map(|r| r.rapl.clone()).collect();
    let mut allowed: BTreeSet<String> = want.keys().cloned().collect();
    for (name, zone) in &hw.zones {
        let limit_rel = format!("{}/constraint_0_power_limit_uw", zone.dir);
        let window_rel = format!("{}/constraint_0_time_window_us", zone.dir);
        let now = (num(&host, &limit_rel), num(&host, &window_rel));
        let candidates = last_candidates(&rapl, name);
        let pairs: BTreeSet<(u64, u64)> = if candidates.is_empty() {
            BTreeSet::from([(zone.limit_uw, zone.window_us)])
        } else {
            candidates
                .iter()
                .map(|s| (s.limit_uw, s.window_us))
                .collect()
        };
        println!(
            "load: {name}: {} sets, {} may have been last, the tree holds {now:?}",
            rapl.iter().filter(|s| s.zone == *name).count(),
            candidates.len()
        );
        assert!(
            pairs.contains(&now),
            "{name} holds limit/window {now:?}; the sets that may have been last: {pairs:?}"
        );
        allowed.extend([limit_rel, window_rel]);
    }
    let now = host.tree();
    let changed: Vec<String> = support::common::diff(&original, &now);
    let stray: Vec<&String> = changed.iter().filter(|p| !allowed.contains(*p)).collect();
    assert!(stray.is_empty(), "files no set names changed: {stray:?}");
    for (rel, value) in &want {
        assert_eq!(
            host.read(rel).trim(),
            value,
            "{rel}: the last set of its client"
        );
    }

    // The restores (rapl-limit's, one zone each) give back every byte.
    v.ok(&["governor", "--restore"]);
    v.ok(&["frequency", "--restore"]);
    for zone in ZONES {
        v.ok(&["rapl-limit", "--zone", zone, "--restore"]);
    }
    let left = support::common::diff(&original, &host.tree());
    assert_eq!(
        host.hash(),
        original_hash,
        "after restore, changed: {left:?}"
    );
    d.assert_answers(&v);
}
