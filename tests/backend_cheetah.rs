//! Cheetah on real BFV ciphertexts (Cheetah (Huang et al., USENIX Security 2022) Sec. 3;
//! OpenCheetah `hom_conv2d_ss.cc`, `hom_fc_ss.cc`, `hom_bn_ss.cc`; depthwise and grouped layouts
//! derived here; closed form, execution and counted library calls must agree): every layer is run
//! by `backend::coeff::run_layer` with the counter's own partition, reconstructed exactly against
//! the integer layer mod 2^l, and its observed counts must equal `packing::count_layer` column by
//! column. Tiny insecure rings (N = 256..1024) keep the file fast.

#![cfg(feature = "he")]

use stria::backend::RunOptions;
use stria::backend::coeff::{
    fhe_bytes_down_per_ct, fhe_bytes_up_per_ct, predicted_bytes_down_ideal, run_layer,
};
use stria::net::{Layer, Network, build, parse_spec};
use stria::packing::coeff::{DepthwiseMode, Partition, fc_split};
use stria::packing::{CountConfig, Protocol, count_layer};

fn net(layers: &str, c: u32, h: u32, w: u32) -> Network {
    let text = format!(
        r#"{{"name": "t", "input": {{"channels": {c}, "height": {h}, "width": {w}}}, "layers": [{layers}]}}"#
    );
    build(&parse_spec(&text, "t.json").unwrap(), "t.json").unwrap()
}

// A ReLU in front makes the layer read a secret-shared tensor (AddPlain of the server share).
const RELU: &str = r#"{"type": "relu"}, "#;

fn cfg(n: u64, partition: Partition, depthwise: DepthwiseMode) -> (CountConfig, RunOptions) {
    let mut cfg = CountConfig::new(Protocol::Cheetah);
    cfg.ring_degree = n;
    cfg.cheetah.partition = partition;
    cfg.cheetah.depthwise = depthwise;
    let opts = RunOptions {
        seed: 11,
        insecure: true,
        ..RunOptions::default()
    };
    // The counter's moduli follow the run's ({60, 49}, t = 2^37: OpenCheetah's own).
    cfg.cheetah.q0_bits = opts.cheetah_moduli_bits[0] as u32;
    cfg.cheetah.q_bits = opts.cheetah_moduli_bits.iter().sum::<usize>() as u32;
    (cfg, opts)
}

/// Runs the last layer of `layers`, checks correctness, counts against the counter, no
/// rotations, the fhe.rs byte models and a positive noise budget. Returns the counts.
fn run(
    layers: &str,
    (c, h, w): (u32, u32, u32),
    n: u64,
    partition: Partition,
    depthwise: DepthwiseMode,
) -> stria::cost::OpCounts {
    let net = net(layers, c, h, w);
    let layer: &Layer = net.layers.last().unwrap();
    let (cfg, opts) = cfg(n, partition, depthwise);
    let run = run_layer(layer, &cfg, &opts).unwrap();
    let want = count_layer(layer, &cfg).unwrap().counts;
    let got = run.observed;
    let tag = format!("{} {:?} {:?} N={n}", layer.kind(), partition, depthwise);
    assert!(run.correct, "{tag}: wrong result");
    let cols = |o: &stria::cost::OpCounts| {
        [
            ("scmult", o.scmult),
            ("add", o.add),
            ("ct_up", o.ct_up),
            ("ct_down", o.ct_down),
            ("mod_switch", o.mod_switch),
            ("enc", o.enc),
            ("dec", o.dec),
        ]
    };
    for ((name, g), (_, w)) in cols(&got).into_iter().zip(cols(&want)) {
        assert_eq!(g, w, "{tag}: column {name}: observed {g}, counter {w}");
    }
    assert_eq!(
        (got.internal_rot, got.external_rot, got.key_switch),
        (0, 0, 0),
        "{tag}"
    );
    assert_eq!(
        (want.internal_rot, want.external_rot, want.key_switch),
        (0, 0, 0)
    );
    // Bytes up: seeded fresh ciphertexts, exactly the fhe.rs size model; the bit-packed N*B/8 is
    // the same up to the seed and protobuf framing. The counter prices SEAL 3.7's wire format
    // (64-bit words, zstd), which is larger.
    let per_up = fhe_bytes_up_per_ct(n, &opts);
    assert_eq!(got.bytes_up, got.ct_up * per_up, "{tag}: bytes up");
    let packed_up = got.ct_up * cfg.cheetah.bytes_up_packed(n);
    assert!(packed_up < got.bytes_up && got.bytes_up - packed_up <= got.ct_up * 60);
    assert!(
        want.bytes_up > got.bytes_up,
        "{tag}: SEAL words and zstd exceed fhe.rs"
    );
    // Bytes down: untruncated at the first prime, exactly the fhe.rs model; the counter's SEAL
    // size is smaller (low bits zeroed and compressed, unused c0 words zeroed).
    let bd = predicted_bytes_down_ideal(layer, &cfg, &opts, &run).unwrap();
    assert_eq!(bd.observed, got.ct_down * fhe_bytes_down_per_ct(n, &opts));
    assert_eq!(bd.fhe_model, bd.observed, "{tag}: bytes down model");
    assert!(bd.ratio > 1.0, "{tag}: {bd:?}");
    let noise = run.noise_budget_bits.unwrap();
    assert!(noise > 0, "{tag}: noise budget {noise}");
    eprintln!(
        "{tag}: in {} out {} scmult {} add {}; noise {noise} bits; wall {:.2} ms; down ideal {} B, fhe {} B (x{:.2})",
        got.ct_up,
        got.ct_down,
        got.scmult,
        got.add,
        run.wall_ns as f64 / 1e6,
        bd.ideal,
        bd.observed,
        bd.ratio
    );
    got
}

fn conv(layers: &str, chw: (u32, u32, u32), n: u64) -> stria::cost::OpCounts {
    run(layers, chw, n, Partition::Heuristic, DepthwiseMode::Homconv)
}

#[test]
fn small_image_one_block() {
    // 8x8, 5 -> 3, 3x3 SAME, first layer: padded 10x10 = 100, Cw = min(1024/100, 5, 113) = 5:
    // one client ciphertext, 3 products, 3 returned, no adds at all.
    let c = conv(
        r#"{"type": "conv", "out_channels": 3, "kernel": 3, "padding": 1}"#,
        (5, 8, 8),
        1024,
    );
    assert_eq!((c.ct_up, c.scmult, c.ct_down, c.add), (1, 3, 3, 0));
}

#[test]
fn not_first_layer_adds_server_share() {
    // Same layer behind a ReLU: one AddPlain per client ciphertext.
    let c = conv(
        &format!(r#"{RELU}{{"type": "conv", "out_channels": 3, "kernel": 3, "padding": 1}}"#),
        (5, 8, 8),
        1024,
    );
    assert_eq!(c.add, 1);
}

#[test]
fn odd_channels_several_channel_blocks() {
    // 6x6, 7 -> 5, 3x3 SAME at N = 256: padded 8x8 = 64, Cw = min(4, 7, 28) = 4, dC = 2 (the
    // second block half full): in 2, products 10, adds 5*(2-1) + 2 AddPlain.
    let c = conv(
        &format!(r#"{RELU}{{"type": "conv", "out_channels": 5, "kernel": 3, "padding": 1}}"#),
        (7, 6, 6),
        256,
    );
    assert_eq!((c.ct_up, c.scmult, c.ct_down, c.add), (2, 10, 5, 7));
}

#[test]
fn large_image_spatial_blocks_overlap() {
    // 40x40, 2 -> 3, 3x3 SAME at N = 1024: padded 42x42 = 1764 > 1024: Cw = 1, Hw = Ww = 32,
    // dH = dW = 1 + ceil(10/30) = 2 (windows overlap by 2): in 2*4 = 8, products 3*8 = 24,
    // out 3*4 = 12.
    let c = conv(
        &format!(r#"{RELU}{{"type": "conv", "out_channels": 3, "kernel": 3, "padding": 1}}"#),
        (2, 40, 40),
        1024,
    );
    assert_eq!((c.ct_up, c.scmult, c.ct_down), (8, 24, 12));
    // Non-square image and kernel: 20x50, 5x3 kernel VALID-ish padding (2, 1).
    let c = conv(
        &format!(
            r#"{RELU}{{"type": "conv", "out_channels": 2, "kernel": [5, 3], "padding": [2, 1]}}"#
        ),
        (3, 20, 50),
        512,
    );
    assert!(c.ct_up > 3, "{c:?}");
}

#[test]
fn strided_3x3_computed_at_stride_1() {
    // 9x9, 3 -> 4, 3x3 stride 2 pad 1: padded 11x11, stride-1 products, the client keeps 5x5.
    conv(
        &format!(
            r#"{RELU}{{"type": "conv", "out_channels": 4, "kernel": 3, "stride": 2, "padding": 1}}"#
        ),
        (3, 9, 9),
        256,
    );
    // Strided with spatial blocks whose starts are odd (offsets into the stride grid).
    conv(
        &format!(
            r#"{RELU}{{"type": "conv", "out_channels": 2, "kernel": 3, "stride": 2, "padding": 1}}"#
        ),
        (2, 33, 33),
        512,
    );
}

#[test]
fn pointwise_stride_2_sub_sampled() {
    // 16x16, 6 -> 4, 1x1 stride 2: sub-sampled to 8x8 = 64 first: Cw = 6 at N = 512, in 1.
    let c = conv(
        &format!(r#"{RELU}{{"type": "conv", "out_channels": 4, "kernel": 1, "stride": 2}}"#),
        (6, 16, 16),
        512,
    );
    assert_eq!((c.ct_up, c.scmult, c.ct_down), (1, 4, 4));
}

#[test]
fn depthwise_both_layouts() {
    // 6x6, 12 channels, 3x3 pad 1 at N = 512: padded 8x8 = 64. HomConv: Cw = 8, dC = 2; one
    // product per channel. Stacked: Cw = floor(sqrt(512/64)) = 2: 6 for in, products and out.
    let dw = format!(r#"{RELU}{{"type": "depthwise", "kernel": 3, "padding": 1}}"#);
    let a = run(
        &dw,
        (12, 6, 6),
        512,
        Partition::Heuristic,
        DepthwiseMode::Homconv,
    );
    assert_eq!((a.ct_up, a.scmult, a.ct_down), (2, 12, 12));
    let b = run(
        &dw,
        (12, 6, 6),
        512,
        Partition::Heuristic,
        DepthwiseMode::Stacked,
    );
    assert_eq!((b.ct_up, b.scmult, b.ct_down, b.add), (6, 6, 6, 6));
    // Stacked with spatial blocks and a stride.
    let dws = format!(r#"{RELU}{{"type": "depthwise", "kernel": 3, "stride": 2, "padding": 1}}"#);
    run(
        &dws,
        (3, 30, 30),
        512,
        Partition::Heuristic,
        DepthwiseMode::Stacked,
    );
    run(
        &dws,
        (5, 14, 14),
        1024,
        Partition::Heuristic,
        DepthwiseMode::Stacked,
    );
}

#[test]
fn grouped_conv() {
    // 6x6, 12 -> 6, 3 groups of 4 inputs (2 outputs each), N = 256: Cw = 4 = the group width:
    // each output touches one block: products 6; then 4 groups of 3 with Cw = 4: groups start at
    // 0, 3, 6, 9 and touch 1, 2, 2, 1 blocks.
    let g3 = format!(
        r#"{RELU}{{"type": "conv", "out_channels": 6, "kernel": 3, "padding": 1, "groups": 3}}"#
    );
    let c = conv(&g3, (12, 6, 6), 256);
    assert_eq!((c.ct_up, c.scmult, c.ct_down), (3, 6, 6));
    let g4 = format!(
        r#"{RELU}{{"type": "conv", "out_channels": 8, "kernel": 3, "padding": 1, "groups": 4}}"#
    );
    let c = conv(&g4, (12, 6, 6), 256);
    assert_eq!(c.scmult, 2 * (1 + 2 + 2 + 1));
}

#[test]
fn fully_connected_splits() {
    // One block (ni*no <= N), several input blocks, several output blocks, both.
    for (ni, no, n) in [
        (16u32, 10u32, 256u64),
        (300, 3, 256),
        (40, 30, 256),
        (200, 50, 1024),
    ] {
        let (now, niw) = fc_split(ni as u64, no as u64, n);
        let c = run(
            &format!(r#"{RELU}{{"type": "fc", "out_features": {no}}}"#),
            (ni, 1, 1),
            n,
            Partition::Heuristic,
            DepthwiseMode::Homconv,
        );
        let (i, o) = ((ni as u64).div_ceil(niw), (no as u64).div_ceil(now));
        assert_eq!((c.ct_up, c.ct_down, c.scmult), (i, o, i * o), "{ni}->{no}");
    }
    // First layer: no AddPlain.
    let c = run(
        r#"{"type": "fc", "out_features": 7}"#,
        (100, 1, 1),
        256,
        Partition::Heuristic,
        DepthwiseMode::Homconv,
    );
    assert_eq!(c.add, c.scmult - c.ct_down);
}

#[test]
fn batchnorm_unfolded() {
    // 64x2x2 = 256 values at N = 256: coefficient packing would take 64 ciphertexts, the CRT plan
    // 1 piece under each of the 3 CRT primes of 39 bits, so OpenCheetah runs `HomBNSS::bn`.
    let c = run(
        r#"{"type": "relu"}, {"type": "batchnorm"}"#,
        (64, 2, 2),
        256,
        Partition::Heuristic,
        DepthwiseMode::Homconv,
    );
    assert_eq!((c.ct_up, c.scmult, c.ct_down, c.add), (3, 3, 3, 3));
}

#[test]
fn batchnorm_unfolded_direct() {
    // 3x10x10 at N = 256: 3 channel polynomials against 2 pieces x 3 primes = 6, so
    // `bn_direct` (one 10x10 tile per channel, 16x16 tiles at N = 256).
    let c = run(
        r#"{"type": "relu"}, {"type": "batchnorm"}"#,
        (3, 10, 10),
        256,
        Partition::Heuristic,
        DepthwiseMode::Homconv,
    );
    assert_eq!((c.ct_up, c.scmult, c.ct_down, c.add), (3, 3, 3, 3));
    // 2x20x20: 2 x 2 tiles of at most 16x16 per channel (8 ciphertexts against 4 x 3 = 12); the
    // first layer (the client's own input): no AddPlain.
    let c = run(
        r#"{"type": "batchnorm"}"#,
        (2, 20, 20),
        256,
        Partition::Heuristic,
        DepthwiseMode::Homconv,
    );
    assert_eq!((c.ct_up, c.scmult, c.ct_down, c.add), (8, 8, 8, 0));
}

#[test]
fn search_partition() {
    // The paper's search on a large image (40x40, 3x3 SAME at N = 1024) and on a 1x1 stride-2
    // layer it does not sub-sample.
    let l = format!(r#"{RELU}{{"type": "conv", "out_channels": 3, "kernel": 3, "padding": 1}}"#);
    run(
        &l,
        (2, 40, 40),
        1024,
        Partition::Search,
        DepthwiseMode::Homconv,
    );
    let p = format!(r#"{RELU}{{"type": "conv", "out_channels": 4, "kernel": 1, "stride": 2}}"#);
    run(
        &p,
        (6, 16, 16),
        512,
        Partition::Search,
        DepthwiseMode::Homconv,
    );
}

/// A grouped conv with `group_layout: strided` (group j = channels `c mod G == j`, inputs and
/// outputs alike) behind a ReLU.
fn strided(out: u32, kernel: &str, extra: &str, groups: u32) -> String {
    format!(
        r#"{RELU}{{"type": "conv", "out_channels": {out}, "kernel": {kernel}, "groups": {groups},
            "group_layout": "strided"{extra}}}"#
    )
}

#[test]
fn strided_groups_pointwise() {
    // 6x6, 12 -> 12, 1x1, G = 4 (3 channels per group) at N = 256: Cw = min(256/36, 12) = 7,
    // dC = 2. Re-packed contiguously, groups {0,4,8}, {1,5,9}, {2,6,10}, {3,7,11} sit at packed
    // positions 0-2, 3-5, 6-8, 9-11 and touch 1, 1, 2, 1 blocks of 7: 5 x 3 outputs = 15
    // products (in place they would touch 2 blocks each: 24). G = 4 does not divide Cw = 7.
    let c = conv(&strided(12, "1", "", 4), (12, 6, 6), 256);
    assert_eq!((c.ct_up, c.scmult, c.ct_down), (2, 15, 12));
    // 4x4, 32 -> 16, G = 16 = Cw (256/16 = 16): groups of 2 inputs, 1 output; one block each.
    let c = conv(&strided(16, "1", "", 16), (32, 4, 4), 256);
    assert_eq!((c.ct_up, c.scmult, c.ct_down), (2, 16, 16));
    // 6 -> 12 (g_in 2, g_out 4), G = 3, first layer (no AddPlain), stride 2 (sub-sampled).
    let c = conv(
        r#"{"type": "conv", "out_channels": 12, "kernel": 1, "stride": 2, "groups": 3,
            "group_layout": "strided"}"#,
        (6, 8, 8),
        256,
    );
    assert_eq!((c.ct_up, c.scmult, c.ct_down, c.add), (1, 12, 12, 0));
}

#[test]
fn strided_groups_3x3() {
    // 6x6, 12 -> 8, 3x3 pad 1, G = 4 (g_in 3, g_out 2) at N = 256: padded 8x8, Cw = 4, dC = 3.
    // Packed groups of 3 in blocks of 4 touch 1, 2, 2, 1 blocks: 6 x 2 = 12 products.
    let c = conv(&strided(8, "3", r#", "padding": 1"#, 4), (12, 6, 6), 256);
    assert_eq!((c.ct_up, c.scmult, c.ct_down), (3, 12, 8));
    // G = 6 (g_in 2, a divisor of Cw = 4; G itself is not a multiple of Cw): 6 blocks x 1.
    let c = conv(&strided(6, "3", r#", "padding": 1"#, 6), (12, 6, 6), 256);
    assert_eq!(c.scmult, 6);
    // G = 2 (g_in 6 > Cw): groups 0-5 and 6-11 touch 2 blocks each; 4 outputs each: 16.
    let c = conv(&strided(8, "3", r#", "padding": 1"#, 2), (12, 6, 6), 256);
    assert_eq!(c.scmult, 16);
    // Stride 2 with overlapping spatial blocks, and a cross kernel.
    conv(
        &strided(6, "3", r#", "stride": 2, "padding": 1"#, 3),
        (6, 33, 33),
        512,
    );
    conv(
        &strided(10, "3", r#", "padding": 1, "kernel_shape": "cross""#, 5),
        (15, 5, 5),
        256,
    );
    // The paper's search partition.
    run(
        &strided(8, "3", r#", "padding": 1"#, 4),
        (12, 6, 6),
        256,
        Partition::Search,
        DepthwiseMode::Homconv,
    );
}

#[test]
fn strided_groups_cost_as_contiguous() {
    // The counter charges the strided layout the contiguous re-pack, never more than the groups
    // left in place.
    use stria::packing::coeff::{blocks_touched, blocks_touched_strided};
    for g in 1..=12u64 {
        for size in 1..=12u64 {
            for cw in 1..=40u64 {
                assert!(blocks_touched(g, size, cw) <= blocks_touched_strided(g, size, cw));
            }
        }
    }
    let (cfg, _) = cfg(256, Partition::Heuristic, DepthwiseMode::Homconv);
    for (out, k, pad, g) in [(12, 1, 0, 4), (8, 3, 1, 4), (6, 3, 1, 6), (8, 3, 1, 2)] {
        let layer = |layout: &str| {
            let n = net(
                &format!(
                    r#"{RELU}{{"type": "conv", "out_channels": {out}, "kernel": {k},
                        "padding": {pad}, "groups": {g}, "group_layout": "{layout}"}}"#
                ),
                12,
                6,
                6,
            );
            count_layer(n.layers.last().unwrap(), &cfg).unwrap().counts
        };
        assert_eq!(layer("strided"), layer("contiguous"), "{out} {k} {g}");
    }
}
