// SPDX-License-Identifier: LGPL-2.1-or-later
//! The checked-in corpus is what the targets' seeds generate, every seed
//! is accepted, and each known-defect reproducer (`fuzz/known/`) is still
//! recognised as that defect (when a defect is fixed, this test fails:
//! remove its reproducer and its exemption, docs/fuzzing.md).

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
fn known_defects_are_still_there() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for t in targets() {
        let mut run = (t.setup)();
        for (name, data) in files(&here.join("known").join(t.name)) {
            assert_eq!(run(&data), Outcome::Known, "{name}");
            seen += 1;
        }
    }
    assert_eq!(seen, 4);
}
