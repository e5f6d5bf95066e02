// SPDX-License-Identifier: LGPL-2.1-or-later
//! Generates the libvirt FFI bindings of `virt-power` with bindgen, over the
//! public headers of the PATCHED libvirt (the node power API and the energy
//! stats group are not in upstream libvirt).
//!
//! libvirt is found with pkg-config. A build of this repository in
//! `<workspace>/build/prefix` (scripts/build-libvirt) is preferred over the
//! system's: its pkgconfig directory goes first in PKG_CONFIG_PATH. A
//! library directory outside the system's gets an rpath, so the binary runs
//! without LD_LIBRARY_PATH.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const NEED_PATCHED: &str = "virt-power needs the patched libvirt: run scripts/build-libvirt";

/// Symbols of the patched headers this tool cannot work without.
const REQUIRED: &[(&str, &str)] = &[
    ("libvirt-host.h", "virNodeGetRaplLimit("),
    ("libvirt-domain.h", "VIR_DOMAIN_STATS_ENERGY "),
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let prefix = manifest_dir.join("build").join("prefix");
    println!("cargo:rerun-if-changed={}", prefix.display());
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    if let Some(dir) = find_pc_dir(&prefix) {
        let mut paths = vec![dir];
        if let Some(old) = env::var_os("PKG_CONFIG_PATH") {
            paths.extend(env::split_paths(&old));
        }
        let joined = env::join_paths(paths).expect("PKG_CONFIG_PATH entries");
        // SAFETY: build scripts are single-threaded here; nothing else reads
        // the environment concurrently.
        unsafe { env::set_var("PKG_CONFIG_PATH", joined) };
    }

    let lib = match pkg_config::Config::new()
        .atleast_version("11.3.0")
        .probe("libvirt")
    {
        Ok(lib) => lib,
        Err(e) => fail(&format!("libvirt not found by pkg-config ({e})")),
    };

    // pkg-config leaves system directories out of the -L list, so whatever
    // remains is a private prefix the loader would not search.
    for dir in &lib.link_paths {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }

    let include_dir = lib
        .include_paths
        .iter()
        .find(|d| d.join("libvirt").join("libvirt.h").is_file())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/usr/include"));
    let header_dir = include_dir.join("libvirt");
    let header = header_dir.join("libvirt.h");
    if !header.is_file() {
        fail(&format!("{} is missing", header.display()));
    }
    for h in fs::read_dir(&header_dir).into_iter().flatten().flatten() {
        if h.path().extension().is_some_and(|e| e == "h") {
            println!("cargo:rerun-if-changed={}", h.path().display());
        }
    }
    for (file, symbol) in REQUIRED {
        let path = header_dir.join(file);
        let text = fs::read_to_string(&path).unwrap_or_default();
        if !text.contains(symbol) {
            fail(&format!(
                "{} does not declare {} (a stock libvirt)",
                path.display(),
                symbol.trim_end_matches(['(', ' '])
            ));
        }
    }

    // virterror.h (virGetLastError, virSetErrorFunc) is not included by
    // libvirt.h.
    let mut builder = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .header(header_dir.join("virterror.h").to_string_lossy())
        .rust_edition(bindgen::RustEdition::Edition2024)
        .layout_tests(false)
        .derive_default(false)
        .prepend_enum_name(false)
        .generate_comments(false);
    for dir in &lib.include_paths {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    for f in [
        "virInitialize",
        "virSetErrorFunc",
        "virGetLastError",
        "virResetLastError",
        "virConnectOpenReadOnly",
        "virConnectClose",
        "virConnectIsAlive",
        "virConnectGetAllDomainStats",
        "virDomainStatsRecordListFree",
        "virDomainGetName",
        "virDomainGetUUIDString",
        "virNodeGetRaplLimit",
        "virTypedParamsFree",
    ] {
        builder = builder.allowlist_function(f);
    }
    // Enum constants come with their enum type.
    for t in [
        "virDomainStatsTypes",
        "virConnectGetAllDomainStatsFlags",
        "virTypedParameterType",
    ] {
        builder = builder.allowlist_type(t);
    }
    builder = builder.allowlist_var("VIR_UUID_STRING_BUFLEN");
    // bindgen panics when it cannot load libclang; say what to install.
    let generated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.generate()));
    let bindings = match generated {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => fail(&format!("bindgen over {}: {e}", header.display())),
        Err(_) => panic!(
            "bindgen could not run libclang: install it (Debian: apt-get install -y libclang-dev)"
        ),
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("libvirt_sys.rs");
    if let Err(e) = bindings.write_to_file(&out) {
        panic!("writing {}: {e}", out.display());
    }
}

/// The directory holding `libvirt.pc` in `prefix/lib*/pkgconfig` or
/// `prefix/lib*/*/pkgconfig` (lib, lib64, lib/<multiarch>), if the
/// repository's build is there.
fn find_pc_dir(prefix: &Path) -> Option<PathBuf> {
    let subdirs = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        v
    };
    let libdirs = subdirs(prefix).into_iter().filter(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("lib"))
    });
    for lib in libdirs {
        for dir in std::iter::once(lib.clone()).chain(subdirs(&lib)) {
            let pc_dir = dir.join("pkgconfig");
            if pc_dir.join("libvirt.pc").is_file() {
                return Some(pc_dir);
            }
        }
    }
    None
}

fn fail(why: &str) -> ! {
    eprintln!("error: {NEED_PATCHED}\n  ({why})");
    panic!("{NEED_PATCHED} ({why})");
}
