//! Gazelle / GALA formulas (Gazelle (Juvekar et al., USENIX Security 2018) Tables 2 and 4; GALA
//! (Zhang et al., NDSS 2021) Sec. III, Tables II-III) on hand-derived cases, and invariants of all
//! protocols checked by property tests.

use proptest::prelude::*;
use stria::cost::OpCounts;
use stria::he::KeyPolicy;
use stria::net::{Network, build, parse_spec};
use stria::packing::{CountConfig, Protocol, count_layer, count_network};

fn net(layers: &str, c: u32, h: u32, w: u32) -> Network {
    let text = format!(
        r#"{{"name": "t", "input": {{"channels": {c}, "height": {h}, "width": {w}}}, "layers": [{layers}]}}"#
    );
    build(&parse_spec(&text, "t.json").unwrap(), "t.json").unwrap()
}

fn counts(n: &Network, p: Protocol) -> OpCounts {
    count_network(n, &CountConfig::new(p))
        .unwrap()
        .iter()
        .map(|c| c.counts)
        .sum()
}

const CONV3: &str = r#"{"type": "conv", "out_channels": 64, "kernel": 3, "padding": 1}"#;

#[test]
fn gazelle_and_gala_full_ciphertexts() {
    // 8x8, 64 -> 64, 3x3 SAME at n = 2048: footprint 64, cn = 2048/64 = 32, 2 ciphertexts each way.
    let n = net(CONV3, 64, 8, 8);
    let gala = counts(&n, Protocol::Gala);
    // GALA Table III: internal ci*(T-1)/cn = 64*8/32 = 16; ScMult ci*co*T/cn = 64*64*9/32 = 1152;
    // external co*(cn-1)/cn = 64*31/32 = 62.
    assert_eq!(
        (gala.internal_rot, gala.scmult, gala.external_rot),
        (16, 1152, 62)
    );
    // Per-step keys: one key switch per rotation.
    assert_eq!(gala.key_switch, 16 + 62);
    // Ciphertexts of 2*2048*8 = 32768 bytes, 2 each way.
    assert_eq!(
        (gala.ct_up, gala.ct_down, gala.bytes_up, gala.bytes_down),
        (2, 2, 65536, 65536)
    );
    // Gazelle OR: external ci*co*(cn-1)/cn^2 = 64*64*31/1024 = 124; same internal and ScMult.
    let or = counts(&n, Protocol::GazelleOutput);
    assert_eq!(
        (or.internal_rot, or.scmult, or.external_rot),
        (16, 1152, 124)
    );
    // Gazelle IR: (cn*T - 1)*ci/cn = 287*2 = 574 rotations, of which the pure spatial ones
    // (T-1 per input ciphertext = 16) are internal and (cn-1)*T per input ciphertext external.
    let ir = counts(&n, Protocol::GazelleInput);
    assert_eq!(
        (ir.internal_rot, ir.external_rot, ir.scmult),
        (16, 558, 1152)
    );
    assert_eq!(ir.internal_rot + ir.external_rot, 574);
}

#[test]
fn partial_ciphertexts_count_live_diagonals() {
    // 8x8, 3 -> 5, 3x3 SAME, cn = 32: one ciphertext pair with a = 3 inputs, o = 5 outputs; live
    // offsets -(a-1) .. o-1 = 7 of 32. ScMult 7*9 = 63; OR and GALA rotate 6 partial sums; IR
    // rotates the input to 6 offsets for each of 9 taps.
    let n = net(
        r#"{"type": "conv", "out_channels": 5, "kernel": 3, "padding": 1}"#,
        3,
        8,
        8,
    );
    let or = counts(&n, Protocol::GazelleOutput);
    let gala = counts(&n, Protocol::Gala);
    let ir = counts(&n, Protocol::GazelleInput);
    assert_eq!((or.scmult, or.external_rot, or.internal_rot), (63, 6, 8));
    assert_eq!((gala.scmult, gala.external_rot), (63, 6));
    assert_eq!((ir.scmult, ir.external_rot), (63, 54));
}

#[test]
fn channels_larger_than_the_ring_are_tiled() {
    // 64x64 = 4096 > 2048 slots: each channel spans 2 ciphertexts, cn = 1; 1x1, 2 -> 3:
    // 4 input and 6 output ciphertexts, each output tile sums the 2 same-position input tiles:
    // 6*2 = 12 products, no rotation at all.
    let n = net(
        r#"{"type": "conv", "out_channels": 3, "kernel": 1}"#,
        2,
        64,
        64,
    );
    let c = counts(&n, Protocol::Gala);
    assert_eq!(
        (c.ct_up, c.ct_down, c.scmult, c.internal_rot, c.external_rot),
        (4, 6, 12, 0, 0)
    );
}

#[test]
fn gala_fc_moves_rotate_and_sum_to_shares() {
    // FC 512 -> 10 at n = 2048: ni' = 512, no' = 16, d = ceil(512*16/2048) = 4 diagonal products,
    // GALA rotates 3 partial products; Gazelle hybrid rotates the input 3 times (internal) and
    // then rotate-and-sums log2(512/4) = 7 times.
    let n = net(r#"{"type": "fc", "out_features": 10}"#, 512, 1, 1);
    let gala = counts(&n, Protocol::Gala);
    assert_eq!(
        (gala.scmult, gala.internal_rot, gala.external_rot),
        (4, 0, 3)
    );
    let hyb = counts(&n, Protocol::GazelleOutput);
    assert_eq!((hyb.scmult, hyb.internal_rot, hyb.external_rot), (4, 3, 7));
}

#[test]
fn pow2_keys_price_gazelle_steps_by_naf_weight() {
    // 8x8 3x3 SAME, centre anchor: steps +-1 (1 each), +-8 (1 each), +-7 (2 each: 8-1), +-9 (2 each:
    // 8+1): 12 key switches per input ciphertext, 2 input ciphertexts -> 24 internal.
    let n = net(CONV3, 64, 8, 8);
    let mut cfg = CountConfig::new(Protocol::Gala);
    cfg.key_policy = KeyPolicy::Pow2;
    let c: OpCounts = count_network(&n, &cfg)
        .unwrap()
        .iter()
        .map(|c| c.counts)
        .sum();
    // External: offsets r*64 for r = 1..31 per output ciphertext: w(r*64) = w(r) (the papers'
    // n-slot cycle has no half-row digit to skip); NAF weights of 1..31 sum to 12 + 17 + 20 + 18 = 67
    // (1:1 2:1 3:2 4:1 5:2 6:2 7:2 8:1 9:2 10:2 11:3 12:2 13:3 14:2 15:2
    // 16:1 17:2 18:2 19:3 20:2 21:3 22:3 23:3 24:2 25:3 26:3 27:3 28:2 29:3 30:2 31:2), twice.
    assert_eq!(c.key_switch, 24 + 2 * 67);
}

fn conv_strategy() -> impl Strategy<Value = (u32, u32, u32, u32, u32, u32, u32)> {
    // (ci, co, hw, kernel, stride, pad, groups-selector)
    (
        1u32..48,
        1u32..48,
        3u32..24,
        1u32..4,
        1u32..3,
        0u32..2,
        0u32..3,
    )
}

fn conv_json(co: u32, k: u32, s: u32, p: u32) -> String {
    format!(
        r#"{{"type": "conv", "out_channels": {co}, "kernel": {k}, "stride": {s}, "padding": {p}}}"#
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// GALA rotates once per live offset per output ciphertext after summing over inputs, so it
    /// never needs more external rotations than Gazelle's output rotations (GALA Sec. III-B, Table
    /// III).
    #[test]
    fn gala_external_never_exceeds_gazelle_output((ci, co, hw, k, s, p, _) in conv_strategy()) {
        prop_assume!(hw + 2 * p >= k);
        let n = net(&conv_json(co, k, s, p), ci, hw, hw);
        for ring in [1024u64, 2048, 4096] {
            let mut g = CountConfig::new(Protocol::Gala);
            g.ring_degree = ring;
            let mut o = CountConfig::new(Protocol::GazelleOutput);
            o.ring_degree = ring;
            let a = count_layer(&n.layers[0], &g).unwrap().counts;
            let b = count_layer(&n.layers[0], &o).unwrap().counts;
            prop_assert!(a.external_rot <= b.external_rot);
            prop_assert_eq!(a.scmult, b.scmult);
            prop_assert_eq!(a.internal_rot, b.internal_rot);
        }
    }

    /// Counts are additive over layers: a two-layer network costs the sum of its layers counted
    /// one by one in single-layer networks.
    #[test]
    fn counts_are_additive((ci, co, hw, k, s, p, _) in conv_strategy(), proto in 0usize..4) {
        prop_assume!(hw + 2 * p >= k);
        let proto = [Protocol::Cryptflow2, Protocol::GazelleInput, Protocol::GazelleOutput, Protocol::Gala][proto];
        let first = conv_json(co, k, s, p);
        let both = net(&format!("{first}, {{\"type\": \"batchnorm\"}}, {{\"type\": \"relu\"}}, {}", conv_json(ci, 3, 1, 1)), ci, hw, hw);
        let mid = both.layers[3].input;
        let one = net(&first, ci, hw, hw);
        let two = net(&conv_json(ci, 3, 1, 1), mid.c, mid.h, mid.w);
        let total = counts(&both, proto);
        prop_assert_eq!(total, counts(&one, proto) + counts(&two, proto));
    }

    /// Under per-step keys every rotation is one key switch; power-of-two keys never cost less
    /// (a non-zero step within a row has at least one NAF digit below the half-row digit).
    #[test]
    fn key_policies_bracket((ci, co, hw, k, s, p, gsel) in conv_strategy(), proto in 0usize..4) {
        prop_assume!(hw + 2 * p >= k);
        let proto = [Protocol::Cryptflow2, Protocol::GazelleInput, Protocol::GazelleOutput, Protocol::Gala][proto];
        // Grouped variants for the SIMD counter: depthwise (groups = ci) or two groups.
        let (ci, co, layer) = match gsel {
            1 => (ci, ci, format!(r#"{{"type": "depthwise", "kernel": {k}, "stride": {s}, "padding": {p}}}"#)),
            2 => (2 * ci, 2 * co, format!(r#"{{"type": "conv", "out_channels": {}, "kernel": {k}, "stride": {s}, "padding": {p}, "groups": 2}}"#, 2 * co)),
            _ => (ci, co, conv_json(co, k, s, p)),
        };
        let _ = co;
        let n = net(&layer, ci, hw, hw);
        let mut cfg = CountConfig::new(proto);
        cfg.key_policy = KeyPolicy::PerStep;
        let per = count_layer(&n.layers[0], &cfg).unwrap().counts;
        cfg.key_policy = KeyPolicy::Pow2;
        let pow = count_layer(&n.layers[0], &cfg).unwrap().counts;
        prop_assert_eq!(per.key_switch, per.internal_rot + per.external_rot);
        prop_assert!(pow.key_switch >= per.key_switch);
        // The key policy changes nothing but key switches.
        prop_assert_eq!(OpCounts { key_switch: 0, ..per }, OpCounts { key_switch: 0, ..pow });
    }
}

#[test]
fn depthwise_under_gala_never_crosses_channels() {
    // 16x16, 192 channels, 3x3 SAME at n = 2048: footprint 256, cn = 8, 24 ciphertexts; per
    // ciphertext 8 rotations and 9 products; no external rotation.
    let n = net(
        r#"{"type": "depthwise", "kernel": 3, "padding": 1}"#,
        192,
        16,
        16,
    );
    for p in [
        Protocol::Gala,
        Protocol::GazelleOutput,
        Protocol::GazelleInput,
    ] {
        let c = counts(&n, p);
        assert_eq!(
            (c.ct_up, c.ct_down, c.internal_rot, c.external_rot, c.scmult),
            (24, 24, 192, 0, 216),
            "{p}"
        );
    }
}

#[test]
fn unfolded_batchnorm_is_an_elementwise_product() {
    // BN on the network input (no conv before it): 64x56x56 = 200,704 values.
    let n = net(r#"{"type": "batchnorm"}"#, 64, 56, 56);
    // SCI_HE, N = 8192: ceil(200704/8192) = 25 ciphertexts, one product and one mask add each;
    // 25 * 2*8192*3*8 = 9,830,400 bytes up, 25 * 2*8192*8 = 3,276,800 down.
    let c = counts(&n, Protocol::Cryptflow2);
    assert_eq!(
        (c.ct_up, c.scmult, c.add, c.internal_rot + c.external_rot),
        (25, 25, 25, 0)
    );
    assert_eq!((c.bytes_up, c.bytes_down), (9_830_400, 3_276_800));
    // n = 2048: 98 ciphertexts of 32,768 bytes each way.
    let g = counts(&n, Protocol::Gala);
    assert_eq!(
        (g.ct_up, g.scmult, g.bytes_up, g.bytes_down),
        (98, 98, 98 * 32768, 98 * 32768)
    );
    // After a conv it is folded: no cost.
    let f = net(
        r#"{"type": "conv", "out_channels": 8, "kernel": 1}, {"type": "batchnorm"}"#,
        8,
        4,
        4,
    );
    assert_eq!(
        count_layer(&f.layers[1], &CountConfig::new(Protocol::Cryptflow2))
            .unwrap()
            .counts,
        OpCounts::default()
    );
}

/// Additions as the papers count them: k - 1 for an accumulation of k products (GALA Tables II
/// and III), no mask add; CrypTFlow2 keeps its code's count.
#[test]
fn gazelle_and_gala_additions_follow_the_papers() {
    // 8x8, 64 -> 64, 3x3 SAME at n = 2048: cn = 32, 2 output ciphertexts, ScMult 1152 (above).
    // GALA Table III: Add = co*(ci*kw*kh - 1)/cn = 64*(64*9 - 1)/32 = 2*575 = 1150 = 1152 - 2.
    let n = net(CONV3, 64, 8, 8);
    for p in [
        Protocol::Gala,
        Protocol::GazelleOutput,
        Protocol::GazelleInput,
    ] {
        let c = counts(&n, p);
        assert_eq!((c.scmult, c.add), (1152, 1150), "{p:?}");
    }
    // Depthwise 3x3 on 32 channels of 8x8: one ciphertext, 9 products, 8 additions.
    let dw = net(
        r#"{"type": "depthwise", "kernel": 3, "padding": 1}"#,
        32,
        8,
        8,
    );
    let c = counts(&dw, Protocol::Gala);
    assert_eq!((c.scmult, c.add), (9, 8));
    // FC 512 -> 200 at n = 2048: next_pow2 512 x 256, d = 512*256/2048 = 64 diagonal products.
    // GALA Table II: Add = ni*no/n - 1 = 63. Gazelle hybrid: 63 to sum the products plus one per
    // rotate-and-sum step, log2(512/64) = 3: 66.
    let fc = net(r#"{"type": "fc", "out_features": 200}"#, 512, 1, 1);
    let g = counts(&fc, Protocol::Gala);
    assert_eq!((g.scmult, g.add), (64, 63));
    let h = counts(&fc, Protocol::GazelleOutput);
    assert_eq!((h.scmult, h.external_rot, h.add), (64, 3, 66));
    // CrypTFlow2 keeps one add per product into a zero ciphertext, the rotate-and-sum adds and the
    // mask add (`fc-field.cpp`), at its own N = 8192: pack_num 16, d = 256/16 = 16,
    // log2(512/16) = 5: 16 + 5 + 1 = 22.
    let s = counts(&fc, Protocol::Cryptflow2);
    assert_eq!((s.scmult, s.external_rot, s.add), (16, 5, 22));
    // An element-wise scale accumulates nothing.
    let bn = net(r#"{"type": "relu"}, {"type": "batchnorm"}"#, 64, 32, 32);
    let last = count_network(&bn, &CountConfig::new(Protocol::Gala)).unwrap();
    assert_eq!(last.last().unwrap().counts.add, 0);
}
