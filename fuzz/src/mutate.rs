// SPDX-License-Identifier: LGPL-2.1-or-later
//! The mutator: stacked byte-level changes (bit flips, interesting
//! bytes, inserts, deletions, duplications, splices) and, from each
//! target's dictionary, tokens and numbers that sit on the decoders'
//! bounds, written both as text and as XDR's big-endian 32-bit words.

use crate::rng::Rng;

/// Numbers on the bounds the decoders check.
const NUMBERS: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    15,
    16,
    17,
    63,
    64,
    255,
    256,
    1023,
    1024,
    4095,
    4096,
    8191,
    8192,
    65535,
    65536,
    65537,
    4_194_304,
    4_194_305,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    i64::MAX as u64,
    u64::MAX,
];

/// Applies 1 to 8 random changes to `data`; `dict` holds the target's
/// tokens, `corpus` other inputs to splice from. The result is at most
/// `max_len` bytes.
pub fn mutate(
    rng: &mut Rng,
    data: &mut Vec<u8>,
    dict: &[&[u8]],
    corpus: &[Vec<u8>],
    max_len: usize,
) {
    let n = 1 + rng.below(8);
    for _ in 0..n {
        step(rng, data, dict, corpus);
    }
    data.truncate(max_len);
}

fn step(rng: &mut Rng, data: &mut Vec<u8>, dict: &[&[u8]], corpus: &[Vec<u8>]) {
    let len = data.len();
    match rng.below(12) {
        // Flip one bit.
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        // An interesting or random byte.
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(&[
                0, 1, 0x7f, 0x80, 0xff, b'\t', b'\n', b'\r', b' ', b'^', b'-', b',', b'0', b'9',
                b'=', b':', b'.',
            ]) ^ if rng.one_in(4) {
                rng.next_u64() as u8
            } else {
                0
            };
        }
        // Delete a range.
        2 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(16));
            data.drain(i..i + n);
        }
        // Insert random bytes.
        3 => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            data.splice(i..i, bytes);
        }
        // Duplicate a range (repeated items, long lists).
        4 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            let chunk = data[i..i + n].to_vec();
            let at = rng.below(len + 1);
            let most = if rng.one_in(8) { 256 } else { 4 };
            let times = 1 + rng.below(most);
            for _ in 0..times {
                data.splice(at..at, chunk.iter().copied());
            }
        }
        // Insert or overwrite with a dictionary token.
        5 | 6 if !dict.is_empty() => {
            let tok = rng.pick(dict);
            let i = rng.below(len + 1);
            if rng.one_in(2) || i + tok.len() > len {
                data.splice(i..i, tok.iter().copied());
            } else {
                data[i..i + tok.len()].copy_from_slice(tok);
            }
        }
        // A bound number as decimal text, replacing a run of digits or
        // inserted.
        7 => {
            let text = number(rng).to_string().into_bytes();
            match digit_run(rng, data) {
                Some((a, b)) => {
                    data.splice(a..b, text);
                }
                None => {
                    let i = rng.below(len + 1);
                    data.splice(i..i, text);
                }
            }
        }
        // A bound number as an XDR word at a 4-byte boundary.
        8 if len >= 4 => {
            let i = rng.below(len / 4) * 4;
            let v = number(rng) as u32;
            data[i..i + 4].copy_from_slice(&v.to_be_bytes());
        }
        // Splice: a piece of another input, the rest cut off half the time.
        9 if !corpus.is_empty() => {
            let other = rng.pick(corpus);
            if !other.is_empty() {
                let a = rng.below(other.len());
                let b = a + 1 + rng.below(other.len() - a);
                let i = rng.below(len + 1);
                data.splice(i..i, other[a..b].iter().copied());
                if rng.one_in(2) {
                    data.truncate(i + (b - a));
                }
            }
        }
        // Truncate.
        10 if len > 0 => data.truncate(rng.below(len)),
        // Add or subtract a little from a byte.
        _ if len > 0 => {
            let i = rng.below(len);
            let d = 1 + rng.below(4) as u8;
            data[i] = if rng.one_in(2) {
                data[i].wrapping_add(d)
            } else {
                data[i].wrapping_sub(d)
            };
        }
        _ => data.push(rng.next_u64() as u8),
    }
}

/// A bound number, sometimes moved by one.
fn number(rng: &mut Rng) -> u64 {
    let v = *rng.pick(NUMBERS);
    match rng.below(4) {
        0 => v.wrapping_add(1),
        1 => v.wrapping_sub(1),
        _ => v,
    }
}

/// A random run of ASCII digits in `data`, as a range.
fn digit_run(rng: &mut Rng, data: &[u8]) -> Option<(usize, usize)> {
    if data.is_empty() {
        return None;
    }
    let start = rng.below(data.len());
    let a = (start..data.len()).find(|&i| data[i].is_ascii_digit())?;
    let b = (a..data.len())
        .find(|&i| !data[i].is_ascii_digit())
        .unwrap_or(data.len());
    Some((a, b))
}
