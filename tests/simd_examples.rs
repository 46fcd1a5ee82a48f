//! Hand-derived SCI_HE (CrypTFlow2 SIMD) examples on shapes chosen by the project, depthwise
//! layers and corner cases (EzPC `SCI/src/LinearHE/conv-field.cpp`, `fc-field.cpp`).
//!
//! Every expected value is written out and derived by hand in the comment above it; none is
//! obtained by calling the code under test. Shared facts used in the derivations:
//!
//! - Layout (EzPC `ConvField::configure`): `S = next_pow2(H*W)` of the stored image,
//!   `N = max(8192, 2*S)`, `hc = (N/2)/S`, `cn = 2*hc`, `inp_ct = ceil(ci/cn)`,
//!   `out_ct = ceil(co/cn)`, `out_halves = ceil(co/hc)`,
//!   `half_perms = out_halves (+1 if odd and > 1)`, `convs = half_perms*hc`.
//! - Ciphertexts: `2*N*3*8` bytes up (`= 393,216` at N = 8192), `2*N*8` down (`= 131,072`).
//! - NAF weights used below (SEAL's `util::naf` digit algorithm): w(1) = w(2) = w(4) = w(8) =
//!   w(16) = 1; w(3) = 2 (4-1), w(5) = 2, w(6) = 2 (8-2), w(7) = 2 (8-1), w(9) = 2,
//!   w(10) = 2 (8+2), w(11) = 3 (16-4-1), w(12) = 2 (16-4), w(13) = 3 (16-4+1), w(14) = 2,
//!   w(15) = 2, w(17) = 2, w(18) = 2 (16+2), w(19) = 3 (16+4-1), w(20) = 2 (16+4),
//!   w(21) = 3 (16+4+1), w(22) = 3 (32-8-2), w(36) = 2 (32+4), w(37) = 3, w(38) = 3 (32+8-2).
//! - Sums of NAF weights over `1 .. 2^m - 1`, `S(m)`: from w(2k) = w(k), w(4k+1) = 1 + w(k),
//!   w(4k+3) = 1 + w(k+1) follows `S(m) = S(m-1) + 2*S(m-2) + 2^(m-1) + 1` with S(0) = 0,
//!   S(1) = 1: S(2) = 4, S(3) = 11, S(4) = 28, S(5) = 67, S(6) = 156, S(7) = 355, S(8) = 796.
//! - The NAF of `0 < j < 2^m` has a digit `2^m` iff `j > 2^(m+1)/3`: for m = 3 that is j = 6, 7
//!   (2 values); m = 4: j = 11 .. 15 (5); m = 5: j = 22 .. 31 (10).
//! - External steps of one pair member (EzPC `HE_output_rotations`): `-j*S` for `j = 1 .. hc-1`;
//!   with power-of-two keys each costs `w(j)` minus one if its NAF has the digit `hc` (the N/2
//!   digit of `-j*S`). So one member costs `S(log2 hc) - #{j > 2*hc/3}`: hc = 8: 11 - 2 = 9;
//!   hc = 16: 28 - 5 = 23; hc = 32: 67 - 10 = 57. Each output ciphertext (two members + the row
//!   swap) costs `2*member + 1`: 19, 47, 115.

use stria::cost::OpCounts;
use stria::he::KeyPolicy;
use stria::net::{build, parse_spec};
use stria::packing::{CountConfig, LayerCost, Protocol, count_layer, simd};

const UP_8192: u64 = 393_216; // 2*8192*3*8
const DOWN_8192: u64 = 131_072; // 2*8192*8

/// The derivations below use SEAL 3.7's NAF rule (`pow2-naf`, as OpenCheetah's SCI_HE build runs
/// it); `seal_3_3_rule_on_example_a` redoes example A under SEAL 3.3.2's rule, the `cryptflow2`
/// default.
fn sci() -> CountConfig {
    let mut c = CountConfig::new(Protocol::Cryptflow2);
    c.key_policy = KeyPolicy::Pow2Naf;
    c
}

fn sci_with(policy: KeyPolicy) -> CountConfig {
    let mut c = sci();
    c.key_policy = policy;
    c
}

/// Counts the single layer `layer_json` applied to a `c x h x w` input.
fn count(layer_json: &str, c: u32, h: u32, w: u32, cfg: &CountConfig) -> LayerCost {
    let text = format!(
        r#"{{"name": "ex", "input": {{"channels": {c}, "height": {h}, "width": {w}}}, "layers": [{layer_json}]}}"#
    );
    let net = build(&parse_spec(&text, "ex.json").unwrap(), "ex.json").unwrap();
    assert_eq!(net.layers.len(), 1);
    count_layer(&net.layers[0], cfg).unwrap()
}

fn conv_json(co: u32, k: &str, stride: u32, pad: u32) -> String {
    format!(
        r#"{{"type": "conv", "out_channels": {co}, "kernel": {k}, "stride": {stride}, "padding": {pad}}}"#
    )
}

fn dense_taps(fh: u64, fw: u64) -> impl Iterator<Item = (u64, u64)> + Clone {
    (0..fh).flat_map(move |y| (0..fw).map(move |x| (y, x)))
}

/// Example A: 8x8, 256 -> 256, 3x3, pad 1, stride 1.
#[test]
fn example_a() {
    // Stored 10x10 = 100 slots -> S = 128, N = 8192, hc = 4096/128 = 32, cn = 64.
    // inp_ct = out_ct = 256/64 = 4; out_halves = 8 (even) -> half_perms 8; convs = 8*32 = 256.
    let r = count(&conv_json(256, "3", 1, 1), 256, 8, 8, &sci());
    assert_eq!((r.n, r.cn), (Some(8192), Some(64)));
    let c = r.counts;
    // Internal: steps f_r*10 + f_c = 1, 2, 10, 11, 12, 20, 21, 22 (step 0 is a copy): 4*8 = 32.
    assert_eq!(c.internal_rot, 32);
    // External: per output ciphertext 2*(hc-1) row rotations + 1 swap = 63; 4*63 = 252.
    assert_eq!(c.external_rot, 252);
    // Key switches: internal 4*(1+1+2+3+2+2+3+3) = 4*17 = 68; external 4*115 = 460.
    assert_eq!(c.key_switch, 68 + 460);
    // ScMult: every mask is live (all channels present): convs*inp_ct*9 = 256*4*9 = 9216
    // = 256*256*9/64.
    assert_eq!(c.scmult, 9216);
    // Add: one per product + one per partial sum (256) + one per half-permutation (8) + the mask
    // per output ciphertext (4): 9216 + 256 + 8 + 4 = 9484.
    assert_eq!(c.add, 9484);
    // Traffic: 4*393,216 = 1,572,864 up; 4*131,072 = 524,288 down.
    assert_eq!(
        (c.ct_up, c.ct_down, c.bytes_up, c.bytes_down),
        (4, 4, 1_572_864, 524_288)
    );
    // ModSwitch: convs (256) + noise masks (4) + results (4) + the zero ciphertext
    // `HE_output_rotations` switches down once = 265; Enc 4 + 4; Dec 4.
    assert_eq!((c.mod_switch, c.enc, c.dec), (265, 8, 4));
}

/// Pow2 versus per-step keys on the same layer (example A) and the same FC (example C).
#[test]
fn key_policies_on_the_same_layer() {
    // Example A: per-step keys make every rotation one key switch: 32 + 252 = 284 (pow2: 528).
    let pow2 = count(
        &conv_json(256, "3", 1, 1),
        256,
        8,
        8,
        &sci_with(KeyPolicy::Pow2Naf),
    )
    .counts;
    let per = count(
        &conv_json(256, "3", 1, 1),
        256,
        8,
        8,
        &sci_with(KeyPolicy::PerStep),
    )
    .counts;
    assert_eq!((pow2.key_switch, per.key_switch), (528, 284));
    // Everything but the key switches is independent of the policy.
    assert_eq!(
        OpCounts {
            key_switch: 0,
            ..pow2
        },
        OpCounts {
            key_switch: 0,
            ..per
        }
    );
    // Example C: pow2 28 + 5 = 33; per-step 15 + 5 = 20.
    let f_pow2 = simd::fc(512, 200, &sci_with(KeyPolicy::Pow2Naf))
        .unwrap()
        .counts;
    let f_per = simd::fc(512, 200, &sci_with(KeyPolicy::PerStep))
        .unwrap()
        .counts;
    assert_eq!((f_pow2.key_switch, f_per.key_switch), (33, 20));
}

/// Example B: 32x32, 64 -> 128, 3x3, pad 1, stride 2 (padded 34x34, limit 3 + 15*2 = 33).
#[test]
fn example_b_table_and_totals() {
    // Sub-image of phase r: ceil((33 - r)/2) = 17 (r = 0) or 16 (r = 1); sub-filter
    // ceil((3 - r)/2) = 2 or 1.
    // 17x17 = 289, 17x16 = 272 -> S = 512, N = 8192, hc = 8, cn = 16: inp_ct 4, out_ct 8.
    // 16x16 = 256 -> S = 256, hc = 16, cn = 32: inp_ct 2, out_ct 4.
    // Internal per input ciphertext: 2x2 on width 17: steps 1, 17, 18 -> 3; 2x1 on width 16:
    // step 16 -> 1; 1x2: step 1 -> 1; 1x1: none.
    // ScMult = ci*co*T/cn: 64*128*4/16 = 2048, 64*128*2/16 = 1024 (twice), 64*128/32 = 256.
    // External = out_ct*(cn-1): 8*15 = 120 (three times), 4*31 = 124.
    let cfg = sci();
    let table = [
        // (lH, lW, lFH, lFW) -> (S, cn, inp_ct, out_ct, internal, ScMult, external)
        ((17, 17, 2, 2), (512, 16, 4, 8, 12, 2048, 120)),
        ((17, 16, 2, 1), (512, 16, 4, 8, 4, 1024, 120)),
        ((16, 17, 1, 2), (512, 16, 4, 8, 4, 1024, 120)),
        ((16, 16, 1, 1), (256, 32, 2, 4, 0, 256, 124)),
    ];
    for ((lh, lw, lfh, lfw), expect) in table {
        let (c, l) = simd::dense_subconv(lh, lw, 64, 128, dense_taps(lfh, lfw), &cfg).unwrap();
        assert_eq!(
            (
                l.s,
                l.cn(),
                c.ct_up,
                c.ct_down,
                c.internal_rot,
                c.scmult,
                c.external_rot
            ),
            expect,
            "sub-image {lh}x{lw}, sub-filter {lfh}x{lfw}"
        );
    }
    let c = count(&conv_json(128, "3", 2, 1), 64, 32, 32, &cfg).counts;
    // Totals: internal 12+4+4+0 = 20; ScMult 2048+1024+1024+256 = 4352; external
    // 3*120 + 124 = 484; ct 4+4+4+2 = 14 up, 8+8+8+4 = 28 down.
    assert_eq!(
        (c.internal_rot, c.scmult, c.external_rot, c.ct_up, c.ct_down),
        (20, 4352, 484, 14, 28)
    );
    // Bytes: 14*393,216 = 5,505,024 up; 28*131,072 = 3,670,016 down.
    assert_eq!((c.bytes_up, c.bytes_down), (5_505_024, 3_670_016));
    // Key switches: internal 4*(w(1)+w(17)+w(18)) + 4*w(16) + 4*w(1) = 4*5 + 4 + 4 = 28;
    // external 3*8*19 + 4*47 = 456 + 188 = 644.
    assert_eq!(c.key_switch, 28 + 644);
}

/// Example C: FC 512 -> 200.
#[test]
fn example_c_fc() {
    // N = max(8192, 2*512) = 8192; ni' = 512, no' = 256, pack_num = 8192/512 = 16,
    // d = 256/16 = 16 diagonals.
    let r = simd::fc(512, 200, &sci()).unwrap();
    assert_eq!((r.n, r.cn), (Some(8192), Some(16)));
    let c = r.counts;
    // Internal: rotations by 1 .. 15 -> 15, key switches S(4) = 28.
    // Rotate-and-sum: 16, 32, 64, 128, 256 (< 512) -> 5 rotations, one key switch each.
    assert_eq!(
        (c.internal_rot, c.external_rot, c.key_switch),
        (15, 5, 28 + 5)
    );
    // ScMult 16; Add 16 + 5 + 1 (mask) = 22.
    assert_eq!((c.scmult, c.add), (16, 22));
    // One ciphertext each way; 3 ModSwitch (result, mask, final); Enc 2 (input, mask), Dec 1.
    assert_eq!(
        (c.ct_up, c.ct_down, c.bytes_up, c.bytes_down),
        (1, 1, UP_8192, DOWN_8192)
    );
    assert_eq!((c.mod_switch, c.enc, c.dec), (3, 2, 1));
    // The same through a network file (the FC input is flattened: 512x1x1).
    let via_json = count(r#"{"type": "fc", "out_features": 200}"#, 512, 1, 1, &sci());
    assert_eq!(via_json.counts, c);
}

/// FC with few outputs. `no < d` cannot occur: `d = no'*ni'/N <= no'/2 < no` since `N >= 2*ni'`,
/// so no diagonal is ever skipped for dense weights.
#[test]
fn fc_small_outputs() {
    // 16 -> 5: N = 8192, ni' = 16, pack_num = 512, no' = 8, d = ceil(8/512) = 1: one diagonal,
    // no internal rotation; rotate-and-sum by 1, 2, 4, 8 (< 16): 4 rotations, 4 key switches.
    let c = simd::fc(16, 5, &sci()).unwrap().counts;
    assert_eq!(
        (
            c.internal_rot,
            c.external_rot,
            c.key_switch,
            c.scmult,
            c.add
        ),
        (0, 4, 4, 1, 1 + 4 + 1)
    );
    // 4096 -> 5: N = 8192, pack_num = 2, no' = 8, d = 4 (<= no = 5): internal by 1, 2, 3
    // (key switches 1 + 1 + 2 = 4); rotate-and-sum by 4, 8, ..., 2048 (< 4096): 10.
    let c = simd::fc(4096, 5, &sci()).unwrap().counts;
    assert_eq!(
        (
            c.internal_rot,
            c.external_rot,
            c.key_switch,
            c.scmult,
            c.add
        ),
        (3, 10, 4 + 10, 4, 4 + 10 + 1)
    );
}

/// FC 2048 -> 1001 at N = 8192.
#[test]
fn fc_large() {
    // N = max(8192, 4096) = 8192; ni' = 2048, pack_num = 4; no' = 1024, d = 256.
    let r = simd::fc(2048, 1001, &sci()).unwrap();
    assert_eq!((r.n, r.cn), (Some(8192), Some(4)));
    let c = r.counts;
    // Internal 255 rotations (1 .. 255), key switches S(8) = 796 (no step reaches N/2 = 4096).
    // Rotate-and-sum by 256, 512, 1024 (< 2048): 3, one key switch each.
    assert_eq!(
        (c.internal_rot, c.external_rot, c.key_switch),
        (255, 3, 796 + 3)
    );
    // ScMult 256; Add 256 + 3 + 1 = 260.
    assert_eq!((c.scmult, c.add), (256, 260));
    // A larger input raises the ring degree: 5000 -> 10 at N = 2*8192 = 16384, ni' = 8192,
    // pack_num = 2, no' = 16, d = 8: internal 7 (key switches w(1..7) = S(3) = 11),
    // rotate-and-sum 8, 16, ..., 4096 (< 8192): 10; bytes 2*16384*3*8 = 786,432 up,
    // 2*16384*8 = 262,144 down.
    let r = simd::fc(5000, 10, &sci()).unwrap();
    assert_eq!(r.n, Some(16384));
    let c = r.counts;
    assert_eq!(
        (c.internal_rot, c.external_rot, c.key_switch, c.scmult),
        (7, 10, 11 + 10, 8)
    );
    assert_eq!((c.bytes_up, c.bytes_down), (786_432, 262_144));
}

/// Example D: 1x1, stride 2, 32x32, 64 -> 128.
#[test]
fn example_d_pointwise_stride_2() {
    // Padded 32, limit 1 + 15*2 = 31; phase (0,0): 16x16 sub-image with the 1x1 filter; the
    // phases with r or c = 1 have sub-filter ceil((1-1)/2) = 0 rows/columns and are skipped.
    // 16x16 -> S = 256, hc = 16, cn = 32: inp_ct 2, out_ct 4.
    let c = count(&conv_json(128, "1", 2, 0), 64, 32, 32, &sci()).counts;
    // Internal 0; ScMult 64*128/32 = 256; external 4*31 = 124 (key switches 4*47 = 188).
    assert_eq!(
        (c.internal_rot, c.scmult, c.external_rot, c.key_switch),
        (0, 256, 124, 188)
    );
    // 2 up, 4 down: 786,432 and 524,288 bytes.
    assert_eq!(
        (c.ct_up, c.ct_down, c.bytes_up, c.bytes_down),
        (2, 4, 2 * UP_8192, 4 * DOWN_8192)
    );
}

/// Depthwise (derived here): 3x3, pad 1, 16x16, 192 channels (MobileNetV2-CIFAR `block4.dw`).
#[test]
fn example_depthwise() {
    // Stored 18x18 = 324 -> S = 512, N = 8192, hc = 8, cn = 16; 192/16 = 12 ciphertexts.
    let c = count(
        r#"{"type": "depthwise", "kernel": 3, "padding": 1}"#,
        192,
        16,
        16,
        &sci(),
    )
    .counts;
    // Internal: 8 non-zero steps (1, 2, 18, 19, 20, 36, 37, 38) per ciphertext: 96; key switches
    // 12*(1+1+2+3+2+2+3+3) = 12*17 = 204. ScMult: one own-weight mask per tap: 12*9 = 108.
    // No external rotation: every output stays in its input's block.
    assert_eq!(
        (c.internal_rot, c.key_switch, c.scmult, c.external_rot),
        (96, 204, 108, 0)
    );
    assert_eq!(
        (c.ct_up, c.ct_down, c.bytes_up, c.bytes_down),
        (12, 12, 12 * UP_8192, 12 * DOWN_8192)
    );
}

/// ResNet stem: 224x224x3 -> 64, 7x7, stride 2, pad 3.
#[test]
fn resnet_stem_7x7_stride_2() {
    // Padded 230, limit = 7 + floor(223/2)*2 = 229. Phase r: sub-image ceil((229 - r)/2) =
    // 115 or 114, sub-filter ceil((7 - r)/2) = 4 or 3: (0,0) 115x115 with 4x4, (0,1) 115x114
    // with 4x3, (1,0) 114x115 with 3x4, (1,1) 114x114 with 3x3.
    // Every sub-image has 12,996 .. 13,225 slots -> S = 16384, N = 32768, hc = 1, cn = 2.
    // inp_ct = ceil(3/2) = 2 (the second holds only channel 2), out_ct = 32; out_halves = 64,
    // half_perms = 64, convs = 64 per sub-convolution.
    let r = count(&conv_json(64, "7", 2, 3), 3, 224, 224, &sci());
    assert_eq!((r.n, r.cn), (Some(32768), Some(2)));
    let c = r.counts;
    // Internal: inp_ct*(T-1) = 2*(15 + 11 + 11 + 8) = 90.
    assert_eq!(c.internal_rot, 90);
    // External: hc = 1, so no row rotation (every step is 0); one row swap per output
    // ciphertext: 32 per sub-convolution, 128 in all.
    assert_eq!(c.external_rot, 128);
    // Ciphertexts: 4*2 = 8 up, 4*32 = 128 down; bytes 8*2*32768*3*8 = 12,582,912 and
    // 128*2*32768*8 = 67,108,864.
    assert_eq!(
        (c.ct_up, c.ct_down, c.bytes_up, c.bytes_down),
        (8, 128, 12_582_912, 67_108_864)
    );
    // ScMult from the mask rule (hc = 1, one in-row offset): output ciphertext k holds outputs
    // 2k (row 0) and 2k+1 (row 1), both < 64. Input ciphertext 0 has channels 0 (row 0) and
    // 1 (row 1): the same-row member maps them to outputs 2k and 2k+1, the cross-row member to
    // 2k+1 and 2k -- both live. Input ciphertext 1 has only channel 2 (row 0): same-row member
    // -> 2k, cross-row -> 2k+1, both live. So every mask is live: 64 convs * 2 * T per
    // sub-convolution = 128*(16 + 12 + 12 + 9) = 6272 (a dense count would be 3*64*49/2 = 4704
    // products' worth; the half-empty second ciphertext still costs full masks).
    assert_eq!(c.scmult, 6272);
    // Key switches (N/2 = 16384, no NAF digit reaches it): internal steps f_r*W + f_c.
    // (0,0), W = 115: w(1,2,3) = 1,1,2; w(115,116,117,118) = 4,3,4,3 (115 = 128-16+4-1,
    // 116 = 128-16+4, 118 = 128-8-2); w(230..233) = 4,4,3,4 (231 = 256-32+8-1);
    // w(345..348) = 5,5,5,4 (345 = 512-128-32-8+1, 348 = 512-128-32-4): 52 per ct -> 104.
    // (0,1), W = 114, 4x3: w(1,2) = 1,1; w(114,115,116) = 3,4,3 (114 = 128-16+2);
    // w(228,229,230) = 3,4,4; w(342,343,344) = 5,5,4: 37 -> 74.
    // (1,0), W = 115, 3x4: 4 + 14 + 15 = 33 -> 66. (1,1), W = 114, 3x3: 2 + 10 + 11 = 23 -> 46.
    // Internal 104 + 74 + 66 + 46 = 290; external: 128 row swaps, one each.
    assert_eq!(c.key_switch, 290 + 128);
    // Add: products + convs + half_perms + masks = 6272 + 4*(64 + 64 + 32) = 6912.
    // ModSwitch: 4*(64 + 2*32 + 1) = 516 (the +1: the zero ciphertext of each sub-convolution).
    assert_eq!((c.add, c.mod_switch), (6912, 516));
}

/// Half-row corner case: all outputs fit one row (`out_halves == 1`), inputs span both rows.
#[test]
fn outputs_in_one_row_inputs_in_two() {
    // 8x8, pad 1: S = 128, N = 8192, hc = 32. ci = 64 -> inp_ct 1, inp_halves 2; co = 16 ->
    // out_halves 1, out_ct 1, half_perms 1, half_rots = hc = 32, convs 32.
    let c = count(&conv_json(16, "3", 1, 1), 64, 8, 8, &sci()).counts;
    // External: hc - 1 = 31 row rotations + 1 column fold = 32; key switches 57 + 1 = 58.
    assert_eq!((c.external_rot, c.key_switch - 17), (32, 58));
    // Internal: 8 rotations, 17 key switches (as example A, one ciphertext).
    assert_eq!(c.internal_rot, 8);
    // ScMult: one member; for every offset r some input channel c (both rows are full) has
    // (c - r) mod 32 < 16, so all 32 masks per tap are live: 32*9 = 288.
    assert_eq!(c.scmult, 288);
    // Add: 288 + 32 (partials) + 1 (half-perm) + 1 (fold) + 1 (mask) = 323.
    assert_eq!(c.add, 323);
    assert_eq!((c.mod_switch, c.ct_up, c.ct_down), (32 + 2 + 1, 1, 1));

    // Without the second input row (ci = 32: inp_halves 1) there is no fold: 31 rotations.
    let c = count(&conv_json(16, "3", 1, 1), 32, 8, 8, &sci()).counts;
    assert_eq!((c.external_rot, c.key_switch - 17), (31, 57));
    assert_eq!(c.add, 288 + 32 + 1 + 1);
}

/// Half-row corner case: odd `out_halves`.
#[test]
fn odd_out_halves() {
    // 8x8, pad 1: hc = 32. ci = 64 (inp_ct 1, both rows full); co = 96 -> out_halves 3,
    // half_perms 4, out_ct 2, convs 4*32 = 128.
    let c = count(&conv_json(96, "3", 1, 1), 64, 8, 8, &sci()).counts;
    // External: 2*(2*31 + 1) = 126; key switches 2*115 = 230 (+17 internal).
    assert_eq!((c.external_rot, c.key_switch), (126, 230 + 17));
    // ScMult: pair 0 (outputs 0..63) is full. Pair 1 (out_base 64): the same-row member maps
    // row-0 inputs to 64 + offset (< 96, live) and the cross-row member maps row-1 inputs to
    // 64 + offset (live), so the empty fourth half-row saves no mask: 128*1*9 = 1152 (a
    // per-output count would be 64*96*9/64 = 864).
    assert_eq!(c.scmult, 1152);
    // Add: 1152 + 128 + 4 + 2 = 1286.
    assert_eq!(c.add, 1286);
    assert_eq!((c.ct_up, c.ct_down, c.mod_switch), (1, 2, 128 + 4 + 1));
}

/// Odd channel counts that do not fill a ciphertext: masks are skipped by the mask rule.
#[test]
fn odd_channel_counts() {
    // 8x8, pad 1: hc = 32. ci = 5, co = 3: one ciphertext each way, out_halves 1, half_perms 1,
    // half_rots = max(32, 3, 5) = 32, convs 32. Offset r is live iff some input c in 0..5 has
    // (c - r) mod 32 < 3, i.e. r in {c - o : o < 3} = {-2 .. 4} mod 32: 7 offsets
    // (= ci + co - 1). ScMult 7*9 = 63.
    let c = count(&conv_json(3, "3", 1, 1), 5, 8, 8, &sci()).counts;
    assert_eq!(c.scmult, 63);
    // All 31 output rotations still run (57 key switches); no fold (inp_halves 1).
    assert_eq!((c.external_rot, c.key_switch), (31, 57 + 17));
    // Add: 63 + 32 + 1 + 1 = 97; ModSwitch 32 + 2 + 1 (zero ciphertext).
    assert_eq!((c.add, c.mod_switch), (97, 35));

    // ci = 70, co = 33 (hc = 32): inp_ct 2 (the second holds channels 64..69 in row 0),
    // inp_halves 3; out_halves 2, half_perms 2, out_ct 1, convs 64.
    // Input ct 0 (full): same-row member maps to offsets 0..31 (< 33): 32 live; cross-row
    // member maps to 32 + offset, live iff offset 0 occurs, which it does for every r: 32 live.
    // Input ct 1 (6 channels, row 0): same-row member -> offsets, always < 33: 32 live;
    // cross-row -> 32 + (c - r) mod 32 < 33 iff r = c for some c in 0..6: 6 live.
    // Per tap 32 + 32 + 32 + 6 = 102 -> ScMult 102*9 = 918.
    let c = count(&conv_json(33, "3", 1, 1), 70, 8, 8, &sci()).counts;
    assert_eq!(c.scmult, 918);
    // External: 1*(2*31 + 1) = 63 (115 key switches); internal 2*8 = 16 (2*17 key switches).
    assert_eq!(
        (c.external_rot, c.internal_rot, c.key_switch),
        (63, 16, 115 + 34)
    );
    assert_eq!(
        (c.ct_up, c.ct_down, c.bytes_up, c.bytes_down),
        (2, 1, 2 * UP_8192, DOWN_8192)
    );
}

/// Channels per row of one: `hc = 1` (3x3 pad 1 on 64x64 -> 66x66 stored, S = 8192,
/// N = 16384). Every in-row offset step is 0, so external rotations are row swaps only.
#[test]
fn one_channel_per_row() {
    // ci = co = 3: inp_ct = out_ct = 2, out_halves 3 -> half_perms 4, convs 4.
    // External: one swap per output ciphertext = 2. Internal: 2*8 = 16 (steps 1, 2, 66, 67, 68,
    // 132, 133, 134 on width 66).
    let c = count(&conv_json(3, "3", 1, 1), 3, 64, 64, &sci()).counts;
    assert_eq!((c.external_rot, c.internal_rot), (2, 16));
    // Masks (offset 0 only): pair 0 (outputs 0, 1): ct 0 (inputs 0, 1) live in both members,
    // ct 1 (input 2, row 0) live in both. Pair 1 (outputs 2 and none): ct 0: same-row member
    // maps input 0 -> 2 (live), cross-row maps input 1 -> 2 (live); ct 1: same-row input 2 -> 2
    // (live), cross-row input 2 -> 3 (absent). 7 of 8 mask slots live: 7*9 = 63.
    assert_eq!(c.scmult, 63);
    // Bytes at N = 16384: 2*2*16384*3*8 = 1,572,864 up; 2*2*16384*8 = 524,288 down. N = 16384 is
    // neither 8192 nor 32768, so `ConvField::non_strided_conv` has the client send fresh keys
    // (SEAL 3.3.2 saves, key level {60, 60, 60, 38}: a key-level ciphertext is 73 + 2*16384*4*8 =
    // 1,048,649 bytes): two 8-byte sizes + the public key (1,048,649) + the Galois keys (32 + 8 +
    // 16384*8 = 131,112 of slot counts, and 2*14 - 2 = 26 keys of 3 ciphertexts, 81,794,622):
    // 82,974,399 bytes up, with the layer.
    assert_eq!(simd::fresh_key_bytes(16384), 82_974_399);
    assert_eq!(
        (c.bytes_up, c.bytes_down),
        (1_572_864 + 82_974_399, 524_288)
    );
    assert!(!simd::fresh_keys(8192) && !simd::fresh_keys(32768) && simd::fresh_keys(65536));
}

/// Element-wise product (unfolded batch norm; EzPC `elemwise-prod-field.cpp`): 64x32x32 = 65,536
/// values at N = 8192.
#[test]
fn elementwise_scale() {
    // num_ct = 65536/8192 = 8: 8 ScMult, 8 mask adds, 16 ModSwitch, no rotation;
    // bytes 8*393,216 = 3,145,728 up and 8*131,072 = 1,048,576 down.
    let c = simd::elementwise(65_536, &sci()).counts;
    assert_eq!(
        (
            c.scmult,
            c.add,
            c.mod_switch,
            c.internal_rot + c.external_rot
        ),
        (8, 8, 16, 0)
    );
    assert_eq!(
        (c.ct_up, c.ct_down, c.bytes_up, c.bytes_down),
        (8, 8, 3_145_728, 1_048_576)
    );
    assert_eq!((c.enc, c.dec), (16, 8));
}

/// Example A (8x8, 256 -> 256, 3x3 pad 1: stored 10x10, S = 128, N = 8192, hc = 32, 4 input and
/// 4 output ciphertexts) under SEAL 3.3.2's rule (`pow2`, EzPC's pin): a step whose generator
/// exponent is k (mod 4096) costs `min(w(k), w(4096 - k))` set bits.
/// - Internal steps 1, 2, 10, 11, 12, 20, 21, 22 (binary weights 1, 1, 2, 3, 2, 2, 3, 3; the
///   complements 4096 - k all weigh 10 or more): 17 per input ciphertext, 68 in all, as the NAF.
/// - External: a pair member rotates by `-j*S`, j = 1 .. 31, i.e. exponent `(32 - j)*S`:
///   `min(w(j), w(32 - j))`, summing to 59 over j (j = 7 and 25 cost 3 = w(7) = w(25); the NAF
///   has 8 - 1 and 32 - 8 + 1, 2 each, sum 57). Per output ciphertext 2*59 + 1 (row swap) = 119;
///   4*119 = 476.
/// - Total 68 + 476 = 544 (NAF: 68 + 460 = 528).
#[test]
fn seal_3_3_rule_on_example_a() {
    let r = count(
        &conv_json(256, "3", 1, 1),
        256,
        8,
        8,
        &sci_with(KeyPolicy::Pow2),
    );
    assert_eq!(
        (r.counts.internal_rot, r.counts.external_rot),
        (4 * 8, 4 * 63)
    );
    assert_eq!(r.counts.key_switch, 68 + 476);
    let naf = count(&conv_json(256, "3", 1, 1), 256, 8, 8, &sci());
    assert_eq!(naf.counts.key_switch, 68 + 460);
    // The default policy of `cryptflow2` is SEAL 3.3.2's.
    assert_eq!(
        CountConfig::new(Protocol::Cryptflow2).key_policy,
        KeyPolicy::Pow2
    );
}
