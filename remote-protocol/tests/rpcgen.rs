// SPDX-License-Identifier: LGPL-2.1-or-later
//! The crate's encoding is byte for byte the one of the C code rpcgen
//! generates from the same pre-processed `.x`. (libvirt generates its C
//! with its own rpcgen, `scripts/rpcgen`, but on the same `xdr_*`
//! primitives of libtirpc.)
//!
//! The test runs `scripts/gen-remote-protocol --preprocess`, generates C
//! with rpcgen, builds `tests/c/encode.c` against it (libtirpc), runs it,
//! and compares every line it prints with the same value built and encoded
//! here: constants, encodings, and values the C routines refuse to encode
//! (which the crate must refuse too). The C bytes must also decode here and
//! encode back to the same bytes.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use libvirt_power_remote_protocol::xdr_codec::{Pack, Unpack};
use libvirt_power_remote_protocol::*;

/// What a line of the C program's output must be.
enum Expected {
    /// `case <name> <hex>` with these bytes, which must decode with this
    /// function (to the re-encoded bytes and the value's Debug form).
    Bytes(Vec<u8>, String, Decoder),
    /// `rejected <name>`, the crate having refused to encode the value.
    Rejected,
}

type Decoder = Box<dyn Fn(&[u8]) -> Result<(Vec<u8>, String), String>>;

struct Cases(BTreeMap<String, Expected>);

impl Cases {
    /// A value the C program encodes under `name`.
    fn add<T>(&mut self, name: &str, value: T)
    where
        T: Pack<Vec<u8>> + for<'a> Unpack<StrictReader<'a>> + Debug + 'static,
    {
        let bytes =
            to_bytes(&value).unwrap_or_else(|e| panic!("{name}: Rust encoding failed: {e}"));
        let decoder: Decoder = Box::new(|bytes| {
            let value: T = from_bytes(bytes).map_err(|e| e.to_string())?;
            let again = to_bytes(&value).map_err(|e| e.to_string())?;
            Ok((again, format!("{value:?}")))
        });
        let old = self.0.insert(
            name.to_owned(),
            Expected::Bytes(bytes, format!("{value:?}"), decoder),
        );
        assert!(old.is_none(), "{name} twice");
    }

    /// A value the C program fails to encode under `name`; the crate must
    /// fail too.
    fn add_rejected<T: Pack<Vec<u8>>>(&mut self, name: &str, value: T) {
        assert!(
            to_bytes(&value).is_err(),
            "{name}: the crate encodes a value rpcgen's code rejects"
        );
        assert!(
            self.0.insert(name.to_owned(), Expected::Rejected).is_none(),
            "{name} twice"
        );
    }
}

fn s(value: &str) -> remote_nonnull_string {
    value.into()
}

fn p(field: &str, value: remote_typed_param_value) -> remote_typed_param {
    remote_typed_param::new(field, value)
}

use remote_typed_param_value::{Boolean, Double, Int, Llong, String as Str, Uint, Ullong};

/// `every_type()` of encode.c: n parameters "p<i>", the type cycling
/// through all seven.
fn every_type(n: u32) -> Vec<remote_typed_param> {
    (0..n)
        .map(|i| {
            let value = match i % 7 {
                0 => Int(-(i as i32 + 1) * 1000),
                1 => Uint(4_000_000_000 + i),
                2 => Llong(-(1i64 << 40) - i64::from(i)),
                3 => Ullong((1u64 << 63) + u64::from(i)),
                4 => Double(f64::from(i) + 0.25),
                5 => Boolean((i % 2) as i32),
                _ => Str(s(&format!("value-{i}"))),
            };
            p(&format!("p{i}"), value)
        })
        .collect()
}

/// `long_string()` of encode.c: len bytes 'a' + i % 26.
fn long_string(len: usize) -> remote_nonnull_string {
    remote_nonnull_string(
        (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect(),
    )
}

/// The values of encode.c, in its order.
fn cases() -> Cases {
    let mut c = Cases(BTreeMap::new());
    let set_max = POWER_NODE_SET_PARAMS_MAX as u32;
    let get_max = POWER_NODE_GET_PARAMS_MAX as u32;

    c.add(
        "set_frequency_args.frequency",
        power_node_set_frequency_args {
            cpumap: Some("0-3,8".into()),
            params: vec![p("frequency", Ullong(2_400_000))],
            flags: 1,
        },
    );
    c.add(
        "set_frequency_args.limits",
        power_node_set_frequency_args {
            cpumap: None,
            params: vec![
                p("min_frequency", Ullong(800_000)),
                p("max_frequency", Ullong(3_500_000)),
            ],
            flags: 6,
        },
    );
    c.add(
        "set_frequency_args.restore",
        power_node_set_frequency_args {
            cpumap: Some("all".into()),
            params: vec![],
            flags: 8,
        },
    );
    c.add(
        "set_frequency_args.max_params",
        power_node_set_frequency_args {
            cpumap: Some("0".into()),
            params: every_type(set_max),
            flags: u32::MAX,
        },
    );
    c.add_rejected(
        "set_frequency_args.too_many_params",
        power_node_set_frequency_args {
            cpumap: Some("0".into()),
            params: every_type(set_max + 1),
            flags: 0,
        },
    );

    c.add(
        "get_frequency_args.all",
        power_node_get_frequency_args {
            cpumap: Some("all".into()),
            flags: 0,
        },
    );
    c.add(
        "get_frequency_args.null",
        power_node_get_frequency_args {
            cpumap: None,
            flags: 4,
        },
    );
    c.add(
        "get_frequency_ret.every_type",
        power_node_get_frequency_ret {
            params: vec![
                p("cpu.count", Uint(1)),
                p("cpu.0.id", Uint(u32::MAX)),
                p("cpu.0.package", Int(-1)),
                p("cpu.0.policy", Int(i32::MAX)),
                p("int.min", Int(i32::MIN)),
                p("llong.min", Llong(i64::MIN)),
                p("llong.max", Llong(i64::MAX)),
                p("cpu.0.cur_frequency", Ullong(2_400_000)),
                p("ullong.max", Ullong(u64::MAX)),
                p("double.pi", Double(std::f64::consts::PI)),
                p("double.negative_zero", Double(-0.0)),
                p("double.negative_infinity", Double(f64::NEG_INFINITY)),
                p("double.smallest_subnormal", Double(f64::from_bits(1))),
                p("double.nan", Double(f64::NAN)),
                p("boolean.true", Boolean(1)),
                p("boolean.false", Boolean(0)),
                p("cpu.0.governor", Str(s("schedutil"))),
                p("cpu.0.available_governors", Str(s("performance schedutil"))),
                p("string.empty", Str(s(""))),
                p("string.four", Str(s("abcd"))),
                p("string.utf8", Str(s("15 µW"))),
            ],
        },
    );
    c.add(
        "get_frequency_ret.empty",
        power_node_get_frequency_ret { params: vec![] },
    );
    let many = |n: u32| {
        (0..n)
            .map(|i| {
                p(
                    &format!("cpu.{i}.cur_frequency"),
                    Ullong(1_000_000 + u64::from(i)),
                )
            })
            .collect::<Vec<_>>()
    };
    c.add_rejected(
        "get_frequency_ret.too_many_params",
        power_node_get_frequency_ret {
            params: many(get_max + 1),
        },
    );
    c.add(
        "get_frequency_ret.max_params",
        power_node_get_frequency_ret {
            params: many(get_max),
        },
    );

    c.add(
        "set_governor_args.userspace",
        power_node_set_governor_args {
            cpumap: Some("3".into()),
            governor: Some(s("userspace")),
            flags: 2,
        },
    );
    c.add(
        "set_governor_args.empty",
        power_node_set_governor_args {
            cpumap: None,
            governor: Some(s("")),
            flags: 0,
        },
    );
    c.add(
        "set_governor_args.restore_null",
        power_node_set_governor_args {
            cpumap: None,
            governor: None,
            flags: 8,
        },
    );
    c.add(
        "set_governor_args.restore_cpumap_null",
        power_node_set_governor_args {
            cpumap: Some("0-3".into()),
            governor: None,
            flags: 8,
        },
    );
    c.add(
        "set_governor_args.max_string",
        power_node_set_governor_args {
            cpumap: None,
            governor: Some(long_string(REMOTE_STRING_MAX)),
            flags: 0,
        },
    );
    c.add_rejected(
        "set_governor_args.too_long_string",
        power_node_set_governor_args {
            cpumap: None,
            governor: Some(long_string(REMOTE_STRING_MAX + 1)),
            flags: 0,
        },
    );

    c.add(
        "set_rapl_limit_args.limit",
        power_node_set_rapl_limit_args {
            zone: s("package-0/dram"),
            constraint: Some(s("long_term")),
            params: vec![
                p("power_limit", Ullong(15_000_000)),
                p("time_window", Ullong(1_000_000)),
                p("enabled", Boolean(1)),
            ],
            flags: 4,
        },
    );
    c.add(
        "set_rapl_limit_args.restore",
        power_node_set_rapl_limit_args {
            zone: s("psys"),
            constraint: None,
            params: vec![],
            flags: 8,
        },
    );
    c.add(
        "set_rapl_limit_args.max_params",
        power_node_set_rapl_limit_args {
            zone: s("mmio:package-0"),
            constraint: Some(s("short_term")),
            params: every_type(set_max),
            flags: 0,
        },
    );
    c.add_rejected(
        "set_rapl_limit_args.too_many_params",
        power_node_set_rapl_limit_args {
            zone: s("mmio:package-0"),
            constraint: Some(s("short_term")),
            params: every_type(set_max + 1),
            flags: 0,
        },
    );

    c.add(
        "get_rapl_limit_args.zone",
        power_node_get_rapl_limit_args {
            zone: Some(s("mmio:package-0")),
            flags: 0,
        },
    );
    c.add(
        "get_rapl_limit_args.null",
        power_node_get_rapl_limit_args {
            zone: None,
            flags: 1,
        },
    );
    c.add(
        "get_rapl_limit_ret.zone",
        power_node_get_rapl_limit_ret {
            params: vec![
                p("zone.count", Uint(1)),
                p("zone.0.name", Str(s("package-0"))),
                p("zone.0.package", Int(0)),
                p("zone.0.enabled", Boolean(1)),
                p("zone.0.energy", Ullong(123_456_789_012)),
                p("zone.0.max_energy_range", Ullong(262_143_328_850)),
                p("zone.0.constraint.count", Uint(1)),
                p("zone.0.constraint.0.name", Str(s("long_term"))),
                p("zone.0.constraint.0.power_limit", Ullong(15_000_000)),
                p("zone.0.constraint.0.time_window", Ullong(27_983_872)),
            ],
        },
    );
    c.add(
        "get_rapl_limit_ret.empty",
        power_node_get_rapl_limit_ret { params: vec![] },
    );

    for procedure in [
        power_procedure::POWER_PROC_NODE_SET_FREQUENCY,
        power_procedure::POWER_PROC_NODE_GET_FREQUENCY,
        power_procedure::POWER_PROC_NODE_SET_GOVERNOR,
        power_procedure::POWER_PROC_NODE_SET_RAPL_LIMIT,
        power_procedure::POWER_PROC_NODE_GET_RAPL_LIMIT,
    ] {
        c.add(&format!("power_procedure.{}", procedure as i32), procedure);
    }
    c
}

/// The constants encode.c prints, with the crate's values.
fn constants() -> BTreeMap<&'static str, i64> {
    BTreeMap::from([
        ("POWER_PROGRAM", i64::from(POWER_PROGRAM)),
        ("POWER_PROTOCOL_VERSION", i64::from(POWER_PROTOCOL_VERSION)),
        (
            "POWER_NODE_SET_PARAMS_MAX",
            POWER_NODE_SET_PARAMS_MAX as i64,
        ),
        (
            "POWER_NODE_GET_PARAMS_MAX",
            POWER_NODE_GET_PARAMS_MAX as i64,
        ),
        ("REMOTE_STRING_MAX", REMOTE_STRING_MAX as i64),
        ("VIR_TYPED_PARAM_INT", i64::from(VIR_TYPED_PARAM_INT)),
        ("VIR_TYPED_PARAM_UINT", i64::from(VIR_TYPED_PARAM_UINT)),
        ("VIR_TYPED_PARAM_LLONG", i64::from(VIR_TYPED_PARAM_LLONG)),
        ("VIR_TYPED_PARAM_ULLONG", i64::from(VIR_TYPED_PARAM_ULLONG)),
        ("VIR_TYPED_PARAM_DOUBLE", i64::from(VIR_TYPED_PARAM_DOUBLE)),
        (
            "VIR_TYPED_PARAM_BOOLEAN",
            i64::from(VIR_TYPED_PARAM_BOOLEAN),
        ),
        ("VIR_TYPED_PARAM_STRING", i64::from(VIR_TYPED_PARAM_STRING)),
        (
            "POWER_PROC_NODE_SET_FREQUENCY",
            i64::from(POWER_PROC_NODE_SET_FREQUENCY),
        ),
        (
            "POWER_PROC_NODE_GET_FREQUENCY",
            i64::from(POWER_PROC_NODE_GET_FREQUENCY),
        ),
        (
            "POWER_PROC_NODE_SET_GOVERNOR",
            i64::from(POWER_PROC_NODE_SET_GOVERNOR),
        ),
        (
            "POWER_PROC_NODE_SET_RAPL_LIMIT",
            i64::from(POWER_PROC_NODE_SET_RAPL_LIMIT),
        ),
        (
            "POWER_PROC_NODE_GET_RAPL_LIMIT",
            i64::from(POWER_PROC_NODE_GET_RAPL_LIMIT),
        ),
    ])
}

/// Fails with what to install if `program` is not on PATH.
fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    assert!(
        found,
        "{program} not found: this test needs it; install the Debian package {package} \
         (apt-get install {package})"
    );
}

/// Runs a command in `dir`, failing with its output if it fails.
fn run(dir: &Path, program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Builds and runs encode.c against rpcgen's code; returns its output.
fn c_output() -> String {
    require("rpcgen", "rpcsvc-proto");
    require("cc", "gcc");
    require("cpp", "cpp");
    let tirpc = Path::new("/usr/include/tirpc");
    assert!(
        tirpc.join("rpc/rpc.h").is_file(),
        "{}/rpc/rpc.h not found: install the Debian package libtirpc-dev \
         (apt-get install libtirpc-dev)",
        tirpc.display()
    );

    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let top = crate_dir.parent().unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rpcgen");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();

    let script = top.join("scripts/gen-remote-protocol");
    let x = run(&dir, "bash", &[script.to_str().unwrap(), "--preprocess"]);
    fs::write(dir.join("power_protocol.x"), x).unwrap();
    run(
        &dir,
        "rpcgen",
        &["-h", "-o", "power_protocol.h", "power_protocol.x"],
    );
    run(
        &dir,
        "rpcgen",
        &["-c", "-o", "power_protocol_xdr.c", "power_protocol.x"],
    );

    let include = format!("-I{}", tirpc.display());
    let encode_c = crate_dir.join("tests/c/encode.c");
    run(
        &dir,
        "cc",
        &[
            "-Wall",
            "-Wextra",
            "-Werror",
            &include,
            "-I.",
            "-c",
            "-o",
            "encode.o",
            encode_c.to_str().unwrap(),
        ],
    );
    // rpcgen's code has unused variables; not ours to fix.
    run(
        &dir,
        "cc",
        &[
            &include,
            "-I.",
            "-w",
            "-c",
            "-o",
            "power_protocol_xdr.o",
            "power_protocol_xdr.c",
        ],
    );
    run(
        &dir,
        "cc",
        &[
            "-o",
            "encode",
            "encode.o",
            "power_protocol_xdr.o",
            "-ltirpc",
        ],
    );
    String::from_utf8(run(&dir, "./encode", &[])).expect("encode printed non-UTF-8")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(hex: &str) -> Vec<u8> {
    let pairs = hex.as_bytes().chunks_exact(2);
    assert!(pairs.remainder().is_empty(), "odd hex length");
    pairs
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).expect("bad hex"))
        .collect()
}

/// Where two encodings differ, briefly (they can be megabytes long).
fn difference(c: &[u8], rust: &[u8]) -> String {
    let at = c
        .iter()
        .zip(rust)
        .position(|(a, b)| a != b)
        .unwrap_or(c.len().min(rust.len()));
    let window = |b: &[u8]| hex(&b[at.min(b.len())..(at + 16).min(b.len())]);
    format!(
        "C {} bytes, Rust {} bytes, first difference at byte {at}: C {}..., Rust {}...",
        c.len(),
        rust.len(),
        window(c),
        window(rust)
    )
}

#[test]
fn encoding_equals_rpcgen_c_code() {
    let output = c_output();
    let mut cases = cases();
    let mut constants = constants();
    let mut errors = Vec::new();
    let mut compared = 0;

    for line in output.lines() {
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("const"), Some(name), Some(value)) => match constants.remove(name) {
                Some(ours) if value.parse::<i64>() == Ok(ours) => {}
                Some(ours) => errors.push(format!("constant {name}: C {value}, Rust {ours}")),
                None => errors.push(format!("constant {name} only in C")),
            },
            (Some("case"), Some(name), Some(c_hex)) => match cases.0.remove(name) {
                Some(Expected::Bytes(rust, debug, decode)) => {
                    let c = unhex(c_hex);
                    if c != rust {
                        errors.push(format!("{name}: {}", difference(&c, &rust)));
                        continue;
                    }
                    compared += 1;
                    match decode(&c) {
                        Ok((again, decoded)) => {
                            if again != c {
                                errors.push(format!(
                                    "{name}: C bytes decode and re-encode differently"
                                ));
                            }
                            if decoded != debug {
                                errors.push(format!("{name}: C bytes decode to another value"));
                            }
                        }
                        Err(e) => errors.push(format!("{name}: C bytes do not decode: {e}")),
                    }
                }
                Some(Expected::Rejected) => {
                    errors.push(format!("{name}: rejected by the crate, encoded by C"))
                }
                None => errors.push(format!("{name} only in C")),
            },
            (Some("rejected"), Some(name), None) => match cases.0.remove(name) {
                Some(Expected::Rejected) => {}
                Some(_) => errors.push(format!("{name}: encoded by the crate, rejected by C")),
                None => errors.push(format!("{name} only in C")),
            },
            _ => errors.push(format!("unexpected line from encode: {:.100}", line)),
        }
    }
    errors.extend(cases.0.keys().map(|name| format!("{name} missing from C")));
    errors.extend(
        constants
            .keys()
            .map(|name| format!("constant {name} missing from C")),
    );
    assert!(
        errors.is_empty(),
        "{} differences:\n{}",
        errors.len(),
        errors.join("\n")
    );
    eprintln!("{compared} encodings equal to rpcgen's");
}
