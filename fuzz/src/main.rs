// SPDX-License-Identifier: LGPL-2.1-or-later
//! `virt-power-fuzz`: runs the fuzz targets on stable Rust.
//!
//! ```text
//! virt-power-fuzz [TARGET|all] [--seconds N] [--seed S] [--corpus DIR]
//!                 [--artifacts DIR]
//! virt-power-fuzz --write-seeds [--corpus DIR]
//! virt-power-fuzz --list
//! virt-power-fuzz TARGET --replay FILE...
//! ```
//!
//! Each target starts from its corpus (`fuzz/corpus/<target>/`, the valid
//! inputs `--write-seeds` writes) and mutates it for N seconds (default
//! 10; for `all`, N per target), one input at a time. Inputs the decoder
//! accepts join a bounded pool that is mutated further: with no coverage
//! feedback, acceptance is what steers the search into the decoders'
//! deeper paths. A panic (a crash or a failed property) is caught, its
//! input saved to the artifacts directory (default
//! `fuzz/artifacts/<target>/`), and the run goes on. One line per
//! target: `fuzz TARGET: N inputs (A accepted, K known defect), P panics,
//! S s, seed X`, K counting inputs that hit a defect docs/fuzzing.md lists.
//! Exit status 1 if any target panicked.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use virt_power_fuzz::mutate::mutate;
use virt_power_fuzz::rng::Rng;
use virt_power_fuzz::{Outcome, Target, targets};

/// Most accepted inputs kept for further mutation.
const POOL_MAX: usize = 4096;

thread_local! {
    static PANIC_MSG: RefCell<String> = const { RefCell::new(String::new()) };
}

struct Options {
    target: String,
    seconds: u64,
    seed: Option<u64>,
    corpus: PathBuf,
    artifacts: PathBuf,
    replay: Vec<PathBuf>,
    write_seeds: bool,
    list: bool,
}

fn usage() -> String {
    "usage: virt-power-fuzz [TARGET|all] [--seconds N] [--seed S] [--corpus DIR] [--artifacts DIR]\n\
     \x20      virt-power-fuzz --write-seeds [--corpus DIR] | --list | TARGET --replay FILE..."
        .to_owned()
}

fn parse_args() -> Result<Options, String> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut o = Options {
        target: "all".to_owned(),
        seconds: 10,
        seed: None,
        corpus: here.join("corpus"),
        artifacts: here.join("artifacts"),
        replay: Vec::new(),
        write_seeds: false,
        list: false,
    };
    let mut args = std::env::args().skip(1);
    let mut replaying = false;
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{}", usage()))
        };
        match a.as_str() {
            "--seconds" => {
                let v = value("--seconds")?;
                o.seconds = v
                    .parse()
                    .map_err(|_| format!("invalid --seconds '{v}': expected whole seconds"))?;
            }
            "--seed" => {
                let v = value("--seed")?;
                o.seed = Some(
                    v.parse()
                        .map_err(|_| format!("invalid --seed '{v}': expected a number"))?,
                );
            }
            "--corpus" => o.corpus = value("--corpus")?.into(),
            "--artifacts" => o.artifacts = value("--artifacts")?.into(),
            "--write-seeds" => o.write_seeds = true,
            "--list" => o.list = true,
            "--replay" => replaying = true,
            "-h" | "--help" => return Err(usage()),
            _ if replaying => o.replay.push(a.into()),
            _ if !a.starts_with('-') => o.target = a,
            _ => return Err(format!("unknown option '{a}'\n{}", usage())),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let all = targets();
    if o.list {
        for t in &all {
            println!("{:18} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    if o.write_seeds {
        return match write_seeds(&all, &o.corpus) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("virt-power-fuzz: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let chosen: Vec<&Target> = all
        .iter()
        .filter(|t| o.target == "all" || t.name == o.target)
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = all.iter().map(|t| t.name).collect();
        eprintln!(
            "unknown target '{}': expected all or one of {}",
            o.target,
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    // Panics are counted and reported here, not printed by the default hook.
    panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        PANIC_MSG.with(|m| *m.borrow_mut() = format!("{msg}{at}"));
    }));
    let mut failed = false;
    for t in chosen {
        let panics = if o.replay.is_empty() {
            fuzz(t, &o)
        } else {
            replay(t, &o.replay)
        };
        failed |= panics > 0;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn write_seeds(all: &[Target], corpus: &Path) -> std::io::Result<()> {
    for t in all {
        let dir = corpus.join(t.name);
        std::fs::create_dir_all(&dir)?;
        for (i, s) in (t.seeds)().iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), s)?;
        }
    }
    Ok(())
}

/// Runs one input; `Err` holds the panic's message.
fn run_one(run: &mut dyn FnMut(&[u8]) -> Outcome, data: &[u8]) -> Result<Outcome, String> {
    panic::catch_unwind(AssertUnwindSafe(|| run(data)))
        .map_err(|_| PANIC_MSG.with(|m| m.borrow().clone()))
}

fn replay(t: &Target, files: &[PathBuf]) -> usize {
    let mut run = (t.setup)();
    let mut panics = 0;
    for f in files {
        let data = match std::fs::read(f) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                panics += 1;
                continue;
            }
        };
        match run_one(&mut run, &data) {
            Ok(outcome) => println!("{}: {outcome:?}", f.display()),
            Err(msg) => {
                println!("{}: PANIC: {msg}", f.display());
                panics += 1;
            }
        }
    }
    panics
}

fn fuzz(t: &Target, o: &Options) -> usize {
    let seed = o.seed.unwrap_or_else(|| {
        let mut h = DefaultHasher::new();
        (std::process::id(), Instant::now()).hash(&mut h);
        std::time::SystemTime::now().hash(&mut h);
        h.finish()
    });
    let mut rng = Rng::new(seed);
    let mut corpus = load_corpus(&o.corpus.join(t.name));
    if corpus.is_empty() {
        corpus = (t.seeds)();
    }
    let mut run = (t.setup)();
    let (mut inputs, mut accepted, mut known, mut panics) = (0u64, 0u64, 0u64, 0usize);
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let start = Instant::now();
    let deadline = Duration::from_secs(o.seconds);
    // The corpus itself first: every seed must pass.
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    queue.reverse();
    while start.elapsed() < deadline || !queue.is_empty() {
        let data = match queue.pop() {
            Some(d) => d,
            None => {
                let from_pool = !pool.is_empty() && rng.one_in(2);
                let mut d = if from_pool {
                    rng.pick(&pool).clone()
                } else {
                    rng.pick(&corpus).clone()
                };
                let splice_from = if from_pool { &pool } else { &corpus };
                mutate(&mut rng, &mut d, t.dict, splice_from, t.max_len);
                d
            }
        };
        inputs += 1;
        match run_one(&mut run, &data) {
            Ok(Outcome::Accepted) => {
                accepted += 1;
                if pool.len() < POOL_MAX {
                    pool.push(data);
                } else {
                    let i = rng.below(POOL_MAX);
                    pool[i] = data;
                }
            }
            Ok(Outcome::Refused) => {}
            Ok(Outcome::Known) => known += 1,
            Err(msg) => {
                panics += 1;
                let path = save_artifact(&o.artifacts.join(t.name), &data);
                if panics <= 5 {
                    eprintln!("fuzz {}: PANIC: {msg}\n  input saved to {path}", t.name);
                }
            }
        }
    }
    println!(
        "fuzz {}: {inputs} inputs ({accepted} accepted, {known} known defect), {panics} panics, {} s, seed {seed}",
        t.name,
        start.elapsed().as_secs()
    );
    panics
}

fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

fn save_artifact(dir: &Path, data: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    let path = dir.join(format!("crash-{:016x}", h.finish()));
    match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, data)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not saved: {e})"),
    }
}
