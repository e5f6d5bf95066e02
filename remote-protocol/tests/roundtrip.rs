// SPDX-License-Identifier: LGPL-2.1-or-later
//! Every args/ret struct of the POWER program encodes and decodes back to
//! itself; the bounds of the `.x` file hold in both directions; malformed
//! input is refused. A few encodings are checked against bytes written out
//! by hand from RFC 4506, independently of the generated code.

use std::fmt::Debug;

use libvirt_power_remote_protocol::xdr_codec::{Pack, Unpack};
use libvirt_power_remote_protocol::*;
use remote_typed_param_value::{Boolean, Double, Int, Llong, String as Str, Uint, Ullong};

/// Encodes `value`, decodes it back, checks it is equal and that the bytes
/// re-encode identically; returns the bytes.
fn round_trip<T>(value: &T) -> Vec<u8>
where
    T: Pack<Vec<u8>> + for<'a> Unpack<StrictReader<'a>> + PartialEq + Debug,
{
    let bytes = to_bytes(value).expect("encode");
    assert_eq!(bytes.len() % 4, 0, "XDR is made of 4-byte units");
    let back: T = from_bytes(&bytes).expect("decode");
    assert_eq!(&back, value);
    assert_eq!(to_bytes(&back).expect("re-encode"), bytes);
    bytes
}

fn s(value: &str) -> remote_nonnull_string {
    value.into()
}

fn p(field: &str, value: remote_typed_param_value) -> remote_typed_param {
    remote_typed_param::new(field, value)
}

/// One parameter of each of the seven types, with extreme values, and
/// strings of every padding length.
fn every_type() -> Vec<remote_typed_param> {
    vec![
        p("int.min", Int(i32::MIN)),
        p("int.max", Int(i32::MAX)),
        p("int.minus_one", Int(-1)),
        p("uint.max", Uint(u32::MAX)),
        p("uint.zero", Uint(0)),
        p("llong.min", Llong(i64::MIN)),
        p("llong.max", Llong(i64::MAX)),
        p("ullong.max", Ullong(u64::MAX)),
        p("ullong.frequency", Ullong(2_400_000)),
        p("double.pi", Double(std::f64::consts::PI)),
        p("double.max", Double(f64::MAX)),
        p("double.smallest_subnormal", Double(f64::from_bits(1))),
        p("double.infinity", Double(f64::INFINITY)),
        p("boolean.true", Boolean(1)),
        p("boolean.false", Boolean(0)),
        p("string.empty", Str(s(""))),
        p("string.1", Str(s("a"))),
        p("string.2", Str(s("ab"))),
        p("string.3", Str(s("abc"))),
        p("string.4", Str(s("abcd"))),
        p("string.5", Str(s("abcde"))),
        p("string.utf8", Str(s("15 µW"))),
    ]
}

/// `n` parameters, cycling through the seven types.
fn params(n: usize) -> Vec<remote_typed_param> {
    (0..n)
        .map(|i| {
            let value = match i % 7 {
                0 => Int(i as i32),
                1 => Uint(i as u32),
                2 => Llong(-(i as i64)),
                3 => Ullong(i as u64),
                4 => Double(i as f64 / 4.0),
                5 => Boolean((i % 2) as i32),
                _ => Str(s(&i.to_string())),
            };
            p(&format!("cpu.{i}.x"), value)
        })
        .collect()
}

#[test]
fn set_frequency_args_round_trip() {
    for cpumap in [
        None,
        Some("0-3,8".into()),
        Some("".into()),
        Some("all".into()),
    ] {
        for params in [vec![], every_type()[..POWER_NODE_SET_PARAMS_MAX].to_vec()] {
            round_trip(&power_node_set_frequency_args {
                cpumap: cpumap.clone(),
                params,
                flags: 1,
            });
        }
    }
}

#[test]
fn get_frequency_args_round_trip() {
    for cpumap in [None, Some("3".into())] {
        for flags in [0, u32::MAX] {
            round_trip(&power_node_get_frequency_args {
                cpumap: cpumap.clone(),
                flags,
            });
        }
    }
}

#[test]
fn get_frequency_ret_round_trip() {
    round_trip(&power_node_get_frequency_ret { params: vec![] });
    round_trip(&power_node_get_frequency_ret {
        params: every_type(),
    });
}

#[test]
fn set_governor_args_round_trip() {
    for cpumap in [None, Some("0-63".into())] {
        for governor in [
            None,
            Some(s("")),
            Some(s("userspace")),
            Some(s("performance")),
        ] {
            round_trip(&power_node_set_governor_args {
                cpumap: cpumap.clone(),
                governor,
                flags: 8,
            });
        }
    }
}

#[test]
fn set_rapl_limit_args_round_trip() {
    for constraint in [None, Some(s("long_term"))] {
        for params in [
            vec![],
            vec![
                p("power_limit", Ullong(15_000_000)),
                p("time_window", Ullong(1_000_000)),
                p("enabled", Boolean(1)),
            ],
        ] {
            round_trip(&power_node_set_rapl_limit_args {
                zone: s("package-0/dram"),
                constraint: constraint.clone(),
                params,
                flags: 4,
            });
        }
    }
}

#[test]
fn get_rapl_limit_args_round_trip() {
    for zone in [None, Some(s("mmio:package-0"))] {
        round_trip(&power_node_get_rapl_limit_args { zone, flags: 0 });
    }
}

#[test]
fn get_rapl_limit_ret_round_trip() {
    round_trip(&power_node_get_rapl_limit_ret { params: vec![] });
    round_trip(&power_node_get_rapl_limit_ret {
        params: every_type(),
    });
}

#[test]
fn typed_params_of_every_type_round_trip() {
    let all = every_type();
    for param in &all {
        round_trip(param);
    }
    let kinds: std::collections::HashSet<_> = all
        .iter()
        .map(|param| std::mem::discriminant(&param.value))
        .collect();
    assert_eq!(kinds.len(), 7, "every type of value covered");
}

#[test]
fn doubles_keep_their_bits() {
    // NaN != NaN and -0.0 == 0.0, so compare the bits.
    for bits in [
        f64::NAN.to_bits(),
        (-0.0f64).to_bits(),
        f64::NEG_INFINITY.to_bits(),
        0x7ff4_0000_0000_0001, // a signalling NaN with a payload
    ] {
        let bytes = to_bytes(&Double(f64::from_bits(bits))).unwrap();
        assert_eq!(bytes[4..], bits.to_be_bytes());
        match from_bytes(&bytes).unwrap() {
            Double(d) => assert_eq!(d.to_bits(), bits),
            other => panic!("decoded {other:?}"),
        }
    }
}

#[test]
fn encoding_matches_rfc_4506_by_hand() {
    // string: length, bytes, zero padding to 4; pointer: 1 then the value.
    let args = power_node_get_frequency_args {
        cpumap: Some("all".into()),
        flags: 8,
    };
    assert_eq!(
        to_bytes(&args).unwrap(),
        [0, 0, 0, 1, 0, 0, 0, 3, b'a', b'l', b'l', 0, 0, 0, 0, 8]
    );
    let args = power_node_get_frequency_args {
        cpumap: None,
        flags: 0x0102_0304,
    };
    assert_eq!(to_bytes(&args).unwrap(), [0, 0, 0, 0, 1, 2, 3, 4]);
    // A NULL governor is a 0 pointer; an empty one is present, of length 0.
    let args = power_node_set_governor_args {
        cpumap: None,
        governor: None,
        flags: 8,
    };
    assert_eq!(
        to_bytes(&args).unwrap(),
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]
    );
    let args = power_node_set_governor_args {
        cpumap: Some("1".into()),
        governor: Some(s("")),
        flags: 0,
    };
    assert_eq!(
        to_bytes(&args).unwrap(),
        [
            0, 0, 0, 1, 0, 0, 0, 1, b'1', 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0
        ]
    );

    // typed param: field, discriminant (VIR_TYPED_PARAM_ULLONG = 4), hyper.
    let param = p("min", Ullong(2_400_000));
    assert_eq!(
        to_bytes(&param).unwrap(),
        [
            0, 0, 0, 3, b'm', b'i', b'n', 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0x24, 0x9f, 0
        ]
    );
    // Each discriminant is libvirt's virTypedParameterType value.
    for (value, discriminant) in [
        (Int(-2), VIR_TYPED_PARAM_INT),
        (Uint(2), VIR_TYPED_PARAM_UINT),
        (Llong(-2), VIR_TYPED_PARAM_LLONG),
        (Ullong(2), VIR_TYPED_PARAM_ULLONG),
        (Double(2.0), VIR_TYPED_PARAM_DOUBLE),
        (Boolean(1), VIR_TYPED_PARAM_BOOLEAN),
        (Str(s("xy")), VIR_TYPED_PARAM_STRING),
    ] {
        let expected: Vec<u8> = match &value {
            Int(v) | Boolean(v) => v.to_be_bytes().to_vec(),
            Uint(v) => v.to_be_bytes().to_vec(),
            Llong(v) => v.to_be_bytes().to_vec(),
            Ullong(v) => v.to_be_bytes().to_vec(),
            Double(v) => v.to_be_bytes().to_vec(),
            Str(_) => vec![0, 0, 0, 2, b'x', b'y', 0, 0],
        };
        let bytes = to_bytes(&value).unwrap();
        assert_eq!(bytes[..4], discriminant.to_be_bytes(), "{value:?}");
        assert_eq!(bytes[4..], expected, "{value:?}");
    }
    assert_eq!(
        (
            VIR_TYPED_PARAM_INT,
            VIR_TYPED_PARAM_UINT,
            VIR_TYPED_PARAM_LLONG,
            VIR_TYPED_PARAM_ULLONG,
            VIR_TYPED_PARAM_DOUBLE,
            VIR_TYPED_PARAM_BOOLEAN,
            VIR_TYPED_PARAM_STRING
        ),
        (1, 2, 3, 4, 5, 6, 7)
    );
}

#[test]
fn empty_arrays_are_a_zero_count() {
    assert_eq!(
        round_trip(&power_node_get_frequency_ret { params: vec![] }),
        [0, 0, 0, 0]
    );
    assert_eq!(
        round_trip(&power_node_set_rapl_limit_args {
            zone: s("psys"),
            constraint: None,
            params: vec![],
            flags: 8,
        }),
        [
            0, 0, 0, 4, b'p', b's', b'y', b's', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8
        ]
    );
}

#[test]
fn max_length_strings_round_trip_and_one_more_byte_is_refused() {
    let max = "g".repeat(REMOTE_STRING_MAX);
    let bytes = round_trip(&power_node_set_governor_args {
        cpumap: Some("0".into()),
        governor: Some(s(&max)),
        flags: 0,
    });
    assert_eq!(bytes.len(), 4 + 8 + 4 + 4 + REMOTE_STRING_MAX + 4);
    round_trip(&power_node_get_rapl_limit_ret {
        params: vec![p(&max, Str(s(&max)))],
    });

    let too_long = power_node_set_governor_args {
        cpumap: None,
        governor: Some(s(&"g".repeat(REMOTE_STRING_MAX + 1))),
        flags: 0,
    };
    assert!(
        to_bytes(&too_long).is_err(),
        "encoded a string over the bound"
    );
    let governor = too_long.governor.as_ref().unwrap().0.as_bytes();
    // The same bytes written without the bound: cpumap NULL, governor
    // present, then the string.
    let mut bytes = vec![0, 0, 0, 0, 0, 0, 0, 1];
    bytes.extend(u32::try_from(REMOTE_STRING_MAX + 1).unwrap().to_be_bytes());
    bytes.extend(governor);
    bytes.extend([0, 0, 0]); // padding
    bytes.extend([0, 0, 0, 0]); // flags
    assert!(from_bytes::<power_node_set_governor_args>(&bytes).is_err());
    // ... and the decoder does accept the layout one byte shorter.
    let mut ok = vec![0, 0, 0, 0, 0, 0, 0, 1];
    ok.extend(u32::try_from(REMOTE_STRING_MAX).unwrap().to_be_bytes());
    ok.extend(&governor[1..]);
    ok.extend([0, 0, 0, 0]);
    assert!(from_bytes::<power_node_set_governor_args>(&ok).is_ok());
}

#[test]
fn cpu_lists_are_bounded_by_power_cpumap_max() {
    // The bound of the one CPU-list parser, not libvirt's 4 MiB string.
    assert_eq!(POWER_CPUMAP_MAX, 65536);
    const { assert!(POWER_CPUMAP_MAX < REMOTE_STRING_MAX) };
    let at = |len: usize| power_node_get_frequency_args {
        cpumap: Some("0".repeat(len).into()),
        flags: 0,
    };
    round_trip(&at(POWER_CPUMAP_MAX));
    assert!(
        to_bytes(&at(POWER_CPUMAP_MAX + 1)).is_err(),
        "encoded a CPU list over the bound"
    );
    // The same bytes written without the bound: present, length, string,
    // padding, flags.
    let mut bytes = vec![0, 0, 0, 1];
    bytes.extend(u32::try_from(POWER_CPUMAP_MAX + 1).unwrap().to_be_bytes());
    bytes.extend("0".repeat(POWER_CPUMAP_MAX + 1).as_bytes());
    bytes.extend([0, 0, 0]);
    bytes.extend([0, 0, 0, 0]);
    assert!(from_bytes::<power_node_get_frequency_args>(&bytes).is_err());
    for setter in [
        to_bytes(&power_node_set_frequency_args {
            cpumap: Some("1".repeat(POWER_CPUMAP_MAX + 1).into()),
            params: vec![],
            flags: 0,
        }),
        to_bytes(&power_node_set_governor_args {
            cpumap: Some("1".repeat(POWER_CPUMAP_MAX + 1).into()),
            governor: None,
            flags: 0,
        }),
    ] {
        assert!(
            setter.is_err(),
            "a setter encoded a CPU list over the bound"
        );
    }
}

/// `prefix`, the array `params` (written without checking any bound), then
/// `suffix`.
fn with_params_unchecked(prefix: &[u8], params: &[remote_typed_param], suffix: &[u8]) -> Vec<u8> {
    let mut bytes = prefix.to_vec();
    // Vec<T> packs as a variable-length array without a bound.
    params.to_vec().pack(&mut bytes).unwrap();
    bytes.extend(suffix);
    bytes
}

#[test]
fn setter_arrays_over_the_bound_are_refused() {
    let max = params(POWER_NODE_SET_PARAMS_MAX);
    let over = params(POWER_NODE_SET_PARAMS_MAX + 1);
    let flags = [0, 0, 0, 0];

    // set_frequency: cpumap NULL, params, flags.
    let args = power_node_set_frequency_args {
        cpumap: None,
        params: max.clone(),
        flags: 0,
    };
    let bytes = round_trip(&args);
    assert_eq!(bytes, with_params_unchecked(&[0, 0, 0, 0], &max, &flags));
    assert!(
        to_bytes(&power_node_set_frequency_args {
            params: over.clone(),
            ..args
        })
        .is_err()
    );
    let err = from_bytes::<power_node_set_frequency_args>(&with_params_unchecked(
        &[0, 0, 0, 0],
        &over,
        &flags,
    ));
    assert!(err.is_err(), "decoded {} params", over.len());

    // set_rapl_limit: zone "psys", constraint NULL, params, flags.
    let prefix = [0, 0, 0, 4, b'p', b's', b'y', b's', 0, 0, 0, 0];
    let args = power_node_set_rapl_limit_args {
        zone: s("psys"),
        constraint: None,
        params: max.clone(),
        flags: 0,
    };
    assert_eq!(
        round_trip(&args),
        with_params_unchecked(&prefix, &max, &flags)
    );
    assert!(
        to_bytes(&power_node_set_rapl_limit_args {
            params: over.clone(),
            ..args
        })
        .is_err()
    );
    assert!(
        from_bytes::<power_node_set_rapl_limit_args>(&with_params_unchecked(
            &prefix, &over, &flags
        ))
        .is_err()
    );
}

#[test]
fn getter_arrays_over_the_bound_are_refused() {
    let max = params(POWER_NODE_GET_PARAMS_MAX);
    let over = params(POWER_NODE_GET_PARAMS_MAX + 1);

    let ret = power_node_get_frequency_ret {
        params: max.clone(),
    };
    assert_eq!(round_trip(&ret), with_params_unchecked(&[], &max, &[]));
    let rapl = power_node_get_rapl_limit_ret { params: max };
    round_trip(&rapl);

    assert!(
        to_bytes(&power_node_get_frequency_ret {
            params: over.clone()
        })
        .is_err()
    );
    assert!(
        to_bytes(&power_node_get_rapl_limit_ret {
            params: over.clone()
        })
        .is_err()
    );
    let bytes = with_params_unchecked(&[], &over, &[]);
    assert!(from_bytes::<power_node_get_frequency_ret>(&bytes).is_err());
    assert!(from_bytes::<power_node_get_rapl_limit_ret>(&bytes).is_err());
    // A huge count is refused before anything is allocated or read.
    assert!(from_bytes::<power_node_get_rapl_limit_ret>(&[0xff, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn malformed_input_is_refused() {
    let bytes = round_trip(&power_node_set_rapl_limit_args {
        zone: s("package-0"),
        constraint: Some(s("long_term")),
        params: params(POWER_NODE_SET_PARAMS_MAX),
        flags: 2,
    });

    // Every truncation.
    for len in 0..bytes.len() {
        assert!(
            from_bytes::<power_node_set_rapl_limit_args>(&bytes[..len]).is_err(),
            "decoded {len} of {} bytes",
            bytes.len()
        );
    }
    // Trailing bytes.
    let mut longer = bytes.clone();
    longer.extend([0, 0, 0, 0]);
    assert!(from_bytes::<power_node_set_rapl_limit_args>(&longer).is_err());

    // Unknown typed parameter types.
    for discriminant in [0i32, 8, -1] {
        let mut bytes = to_bytes(&p("x", Int(5))).unwrap();
        bytes[8..12].copy_from_slice(&discriminant.to_be_bytes());
        assert!(
            from_bytes::<remote_typed_param>(&bytes).is_err(),
            "type {discriminant}"
        );
    }
    // A pointer that is neither 0 (NULL) nor 1: cpumap NULL, governor 2.
    let bytes = [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    assert!(from_bytes::<power_node_set_governor_args>(&bytes).is_err());
    // A string that is not UTF-8.
    let bytes = [0, 0, 0, 2, 0xc3, 0x28, 0, 0];
    assert!(from_bytes::<remote_nonnull_string>(&bytes).is_err());
    // An unknown procedure.
    assert!(from_bytes::<power_procedure>(&[0, 0, 0, 6]).is_err());
    assert!(from_bytes::<power_procedure>(&[0, 0, 0, 0]).is_err());
}

#[test]
fn program_and_procedure_numbers() {
    assert_eq!(POWER_PROGRAM, 0x4c56_5057);
    assert_eq!(&POWER_PROGRAM.to_be_bytes(), b"LVPW");
    assert_eq!(POWER_PROTOCOL_VERSION, 1);
    let procedures = [
        (
            power_procedure::POWER_PROC_NODE_SET_FREQUENCY,
            POWER_PROC_NODE_SET_FREQUENCY,
        ),
        (
            power_procedure::POWER_PROC_NODE_GET_FREQUENCY,
            POWER_PROC_NODE_GET_FREQUENCY,
        ),
        (
            power_procedure::POWER_PROC_NODE_SET_GOVERNOR,
            POWER_PROC_NODE_SET_GOVERNOR,
        ),
        (
            power_procedure::POWER_PROC_NODE_SET_RAPL_LIMIT,
            POWER_PROC_NODE_SET_RAPL_LIMIT,
        ),
        (
            power_procedure::POWER_PROC_NODE_GET_RAPL_LIMIT,
            POWER_PROC_NODE_GET_RAPL_LIMIT,
        ),
    ];
    for (i, (procedure, number)) in procedures.into_iter().enumerate() {
        // Numbered from 1 without gaps, in the order of the .x file.
        assert_eq!(number, i as i32 + 1);
        assert_eq!(to_bytes(&procedure).unwrap(), number.to_be_bytes());
        assert_eq!(
            from_bytes::<power_procedure>(&number.to_be_bytes()).unwrap(),
            procedure
        );
    }
    assert_eq!(POWER_NODE_SET_PARAMS_MAX, 16);
    assert_eq!(POWER_NODE_GET_PARAMS_MAX, 65536);
    assert_eq!(REMOTE_STRING_MAX, 4 * 1024 * 1024);
}
