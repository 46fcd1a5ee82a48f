//! Non-linear costs (CrypTFlow2 (Rathee et al., CCS 2020) Secs. 3-5; Cheetah (Huang et al., USENIX
//! Security 2022) Sec. 4): the quoted per-function numbers, hand-derived per-layer accounting on
//! tiny networks, and ResNet-50 (CrypTFlow2/Cheetah layout) totals.

use std::path::Path;
use stria::net::{Network, Op, build, load_network, parse_spec};
use stria::packing::Protocol;
use stria::packing::cheetah_nl::Refills;
use stria::packing::nonlinear::*;
use stria::packing::sci_field::{Traffic, argmax, chunks, field_div, relu_field, threaded};

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

/// The defaults with Cheetah's non-linear layers counted with the paper's formulas.
fn paper() -> NonlinearParams {
    NonlinearParams {
        cheetah_nonlinear: CheetahNonlinear::Paper,
        ..NonlinearParams::default()
    }
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
    // CrypTFlow2's quoted figures, l = 32: millionaires' 3844 (m = 4) and 2930 (m = 7); ReLU over
    // Z_(2^l) 3298 = 2914 + 384 (m = 7). All reproduced exactly.
    assert_eq!(cf2_millionaires_bits(32, 4, 128), 3844);
    assert_eq!(cf2_millionaires_bits(32, 7, 128), 2930);
    assert_eq!(cf2_drelu_ring_bits(32, 7, 128), 2914);
    assert_eq!(cf2_relu_ring_bits(32, 7, 128), 3298);
    assert_eq!(cf2_millionaires_rounds(32), 5);

    // The remaining l = 32 figures quoted from CrypTFlow2 (5288, 4310, 5570, 7796) are the
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
    // call of Cheetah Table 6.
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

/// (bits, rounds) of an SCI layer over `n` elements on `threads` threads.
fn sci(n: u64, threads: u64, f: impl Fn(u64) -> Traffic) -> (u64, u64) {
    let t = threaded(n, threads, f);
    (8 * t.bytes(), t.rounds)
}

#[test]
fn tiny_network_cheetah() {
    // 3x8x8 -> conv 4x8x8 (256) -> folded BN -> ReLU -> maxpool 3x3/2 -> 4x3x3 (36, d = 9)
    // -> conv 1x1 2x3x3 (18) -> fc 5 -> argmax over 5.
    let n = net(TINY, 3, 8, 8);
    assert!(matches!(n.layers[1].op, Op::BatchNorm { folded: true }));
    let p = paper();
    let got = network_nonlinear(&n, Protocol::Cheetah, &p).unwrap();
    // The paper's formulas: l = 37, f = 12; rounds: ReLU ceil(log2 37) + 2 = 8, approximate truncation 8, known-MSB 1.
    let want = vec![
        // The conv's products stay unreduced through the folded BN ...
        c(0, 0, 0, 0),
        c(0, 0, 0, 0),
        // ... and the ReLU truncates its own output, known MSB: 256 * (546 + 16).
        c(256, 256, 256 * (546 + 16), 8 + 1),
        // 36 outputs x 8 comparisons x (DReLU 396 + MUX 150); 8 sequential steps of 8 rounds.
        c(0, 0, 36 * 8 * 546, 64),
        // The 1x1 conv reads reduced values; the fc reads its unreduced products and truncates
        // them first (unknown MSB, approximate 13*37 = 481); the logits reach argmax unreduced.
        c(0, 0, 0, 0),
        c(0, 18, 18 * 481, 8),
        // argmax over 5: 4 x (546 + index MUX 150); a tournament tree of ceil(log2 5) = 3
        // levels of 8 rounds.
        c(0, 0, 4 * 696, 24),
    ];
    assert_eq!(got, want);
    assert_eq!(
        truncation_plan(&n),
        vec![
            Truncation::None,
            Truncation::None,
            Truncation::AfterRelu(256),
            Truncation::None,
            Truncation::None,
            Truncation::BeforeProduct(18),
            Truncation::None
        ]
    );
    assert!(output_untruncated(&n));

    // Faithful truncation: 16*37 + 11*12 = 724 bits, ceil(log2 37) + 3 = 9 rounds; the
    // known-MSB truncation after the ReLU is unchanged.
    let pf = NonlinearParams {
        cheetah_truncation: CheetahTruncation::Faithful,
        ..paper()
    };
    let got = network_nonlinear(&n, Protocol::Cheetah, &pf).unwrap();
    assert_eq!(got[2], c(256, 256, 256 * (546 + 16), 9));
    assert_eq!(got[5], c(0, 18, 18 * 724, 9));
}

#[test]
fn tiny_network_cryptflow2() {
    let n = net(TINY, 3, 8, 8);
    // Default: SCI's code, 4 threads, eta = 37 (p = 137352314881, p mod 4096 = 1).
    let p = NonlinearParams::default();
    let (relu, relu_r) = sci(256, 4, |k| relu_field(k, 37));
    let (tr, tr_r) = sci(256, 4, |k| field_div(k, 4096, true, 37, 137352314881));
    let (mp, mp_r) = sci(36, 4, |k| relu_field(k, 37));
    let (fc, fc_r) = sci(18, 4, |k| field_div(k, 4096, false, 37, 137352314881));
    let am = argmax(5, 37);
    let want = vec![
        c(0, 0, 0, 0),
        c(0, 0, 0, 0),
        c(256, 256, relu + tr, relu_r + tr_r),
        c(0, 0, 8 * mp, 8 * mp_r),
        c(0, 0, 0, 0),
        c(0, 18, fc, fc_r),
        c(0, 0, 8 * am.bytes(), am.rounds),
    ];
    for proto in [
        Protocol::Cryptflow2,
        Protocol::GazelleInput,
        Protocol::GazelleOutput,
        Protocol::Gala,
    ] {
        assert_eq!(network_nonlinear(&n, proto, &p).unwrap(), want, "{proto}");
    }
    // 256 ReLUs on 4 threads: chunks of 64; each pads its OT extensions to 256.
    assert_eq!(chunks(256, 4).collect::<Vec<_>>(), vec![64; 4]);

    // The paper's bounds on request. Field rows, eta = 37: ReLU 8443 bits, ceil(log2 37) + 4 =
    // 10 rounds; truncation = Avgpool_4096 over Z_n: delta = 15, 226*(37 + 30) = 15142 bits,
    // ceil(log2 555) + 6 = 16 rounds; field MUX 2*128 + 4*37 = 404.
    let pb = NonlinearParams {
        cryptflow2_nonlinear: Cryptflow2Nonlinear::PaperBounds,
        ..NonlinearParams::default()
    };
    let want = vec![
        c(0, 0, 0, 0),
        c(0, 0, 0, 0),
        c(256, 256, 256 * (8443 + 15142), 10 + 16),
        c(0, 0, 36 * 8 * 8443, 80),
        c(0, 0, 0, 0),
        c(0, 18, 18 * 15142, 16),
        // argmax: 4 comparisons, a tree of 3 levels of 10 rounds.
        c(0, 0, 4 * (8443 + 404), 30),
    ];
    assert_eq!(
        network_nonlinear(&n, Protocol::Cryptflow2, &pb).unwrap(),
        want
    );

    // OT-only ring backend, l = 37, m = 4: ReLU 4684 (ceil(log2 37) + 2 = 8 rounds),
    // truncation bound 7399 (9 rounds), MUX 404.
    let pr = NonlinearParams {
        cryptflow2_shares: CryptflowShares::Ring,
        ..NonlinearParams::default()
    };
    let want = vec![
        c(0, 0, 0, 0),
        c(0, 0, 0, 0),
        c(256, 256, 256 * (4684 + 7399), 8 + 9),
        c(0, 0, 36 * 8 * 4684, 64),
        c(0, 0, 0, 0),
        c(0, 18, 18 * 7399, 9),
        c(0, 0, 4 * (4684 + 404), 24), // tree: 3 levels of 8 rounds
    ];
    assert_eq!(
        network_nonlinear(&n, Protocol::Cryptflow2, &pr).unwrap(),
        want
    );
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
    let got = network_nonlinear(&n, Protocol::Cheetah, &paper()).unwrap();
    let want = vec![
        c(0, 0, 0, 0),
        c(0, 0, 0, 0),
        // ReLU6 = ReLU(x) - ReLU(x - 6): two ReLUs per element, in parallel; then the
        // known-MSB truncation of its 64 outputs.
        c(128, 64, 128 * 546 + 64 * 16, 8 + 1),
        // The conv's unreduced products, added to r (scaled up locally): still unreduced.
        c(0, 0, 0, 0),
        c(0, 0, 0, 0),
        // The unfolded BN multiplies again: its input is truncated first, MSB unknown.
        c(0, 64, 64 * 481, 8),
        // The BN's products reach the ReLU, which truncates after the activation.
        c(64, 64, 64 * (546 + 16), 9),
        // One 13*l division per output; not a truncation element.
        c(0, 0, 16 * 481, 8),
        c(0, 0, 4 * 481, 8),
    ];
    assert_eq!(got, want);

    // SCI_HE paper bounds: division by d = 4 over Z_n: delta = ceil(log2 24) = 5,
    // 226*(37 + 10) = 10622 bits, ceil(log2(37*5 = 185)) + 6 = 14 rounds.
    let pb = NonlinearParams {
        cryptflow2_nonlinear: Cryptflow2Nonlinear::PaperBounds,
        ..NonlinearParams::default()
    };
    let got = network_nonlinear(&n, Protocol::Cryptflow2, &pb).unwrap();
    assert_eq!(got[2], c(128, 64, 128 * 8443 + 64 * 15142, 10 + 16));
    assert_eq!(got[5], c(0, 64, 64 * 15142, 16));
    assert_eq!(got[7], c(0, 0, 16 * 10622, 14));
    assert_eq!(got[8], c(0, 0, 4 * 10622, 14));
    // SCI's code: average pools divide by d with the MSB unknown (a DReLU first).
    let got = network_nonlinear(&n, Protocol::Cryptflow2, &p).unwrap();
    let (b, r) = sci(16, 4, |k| field_div(k, 4, false, 37, 137352314881));
    assert_eq!(got[7], c(0, 0, b, r));
}

#[test]
fn truncation_read_by_relu_and_an_add() {
    // The conv output feeds a ReLU and the add: the ReLU truncates its own output (known MSB,
    // as SCI's `Relu` with `doTruncation` does); the add sums unreduced products and the reduced
    // ReLU output (scaled up locally), and its sum is left unreduced for whatever reads it.
    let layers = r#"
        {"type": "conv", "name": "x", "out_channels": 2, "kernel": 1},
        {"type": "relu"},
        {"type": "add", "from": "x"}"#;
    let n = net(layers, 2, 2, 2);
    let got = network_nonlinear(&n, Protocol::Cheetah, &paper()).unwrap();
    assert_eq!(got[0], c(0, 0, 0, 0));
    assert_eq!(got[1], c(8, 8, 8 * (546 + 16), 9));
    assert_eq!(got[2], c(0, 0, 0, 0));
    // OpenCheetah's code (the default), 8 elements on the last of 4 threads. ReLU, comparing 16
    // bits (4 digits): leaves 32 1-of-16 OTs of 2-bit messages, ALICE 16 + 4*32, BOB 4*32/8;
    // 4 triples per comparison from random OTs, a 16-byte seed each way; AND tree 3 + 1 ANDs,
    // 2 bits each way; multiplexer, one 37-bit COT each way: 16 + 5 words, 1 byte of choices.
    // Truncation: msb1_to_wrap 16 + 2 bytes, B2A to 12 bits 16 + 2 words; 1 byte of choices
    // each. Rounds: leaves, triples, 2 levels, 2 COTs; then 2.
    let relu = (144 + 16 + 8 + 56 + 1) + (16 + 16 + 8 + 1 + 56);
    let trunc = (18 + 32) + 2;
    // Ferret's extensions replayed: these few OTs do not drain a pool.
    let replay = NonlinearParams {
        cheetah_ferret: Refills::Replay,
        ..NonlinearParams::default()
    };
    let got = network_nonlinear(&n, Protocol::Cheetah, &replay).unwrap();
    assert_eq!(got[1], c(8, 8, 8 * (relu + trunc), 6 + 2));
    // Amortised (the default): each call's COTs pay their share of an extension, rounded:
    // 559456/10001853 bytes per COT, here 128 + 32 + 8 (leaves, choice COTs and both triples'
    // random OTs on ALICE's pool) and 32 + 8 on BOB's, 8 + 8 for the truncation: 10 bytes.
    let share = |n: u64| (n * 559_456 + 10_001_853 / 2) / 10_001_853;
    let extra = share(128) + 2 * share(32) + 4 * share(8) + 2 * share(8);
    let got = network_nonlinear(&n, Protocol::Cheetah, &NonlinearParams::default()).unwrap();
    assert_eq!(got[1], c(8, 8, 8 * (relu + trunc + extra), 6 + 2));
    assert!(output_untruncated(&n));
    // A piece whose input arrives unreduced truncates it before its first product.
    let mut m = net(
        r#"{"type": "conv", "out_channels": 2, "kernel": 1}"#,
        2,
        2,
        2,
    );
    assert_eq!(truncation_plan(&m), vec![Truncation::None]);
    m.input_untruncated = true;
    assert_eq!(truncation_plan(&m), vec![Truncation::BeforeProduct(8)]);
}

/// OpenCheetah f71d4d4's SCI_HE SqueezeNet program (`networks/main_sqnet.cpp`), run on one thread
/// with `ell = 37`, `k = 12` on a 2-core machine: the per-kind "data (sent+received)" totals
/// its server printed, in MiB to three decimals (ReLU 1916.75, MaxPool 2533.68, AvgPool
/// 1.45816, ArgMax 1.32221; Truncation 1063.68 = 156.12 sent by the server + 907.563 by the
/// client), against the code-exact model of the same calls.
#[test]
fn sqnet_sci_he_traffic_matches_the_measured_run() {
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let p = 137352314881;
    // The 26 ReLU layers (each with the fused truncation by 2^12), in the order the log lists.
    let relus = [
        200704u64, 50176, 200704, 200704, 50176, 200704, 200704, 23328, 93312, 93312, 23328, 93312,
        93312, 8112, 32448, 32448, 8112, 32448, 32448, 10816, 43264, 43264, 10816, 43264, 43264,
        169000,
    ];
    let relu: u64 = relus
        .iter()
        .map(|&n| threaded(n, 1, |k| relu_field(k, 37)).bytes())
        .sum();
    assert!((mib(relu) - 1916.75).abs() < 0.005, "{}", mib(relu));
    // Max-pools 3x3/2 to 64x56x56, 128x27x27, 256x13x13: 8 ReLUs per output.
    let maxpool: u64 = [64u64 * 56 * 56, 128 * 27 * 27, 256 * 13 * 13]
        .iter()
        .map(|&n| 8 * threaded(n, 1, |k| relu_field(k, 37)).bytes())
        .sum();
    assert!((mib(maxpool) - 2533.68).abs() < 0.005, "{}", mib(maxpool));
    // Average pool 13x13 over 1000 channels: a division by 169 with unknown MSB.
    let avg = threaded(1000, 1, |k| field_div(k, 169, false, 37, p)).bytes();
    assert!((mib(avg) - 1.45816).abs() < 0.000005, "{}", mib(avg));
    let am = argmax(1000, 37).bytes();
    assert!((mib(am) - 1.32221).abs() < 0.000005, "{}", mib(am));
    // The truncations after the ReLUs: both directions match but for the one-time base OTs of
    // the division's own IKNP instance (128 Naor-Pinkas OTs: 8,832 bytes from the server,
    // 12,997 from the client). (Counting `sci::bitlen` as `floor(log2) + 1`, as stria did
    // before, left the client 69.0 MiB short: the 14-bit comparisons' triples.)
    let t = relus.iter().fold((0, 0), |acc, &n| {
        let t = threaded(n, 1, |k| field_div(k, 4096, true, 37, p));
        (acc.0 + t.alice, acc.1 + t.bob)
    });
    assert!((mib(t.0 + 8832) - 156.12).abs() < 0.005, "{}", mib(t.0));
    assert!((mib(t.1 + 12_997) - 907.563).abs() < 0.0005, "{}", mib(t.1));
}

#[test]
fn resnet50_cf2() {
    let n = load_network(&root().join("configs/models/resnet50-cf2.json")).unwrap();
    let p = NonlinearParams::default();
    let cf2 = network_nonlinear(&n, Protocol::Cryptflow2, &p).unwrap();
    let ch = network_nonlinear(&n, Protocol::Cheetah, &paper()).unwrap();
    assert_eq!(cf2.len(), n.layers.len());

    let relu_layers = cf2.iter().filter(|c| c.relu > 0).count();
    assert_eq!(relu_layers, 49);
    assert_eq!(
        n.layers.iter().filter(|l| matches!(l.op, Op::Relu)).count(),
        49
    );

    // SCI's main_resnet50.cpp truncates 98 times: one ScaleDown before each of the 49 batch
    // norms (on the max-pool output, a conv output or a residual sum) and one truncation fused
    // into each of the 49 ReLUs (on the BN product); no conv or fc output on its own.
    let trunc_layers = cf2.iter().filter(|c| c.trunc > 0).count();
    assert_eq!(trunc_layers, 98);
    for (l, (a, b)) in n.layers.iter().zip(cf2.iter().zip(&ch)) {
        assert_eq!((a.relu, a.trunc), (b.relu, b.trunc), "{}", l.path);
        let truncates = matches!(l.op, Op::Relu | Op::BatchNorm { folded: false });
        assert_eq!(a.trunc > 0, truncates, "{}", l.path);
    }
    // Cheetah: known-MSB truncation (16 bits) after the 49 ReLUs, approximate before the 49 BNs.
    let known = ch
        .iter()
        .filter(|c| c.trunc > 0 && c.bits == 546 * c.relu + 16 * c.trunc)
        .count();
    let approx = ch
        .iter()
        .filter(|c| c.trunc > 0 && c.relu == 0 && c.bits == 481 * c.trunc)
        .count();
    assert_eq!((known, approx), (49, 49));

    let (tc, tk) = (total(&cf2), total(&ch));
    assert_eq!((tc.relu, tc.trunc), (tk.relu, tk.trunc));
    // Cheetah Sec. 1.1: Cheetah cuts more than 90% of CrypTFlow2's non-linear traffic.
    assert!(tk.bits * 10 < tc.bits, "{} vs {}", tk.bits, tc.bits);
}

#[test]
fn resnet50_cheetah_graph() {
    // OpenCheetah's Cheetah program fuses the BN after each block's conv1 and conv2 into the
    // conv (`USE_FUSED_BN`), all but the one after stages[1].blocks[1].conv2: 31 folded, 18
    // evaluated; so 18 truncations before a BN (after the max-pool, each residual add, the head's
    // and that conv's) and 49 after a ReLU (the log: 18 `Truncate` lines, 49 ReLUs).
    let n = load_network(&root().join("configs/models/resnet50-cheetah.json")).unwrap();
    let cf2 = load_network(&root().join("configs/models/resnet50-cf2.json")).unwrap();
    assert_eq!(n.layers.len(), cf2.layers.len());
    let folded = n
        .layers
        .iter()
        .filter(|l| l.op == Op::BatchNorm { folded: true })
        .count();
    assert_eq!(folded, 31);
    let plan = truncation_plan(&n);
    let before = plan
        .iter()
        .filter(|t| matches!(t, Truncation::BeforeProduct(_)))
        .count();
    let after = plan
        .iter()
        .filter(|t| matches!(t, Truncation::AfterRelu(_)))
        .count();
    assert_eq!((before, after), (18, 49));
    // The first one: the max-pool output, 64x56x56, before the first block's BN.
    assert_eq!(
        plan.iter().find(|t| **t != Truncation::None),
        Some(&Truncation::BeforeProduct(64 * 56 * 56))
    );
}

/// `configs/models/sqnet.json` is the graph OpenCheetah's SqueezeNet program runs: the ReLU
/// sizes, in order, and the max-pools are those its SCI_HE log lists, every truncation is the one
/// fused into a ReLU (the log shows `truncate=1` on all 26 and no separate truncation), and the
/// predicted traffic of those kinds is the code-exact figure checked in
/// `sqnet_sci_he_traffic_matches_the_measured_run`.
#[test]
fn sqnet_is_the_graph_opencheetah_runs() {
    let n = load_network(&root().join("configs/models/sqnet.json")).unwrap();
    let relus: Vec<u64> = n
        .layers
        .iter()
        .filter(|l| l.op == Op::Relu)
        .map(|l| l.output.elems())
        .collect();
    assert_eq!(
        relus,
        vec![
            200704, 50176, 200704, 200704, 50176, 200704, 200704, 23328, 93312, 93312, 23328,
            93312, 93312, 8112, 32448, 32448, 8112, 32448, 32448, 10816, 43264, 43264, 10816,
            43264, 43264, 169000
        ]
    );
    let pools: Vec<(u32, u32, u32)> = n
        .layers
        .iter()
        .filter(|l| matches!(l.op, Op::MaxPool(_)))
        .map(|l| (l.output.c, l.output.h, l.output.w))
        .collect();
    assert_eq!(pools, vec![(64, 56, 56), (128, 27, 27), (256, 13, 13)]);
    let plan = truncation_plan(&n);
    for (l, t) in n.layers.iter().zip(&plan) {
        match l.op {
            Op::Relu => assert_eq!(*t, Truncation::AfterRelu(l.output.elems()), "{}", l.path),
            _ => assert_eq!(*t, Truncation::None, "{}", l.path),
        }
    }
    let p = NonlinearParams {
        threads: 1,
        ..NonlinearParams::default()
    };
    let nl = network_nonlinear(&n, Protocol::Cryptflow2, &p).unwrap();
    let relu_bytes: u64 = n
        .layers
        .iter()
        .zip(&nl)
        .filter(|(l, _)| l.op == Op::Relu)
        .map(|(_, c)| c.bits / 8)
        .sum();
    let want: u64 = relus
        .iter()
        .map(|&k| {
            threaded(k, 1, |c| relu_field(c, 37)).bytes()
                + threaded(k, 1, |c| field_div(c, 4096, true, 37, 137352314881)).bytes()
        })
        .sum();
    assert_eq!(relu_bytes, want);
}

/// Per-kind bytes (both parties) as the frameworks log them: the truncations apart from the
/// layer they belong to.
fn kinds(n: &Network, p: &NonlinearParams) -> std::collections::BTreeMap<&'static str, u64> {
    let mut out = std::collections::BTreeMap::new();
    for (layer, (c, tb)) in n
        .layers
        .iter()
        .zip(network_nonlinear_split(n, Protocol::Cheetah, p).unwrap())
    {
        let (nl, t) = (c.bits / 8, tb / 8);
        *out.entry("Truncation").or_default() += t;
        let kind = match layer.op {
            Op::Relu | Op::Relu6 => "Relu",
            Op::MaxPool(_) => "Maxpool",
            Op::AvgPool(_) | Op::GlobalAvgPool => "Avgpool",
            Op::Argmax => "ArgMax",
            _ => continue,
        };
        *out.entry(kind).or_default() += nl - t;
    }
    out
}

/// OpenCheetah f71d4d4's Cheetah SqueezeNet (1 thread) and ResNet-50 (2 threads) runs,
/// `ell = 37`, `k = 12` (`results/measured/*-cheetah-*`): the per-kind "data (sent+received)"
/// its server printed, MiB, against the code-exact model (`packing::cheetah_nl`).
///
/// SqueezeNet agrees on every kind to the log's printed precision, Ferret refills included
/// (17 + 4 extensions of 559,456 bytes on the server's and the client's pool); the model's
/// count of chosen-choice COTs on the server's pool is the log's `Total #Ferret's RCOT`.
///
/// ResNet-50: ReLU +0.39% (+1.07 MiB: two Ferret refills the model places in a ReLU land in a
/// truncation in the run), truncation -3.49% (-1.31 MiB: those two refills, and the 100,352
/// elements of the one block-conv2 batch norm OpenCheetah's program does not fuse, `Truncate #6`
/// before `HomBN #2 via element-wise mult`, which the graph folds: 2.5 bytes each, 0.24 MiB);
/// max-pool, average pool and argmax agree to the printed precision. The paper's formulas were
/// off by +116% (ReLU), +821% / -20% (truncation), +15% / +14% (max-pool), -84% / -85%
/// (average pool) and -24% (argmax).
#[test]
fn cheetah_traffic_matches_the_measured_runs() {
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let sq = load_network(&root().join("configs/models/sqnet.json")).unwrap();
    let p1 = NonlinearParams {
        threads: 1,
        cheetah_ferret: Refills::Replay,
        ..NonlinearParams::default()
    };
    let got = kinds(&sq, &p1);
    for (kind, meas) in [
        ("Relu", 61.3328),
        ("Truncation", 4.84899),
        ("Maxpool", 154.57),
        ("Avgpool", 0.381312),
        ("ArgMax", 0.109762),
    ] {
        let pred = mib(got[kind]);
        assert!(
            (pred - meas).abs() <= 0.0006 + 5e-6 * meas,
            "sqnet {kind}: {pred} vs {meas}"
        );
    }
    let (_, st) = cheetah_code_run(&sq, &p1).unwrap();
    assert_eq!(st.chosen_cots(0)[0], 138_571_184);
    assert_eq!(st.extensions(0), [17, 4]);

    let rn = load_network(&root().join("configs/models/resnet50-cheetah.json")).unwrap();
    let p2 = NonlinearParams {
        threads: 2,
        cheetah_ferret: Refills::Replay,
        ..NonlinearParams::default()
    };
    let got = kinds(&rn, &p2);
    // (kind, measured MiB, relative tolerance)
    // With the one batch norm the program does not fuse evaluated (and truncated before it), every
    // kind equals the log to the digits it prints.
    for (kind, meas) in [
        ("Relu", 271.573),
        ("Truncation", 37.4886),
        ("Maxpool", 91.168),
        ("Avgpool", 0.746439),
        ("ArgMax", 0.109762),
    ] {
        let pred = mib(got[kind]);
        assert!(
            (pred - meas).abs() <= 0.0006,
            "resnet50 {kind}: {pred} vs {meas}"
        );
    }

    // Amortised refills (the default, additive per layer): within 5% on every kind, the total
    // within 0.2% (it pays for the part of the last extension the run has not used yet).
    for (n, threads, meas) in [
        (&sq, 1, [61.3328, 4.84899, 154.57, 0.381312, 0.109762]),
        (&rn, 2, [271.573, 37.4886, 91.168, 0.746439, 0.109762]),
    ] {
        let p = NonlinearParams {
            threads,
            ..NonlinearParams::default()
        };
        let got = kinds(n, &p);
        let names = ["Relu", "Truncation", "Maxpool", "Avgpool", "ArgMax"];
        for (kind, m) in names.iter().zip(meas) {
            let e = (mib(got[kind]) - m) / m;
            assert!(e.abs() < 0.05, "{} {kind}: {e}", n.name);
        }
        let all = mib(got.values().sum());
        let m: f64 = meas.iter().sum();
        assert!((all - m).abs() / m < 0.006, "{}: {all} vs {m}", n.name);
    }

    // The paper's per-element formulas, kept behind `"cheetah_nonlinear": "paper"`.
    let old = kinds(
        &sq,
        &NonlinearParams {
            threads: 1,
            ..paper()
        },
    );
    assert!(mib(old["Relu"]) > 2.0 * 61.3328);
}

/// A concatenation takes its operands at scale `f` (EzPC's Athos truncates every secret argument
/// of an uninterpreted call such as `Concat2T444` first): an operand holding a convolution's
/// unreduced products is truncated in place, unknown MSB, and charged to the concatenation; one
/// a ReLU already reduced costs nothing. DenseNet-121's programs do this in every dense layer.
#[test]
fn concat_truncates_its_unreduced_operands() {
    // 2x4x4: relu (reduced, 32) -> conv 3x3 -> 3 channels (unreduced, 48) -> concat with the
    // relu's output: the conv's 48 elements are truncated, the ReLU's 32 are not.
    let dense = r#"{"type": "relu", "name": "r"},
        {"type": "conv", "name": "c", "out_channels": 3, "kernel": 3, "padding": 1},
        {"type": "concat", "name": "cat", "input": "r", "from": "c"},
        {"type": "batchnorm", "name": "bn", "fold": false}"#;
    let n = net(dense, 2, 4, 4);
    assert_eq!(
        truncation_plan(&n),
        vec![
            Truncation::None,
            Truncation::None,
            Truncation::Operands(0, 48),
            Truncation::None
        ]
    );
    // The batch norm then reads a reduced tensor: no truncation before its product.
    let p = paper();
    let got = network_nonlinear(&n, Protocol::Cheetah, &p).unwrap();
    // The paper's approximate truncation with unknown MSB: 13*37 = 481 bits, 8 rounds.
    assert_eq!(got[2], c(0, 48, 48 * 481, 8));
    assert_eq!(got[3], c(0, 0, 0, 0));

    // Both operands unreduced: two truncations (the second operand's first), rounds in
    // sequence; the output is reduced.
    let both = r#"{"type": "conv", "name": "a", "out_channels": 2, "kernel": 1},
        {"type": "conv", "name": "b", "input": "input", "out_channels": 1, "kernel": 1},
        {"type": "concat", "name": "cat", "input": "a", "from": "b"}"#;
    let n = net(both, 2, 4, 4);
    assert_eq!(truncation_plan(&n)[2], Truncation::Operands(32, 16));
    let got = network_nonlinear(&n, Protocol::Cheetah, &p).unwrap();
    assert_eq!(got[2], c(0, 48, 48 * 481, 16));
    assert!(!output_untruncated(&n));
}
