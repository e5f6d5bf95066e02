// SPDX-License-Identifier: LGPL-2.1-or-later
//! `xdr`: every args and ret type of `power_protocol.x` (and the
//! procedure enum) decoded from the same bytes with `from_bytes`.
//!
//! Properties, for each type that accepts the input: the value encodes;
//! its encoding has the input's length and differs from it only where
//! the encoding has a zero byte (XDR padding, which the decoder does not
//! check); the encoding decodes, and re-encodes to the same bytes
//! (bytes are compared, so a NaN double compares equal to itself). A
//! string or opaque cut short by the end of the input is refused (it
//! decoded until `from_bytes` read through `StrictReader`: the fuzzer
//! found it; `fuzz/regressions/xdr/` keeps the input).

use std::fmt::Debug;

use libvirt_power_remote_protocol::xdr_codec::{Pack, Unpack};
use libvirt_power_remote_protocol::{
    StrictReader, from_bytes, power_node_get_frequency_args, power_node_get_frequency_ret,
    power_node_get_rapl_limit_args, power_node_get_rapl_limit_ret, power_node_set_frequency_args,
    power_node_set_governor_args, power_node_set_rapl_limit_args, power_procedure,
    remote_nonnull_string, remote_typed_param, remote_typed_param_value, to_bytes,
};

use crate::{Outcome, Target};

/// The target.
pub fn target() -> Target {
    Target {
        name: "xdr",
        about: "remote-protocol from_bytes for every args/ret type of power_protocol.x",
        dict: &[
            b"\0\0\0\0",
            b"\0\0\0\x01",
            b"\0\0\0\x07",
            b"\0\0\0\x08",
            b"\0\0\0\x10",
            b"\0\0\0\x11",
            b"\0\x01\0\0",
            b"\0\x01\0\x01",
            b"\0\x40\0\0",
            b"\0\x40\0\x01",
            b"\x7f\xf8\0\0\0\0\0\0",
            b"\xff\xff\xff\xff",
            b"\0\0\0\x03abc\0",
            b"\0\0\0\x03\xff\xfe\xfd\0",
        ],
        max_len: 4096,
        seeds,
        setup: || Box::new(run),
    }
}

/// Checks the properties for `T` if it accepts `data`.
fn check<T>(data: &[u8]) -> Outcome
where
    T: Pack<Vec<u8>> + for<'a> Unpack<StrictReader<'a>> + Debug,
{
    let Ok(value) = from_bytes::<T>(data) else {
        return Outcome::Refused;
    };
    let bytes =
        to_bytes(&value).unwrap_or_else(|e| panic!("{value:?} decoded but does not encode: {e}"));
    assert_eq!(
        bytes.len(),
        data.len(),
        "{value:?}: re-encoding changed the length"
    );
    for (i, (&a, &b)) in data.iter().zip(&bytes).enumerate() {
        assert!(
            a == b || b == 0,
            "{value:?}: byte {i} re-encodes as {b:#x}, was {a:#x}"
        );
    }
    let back = from_bytes::<T>(&bytes)
        .unwrap_or_else(|e| panic!("{value:?}: its encoding does not decode: {e}"));
    assert_eq!(
        to_bytes(&back).ok(),
        Some(bytes),
        "{value:?}: decode(encode) differs"
    );
    Outcome::Accepted
}

fn run(data: &[u8]) -> Outcome {
    let accepted = [
        check::<power_node_set_frequency_args>(data),
        check::<power_node_get_frequency_args>(data),
        check::<power_node_get_frequency_ret>(data),
        check::<power_node_set_governor_args>(data),
        check::<power_node_set_rapl_limit_args>(data),
        check::<power_node_get_rapl_limit_args>(data),
        check::<power_node_get_rapl_limit_ret>(data),
        check::<power_procedure>(data),
    ];
    if accepted.contains(&Outcome::Accepted) {
        Outcome::Accepted
    } else {
        Outcome::Refused
    }
}

fn seeds() -> Vec<Vec<u8>> {
    use remote_typed_param_value as V;
    let s = |x: &str| remote_nonnull_string::from(x);
    let p = |f: &str, v: V| remote_typed_param::new(f, v);
    let params = vec![
        p("min_frequency", V::Ullong(1_200_000)),
        p("max_frequency", V::Ullong(2_400_000)),
        p("cpu.0.online", V::Boolean(1)),
        p("cpu.count", V::Uint(4)),
        p("power_limit", V::Llong(-1)),
        p("ratio", V::Double(0.5)),
        p("governor", V::String(s("performance"))),
        p("n", V::Int(-7)),
    ];
    let enc = |r: Result<Vec<u8>, _>| -> Vec<u8> { r.expect("a seed encodes") };
    vec![
        enc(to_bytes(&power_node_set_frequency_args {
            cpumap: Some("0-3,^2".into()),
            params: params[..2].to_vec(),
            flags: 1,
        })),
        enc(to_bytes(&power_node_get_frequency_args {
            cpumap: None,
            flags: 0,
        })),
        enc(to_bytes(&power_node_get_frequency_args {
            cpumap: Some("all".into()),
            flags: 0,
        })),
        enc(to_bytes(&power_node_get_frequency_ret {
            params: params.clone(),
        })),
        enc(to_bytes(&power_node_set_governor_args {
            cpumap: Some("1".into()),
            governor: Some(s("schedutil")),
            flags: 2,
        })),
        enc(to_bytes(&power_node_set_rapl_limit_args {
            zone: s("package-0/dram"),
            constraint: Some(s("long_term")),
            params: params[4..6].to_vec(),
            flags: 0,
        })),
        enc(to_bytes(&power_node_get_rapl_limit_args {
            zone: Some(s("psys")),
            flags: 0,
        })),
        enc(to_bytes(&power_node_get_rapl_limit_ret { params })),
        enc(to_bytes(&power_procedure::POWER_PROC_NODE_GET_RAPL_LIMIT)),
    ]
}
