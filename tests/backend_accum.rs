//! The SCI_HE SIMD executor's accumulation strategies (background.md 8.3) against the closed-form
//! counter: `accum: striped` with strided groups (the slot-aligned plan, G a multiple of `cn`) and
//! `accum: share-side` (partial sums returned unrotated, aligned on the plaintext shares). For both
//! key policies: every count column equals `count_layer`, the two-party result reconstructs to the
//! plaintext integer layer mod t, the byte model holds and the noise budget stays positive.
#![cfg(feature = "he")]

use stria::backend::RunOptions;
use stria::backend::simd::{FheBytes, predicted_fhe_bytes, run_layer};
use stria::backend::validate;
use stria::cost::OpCounts;
use stria::he::KeyPolicy;
use stria::net::spec::{Accum, GroupLayout, Padding};
use stria::net::{Conv, Layer, Op, Shape};
use stria::packing::{CountConfig, Protocol, count_layer};

fn opts() -> RunOptions {
    RunOptions {
        insecure: true,
        seed: 11,
        ..RunOptions::default()
    }
}

fn cfg(policy: KeyPolicy, n_min: u64) -> CountConfig {
    let mut c = CountConfig::new(Protocol::Cryptflow2);
    c.key_policy = policy;
    c.ring_degree = n_min;
    c
}

fn layer(op: Op, input: Shape, output: Shape) -> Layer {
    Layer {
        path: "test".into(),
        op,
        input,
        output,
        reads_input: false,
        src: 0,
        src2: None,
        dst: 1,
    }
}

/// A convolution layer `ci x h x w -> co`, square kernel `k`, stride `s`, padding `pad`, `groups`,
/// optional sparse taps (default: the full window).
#[allow(clippy::too_many_arguments)]
fn conv(
    ci: u32,
    h: u32,
    w: u32,
    co: u32,
    k: u32,
    s: u32,
    pad: u32,
    groups: u32,
    taps: Option<Vec<(u32, u32)>>,
    accum: Accum,
    group_layout: GroupLayout,
) -> Layer {
    let taps = taps.unwrap_or_else(|| (0..k).flat_map(|y| (0..k).map(move |x| (y, x))).collect());
    let oh = (h + 2 * pad - k) / s + 1;
    let ow = (w + 2 * pad - k) / s + 1;
    let c = Conv {
        kh: k,
        kw: k,
        sh: s,
        sw: s,
        pad: Padding::all(pad),
        groups,
        taps,
        depthwise: groups == ci && groups == co && groups > 1,
        accum,
        group_layout,
    };
    layer(Op::Conv(c), Shape::new(ci, h, w), Shape::new(co, oh, ow))
}

fn columns(c: &OpCounts) -> [(&'static str, u64); 10] {
    [
        ("internal_rot", c.internal_rot),
        ("external_rot", c.external_rot),
        ("key_switch", c.key_switch),
        ("scmult", c.scmult),
        ("add", c.add),
        ("ct_up", c.ct_up),
        ("ct_down", c.ct_down),
        ("mod_switch", c.mod_switch),
        ("enc", c.enc),
        ("dec", c.dec),
    ]
}

/// Runs `l` under both key policies at minimum ring degree `n_min` and checks correctness, the
/// counts column by column, the byte model and the noise budget. Returns the smallest budget.
fn check_with(l: &Layer, n_min: u64, o: &RunOptions) -> u32 {
    let mut min_budget = u32::MAX;
    for policy in [KeyPolicy::PerStep, KeyPolicy::Pow2] {
        let cfg = cfg(policy, n_min);
        let run = run_layer(l, &cfg, o).unwrap_or_else(|e| panic!("{policy}: {e}"));
        assert!(
            run.correct,
            "{policy}: reconstruction differs from the plaintext layer"
        );
        let predicted = count_layer(l, &cfg).unwrap();
        let mismatches: Vec<String> = columns(&predicted.counts)
            .iter()
            .zip(columns(&run.observed).iter())
            .filter(|(p, o)| p.1 != o.1)
            .map(|(p, o)| format!("{}: counter {} executed {}", p.0, p.1, o.1))
            .collect();
        assert!(mismatches.is_empty(), "{policy}: {mismatches:?}");
        assert_eq!(Some(run.n), predicted.n, "{policy}: ring degree");
        let bytes = predicted_fhe_bytes(l, &cfg, o).unwrap();
        assert_eq!(
            bytes,
            FheBytes {
                up: run.observed.bytes_up,
                down: run.observed.bytes_down
            },
            "{policy}: fhe byte model"
        );
        let budget = run.noise_budget_bits.expect("a noise budget");
        assert!(budget > 0, "{policy}: noise budget exhausted");
        min_budget = min_budget.min(budget);
    }
    min_budget
}

fn check(l: &Layer, n_min: u64) -> u32 {
    check_with(l, n_min, &opts())
}

#[allow(clippy::too_many_arguments)]
fn striped(ci: u32, h: u32, co: u32, k: u32, s: u32, pad: u32, groups: u32) -> Layer {
    conv(
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
    conv(
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
        let l = |ci, co, g| conv(ci, 3, 3, co, 3, 1, 1, g, None, accum, GroupLayout::Strided);
        check(&l(16, 16, 4), 512);
        check(&l(12, 6, 6), 512);
        check(&l(20, 20, 2), 512);
        check(&l(32, 32, 16), 512);
    }
}

#[test]
fn strided_groups_refused_under_cheetah() {
    let l = striped(16, 4, 16, 1, 1, 0, 8);
    let mut cfg = cfg(KeyPolicy::PerStep, 256);
    cfg.protocol = Protocol::Cheetah;
    let e = validate::run_layer(&l, &cfg, &opts()).unwrap_err();
    assert!(e.0.contains("not executed"), "{e}");
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
