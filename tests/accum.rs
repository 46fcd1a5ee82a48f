//! Accumulation strategies for SIMD-packed convolutions (`accum`: he-rotate, striped, share-side,
//! auto), strided group layouts, and the `shuffle` layer (derived here: the project's own plans;
//! `share-side` applies GALA's share-side rotate-and-sum, GALA (Zhang et al., NDSS 2021) Sec.
//! III-A, to convolutions).
//!
//! Every expected number is derived by hand in the comment above it. Shared facts:
//!
//! - SCI_HE layout (EzPC `ConvField::configure`): `S = next_pow2(H*W)` of the stored image,
//!   `N = max(8192, 2*S)`, `hc = (N/2)/S`, `cn = 2*hc`, `out_halves = ceil(co/hc)`,
//!   `half_perms = out_halves (+1 if odd and > 1)`, `convs = half_perms*hc`. At 14x14 (1x1: 196
//!   slots; 3x3 pad 1: 16x16 = 256 slots) S = 256, N = 8192, hc = 16, cn = 32.
//! - Bytes per ciphertext at N = 8192: `2*N*3*8 = 393,216` up, `2*N*8 = 131,072` down.
//! - NAF weights: w(1) = w(16) = 1, w(17) = 2 (16+1), w(18) = 2 (16+2), w(33) = 2 (32+1),
//!   w(2) = w(32) = 1, w(34) = 2. One member of an output pair at hc = 16 costs 23 key switches
//!   (tests/simd_examples.rs), an output ciphertext `2*23 + 1 = 47`.
//! - SCI_HE anchors every tap at the sub-filter's top-left position (step `dy*W' + dx`, W' the
//!   stored width); only a step of 0 is free.

use serde_json::{Value, json};
use stria::cost::OpCounts;
use stria::he::KeyPolicy;
use stria::net::graph::Accum;
use stria::net::{Network, Op, build, parse_spec};
use stria::packing::simd::{SciLayout, StridedLivePlan, strided_live_plan};
use stria::packing::{
    CountConfig, LayerCost, Protocol, count_layer, count_layer_as, count_network, level_mix,
    level_mix_as,
};

const UP: u64 = 393_216;
const DOWN: u64 = 131_072;

fn cfg(p: Protocol) -> CountConfig {
    CountConfig::new(p)
}

fn net(c: u32, h: u32, w: u32, layers: Value) -> Network {
    let spec = json!({
        "name": "t",
        "input": {"channels": c, "height": h, "width": w},
        "layers": layers,
    });
    let text = spec.to_string();
    build(&parse_spec(&text, "t.json").unwrap(), "t.json").unwrap()
}

fn build_err(c: u32, h: u32, w: u32, layers: Value) -> String {
    let spec = json!({
        "name": "t",
        "input": {"channels": c, "height": h, "width": w},
        "layers": layers,
    });
    let text = spec.to_string();
    match parse_spec(&text, "t.json").and_then(|s| build(&s, "t.json")) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e.to_string(),
    }
}

fn total(n: &Network, cfg: &CountConfig) -> OpCounts {
    n.layers
        .iter()
        .map(|l| count_layer(l, cfg).unwrap().counts)
        .sum()
}

/// The worked bottleneck block (derived here, at 14x14, N = 8192): A = 1x1 128 -> 64, B = 3x3 pad 1
/// 64 -> 64 (dense or cross), C = 1x1 64 -> 128, each with `extra` fields merged in (B also gets
/// `b_extra`).
fn bottleneck(extra: Value, b_extra: Value) -> Network {
    let with = |mut v: Value, more: &Value| {
        for (k, x) in more.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let a = with(
        json!({"type": "conv", "name": "A", "out_channels": 64, "kernel": 1}),
        &extra,
    );
    let b = with(
        with(
            json!({"type": "conv", "name": "B", "out_channels": 64, "kernel": 3, "padding": 1}),
            &extra,
        ),
        &b_extra,
    );
    let c = with(
        json!({"type": "conv", "name": "C", "out_channels": 128, "kernel": 1}),
        &extra,
    );
    net(128, 14, 14, json!([a, b, c]))
}

fn striped() -> Value {
    json!({"groups": 32, "group_layout": "strided", "accum": "striped"})
}

fn cross() -> Value {
    json!({"kernel_shape": "cross"})
}

// ---------------------------------------------------------------------------------------------
// Worked bottleneck block at 14x14, N = 8192 (derived here)
// ---------------------------------------------------------------------------------------------

/// Row 1: plaintext-designed, he-rotate, B = dense 3x3.
#[test]
fn bottleneck_he_rotate_dense() {
    let n = bottleneck(json!({}), json!({}));
    let c = total(&n, &cfg(Protocol::Cryptflow2));
    // Internal: only B: 2 input ciphertexts x steps 1, 2, 16, 17, 18, 32, 33, 34 = 16 rotations,
    // key switches 2*(1+1+1+2+2+1+2+2) = 24.
    // External: A out_ct 2 x (cn - 1 = 31) = 62, B 62, C 4 x 31 = 124: 248; key switches
    // (2 + 2 + 4) x 47 = 376.
    assert_eq!((c.internal_rot, c.external_rot), (16, 248));
    assert_eq!(c.key_switch, 24 + 376);
    // ScMult ci*co*T/cn: A 128*64/32 = 256, B 64*64*9/32 = 1152, C 256: 1664.
    assert_eq!(c.scmult, 1664);
    // Ciphertexts: up 4 + 2 + 2 = 8, down 2 + 2 + 4 = 8; bytes 8*UP = 3,145,728 and
    // 8*DOWN = 1,048,576.
    assert_eq!((c.ct_up, c.ct_down), (8, 8));
    assert_eq!((c.bytes_up, c.bytes_down), (3_145_728, 1_048_576));
    // `auto` is counted as he-rotate (resolved by pricing later).
    let auto = bottleneck(json!({"accum": "auto"}), json!({}));
    assert_eq!(total(&auto, &cfg(Protocol::Cryptflow2)), c);
}

/// Row 2: he-rotate with B = cross. The worked example anchors the cross at its centre (4 rotations
/// per input ciphertext, steps +-1, +-16, 1 key switch each: "8 (8)"); SCI_HE anchors every tap
/// at the sub-filter's top-left corner, which is not a tap of a cross, so all 5 taps rotate.
#[test]
fn bottleneck_he_rotate_cross() {
    let n = bottleneck(json!({}), cross());
    let c = total(&n, &cfg(Protocol::Cryptflow2));
    // Cross taps (0,1), (1,0), (1,1), (1,2), (2,1) on the stored width 16: steps 1, 16, 17, 18, 33,
    // all non-zero: 5 rotations per input ciphertext, key switches 1+1+2+2+2 = 8; B has 2 input
    // ciphertexts: 10 rotations, 16 key switches (derived here for the centre anchor: 8 and 8).
    assert_eq!((c.internal_rot, c.external_rot), (10, 248));
    assert_eq!(c.key_switch, 16 + 376);
    // ScMult: B 64*64*5/32 = 640; 256 + 640 + 256 = 1152.
    assert_eq!(c.scmult, 1152);
    assert_eq!((c.ct_up, c.ct_down, c.bytes_down), (8, 8, 1_048_576));
}

/// Row 3: striped everywhere (G = cn = 32, strided groups), B = cross.
#[test]
fn bottleneck_striped() {
    let n = bottleneck(striped(), cross());
    let c = total(&n, &cfg(Protocol::Cryptflow2));
    // G = 32 is a multiple of cn = 32: slot-aligned, no external rotation.
    // Internal as in row 2 (only B rotates; top-left anchor): 10 rotations, 16 key switches.
    assert_eq!((c.internal_rot, c.external_rot, c.key_switch), (10, 0, 16));
    // ScMult = live (out ct, in ct) pairs x T, pairs with j == k (mod G/cn = 1): all of them.
    // A: 2 x 4 = 8 (fan-in 4 channels); B: 2 x 2 x 5 taps = 20 (2 channels x 5 taps);
    // C: 4 x 2 = 8 (2 channels). Total 36.
    assert_eq!(c.scmult, 36);
    // Same ciphertexts as he-rotate: 8 up, 8 down, 1,048,576 bytes down.
    assert_eq!((c.ct_up, c.ct_down), (8, 8));
    assert_eq!((c.bytes_up, c.bytes_down), (3_145_728, 1_048_576));
    // Adds: one per product + one mask add per output ciphertext: 36 + 8 = 44.
    // ModSwitch: 3 per output ciphertext (result 3->2, mask 3->2, result 2->1): 24.
    // Enc: inputs 8 + masks 8 = 16; Dec 8.
    assert_eq!((c.add, c.mod_switch, c.enc, c.dec), (44, 24, 16, 8));
    // Per layer: every striped layer proves zero external rotations.
    for l in &n.layers {
        let r = count_layer(l, &cfg(Protocol::Cryptflow2)).unwrap();
        assert_eq!(r.counts.external_rot, 0, "{}", l.path);
        assert_eq!(r.cn, Some(32));
    }
}

/// Row 4: share-side everywhere, B = cross.
#[test]
fn bottleneck_share_side() {
    let n = bottleneck(json!({"accum": "share-side"}), cross());
    let c = total(&n, &cfg(Protocol::Cryptflow2));
    // Internal and ScMult as he-rotate (row 2); no external rotation.
    assert_eq!((c.internal_rot, c.external_rot, c.key_switch), (10, 0, 16));
    assert_eq!(c.scmult, 1152);
    // Returned: every partial sum (all are live: every ciphertext is full).
    // A: out_halves = 64/16 = 4 (even), convs 4*16 = 64; B: 64; C: out_halves 8, convs 128.
    // 256 ciphertexts down, 256*131,072 = 33,554,432 bytes; up unchanged.
    assert_eq!((c.ct_up, c.ct_down), (8, 256));
    assert_eq!((c.bytes_up, c.bytes_down), (3_145_728, 33_554_432));
    // Adds 1152 + 256 mask adds; ModSwitch 3*256; Enc 8 + 256 masks; Dec 256.
    assert_eq!((c.add, c.mod_switch, c.enc, c.dec), (1408, 768, 264, 256));
}

/// The worked bottleneck block under Cheetah (N = 4096): the dense block and the grouped one,
/// contiguous and strided. Accumulation strategies do not change Cheetah's counts.
#[test]
fn bottleneck_cheetah() {
    let ch = cfg(Protocol::Cheetah);
    // Channel blocks (heuristic): A and C (14x14 = 196): Cw = min(4096/196 = 20, C); B (16x16
    // padded = 256): Cw = min(16, 64, 4096/9) = 16. dC: A ceil(128/20) = 7, B 64/16 = 4,
    // C ceil(64/20) = 4; one spatial block each.
    let dense = total(&bottleneck(json!({}), json!({})), &ch);
    // Products M*dC: A 64*7 = 448, B 64*4 = 256, C 128*4 = 512: 1216; in_ct 7 + 4 + 4 = 15;
    // out_ct 64 + 64 + 128 = 256.
    assert_eq!((dense.ct_up, dense.scmult, dense.ct_down), (15, 1216, 256));
    // Contiguous groups of G = 32: A groups of 4 channels (block width 20, a multiple of 4: one
    // block each): 64 outputs x 1 = 64; B groups of 2 in blocks of 16: 64; C groups of 2 in
    // blocks of 20: 128 x 1 = 128. 256 products (groups laid out contiguously).
    let contiguous = total(
        &bottleneck(json!({"groups": 32}), json!({"kernel_shape": "cross"})),
        &ch,
    );
    assert_eq!(
        (contiguous.ct_up, contiguous.scmult, contiguous.ct_down),
        (15, 256, 256)
    );
    // Strided groups (channels j, j+32, ...) are re-packed contiguously for free (packing::coeff
    // module doc): the same 256 products. Left in place, G = 32 >= Cw would put every member of a
    // group in its own block: A 64 x 4 = 256, B 64 x 2 = 128, C 128 x 2 = 256: 640.
    let strided = total(&bottleneck(striped(), cross()), &ch);
    assert_eq!(strided, contiguous);
    assert_eq!(
        stria::packing::coeff::blocks_touched_strided(32, 4, 20) * 2
            + stria::packing::coeff::blocks_touched_strided(32, 2, 16) * 2
            + stria::packing::coeff::blocks_touched_strided(32, 2, 20) * 4,
        640
    );
    // Same layers, other strategies: identical Cheetah counts.
    for accum in ["he-rotate", "share-side", "auto"] {
        let other = total(
            &bottleneck(
                json!({"groups": 32, "group_layout": "strided", "accum": accum}),
                cross(),
            ),
            &ch,
        );
        assert_eq!(other, strided, "{accum}");
    }
}

/// Cheetah, strided groups with G < Cw (blocks shared by several members).
#[test]
fn cheetah_strided_groups_small_g() {
    // 32 channels at 14x14, N = 4096: Cw = min(20, 32) = 20, dC = 2. 1x1 conv 32 -> 32, G = 8
    // (4 channels per group).
    // Contiguous group i = {4i .. 4i+3} never straddles 20: 8 blocks, 8*4 = 32 products.
    // Strided group j = {j, j+8, j+16, j+24} is re-packed at positions 4j .. 4j+3: the same 32.
    // Left in place its blocks floor(c/20) would be 0, 0, 0|1, 1: j = 0..3 -> (0, 0, 0, 1),
    // j = 4..7 -> (0, 0, 1, 1): 2 blocks each, 16 in all; 16*4 = 64 products (as many as the
    // dense layer, 2*32).
    let ch = cfg(Protocol::Cheetah);
    let layer = |layout: &str| {
        let n = net(
            32,
            14,
            14,
            json!([{"type": "conv", "out_channels": 32, "kernel": 1, "groups": 8,
                    "group_layout": layout}]),
        );
        count_layer(&n.layers[0], &ch).unwrap().counts
    };
    assert_eq!(layer("strided").scmult, 32);
    assert_eq!(layer("contiguous").scmult, 32);
    // in_ct dC = 2 and out_ct M = 32 either way.
    assert_eq!((layer("strided").ct_up, layer("strided").ct_down), (2, 32));
    assert_eq!(
        stria::packing::coeff::blocks_touched_strided(8, 4, 20),
        16,
        "strided blocks"
    );
    assert_eq!(stria::packing::coeff::blocks_touched(8, 4, 20), 8);
}

// ---------------------------------------------------------------------------------------------
// Striped when G is not a multiple of cn
// ---------------------------------------------------------------------------------------------

/// 14x14 (cn = 32, hc = 16), 1x1, 96 -> 96, G = 48 strided: cn does not divide G, so the striped
/// layer falls back to SCI_HE's plan with structurally zero work skipped, and only row swaps
/// remain.
#[test]
fn striped_g_not_multiple_of_cn() {
    // inp_ct = out_ct = 3; out_halves = 96/16 = 6 (even): half_perms 6, convs 96.
    // Input channel k*32 + h*16 + blk meets output j*32 + h'*16 + ob, ob = (blk - r) mod 16,
    // h' = h (same-row member) or 1 - h (cross-row member); linked iff in == out (mod 48).
    // Same-row member: in - out = 32(k-j) + r (blk >= r) or 32(k-j) + r - 16 (blk < r, r > 0).
    //   Mod 16 this needs r == 0 (the second range is then empty); then 32(k-j) == 0 (mod 48),
    //   i.e. 2(k-j) == 0 (mod 3): k = j. One live partial sum (r = 0, no rotation), 1 mask.
    // Cross-row member: in - out = 32(k-j) +- 16 + r (or - 16): again r = 0 only, and
    //   2(k-j) + 1 == 0 (mod 3) for h = 1 (k = j+1 mod 3), 2(k-j) - 1 == 0 for h = 0
    //   (k = j+2 mod 3): one live partial sum (r = 0) with 2 masks, row-swapped once.
    // Per output ciphertext: 2 partial sums, 3 masks, 1 row swap. Check: each mask holds 32
    // (same-row, k = j) or 16 (cross-row: one row each) weights: 64 = 32 outputs x 2 inputs.
    let n = net(
        96,
        14,
        14,
        json!([{"type": "conv", "out_channels": 96, "kernel": 1, "groups": 48,
                "group_layout": "strided", "accum": "striped"}]),
    );
    let c = count_layer(&n.layers[0], &cfg(Protocol::Cryptflow2))
        .unwrap()
        .counts;
    // External: 3 row swaps (1 key switch each); internal 0 (1x1).
    assert_eq!((c.internal_rot, c.external_rot, c.key_switch), (0, 3, 3));
    // ScMult 3 x 3 masks x 1 tap = 9.
    assert_eq!(c.scmult, 9);
    // Adds: 9 products + 6 live partial sums into their members + 6 members into the outputs
    // + 3 mask adds = 24. ModSwitch: 6 partial sums + the zero at the next level + 2*3 = 13.
    assert_eq!((c.add, c.mod_switch), (24, 13));
    assert_eq!((c.ct_up, c.ct_down, c.enc, c.dec), (3, 3, 6, 3));
    assert_eq!((c.bytes_up, c.bytes_down), (3 * UP, 3 * DOWN));
    // The same layer under he-rotate with the strided layout is this very plan.
    assert_eq!(
        count_layer_as(&n.layers[0], &cfg(Protocol::Cryptflow2), Accum::HeRotate)
            .unwrap()
            .counts,
        c
    );
    // Contiguous groups of 2 instead (he-rotate): the consecutive-block plan, 2g - 1 = 3
    // partial sums per ciphertext, 2 external rotations each: 6.
    let contiguous = net(
        96,
        14,
        14,
        json!([{"type": "conv", "out_channels": 96, "kernel": 1, "groups": 48}]),
    );
    let cc = count_layer(&contiguous.layers[0], &cfg(Protocol::Cryptflow2))
        .unwrap()
        .counts;
    assert_eq!(cc.external_rot, 6);
}

/// Strided (stride-2) convolution: each sub-convolution has its own cn, so G = 16 is slot-aligned
/// for three sub-convolutions (cn = 16) and not for the fourth (cn = 32).
#[test]
fn striped_stride_two_sub_convolutions() {
    // 32x32, 64 -> 64, 3x3, pad 1, stride 2, G = 16 strided (the geometry of CIFAR ResNet-18's
    // `layer2.0.conv1`):
    //   (0,0): 17x17, sub-filter 2x2, S = 512, cn = 16: inp_ct = out_ct = 4;
    //   (0,1): 17x16, 2x1, cn 16; (1,0): 16x17, 1x2, cn 16; (1,1): 16x16, 1x1, S 256, cn 32.
    // cn = 16 sub-convolutions: G/cn = 1, every (out, in) ciphertext pair live: 16 pairs.
    //   (0,0): ScMult 16*4 = 64, internal 4 x 3 (steps 1, 17, 18), key switches 4*(1+2+2) = 20;
    //   (0,1): ScMult 32, internal 4 x 1 (step 16), key switches 4;
    //   (1,0): ScMult 32, internal 4 x 1 (step 1), key switches 4.
    //   Each: adds ScMult + 4 masks, ModSwitch 12, Enc 8, Dec 4, 4 ciphertexts each way.
    // cn = 32 sub-convolution (hc = 16, inp_ct = out_ct = 2, out_halves 4): in == out (mod 16)
    //   needs r == 0 (mod 16), so only offset 0 of both members is live, every input ciphertext
    //   in both: 2 masks per member, 4 per output ciphertext, 8 in all (ScMult 8, each mask
    //   holding 32 weights: 8*32 = 256 = 64 outputs x 4 inputs). External: one row swap per
    //   output ciphertext = 2 (2 key switches). Adds 8 + 4 partials + 4 members + 2 masks = 18;
    //   ModSwitch 4 + 1 + 2*2 = 9; Enc 2 + 2; Dec 2.
    let n = net(
        64,
        32,
        32,
        json!([{"type": "conv", "out_channels": 64, "kernel": 3, "stride": 2, "padding": 1,
                "groups": 16, "group_layout": "strided", "accum": "striped"}]),
    );
    let r = count_layer(&n.layers[0], &cfg(Protocol::Cryptflow2)).unwrap();
    assert_eq!((r.n, r.cn), (Some(8192), Some(16)));
    let c = r.counts;
    assert_eq!((c.internal_rot, c.external_rot), (12 + 4 + 4, 2));
    assert_eq!(c.key_switch, 20 + 4 + 4 + 2);
    assert_eq!(c.scmult, 64 + 32 + 32 + 8);
    assert_eq!(c.add, 68 + 36 + 36 + 18);
    assert_eq!(c.mod_switch, 3 * 12 + 9);
    assert_eq!((c.enc, c.dec), (3 * 8 + 4, 3 * 4 + 2));
    assert_eq!((c.ct_up, c.ct_down), (14, 14));
    assert_eq!((c.bytes_up, c.bytes_down), (14 * UP, 14 * DOWN));
}

/// Depthwise layers are slot-aligned by nature: striped, he-rotate and share-side all run without
/// external rotations, whether or not cn divides the channel count.
#[test]
fn depthwise_striped() {
    // 16x16, 3x3 pad 1: stored 18x18, S = 512, cn = 16. 40 channels (cn does not divide 40):
    // 3 ciphertexts; 48 channels (G = 48 = 3 cn): 3 ciphertexts.
    for c in [40u32, 48] {
        let layer = |accum: &str| {
            let n = net(
                c,
                16,
                16,
                json!([{"type": "depthwise", "kernel": 3, "padding": 1, "accum": accum}]),
            );
            count_layer(&n.layers[0], &cfg(Protocol::Cryptflow2))
                .unwrap()
                .counts
        };
        let (he, st, sh) = (layer("he-rotate"), layer("striped"), layer("share-side"));
        // Internal 3 x 8 (steps 1, 2, 18, 19, 20, 36, 37, 38); ScMult 3 x 9 = 27 (one mask per
        // ciphertext and tap); no external rotation anywhere.
        for x in [he, st, sh] {
            assert_eq!(
                (x.internal_rot, x.external_rot, x.scmult),
                (24, 0, 27),
                "{c}"
            );
            assert_eq!((x.ct_up, x.ct_down), (3, 3));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Share-side corner cases
// ---------------------------------------------------------------------------------------------

/// Structurally zero partial sums are not returned.
#[test]
fn share_side_skips_structurally_zero_partial_sums() {
    // 14x14 1x1, 16 -> 4: hc = 16, out_halves = 1 (4 <= hc): one half-permutation, 16 partial
    // sums (offsets r = 0..15). Inputs 0..15 in row 0, block blk, meet output (blk - r) mod 16,
    // which exists iff < 4: for every r some blk gives it (blk = r), so all 16 are live.
    // 1x1, 4 -> 4: inputs 0..3, outputs 0..3: offset r maps blk to (blk - r) mod 16 < 4 iff
    // r <= blk (then blk - r < 4 always) or blk - r + 16 < 4, i.e. r > blk + 12: r in 0..3 or
    // 13..15: 7 live partial sums of 16.
    let layer = |ci: u32, co: u32| {
        let n = net(
            ci,
            14,
            14,
            json!([{"type": "conv", "out_channels": co, "kernel": 1, "accum": "share-side"}]),
        );
        count_layer(&n.layers[0], &cfg(Protocol::Cryptflow2))
            .unwrap()
            .counts
    };
    let a = layer(16, 4);
    assert_eq!((a.ct_down, a.external_rot, a.dec), (16, 0, 16));
    let b = layer(4, 4);
    assert_eq!(
        (b.ct_down, b.bytes_down, b.dec, b.enc),
        (7, 7 * DOWN, 7, 1 + 7)
    );
    // ScMult: live masks = live partial sums here (one input ciphertext): 7. (he-rotate: the
    // same 7 products, and 15 external rotations on all 16 partial sums.)
    assert_eq!(b.scmult, 7);
    let he = net(
        4,
        14,
        14,
        json!([{"type": "conv", "out_channels": 4, "kernel": 1}]),
    );
    let he = count_layer(&he.layers[0], &cfg(Protocol::Cryptflow2))
        .unwrap()
        .counts;
    assert_eq!((he.scmult, he.external_rot), (7, 15));
}

/// `count_layer_as` counts a layer under another strategy; `auto` equals he-rotate.
#[test]
fn count_layer_as_resolves_auto() {
    let n = bottleneck(json!({"accum": "auto"}), json!({}));
    let sci = cfg(Protocol::Cryptflow2);
    for l in &n.layers {
        let auto = count_layer(l, &sci).unwrap();
        let he = count_layer_as(l, &sci, Accum::HeRotate).unwrap();
        let share = count_layer_as(l, &sci, Accum::ShareSide).unwrap();
        assert_eq!(auto, he);
        assert_eq!(share.counts.external_rot, 0);
        assert_eq!(share.counts.scmult, he.counts.scmult);
        assert!(share.counts.ct_down > he.counts.ct_down);
        let mix = level_mix_as(l, &sci, Accum::ShareSide, &share).unwrap();
        let c = share.counts;
        assert_eq!(
            mix.totals(),
            (c.key_switch, c.scmult, c.add, c.mod_switch, c.enc, c.dec)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Gazelle / GALA
// ---------------------------------------------------------------------------------------------

/// Striped under the Gazelle packing (n = 2048 slots, packed layout), and GALA share-side.
#[test]
fn gazelle_and_gala() {
    // 8x8 1x1 (footprint 64): cn = 2048/64 = 32. 128 -> 64, G = 32 strided.
    let layer = |extra: Value| {
        let mut v = json!({"type": "conv", "out_channels": 64, "kernel": 1});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        net(128, 8, 8, json!([v]))
    };
    let st = layer(striped());
    for p in [
        Protocol::GazelleInput,
        Protocol::GazelleOutput,
        Protocol::Gala,
    ] {
        let c = count_layer(&st.layers[0], &cfg(p)).unwrap().counts;
        // inp_ct 4, out_ct 2; every out ciphertext sums the g_in = 4 inputs of its block:
        // ScMult 4*2 = 8; no rotation at all (1x1).
        assert_eq!(
            (c.internal_rot, c.external_rot, c.scmult, c.ct_up, c.ct_down),
            (0, 0, 8, 4, 2),
            "{p}"
        );
    }
    // GALA share-side on the dense layer: per output ciphertext (2), the cn = 32 live diagonals
    // are returned unrotated: 64 ciphertexts, no external rotation (he-rotate: 2*31 = 62).
    let dense = layer(json!({}));
    let he = count_layer(&dense.layers[0], &cfg(Protocol::Gala))
        .unwrap()
        .counts;
    assert_eq!((he.external_rot, he.ct_down), (62, 2));
    let sh = count_layer_as(&dense.layers[0], &cfg(Protocol::Gala), Accum::ShareSide)
        .unwrap()
        .counts;
    assert_eq!((sh.external_rot, sh.ct_down, sh.dec), (0, 64, 64));
    assert_eq!(sh.scmult, he.scmult);
    // Bytes: 2*2048*8 = 32,768 per ciphertext.
    assert_eq!(sh.bytes_down, 64 * 32_768);
    // IR rotates its inputs: share-side does not apply.
    let ir = cfg(Protocol::GazelleInput);
    assert_eq!(
        count_layer_as(&dense.layers[0], &ir, Accum::ShareSide).unwrap(),
        count_layer(&dense.layers[0], &ir).unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Shuffle
// ---------------------------------------------------------------------------------------------

#[test]
fn shuffle_is_free() {
    let n = net(
        64,
        14,
        14,
        json!([
            {"type": "conv", "out_channels": 64, "kernel": 1, "groups": 32,
             "group_layout": "strided", "accum": "striped"},
            {"type": "shuffle", "name": "mix", "groups": 32},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "shuffle"},
            {"type": "conv", "out_channels": 64, "kernel": 1, "groups": 32,
             "group_layout": "strided", "accum": "striped"}
        ]),
    );
    let sh = &n.layers[1];
    assert_eq!(sh.op, Op::Shuffle { groups: Some(32) });
    assert_eq!(
        (sh.input, sh.output),
        (n.layers[0].output, n.layers[0].output)
    );
    assert_eq!(sh.kind(), "shuffle");
    assert_eq!((sh.params(), sh.macs()), (0, 0));
    // A permutation keeps the producer: the batch norm after it folds into the conv.
    assert_eq!(n.layers[2].op, Op::BatchNorm { folded: true });
    for p in Protocol::ALL {
        for i in [1, 4] {
            let r = count_layer(&n.layers[i], &cfg(p)).unwrap();
            assert_eq!(r, LayerCost::default(), "{p}");
        }
    }
    // Non-linear: nothing for the shuffles, and the truncation of the first conv still sees only
    // ReLU consumers (through the shuffle and the folded BN), like the same net without shuffle.
    let params = stria::packing::nonlinear::NonlinearParams::default();
    let plain = net(
        64,
        14,
        14,
        json!([
            {"type": "conv", "out_channels": 64, "kernel": 1},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "conv", "out_channels": 64, "kernel": 1}
        ]),
    );
    for p in [Protocol::Cryptflow2, Protocol::Cheetah] {
        let nl = stria::packing::nonlinear::network_nonlinear(&n, p, &params).unwrap();
        let base = stria::packing::nonlinear::network_nonlinear(&plain, p, &params).unwrap();
        assert_eq!(nl[1], Default::default());
        assert_eq!(nl[4], Default::default());
        assert_eq!(nl[0], base[0], "{p}");
        assert_eq!(nl[3], base[2], "{p}");
    }
}

// ---------------------------------------------------------------------------------------------
// Spec errors and round trip
// ---------------------------------------------------------------------------------------------

#[test]
fn spec_errors_name_the_layer() {
    let has = |msg: &str, parts: &[&str]| {
        for p in parts {
            assert!(msg.contains(p), "expected `{p}` in: {msg}");
        }
    };
    // Striped with contiguous groups.
    let e = build_err(
        64,
        8,
        8,
        json!([{"type": "conv", "name": "c1", "out_channels": 64, "kernel": 1, "groups": 8,
                "accum": "striped"}]),
    );
    has(
        &e,
        &[
            "t.json",
            "layer `c1`",
            "accum: striped needs group_layout: strided",
            "c mod 8 == j",
            "group_layout: contiguous",
        ],
    );
    // Striped without groups.
    let e = build_err(
        64,
        8,
        8,
        json!([{"type": "conv", "out_channels": 64, "kernel": 1, "accum": "striped"}]),
    );
    has(
        &e,
        &["layer `layers[0]`", "grouped convolution (groups > 1)"],
    );
    // Strided layout without groups.
    let e = build_err(
        64,
        8,
        8,
        json!([{"type": "conv", "out_channels": 64, "kernel": 1, "group_layout": "strided"}]),
    );
    has(&e, &["layer `layers[0]`", "group_layout: strided needs"]);
    // Unknown strategy / layout: serde names the field and the choices.
    let e = build_err(
        64,
        8,
        8,
        json!([{"type": "conv", "out_channels": 64, "kernel": 1, "accum": "rotate"}]),
    );
    has(
        &e,
        &["layer `layers[0]`", "accum", "he-rotate", "share-side"],
    );
    let e = build_err(
        64,
        8,
        8,
        json!([{"type": "conv", "out_channels": 64, "kernel": 1, "groups": 2,
                "group_layout": "interleaved"}]),
    );
    has(&e, &["group_layout", "strided"]);
    // Depthwise with a multiplier cannot be striped.
    let e = build_err(
        16,
        8,
        8,
        json!([{"type": "depthwise", "name": "dw", "kernel": 3, "multiplier": 2,
                "accum": "striped"}]),
    );
    has(&e, &["layer `dw`", "multiplier 2", "group_layout: strided"]);
    // group_layout is a conv field only.
    let e = build_err(
        16,
        8,
        8,
        json!([{"type": "depthwise", "kernel": 3, "group_layout": "strided"}]),
    );
    has(&e, &["group_layout"]);
    // Shuffle groups must divide the channels.
    let e = build_err(
        24,
        8,
        8,
        json!([{"type": "shuffle", "name": "s", "groups": 5}]),
    );
    has(&e, &["layer `s`", "shuffle groups = 5", "24"]);
    let e = build_err(24, 8, 8, json!([{"type": "shuffle", "groups": 0}]));
    has(&e, &["shuffle groups = 0"]);
    let e = build_err(24, 8, 8, json!([{"type": "shuffle", "stride": 2}]));
    has(&e, &["unknown field `stride`"]);
}

#[test]
fn spec_round_trip() {
    let text = r#"{"name": "t", "input": {"channels": 64, "height": 8, "width": 8},
        "layers": [
          {"type": "conv", "out_channels": 64, "kernel": 1, "groups": 16,
           "group_layout": "strided", "accum": "striped"},
          {"type": "shuffle", "groups": 16},
          {"type": "depthwise", "kernel": 3, "padding": 1, "accum": "share-side"},
          {"type": "conv", "out_channels": 64, "kernel": 3, "padding": 1, "accum": "auto"},
          {"type": "conv", "out_channels": 64, "kernel": 1}
        ]}"#;
    let spec = parse_spec(text, "t.json").unwrap();
    let again = serde_json::to_string(&spec).unwrap();
    // Defaults are not written out.
    assert!(!again.contains("he-rotate") && !again.contains("contiguous"));
    assert!(
        again.contains(r#""accum":"striped""#) && again.contains(r#""group_layout":"strided""#)
    );
    assert_eq!(parse_spec(&again, "t.json").unwrap(), spec);
    let n = build(&spec, "t.json").unwrap();
    let accums: Vec<Option<Accum>> = n
        .layers
        .iter()
        .map(|l| match &l.op {
            Op::Conv(c) => Some(c.accum),
            _ => None,
        })
        .collect();
    assert_eq!(
        accums,
        [
            Some(Accum::Striped),
            None,
            Some(Accum::ShareSide),
            Some(Accum::Auto),
            Some(Accum::HeRotate)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Networks mixing every strategy: level mixes account for every operation, and
/// `count_network` (in-place fast path) equals `count_layer`, under every protocol and key policy.
#[test]
fn level_mix_and_count_network_agree() {
    let nets = [
        bottleneck(striped(), cross()),
        bottleneck(json!({"accum": "share-side"}), cross()),
        bottleneck(
            json!({"groups": 32, "group_layout": "strided", "accum": "share-side"}),
            json!({}),
        ),
        bottleneck(
            json!({"groups": 16, "group_layout": "strided", "accum": "auto"}),
            json!({}),
        ),
        bottleneck(json!({"groups": 8, "accum": "share-side"}), json!({})),
        net(
            96,
            30,
            30,
            json!([
                {"type": "conv", "out_channels": 96, "kernel": 3, "stride": 2, "padding": 1,
                 "groups": 48, "group_layout": "strided", "accum": "striped"},
                {"type": "shuffle"},
                {"type": "conv", "out_channels": 48, "kernel": 3, "padding": 1, "groups": 3,
                 "group_layout": "strided", "accum": "striped"},
                {"type": "depthwise", "kernel": 3, "stride": 2, "padding": 1,
                 "accum": "striped"},
                {"type": "conv", "out_channels": 40, "kernel": 1, "accum": "share-side"},
                {"type": "conv", "out_channels": 40, "kernel": 1, "groups": 20,
                 "accum": "share-side"}
            ]),
        ),
    ];
    for n in &nets {
        for p in Protocol::ALL {
            for policy in [KeyPolicy::Pow2, KeyPolicy::PerStep] {
                let mut cfg = cfg(p);
                cfg.key_policy = policy;
                let fast = count_network(n, &cfg).unwrap();
                for (l, f) in n.layers.iter().zip(&fast) {
                    let cost = count_layer(l, &cfg).unwrap();
                    assert_eq!(&cost, f, "{p} {}", l.path);
                    let mix = level_mix(l, &cfg, &cost).unwrap();
                    let c = cost.counts;
                    assert_eq!(
                        mix.totals(),
                        (c.key_switch, c.scmult, c.add, c.mod_switch, c.enc, c.dec),
                        "{p} {policy} {}",
                        l.path
                    );
                    if p == Protocol::Cryptflow2 && c.external_rot > 0 {
                        // External rotations run after the partial sums' switch.
                        assert!(mix.key_switch[1] > 0, "{}", l.path);
                    }
                }
            }
        }
    }
}

/// Brute force of [`strided_live_plan`]: SCI_HE's dense masks built channel by channel, as
/// `HE_preprocess_filters_OP` (and the backend's `dense_middle`) lay them out, with the weight of
/// (input i, output o) non-zero iff `i == o (mod G)`.
fn brute_plan(l: &SciLayout, ci: u64, co: u64, g: u64, policy: KeyPolicy) -> StridedLivePlan {
    let (hc, cn) = (l.hc, 2 * l.hc);
    let members = if l.half_perms > 1 { 2 } else { 1 };
    let mut plan = StridedLivePlan::default();
    for j in 0..l.out_ct {
        for m in 0..members {
            let mut member_live = false;
            for r in 0..hc {
                let mut masks = 0;
                for k in 0..l.inp_ct {
                    let mut live = false;
                    for h in 0..2 {
                        for blk in 0..hc {
                            let i = k * cn + h * hc + blk;
                            let hp = if l.out_halves > 1 {
                                if m == 0 { h } else { 1 - h }
                            } else {
                                0
                            };
                            let o = j * cn + hp * hc + (blk + hc - r) % hc;
                            if i < ci && o < co && i % g == o % g {
                                live = true;
                                if h == 1 && l.out_halves == 1 {
                                    plan.fold = 1;
                                }
                            }
                        }
                    }
                    masks += live as u64;
                }
                if masks > 0 {
                    plan.masks += masks;
                    plan.partials += 1;
                    member_live = true;
                    if r != 0 {
                        plan.external_rot += 1;
                        let step = -((((hc - r) % hc) * l.s) as i64);
                        plan.external_ks += stria::he::rotation_key_switches(step, l.n, policy);
                    }
                }
            }
            if member_live {
                plan.parts += 1;
                if m == 1 {
                    plan.external_rot += 1;
                    plan.external_ks += 1;
                }
            }
        }
    }
    plan.external_rot += plan.fold;
    plan.external_ks += plan.fold;
    plan
}

#[test]
fn strided_live_plan_matches_brute_force() {
    // Stored sides giving hc = 1 (64x64), 2 (45x45), 4 (30x30), 8 (17x17), 16 (14x14), 64 (8x8).
    let sides = [64u64, 45, 30, 17, 14, 8];
    let channels = [
        1u64, 2, 3, 4, 5, 6, 8, 12, 16, 20, 24, 30, 32, 36, 48, 64, 72, 96, 100,
    ];
    let mut checked = 0;
    for &side in &sides {
        for &ci in &channels {
            for &co in &channels {
                let l = SciLayout::new(side, side, ci, co, 8192).unwrap();
                for g in 1..=ci.min(co) {
                    if ci % g != 0 || co % g != 0 {
                        continue;
                    }
                    for policy in [KeyPolicy::Pow2, KeyPolicy::PerStep] {
                        let fast = strided_live_plan(&l, ci, co, g, policy);
                        let slow = brute_plan(&l, ci, co, g, policy);
                        assert_eq!(fast, slow, "side {side} ci {ci} co {co} G {g} {policy}");
                        checked += 1;
                    }
                    if g == 1 {
                        // Dense weights: the live masks are SCI_HE's non-zero masks, and when
                        // every partial sum is live the rotations are SCI_HE's own.
                        let plan = strided_live_plan(&l, ci, co, 1, KeyPolicy::Pow2);
                        assert_eq!(plan.masks, l.live_masks(ci, co), "{side} {ci} {co}");
                        let (rot, ks) = l.external(KeyPolicy::Pow2);
                        assert!(plan.external_rot <= rot);
                        if plan.partials == l.convs {
                            assert_eq!((plan.external_rot, plan.external_ks), (rot, ks));
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}
