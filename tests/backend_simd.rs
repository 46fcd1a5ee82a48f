//! The SCI_HE SIMD executor against the closed-form counter (derived here: closed form, executed
//! plan and counted library calls must agree): for every layer kind of the test matrix and both key
//! policies, the two-party result reconstructs to the plaintext integer layer mod t, every count
//! column equals `count_layer`, the serialized bytes equal the fhe size model, and the returned
//! ciphertexts keep a positive noise budget. Tiny ring degrees (`insecure`) keep the file fast.
#![cfg(feature = "he")]

mod common;
use common::*;

use fhe_traits::Serialize;
use stria::backend::simd::{fhe_ct_bytes, run_layer};
use stria::backend::{HeParams, Instrumented, RotKind, RunOptions, batching_prime};
use stria::he::KeyPolicy;
use stria::net::{Layer, Op, Shape};

fn plus() -> Vec<(u32, u32)> {
    vec![(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)]
}

// 3x3 pad 1 on a 3x3 image: stored 5x5, S = 32; at N = 512: hc = 8, cn = 16.

#[test]
fn conv3x3_channels_below_hc() {
    check(&conv(3, 3, 3, 5, 3, 1, 1, 1, None), 512);
}

#[test]
fn conv3x3_channels_between_hc_and_cn() {
    check(&conv(12, 3, 3, 10, 3, 1, 1, 1, None), 512);
}

#[test]
fn conv3x3_channels_above_cn_odd_out_halves() {
    // ci 20: 2 input ciphertexts; co 20: out_halves 3 (odd) -> half_perms 4, out_ct 2.
    check(&conv(20, 3, 3, 20, 3, 1, 1, 1, None), 512);
}

#[test]
fn conv3x3_even_out_halves() {
    check(&conv(16, 3, 3, 16, 3, 1, 1, 1, None), 512);
}

#[test]
fn conv3x3_column_fold() {
    // out_halves == 1 with inputs in both rows (and in two ciphertexts).
    check(&conv(12, 3, 3, 5, 3, 1, 1, 1, None), 512);
    check(&conv(20, 3, 3, 3, 3, 1, 1, 1, None), 512);
}

#[test]
fn conv1x1() {
    // 4x4, S = 16; N = 256: hc = 8, cn = 16.
    check(&conv(10, 4, 4, 18, 1, 1, 0, 1, None), 256);
}

#[test]
fn conv5x5() {
    // Stored 7x7, S = 64; N = 512: hc = 4, cn = 8.
    check(&conv(6, 3, 3, 9, 5, 1, 2, 1, None), 512);
}

#[test]
fn sparse_plus_taps() {
    // No tap at the anchor (0,0): every tap rotates.
    check(&conv(10, 3, 3, 6, 3, 1, 1, 1, Some(plus())), 512);
}

#[test]
fn stride2_dense_and_pointwise() {
    // 6x6 pad 1 -> 8x8, limit 7: sub-images 4x4, 4x3, 3x4, 3x3 (S = 16).
    check(&conv(5, 6, 6, 9, 3, 2, 1, 1, None), 256);
    // 1x1 stride 2: only the (0,0) sub-convolution.
    check(&conv(6, 6, 6, 5, 1, 2, 0, 1, None), 256);
}

#[test]
fn stride2_sparse_with_empty_sub_filter() {
    // The plus shape at stride 2 has no tap in phase (0,0): that sub-convolution is skipped.
    check(&conv(5, 6, 6, 7, 3, 2, 1, 1, Some(plus())), 256);
}

#[test]
fn stride2_sub_convolutions_at_different_ring_degrees() {
    // 9x9 pad 1 -> 11x11: sub-images 6x6 (S = 64, N = 128), 6x5, 5x6, 5x5 (S = 32, N = 64).
    check(&conv(3, 9, 9, 2, 3, 2, 1, 1, None), 64);
}

#[test]
fn depthwise() {
    // 4x4 pad 1: stored 6x6, S = 64; N = 512: hc = 4; 12 channels in 2 ciphertexts (one half-full).
    check(&conv(12, 4, 4, 12, 3, 1, 1, 12, None), 512);
    // Depthwise stride 2 (each sub-convolution again depthwise).
    check(&conv(6, 6, 6, 6, 3, 2, 1, 6, None), 256);
}

#[test]
fn small_group_convolutions() {
    // hc = 8: groups of 2 (2g - 1 = 3 partial sums) and groups of 8 = hc (8 partial sums).
    check(&conv(16, 3, 3, 16, 3, 1, 1, 8, None), 512);
    check(&conv(16, 3, 3, 16, 3, 1, 1, 2, None), 512);
}

#[test]
fn grouped_as_independent_dense_convolutions() {
    // g = 3 does not divide hc = 8; g_in != g_out.
    check(&conv(6, 3, 3, 6, 3, 1, 1, 2, None), 512);
    check(&conv(4, 3, 3, 8, 3, 1, 1, 2, None), 512);
}

fn fc(ni: u32, no: u32) -> Layer {
    layer(Op::Fc, Shape::new(ni, 1, 1), Shape::new(no, 1, 1))
}

#[test]
fn fully_connected() {
    // N = 256: ni' = 32, no' = 4: no'*ni' < N (d = 1, rotate-and-sum by 1 .. 16).
    check(&fc(20, 3), 256);
    // no'*ni' >= N: d = 8, two rotate-and-sum steps.
    check(&fc(30, 40), 256);
    // ni' = 128: N = 2*ni' (pack_num 2), d = 32.
    check(&fc(100, 50), 256);
}

#[test]
fn unfolded_batch_norm() {
    // 300 values at N = 256: two ciphertexts, the second partly filled.
    let s = Shape::new(12, 5, 5);
    check(&layer(Op::BatchNorm { folded: false }, s, s), 256);
}

#[test]
fn other_layers_are_refused() {
    let s = Shape::new(4, 3, 3);
    let e = run_layer(&layer(Op::Relu, s, s), &cfg(KeyPolicy::Pow2, 256), &opts()).unwrap_err();
    assert!(e.0.contains("no HE work"), "{e}");
}

#[test]
fn smaller_plaintext_and_other_seed() {
    let o = RunOptions {
        simd_plain_bits: 20,
        seed: 99,
        ..opts()
    };
    check_with(&conv(20, 3, 3, 20, 3, 1, 1, 1, None), 512, &o);
}

/// The fhe.rs size model against serialized ciphertexts, and against sizes measured on fhe 0.1.1.
#[test]
fn fhe_byte_model() {
    // Sizes measured on fhe 0.1.1 (derived here).
    let a = [36, 36, 37];
    assert_eq!(fhe_ct_bytes(4096, &a, 0, true), 55_857);
    assert_eq!(fhe_ct_bytes(4096, &a, 0, false), 111_646);
    assert_eq!(fhe_ct_bytes(4096, &a, 1, false), 73_760);
    assert_eq!(fhe_ct_bytes(4096, &a, 2, false), 36_896);
    let b = [43, 43, 44, 44, 44];
    assert_eq!(fhe_ct_bytes(8192, &b, 0, true), 223_281);
    assert_eq!(fhe_ct_bytes(8192, &b, 0, false), 446_494);
    assert_eq!(fhe_ct_bytes(8192, &b, 1, false), 356_384);
    assert_eq!(fhe_ct_bytes(8192, &b, 4, false), 88_096);
    // The closed forms of the doc comment at SCI_HE's primes (C = N*180/8).
    let sci = [60, 60, 60];
    for (n, full_extra, seeded_extra) in [(8192u64, 30, 49), (16384, 32, 50), (65536, 32, 50)] {
        let c = n * 180 / 8;
        assert_eq!(fhe_ct_bytes(n, &sci, 0, false), 2 * c + full_extra);
        assert_eq!(fhe_ct_bytes(n, &sci, 0, true), c + seeded_extra);
        // After two switches: one 60-bit prime, C = N*60/8, level field 2 B.
        let c1 = n * 60 / 8;
        assert_eq!(fhe_ct_bytes(n, &sci, 2, false), 2 * c1 + full_extra + 2);
    }
    // Measured here: fresh (seeded), after a product, a rotation, each switch.
    for (n, bits) in [
        (64usize, vec![60, 60, 60]),
        (256, vec![60, 60, 60]),
        (1024, vec![50, 40, 30]),
        (2048, vec![60, 60, 60, 60]),
    ] {
        let t = batching_prime(20, n as u64).unwrap();
        let p = HeParams {
            n,
            moduli_bits: bits.clone(),
            plain_modulus: t,
            insecure: true,
        };
        let mut he = Instrumented::new(&p, KeyPolicy::Pow2, 3).unwrap();
        let v: Vec<u64> = (0..n as u64).map(|i| i % t).collect();
        let pt = he.encode_simd(&v, 0).unwrap();
        let fresh = he.encrypt(&pt).unwrap();
        let nn = n as u64;
        assert_eq!(
            fresh.to_bytes().len() as u64,
            fhe_ct_bytes(nn, &bits, 0, true)
        );
        let mut ct = he.mul_plain(&fresh, &pt);
        assert_eq!(
            ct.to_bytes().len() as u64,
            fhe_ct_bytes(nn, &bits, 0, false)
        );
        let r = he.rotate(&ct, 3, RotKind::Internal).unwrap();
        assert_eq!(r.to_bytes().len() as u64, fhe_ct_bytes(nn, &bits, 0, false));
        for level in 1..bits.len() {
            he.mod_switch(&mut ct).unwrap();
            assert_eq!(
                ct.to_bytes().len() as u64,
                fhe_ct_bytes(nn, &bits, level, false),
                "N = {n}, level {level}"
            );
        }
        // The rule of thumb (derived here from fhe.rs's serialization): full 2*N*B/8 + about 30,
        // seeded N*B/8 + 32 + about 17 (B = carried prime bits).
        let bsum: u64 = bits.iter().map(|&b| b as u64).sum();
        let full_over = fhe_ct_bytes(nn, &bits, 0, false) - 2 * nn * bsum / 8;
        let seeded_over = fhe_ct_bytes(nn, &bits, 0, true) - nn * bsum / 8;
        assert!((20..=34).contains(&full_over), "{full_over}");
        assert!((40..=52).contains(&seeded_over), "{seeded_over}");
    }
}
