//! The SCI_HE SIMD executor's accumulation strategies (derived here) against the closed-form
//! counter: `accum: striped` with strided groups (the slot-aligned plan, G a multiple of `cn`) and
//! `accum: share-side` (partial sums returned unrotated, aligned on the plaintext shares). For both
//! key policies: every count column equals `count_layer`, the two-party result reconstructs to the
//! plaintext integer layer mod t, the byte model holds and the noise budget stays positive.
#![cfg(feature = "he")]

mod common;
use common::*;

use stria::backend::validate;
use stria::he::KeyPolicy;
use stria::net::Layer;
use stria::net::spec::{Accum, GroupLayout};
use stria::packing::Protocol;

#[allow(clippy::too_many_arguments)]
fn striped(ci: u32, h: u32, co: u32, k: u32, s: u32, pad: u32, groups: u32) -> Layer {
    conv_as(
        ci,
        h,
        h,
        co,
        k,
        s,
        pad,
        groups,
        None,
        Accum::Striped,
        GroupLayout::Strided,
    )
}

fn share(ci: u32, h: u32, co: u32, k: u32, s: u32, pad: u32, groups: u32) -> Layer {
    conv_as(
        ci,
        h,
        h,
        co,
        k,
        s,
        pad,
        groups,
        None,
        Accum::ShareSide,
        GroupLayout::Contiguous,
    )
}

// 1x1 on 4x4 and 3x3 stride 2 pad 1 on 6x6 (sub-images 4x4 .. 3x3): S = 16, at N = 256 hc = 8,
// cn = 16. 3x3 pad 1 on 3x3: stored 5x5, S = 32, at N = 512 hc = 8, cn = 16.

#[test]
fn striped_groups_equal_to_cn() {
    check(&striped(32, 4, 32, 1, 1, 0, 16), 256);
    check(&striped(32, 3, 48, 3, 1, 1, 16), 512);
}

#[test]
fn striped_groups_twice_cn() {
    // G/cn = 2: output ciphertext j reads the input ciphertexts k == j (mod 2).
    check(&striped(64, 4, 64, 1, 1, 0, 32), 256);
    check(&striped(64, 3, 32, 3, 1, 1, 32), 512);
}

#[test]
fn striped_stride2() {
    check(&striped(32, 6, 32, 3, 2, 1, 16), 256);
    check(&striped(64, 6, 64, 3, 2, 1, 32), 256);
    check(&striped(32, 6, 16, 1, 2, 0, 16), 256);
}

#[test]
fn striped_fallback_strided_he_rotate() {
    // G = 8 and 4 are not multiples of cn = 16: the strided live he-rotate plan.
    check(&striped(16, 4, 16, 1, 1, 0, 8), 256);
    check(&striped(12, 3, 20, 3, 1, 1, 4), 512);
    check(&striped(20, 3, 20, 3, 1, 1, 4), 512);
    // Column fold (outputs in one row, inputs in both) and stride 2.
    check(&striped(12, 3, 6, 3, 1, 1, 6), 512);
    check(&striped(10, 6, 10, 3, 2, 1, 5), 256);
    // Depthwise striped: G = ci = 12 < cn.
    check(&striped(12, 3, 12, 3, 1, 1, 12), 512);
}

#[test]
fn strided_groups_he_rotate_and_share_side() {
    for accum in [Accum::HeRotate, Accum::Auto, Accum::ShareSide] {
        let l = |ci, co, g| conv_as(ci, 3, 3, co, 3, 1, 1, g, None, accum, GroupLayout::Strided);
        check(&l(16, 16, 4), 512);
        check(&l(12, 6, 6), 512);
        check(&l(20, 20, 2), 512);
        check(&l(32, 32, 16), 512);
    }
}

#[test]
fn strided_groups_run_under_cheetah() {
    // `validate::run_layer` dispatches to the Cheetah executor (strided groups re-packed
    // contiguously); its counts equal the counter's for either key policy (Cheetah has no keys).
    for policy in [KeyPolicy::PerStep, KeyPolicy::Pow2] {
        for l in [
            striped(16, 4, 16, 1, 1, 0, 8),
            striped(12, 3, 20, 3, 1, 1, 4),
        ] {
            let mut cfg = cfg(policy, 256);
            cfg.protocol = Protocol::Cheetah;
            let run = validate::run_layer(&l, &cfg, &opts()).unwrap();
            let want = stria::packing::count_layer(&l, &cfg).unwrap().counts;
            assert!(run.correct, "{policy:?}");
            assert_eq!(
                validate::count_mismatches(&want, &run.observed),
                Vec::<String>::new()
            );
        }
    }
}

#[test]
fn share_side_dense() {
    // Channels below hc; between hc and cn.
    check(&share(3, 3, 5, 3, 1, 1, 1), 512);
    check(&share(12, 3, 10, 3, 1, 1, 1), 512);
    // Odd out_halves (3): half_perms 4, two output ciphertexts; even out_halves.
    check(&share(20, 3, 20, 3, 1, 1, 1), 512);
    check(&share(16, 3, 16, 3, 1, 1, 1), 512);
}

#[test]
fn share_side_column_fold() {
    // out_halves == 1 with inputs in both rows (and in two ciphertexts).
    check(&share(12, 3, 5, 3, 1, 1, 1), 512);
    check(&share(20, 3, 3, 3, 1, 1, 1), 512);
}

#[test]
fn share_side_pointwise_and_stride2() {
    check(&share(10, 4, 18, 1, 1, 0, 1), 256);
    check(&share(5, 6, 9, 3, 2, 1, 1), 256);
}

#[test]
fn share_side_grouped() {
    // Small groups (consecutive blocks) and independent dense groups.
    check(&share(16, 3, 16, 3, 1, 1, 2), 512);
    check(&share(16, 3, 16, 3, 1, 1, 8), 512);
    check(&share(6, 3, 6, 3, 1, 1, 2), 512);
}
