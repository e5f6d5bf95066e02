// SPDX-License-Identifier: LGPL-2.1-or-later
//! Fuzz targets for libvirt-power's decoders, and the pieces of a
//! coverage-free fuzzer that runs on stable Rust (`src/main.rs`).
//!
//! Each target takes arbitrary bytes, feeds them to one decoder and checks
//! its properties with `assert!`: no panic, and where the decoder has an
//! encoder, that what it accepts encodes and decodes back to the same
//! value. A failed property is a panic, which the runner catches, counts
//! and saves. docs/fuzzing.md tells how to run them.

pub mod mutate;
pub mod rng;
pub mod targets;

/// What a decoder made of an input (a property that fails panics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The decoder accepted the input and the properties held.
    Accepted,
    /// The decoder refused the input with an error.
    Refused,
    /// The input hit a known defect, listed in docs/fuzzing.md with its
    /// reproducer in `fuzz/known/<target>/`; its properties were not
    /// checked further. Counted apart, so that a fix shows as 0.
    Known,
}

/// A set-up target: runs one input.
pub type Runner = Box<dyn FnMut(&[u8]) -> Outcome>;

/// One fuzz target.
pub struct Target {
    /// Name on the command line and of its corpus directory.
    pub name: &'static str,
    /// What it feeds and checks.
    pub about: &'static str,
    /// Tokens the mutator inserts.
    pub dict: &'static [&'static [u8]],
    /// Longest input generated.
    pub max_len: usize,
    /// Valid inputs, written to `fuzz/corpus/<name>/` by `--write-seeds`.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Sets the target up (temporary files, handles) and gives the
    /// function that runs one input.
    pub setup: fn() -> Runner,
}

/// Every target, in the order `all` runs them.
pub fn targets() -> Vec<Target> {
    vec![
        targets::xdr::target(),
        targets::journal::target(),
        targets::accounting::target(),
        targets::units::target(),
        targets::cpulist::target(),
    ]
}

thread_local! {
    static RUNNERS: std::cell::RefCell<Vec<(&'static str, Runner)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs one input through the target `name`, set up on first use (the
/// entry point of the cargo-fuzz targets in `fuzz_targets/`).
///
/// # Panics
/// If `name` is not a target, and where the target's properties fail.
pub fn run_target(name: &str, data: &[u8]) {
    RUNNERS.with(|r| {
        let mut r = r.borrow_mut();
        let i = match r.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                let t = targets()
                    .into_iter()
                    .find(|t| t.name == name)
                    .unwrap_or_else(|| panic!("no fuzz target named {name}"));
                r.push((t.name, (t.setup)()));
                r.len() - 1
            }
        };
        (r[i].1)(data);
    });
}
