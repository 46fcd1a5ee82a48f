//! Cheetah coefficient packing on hand-derived cases (background.md 4.3-4.8, 5.2).

use stria::cost::OpCounts;
use stria::net::{Network, build, parse_spec};
use stria::packing::coeff::{DepthwiseMode, Partition, fc_split, kept_bits};
use stria::packing::{CountConfig, Protocol, count_layer};

fn net(layers: &str, c: u32, h: u32, w: u32) -> Network {
    let text = format!(
        r#"{{"name": "t", "input": {{"channels": {c}, "height": {h}, "width": {w}}}, "layers": [{layers}]}}"#
    );
    build(&parse_spec(&text, "t.json").unwrap(), "t.json").unwrap()
}

/// Counts of the last layer of `layers` under Cheetah with `partition`.
fn cheetah(layers: &str, c: u32, h: u32, w: u32, partition: Partition) -> (OpCounts, u64) {
    let n = net(layers, c, h, w);
    let mut cfg = CountConfig::new(Protocol::Cheetah);
    cfg.cheetah.partition = partition;
    let lc = count_layer(n.layers.last().unwrap(), &cfg).unwrap();
    (lc.counts, lc.cn.unwrap_or(0))
}

// A ReLU in front makes the conv read a secret-shared tensor (AddPlain of the server share).
const RELU: &str = r#"{"type": "relu"}, "#;

#[test]
fn returned_ciphertext_bits() {
    // t = 2^37 (bit count 38), q0 = 60 bits, N = 4096: n_delta = 22; c0 drops 22 - 1 = 21 bits
    // (keeps 39); n_var = floor(log2(12*4096*sqrt(1/18))) = floor(log2(11585.2)) = 13, c1 drops
    // 22 - 13 = 9 (keeps 51).
    assert_eq!(kept_bits(4096, 60, 38, true), (39, 51));
    // A 39-bit CRT prime (HomBN): n_delta = 21; c0 drops 21 - 1 - 1 = 19 (keeps 41), c1 drops 8.
    assert_eq!(kept_bits(4096, 60, 39, false), (41, 52));
}

#[test]
fn small_image_conv() {
    // 16x16, 256 -> 256, 3x3 SAME: padded 18x18 = 324 <= 4096, Cw = min(4096/324 = 12, 256,
    // 4096/9) = 12, dC = ceil(256/12) = 22, one spatial block. in 22, products 256*22 = 5632,
    // out 256 RLWE. Adds: 256*(22-1) = 5376 accumulations + 22 AddPlain of the server share.
    let conv = r#"{"type": "conv", "out_channels": 256, "kernel": 3, "padding": 1}"#;
    let (c, cw) = cheetah(&format!("{RELU}{conv}"), 256, 16, 16, Partition::Heuristic);
    assert_eq!(cw, 12);
    assert_eq!(
        (c.ct_up, c.scmult, c.ct_down, c.add),
        (22, 5632, 256, 5376 + 22)
    );
    assert_eq!(c.internal_rot + c.external_rot + c.key_switch, 0);
    // Bytes: in 22 * 4096*109/8 = 22 * 55,808 = 1,227,776; out 256 * (4096*51 + 256*39)/8 =
    // 256 * 27,360 = 7,004,160 (256 used coefficients per returned ciphertext).
    assert_eq!((c.bytes_up, c.bytes_down), (1_227_776, 7_004_160));
    // The first layer reads the client's own input: no AddPlain.
    let (first, _) = cheetah(conv, 256, 16, 16, Partition::Heuristic);
    assert_eq!(first.add, 5376);
    // The paper's search finds the same partition (background 4.8).
    let (s, _) = cheetah(conv, 256, 16, 16, Partition::Search);
    assert_eq!((s.ct_up, s.scmult, s.ct_down), (22, 5632, 256));
}

#[test]
fn large_image_conv_needs_spatial_blocks() {
    // 64x64, 3 -> 64, 3x3 SAME: padded 66x66 = 4356 > 4096: Cw = 1,
    // Hw = min(floor(sqrt(4096*66/66)), 66) = 64, Ww = min(4096/64, 66) = 64;
    // dH = dW = 1 + ceil((66 - 64)/(64 - 3 + 1)) = 2; dC = 3. in 3*2*2 = 12, products 64*12 = 768,
    // out 64*4 = 256.
    let conv = r#"{"type": "conv", "out_channels": 64, "kernel": 3, "padding": 1}"#;
    let (c, cw) = cheetah(conv, 3, 64, 64, Partition::Heuristic);
    assert_eq!((cw, c.ct_up, c.scmult, c.ct_down), (1, 12, 768, 256));
    // Search: blocks 3 x 18 x 66 (Cw = floor(4096/1188) = 3), dH = ceil(64/16) = 4, dW = 1: 4
    // client ciphertexts; 64*4 = 256 products and returned ciphertexts.
    let (s, scw) = cheetah(conv, 3, 64, 64, Partition::Search);
    assert_eq!((scw, s.ct_up, s.scmult, s.ct_down), (3, 4, 256, 256));
}

#[test]
fn strided_convs() {
    // 32x32, 64 -> 128, 3x3 SAME stride 2: computed at stride 1 in a 34x34 block (1156):
    // Cw = 3, dC = 22: in 22, products 128*22 = 2816, out 128.
    let c3 = r#"{"type": "conv", "out_channels": 128, "kernel": 3, "stride": 2, "padding": 1}"#;
    let (c, _) = cheetah(c3, 64, 32, 32, Partition::Heuristic);
    assert_eq!((c.ct_up, c.scmult, c.ct_down), (22, 2816, 128));
    // Out bytes: 128 ciphertexts, 128*16*16 used coefficients: (128*4096*51 + 32768*39)/8.
    assert_eq!(c.bytes_down, (128 * 4096 * 51 + 32768 * 39) / 8);
    // 1x1 stride 2: sub-sampled first to 16x16 = 256: Cw = 16, dC = 4: in 4, products 512, out 128.
    let c1 = r#"{"type": "conv", "out_channels": 128, "kernel": 1, "stride": 2}"#;
    let (c, cw) = cheetah(c1, 64, 32, 32, Partition::Heuristic);
    assert_eq!((cw, c.ct_up, c.scmult, c.ct_down), (16, 4, 512, 128));
    // The paper does not sub-sample: 32x32 blocks, Cw = 4, 16 client ciphertexts.
    let (s, _) = cheetah(c1, 64, 32, 32, Partition::Search);
    assert_eq!(s.ct_up, 16);
}

#[test]
fn fc_split_and_counts() {
    // 512 -> 200 at N = 4096 (background 4.5): (now, niw) = (29, 128): ceil(512/128) = 4 input,
    // ceil(200/29) = 7 output ciphertexts, 28 products; 29 is the first `now` reaching cost 11
    // (now = 28: niw <= 146, 4 inputs, 8 outputs = 12).
    assert_eq!(fc_split(512, 200, 4096), (29, 128));
    let (c, _) = cheetah(
        r#"{"type": "fc", "out_features": 200}"#,
        512,
        1,
        1,
        Partition::Heuristic,
    );
    assert_eq!((c.ct_up, c.ct_down, c.scmult), (4, 7, 28));
    // Adds: each of the 7 outputs sums 4 products: 7*3 = 21.
    assert_eq!(c.add, 21);
    // Out bytes: 7 ciphertexts, 200 used coefficients.
    assert_eq!(c.bytes_down, (7 * 4096 * 51 + 200 * 39_u64).div_ceil(8));
    // A small FC fits one block: 64 -> 10, 640 <= 4096: now = 1 gives niw = 64 (cost 1 + 10);
    // the cost falls until now = 10 (1 + 1 = 2).
    assert_eq!(fc_split(64, 10, 4096), (10, 64));
}

#[test]
fn depthwise_both_layouts() {
    // 16x16, 192 channels, 3x3 pad 1 (background 5.2): padded 18x18, Cw = 12, dC = 16.
    // HomConv with zero blocks skipped: in 16, each of the 192 kernels touches 1 block: products
    // and out 192. Stacked: Cw = floor(sqrt(4096/324)) = 3: 64 for all three.
    let dw = r#"{"type": "depthwise", "kernel": 3, "padding": 1}"#;
    let n = net(dw, 192, 16, 16);
    let mut cfg = CountConfig::new(Protocol::Cheetah);
    let a = count_layer(&n.layers[0], &cfg).unwrap().counts;
    assert_eq!((a.ct_up, a.scmult, a.ct_down), (16, 192, 192));
    cfg.cheetah.depthwise = DepthwiseMode::Stacked;
    let b = count_layer(&n.layers[0], &cfg).unwrap().counts;
    assert_eq!((b.ct_up, b.scmult, b.ct_down), (64, 64, 64));
}

#[test]
fn grouped_conv_touches_its_blocks() {
    // 16x16, 48 -> 48, 3x3 pad 1, 4 groups of 12: Cw = 12, dC = 4; each group's 12 inputs sit in
    // exactly one block: products 48*1 = 48; in 4, out 48.
    let g = r#"{"type": "conv", "out_channels": 48, "kernel": 3, "padding": 1, "groups": 4}"#;
    let (c, _) = cheetah(g, 48, 16, 16, Partition::Heuristic);
    assert_eq!((c.ct_up, c.scmult, c.ct_down), (4, 48, 48));
    // 6 groups of 8 with blocks of 12: groups 0..5 start at 0, 8, 16, 24, 32, 40 and touch
    // 1, 2, 1, 1, 2, 1 blocks: 8 per output channel of a group -> 8*8 = 64 products.
    let g6 = r#"{"type": "conv", "out_channels": 48, "kernel": 3, "padding": 1, "groups": 6}"#;
    let (c, _) = cheetah(g6, 48, 16, 16, Partition::Heuristic);
    assert_eq!(c.scmult, 64);
}

#[test]
fn batchnorm_unfolded_uses_homebn() {
    // 64x56x56 = 200,704 values: ceil(200704/4096) = 49 pieces under each of 3 CRT primes of 39
    // bits (2*37 + 1 + 40 = 115 bits): 147 ciphertexts each way, one product each. Every
    // coefficient is used: 147 * 4096 * (52 + 41) / 8 bytes down.
    let (c, _) = cheetah(
        r#"{"type": "relu"}, {"type": "batchnorm"}"#,
        64,
        56,
        56,
        Partition::Heuristic,
    );
    assert_eq!((c.ct_up, c.ct_down, c.scmult), (147, 147, 147));
    assert_eq!(c.bytes_up, 147 * 55_808);
    assert_eq!(c.bytes_down, 147 * 4096 * 93 / 8);
    assert_eq!(stria::packing::coeff::bn_crt(37), (3, 39));
    // A BN on the network input (the client's own tensor): no AddPlain (`HomBNSS::bn` adds the
    // server share only to shared inputs).
    let (first, _) = cheetah(r#"{"type": "batchnorm"}"#, 64, 56, 56, Partition::Heuristic);
    assert_eq!((first.scmult, first.add), (147, 0));
}
