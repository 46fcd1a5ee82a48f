//! Non-linear costs (background.md section 6): the quoted per-function numbers, hand-derived
//! per-layer accounting on tiny networks, and ResNet-50 (CrypTFlow2/Cheetah layout) totals.

use std::path::Path;
use stria::net::{Network, Op, build, load_network, parse_spec};
use stria::packing::Protocol;
use stria::packing::nonlinear::*;

fn net(layers: &str, c: u32, h: u32, w: u32) -> Network {
    let text = format!(
        r#"{{"name": "t", "input": {{"channels": {c}, "height": {h}, "width": {w}}}, "layers": [{layers}]}}"#
    );
    build(&parse_spec(&text, "t.json").unwrap(), "t.json").unwrap()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn total(costs: &[NlCost]) -> NlCost {
    costs.iter().copied().sum()
}

#[test]
fn shipped_config_is_the_default() {
    let p = NonlinearParams::load(&root().join("configs/nonlinear/default.json")).unwrap();
    assert!(p.note.is_some());
    assert_eq!(
        NonlinearParams { note: None, ..p },
        NonlinearParams::default()
    );
}

#[test]
fn quoted_cryptflow2_l32() {
    // Background 6.2, l = 32: millionaires' 3844 (m = 4) and 2930 (m = 7); ReLU over Z_(2^l)
    // 3298 = 2914 + 384 (m = 7). All reproduced exactly.
    assert_eq!(cf2_millionaires_bits(32, 4, 128), 3844);
    assert_eq!(cf2_millionaires_bits(32, 7, 128), 2930);
    assert_eq!(cf2_drelu_ring_bits(32, 7, 128), 2914);
    assert_eq!(cf2_relu_ring_bits(32, 7, 128), 3298);
    assert_eq!(cf2_millionaires_rounds(32), 5);

    // The remaining l = 32 figures the background quotes (5288, 4310, 5570, 7796) are the
    // CrypTFlow2 paper's concrete counts, printed next to the *bound* formulas; stria only has the
    // bounds for these rows, which give more. The same gap shows on the ring ReLU, where the exact
    // count is known: bound 128*32 + 18*32 = 4672 vs exact 3298 (ratio 0.71). Not fudged: the
    // bounds are what stria charges.
    assert_eq!(cf2_relu_ring_bound(32, 128), 4672);
    // ReLU over Z_n at eta = 32: 192*33 + 31*32 = 7328 (quoted concrete 5288, ratio 0.72).
    assert_eq!(cf2_relu_field_bits(32, 128), 7328);
    assert!(5288 < cf2_relu_field_bits(32, 128));
    // Truncation over Z_(2^l), l = 32, f = 12: 128*46 + 19*32 + 14*12 = 6664 (quoted 4310).
    assert_eq!(cf2_trunc_ring_bits(32, 12, 128), 6664);
    assert!(4310 < cf2_trunc_ring_bits(32, 12, 128));
    // Avgpool_49 over Z_(2^l), l = 32: delta = ceil(log2 294) = 9, 149*(32 + 27) = 8791
    // (quoted 5570).
    assert_eq!(cf2_avgpool_ring_bits(32, 49, 128), 8791);
    assert!(5570 < cf2_avgpool_ring_bits(32, 49, 128));
    // Avgpool_49 over Z_n, eta = 32: (192 + 34)*(32 + 18) = 11300 (quoted 7796).
    assert_eq!(cf2_avgpool_field_bits(32, 49, 128), 11300);
    assert!(7796 < cf2_avgpool_field_bits(32, 49, 128));
    // Rounds (ceil(log2)): ReLU ring 5 + 2; ReLU field 5 + 4; truncation 5 + 3;
    // Avgpool ring ceil(log2(32*9 = 288)) + 4 = 13; field ceil(log2 288) + 6 = 15.
    assert_eq!(cf2_relu_ring_rounds(32), 7);
    assert_eq!(cf2_relu_field_rounds(32), 9);
    assert_eq!(cf2_trunc_ring_rounds(32), 8);
    assert_eq!(cf2_avgpool_ring_rounds(32, 49), 13);
    assert_eq!(cf2_avgpool_field_rounds(32, 49), 15);
}

#[test]
fn quoted_l37_f12() {
    // CrypTFlow2 ReLU 4684 (m = 4) = millionaires' on 36 bits 4280 + MUX 404; bound 5402;
    // truncation bound 7399. Reproduced exactly.
    assert_eq!(cf2_relu_ring_bits(37, 4, 128), 4684);
    assert_eq!(cf2_relu_ring_bound(37, 128), 5402);
    assert_eq!(cf2_trunc_ring_bits(37, 12, 128), 7399);
    // Cheetah: ReLU 15*37 - 9 = 546, known-MSB truncation 16, approximate 481. Reproduced.
    assert_eq!(cheetah_relu_bits(37), 546);
    assert_eq!(cheetah_drelu_bits(37) + cheetah_mux_bits(37), 396 + 150);
    assert_eq!(cheetah_trunc_known_msb_bits(12), 16);
    assert_eq!(cheetah_trunc_approx_bits(37), 481);
    assert_eq!(cheetah_trunc_faithful_bits(37, 12), 16 * 37 + 11 * 12);
    // Cheetah millionaires' at l = 32: 11*32 = 352, consistent with the measured ~348 bits per
    // call of Cheetah Table 6 (background 6.3).
    assert_eq!(cheetah_millionaires_bits(32), 352);
}

#[test]
fn pooling_and_argmax_formulas() {
    // Maxpool_9 over Z_(2^37), m = 4: 8 x ReLU 4684; argmax adds a MUX (404) per step.
    assert_eq!(cf2_maxpool_ring_bits(37, 9, 4, 128), 8 * 4684);
    assert_eq!(cf2_argmax_ring_bits(37, 9, 4, 128), 8 * (4684 + 404));
    // Over Z_n (eta = 37): field ReLU bound 192*38 + 31*37 = 8443 per step.
    assert_eq!(cf2_relu_field_bits(37, 128), 8443);
    assert_eq!(cf2_maxpool_field_bits(37, 9, 128), 8 * 8443);
    assert_eq!(cf2_argmax_field_bits(37, 9, 128), 8 * (8443 + 404));
    // Cheetah.
    assert_eq!(cheetah_maxpool_bits(37, 9), 8 * 546);
    assert_eq!(cheetah_argmax_bits(37, 9), 8 * (546 + 150));
    assert_eq!(cheetah_avgpool_bits(37), 481);
    // Sequential rounds: 8 steps of a 6 + 2 round ReLU.
    assert_eq!(sequential_rounds(9, 8), 64);
    assert_eq!(sequential_rounds(1, 8), 0);
}

const TINY: &str = r#"
    {"type": "conv", "out_channels": 4, "kernel": 3, "padding": 1},
    {"type": "batchnorm"},
    {"type": "relu"},
    {"type": "maxpool", "kernel": 3, "stride": 2},
    {"type": "conv", "out_channels": 2, "kernel": 1},
    {"type": "fc", "out_features": 5},
    {"type": "argmax"}"#;

fn c(relu: u64, trunc: u64, bits: u64, rounds: u64) -> NlCost {
    NlCost {
        relu,
        trunc,
        bits,
        rounds,
    }
}

#[test]
fn tiny_network_cheetah() {
    // 3x8x8 -> conv 4x8x8 (256) -> folded BN -> ReLU -> maxpool 3x3/2 -> 4x3x3 (36, d = 9)
    // -> conv 1x1 2x3x3 (18) -> fc 5 -> argmax over 5.
    let n = net(TINY, 3, 8, 8);
    assert!(matches!(n.layers[1].op, Op::BatchNorm { folded: true }));
    let p = NonlinearParams::default();
    let got = network_nonlinear(&n, Protocol::Cheetah, &p);
    // l = 37, f = 12; rounds: ReLU ceil(log2 37) + 2 = 8, approximate truncation 8, known-MSB 1.
    let want = vec![
        // conv -> folded BN -> ReLU: truncated after the ReLU, known MSB, 256 * 16.
        c(0, 256, 256 * 16, 1),
        c(0, 0, 0, 0),
        c(256, 0, 256 * 546, 8),
        // 36 outputs x 8 comparisons x (DReLU 396 + MUX 150); 8 sequential steps of 8 rounds.
        c(0, 0, 36 * 8 * 546, 64),
        // conv read by the fc, fc read by argmax: approximate truncation 13*37 = 481.
        c(0, 18, 18 * 481, 8),
        c(0, 5, 5 * 481, 8),
        // argmax over 5: 4 x (546 + index MUX 150); a tournament tree of ceil(log2 5) = 3
        // levels of 8 rounds.
        c(0, 0, 4 * 696, 24),
    ];
    assert_eq!(got, want);

    // Faithful truncation: 16*37 + 11*12 = 724 bits, ceil(log2 37) + 3 = 9 rounds; the
    // known-MSB truncation of the first conv is unchanged.
    let pf = NonlinearParams {
        cheetah_truncation: CheetahTruncation::Faithful,
        ..NonlinearParams::default()
    };
    let got = network_nonlinear(&n, Protocol::Cheetah, &pf);
    assert_eq!(got[0], c(0, 256, 4096, 1));
    assert_eq!(got[4], c(0, 18, 18 * 724, 9));
    assert_eq!(got[5], c(0, 5, 5 * 724, 9));
}

#[test]
fn tiny_network_cryptflow2() {
    let n = net(TINY, 3, 8, 8);
    let p = NonlinearParams::default();
    // Field rows, eta = 37: ReLU bound 8443 bits, ceil(log2 37) + 4 = 10 rounds; truncation =
    // Avgpool_4096 over Z_n: delta = 15, 226*(37 + 30) = 15142 bits, ceil(log2 555) + 6 = 16
    // rounds; field MUX 2*128 + 4*37 = 404.
    let want = vec![
        c(0, 256, 256 * 15142, 16),
        c(0, 0, 0, 0),
        c(256, 0, 256 * 8443, 10),
        c(0, 0, 36 * 8 * 8443, 80),
        c(0, 18, 18 * 15142, 16),
        c(0, 5, 5 * 15142, 16),
        // argmax: 4 comparisons, a tree of 3 levels of 10 rounds.
        c(0, 0, 4 * (8443 + 404), 30),
    ];
    for proto in [
        Protocol::Cryptflow2,
        Protocol::GazelleInput,
        Protocol::GazelleOutput,
        Protocol::Gala,
    ] {
        assert_eq!(network_nonlinear(&n, proto, &p), want, "{proto}");
    }

    // OT-only ring backend, l = 37, m = 4: ReLU 4684 (ceil(log2 37) + 2 = 8 rounds),
    // truncation bound 7399 (9 rounds), MUX 404.
    let pr = NonlinearParams {
        cryptflow2_shares: CryptflowShares::Ring,
        ..NonlinearParams::default()
    };
    let want = vec![
        c(0, 256, 256 * 7399, 9),
        c(0, 0, 0, 0),
        c(256, 0, 256 * 4684, 8),
        c(0, 0, 36 * 8 * 4684, 64),
        c(0, 18, 18 * 7399, 9),
        c(0, 5, 5 * 7399, 9),
        c(0, 0, 4 * (4684 + 404), 24), // tree: 3 levels of 8 rounds
    ];
    assert_eq!(network_nonlinear(&n, Protocol::Cryptflow2, &pr), want);
}

#[test]
fn relu6_unfolded_bn_and_average_pools() {
    // 4x4x4: conv 1x1 -> folded BN -> ReLU6 (r) -> conv 1x1 -> add r -> BN (unfolded) -> ReLU
    // -> avgpool 2x2 (4x2x2 = 16) -> global avgpool over 2x2 (4 outputs).
    let layers = r#"
        {"type": "conv", "out_channels": 4, "kernel": 1},
        {"type": "batchnorm"},
        {"type": "relu6", "name": "r"},
        {"type": "conv", "out_channels": 4, "kernel": 1},
        {"type": "add", "from": "r"},
        {"type": "batchnorm"},
        {"type": "relu"},
        {"type": "avgpool", "kernel": 2},
        {"type": "global_avgpool"}"#;
    let n = net(layers, 4, 4, 4);
    assert!(matches!(n.layers[5].op, Op::BatchNorm { folded: false }));
    let p = NonlinearParams::default();
    let got = network_nonlinear(&n, Protocol::Cheetah, &p);
    let want = vec![
        // Followed (through the folded BN) by ReLU6 only: known-MSB.
        c(0, 64, 64 * 16, 1),
        c(0, 0, 0, 0),
        // ReLU6 = ReLU(x) - ReLU(x - 6): two ReLUs per element, in parallel.
        c(128, 0, 128 * 546, 8),
        // Read by the add: approximate.
        c(0, 64, 64 * 481, 8),
        c(0, 0, 0, 0),
        // Unfolded BN: one truncation of its output, read by a ReLU: known-MSB.
        c(0, 64, 64 * 16, 1),
        c(64, 0, 64 * 546, 8),
        // One 13*l division per output; not a truncation element.
        c(0, 0, 16 * 481, 8),
        c(0, 0, 4 * 481, 8),
    ];
    assert_eq!(got, want);

    // SCI_HE: division by d = 4 over Z_n: delta = ceil(log2 24) = 5, 226*(37 + 10) = 10622 bits,
    // ceil(log2(37*5 = 185)) + 6 = 14 rounds.
    let got = network_nonlinear(&n, Protocol::Cryptflow2, &p);
    assert_eq!(got[2], c(128, 0, 128 * 8443, 10));
    assert_eq!(got[5], c(0, 64, 64 * 15142, 16));
    assert_eq!(got[7], c(0, 0, 16 * 10622, 14));
    assert_eq!(got[8], c(0, 0, 4 * 10622, 14));
}

#[test]
fn truncation_read_by_relu_and_another_layer_is_not_known_msb() {
    // The conv output feeds both a ReLU and the add: its MSB is needed unknown, so Cheetah uses
    // the approximate truncation before the ReLU.
    let layers = r#"
        {"type": "conv", "name": "x", "out_channels": 2, "kernel": 1},
        {"type": "relu"},
        {"type": "add", "from": "x"}"#;
    let n = net(layers, 2, 2, 2);
    let got = network_nonlinear(&n, Protocol::Cheetah, &NonlinearParams::default());
    assert_eq!(got[0], c(0, 8, 8 * 481, 8));
}

#[test]
fn resnet50_cf2() {
    let n = load_network(&root().join("configs/models/resnet50-cf2.json")).unwrap();
    let p = NonlinearParams::default();
    let cf2 = network_nonlinear(&n, Protocol::Cryptflow2, &p);
    let ch = network_nonlinear(&n, Protocol::Cheetah, &p);
    assert_eq!(cf2.len(), n.layers.len());

    let relu_layers = cf2.iter().filter(|c| c.relu > 0).count();
    assert_eq!(relu_layers, 49);
    assert_eq!(
        n.layers.iter().filter(|l| matches!(l.op, Op::Relu)).count(),
        49
    );

    // Truncating layers: 53 convs + 1 fc + 17 unfolded BNs (the pre-activation BN of each of the
    // 16 blocks, after the max-pool or a residual add, and the head BN) = 71.
    //
    // The paper (Cheetah Table 9; background 6.4) counts 98 = 49 + 49: the EzPC-generated
    // main_resnet50.cpp keeps products at scale 2f and places truncations lazily, one ScaleDown
    // before each of the 49 BNs (on a conv output, a residual sum or the max-pool output) and one
    // truncation fused into each of the 49 ReLUs (on the BN product). Stria's rule differs in
    // three places: it folds the 32 BNs that follow a conv, so conv + BN + ReLU costs one
    // truncation instead of two (64 -> 32); it truncates both addends of a residual add (16
    // conv3 + 4 projections + the stem conv = 21) instead of one ScaleDown per sum (16 + the
    // max-pool output = 17); and it truncates the FC output, which EzPC feeds to argmax
    // untruncated (0 -> 1). 98 - 32 + 4 + 1 = 71. The rule is kept as specified.
    let trunc_layers = cf2.iter().filter(|c| c.trunc > 0).count();
    assert_eq!(trunc_layers, 71);
    let count = |f: &dyn Fn(&Op) -> bool| n.layers.iter().filter(|l| f(&l.op)).count();
    assert_eq!(count(&|o| matches!(o, Op::Conv(_))), 53);
    assert_eq!(count(&|o| matches!(o, Op::Fc)), 1);
    assert_eq!(count(&|o| matches!(o, Op::BatchNorm { folded: false })), 17);
    assert_eq!(count(&|o| matches!(o, Op::BatchNorm { folded: true })), 32);
    for (l, (a, b)) in n.layers.iter().zip(cf2.iter().zip(&ch)) {
        assert_eq!((a.relu, a.trunc), (b.relu, b.trunc), "{}", l.path);
        let truncates = matches!(l.op, Op::Conv(_) | Op::Fc | Op::BatchNorm { folded: false });
        assert_eq!(a.trunc > 0, truncates, "{}", l.path);
    }
    // Cheetah: known-MSB truncation (16 bits) on the 49 tensors that go into a ReLU (32 convs
    // with folded BN + 17 unfolded BNs), approximate on the other 22 (21 convs + FC).
    let known = ch
        .iter()
        .filter(|c| c.trunc > 0 && c.bits == 16 * c.trunc)
        .count();
    let approx = ch
        .iter()
        .filter(|c| c.trunc > 0 && c.bits == 481 * c.trunc)
        .count();
    assert_eq!((known, approx), (49, 22));

    let (tc, tk) = (total(&cf2), total(&ch));
    assert_eq!((tc.relu, tc.trunc), (tk.relu, tk.trunc));
    // Background 6.3: Cheetah cuts more than 90% of CrypTFlow2's non-linear traffic.
    assert!(tk.bits * 10 < tc.bits, "{} vs {}", tk.bits, tc.bits);
    let mib = |b: u64| b as f64 / 8.0 / (1u64 << 20) as f64;
    eprintln!(
        "resnet50-cf2 cryptflow2: relu {} trunc {} bits {} ({:.1} MiB) rounds {}",
        tc.relu,
        tc.trunc,
        tc.bits,
        mib(tc.bits),
        tc.rounds
    );
    eprintln!(
        "resnet50-cf2 cheetah:    relu {} trunc {} bits {} ({:.1} MiB) rounds {}",
        tk.relu,
        tk.trunc,
        tk.bits,
        mib(tk.bits),
        tk.rounds
    );
}
