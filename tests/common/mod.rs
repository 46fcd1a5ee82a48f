//! Helpers shared by the SIMD backend test files: tiny-ring run options, layers built by hand,
//! and the check that a real-HE run agrees with the closed-form counter column by column.
#![allow(dead_code)]

use stria::backend::RunOptions;
use stria::backend::simd::{FheBytes, predicted_fhe_bytes, run_layer};
use stria::cost::OpCounts;
use stria::he::KeyPolicy;
use stria::net::spec::{Accum, GroupLayout, Padding};
use stria::net::{Conv, Layer, Op, Shape};
use stria::packing::{CountConfig, Protocol, count_layer};

pub fn opts() -> RunOptions {
    RunOptions {
        insecure: true,
        seed: 11,
        ..RunOptions::default()
    }
}

pub fn cfg(policy: KeyPolicy, n_min: u64) -> CountConfig {
    let mut c = CountConfig::new(Protocol::Cryptflow2);
    c.key_policy = policy;
    c.ring_degree = n_min;
    c
}

pub fn layer(op: Op, input: Shape, output: Shape) -> Layer {
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
pub fn conv_as(
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

pub fn columns(c: &OpCounts) -> [(&'static str, u64); 10] {
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
pub fn check_with(l: &Layer, n_min: u64, o: &RunOptions) -> u32 {
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

pub fn check(l: &Layer, n_min: u64) -> u32 {
    check_with(l, n_min, &opts())
}

/// [`conv_as`] with the default `he-rotate` plan and contiguous groups.
#[allow(clippy::too_many_arguments)]
pub fn conv(
    ci: u32,
    h: u32,
    w: u32,
    co: u32,
    k: u32,
    s: u32,
    pad: u32,
    groups: u32,
    taps: Option<Vec<(u32, u32)>>,
) -> Layer {
    conv_as(
        ci,
        h,
        w,
        co,
        k,
        s,
        pad,
        groups,
        taps,
        Accum::HeRotate,
        GroupLayout::Contiguous,
    )
}
