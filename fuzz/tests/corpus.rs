// SPDX-License-Identifier: LGPL-2.1-or-later
//! The checked-in corpus is what the targets' seeds generate, every seed
//! is accepted, and the input of each defect the fuzzer found
//! (`fuzz/regressions/`) runs through its target without a panic.

use std::path::Path;

use virt_power_fuzz::{Outcome, targets};

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).collect())
        .unwrap_or_else(|_| Vec::new())
        .into_iter()
        .map(|e| {
            let p = e.path();
            (p.display().to_string(), std::fs::read(&p).expect("read"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn corpus_is_the_seeds_and_is_accepted() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for t in targets() {
        let on_disk: Vec<Vec<u8>> = files(&here.join("corpus").join(t.name))
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        assert_eq!(
            on_disk,
            (t.seeds)(),
            "{}: run virt-power-fuzz --write-seeds",
            t.name
        );
        let mut run = (t.setup)();
        for (i, seed) in on_disk.iter().enumerate() {
            assert_eq!(run(seed), Outcome::Accepted, "{} seed {i}", t.name);
        }
    }
}

#[test]
fn the_defects_the_fuzzer_found_stay_fixed() {
    // One input per defect the 10-minute runs found, all fixed since
    // (docs/fuzzing.md): each runs through its target without a panic and
    // without being set apart.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for t in targets() {
        let mut run = (t.setup)();
        for (name, data) in files(&here.join("regressions").join(t.name)) {
            assert_ne!(run(&data), Outcome::Known, "{name}");
            seen += 1;
        }
    }
    assert_eq!(seen, 4);
}
