//! CrypTFlow2 SCI_HE bytes as OpenCheetah's build sends them (SEAL 3.7.2 with zstd, moduli
//! {60, 60, 60, 49}): hand-derived sizes and the measured sqnet run.

use stria::he::seal_wire::{
    Segment, galois_key_indices, sci_ciphertext_bytes, sci_key_bytes, zstd_frame_bytes,
};
use stria::net::{Op, load_network};
use stria::packing::simd::{
    OPENCHEETAH_KEY_BITS, conv_fresh_keys, fresh_key_bytes_in, single_ct_bytes, vector_bytes,
};
use stria::packing::{CountConfig, Protocol, SciBuild, count_layer};

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn ciphertexts_over_60_bit_primes_travel_raw() {
    // Uploaded (3 primes) at N = 8192: members 89 B + 2*3*8192 words = 393,305 B, 4 zstd blocks
    // stored raw: frame 9 + 4*3 + 393,305; then SEAL's header 16 and OpenCheetah's length 8.
    assert_eq!(
        sci_ciphertext_bytes(8192, &[60, 60, 60]),
        8 + 16 + 9 + 12 + 393_305
    );
    // Returned (1 prime): 89 + 131,072 = 131,161 B in 2 blocks.
    assert_eq!(sci_ciphertext_bytes(8192, &[60]), 8 + 16 + 9 + 6 + 131_161);
    // N = 32768, 3 primes: 89 + 1,572,864 B in 13 blocks.
    assert_eq!(
        sci_ciphertext_bytes(32768, &[60, 60, 60]),
        24 + 9 + 13 * 3 + 1_572_953
    );
    // A vector: a 4-byte count in front (`send_encrypted_vector`).
    assert_eq!(
        vector_bytes(8192, 3, 5, SciBuild::OpenCheetah),
        4 + 5 * 393_350
    );
    assert_eq!(vector_bytes(8192, 3, 0, SciBuild::OpenCheetah), 0);
    // FC sends its ciphertext alone (`send_ciphertext`); EzPC's sizes stay 2*N*L*8.
    assert_eq!(single_ct_bytes(8192, 1, SciBuild::OpenCheetah), 131_200);
    assert_eq!(
        vector_bytes(8192, 3, 5, SciBuild::Ezpc),
        5 * 2 * 8192 * 3 * 8
    );
}

#[test]
fn zstd_blocks() {
    // 49-bit words: Huffman codes them (a full block: 115,552 B by the expected histogram, less the
    // sampling gain 130, plus 1 B of empty sequences and the block header).
    let b = zstd_frame_bytes(&[Segment::Words {
        count: 16384,
        bits: 49,
    }]);
    assert_eq!(b, 9 + 3 + 115_552 - 130 + 1);
    // zstd 1.5.4 -3 on synthetic blocks: 115,352 and 115,425 B (+9 frame +3 block header).
    assert!((b as i64 - (115_390 + 12)).abs() < 100, "{b}");
    // A zero run inside raw 60-bit words makes the block worth compressing: raw literals
    // (+3 header), one match sequence (4 + 2).
    let b = zstd_frame_bytes(&[
        Segment::Words {
            count: 8192,
            bits: 60,
        },
        Segment::Zeros(65_536),
    ]);
    assert_eq!(b, 9 + 3 + 65_536 + 3 + 4 + 2);
}

#[test]
fn galois_keys_of_create_galois_keys() {
    // 2N - 1, then 3^(2^i) and 3^(-2^i) mod 2N for i < log2 N - 1; 3^(N/4) = 3^(-N/4) once.
    let idx = galois_key_indices(16);
    // m = 32: 31, 3, 11 (3^-1 = 11), 9, 25 (11^2 = 121 = 25), 81 = 17, 625 = 17: {31,3,11,9,25,17}
    assert_eq!(idx, vec![1, 4, 5, 8, 12, 15]);
    for logn in 12..=16 {
        assert_eq!(
            galois_key_indices(1 << logn).len() as u64,
            2 * logn - 2,
            "{logn}"
        );
    }
}

#[test]
fn fresh_keys_per_build() {
    // OpenCheetah keeps 8192 and 65536 (`POLY_MOD_DEGREE_LARGE`), EzPC 8192 and 32768.
    for (n, oc, ez) in [
        (8192, false, false),
        (16384, true, true),
        (32768, true, false),
        (65536, false, true),
    ] {
        assert_eq!(conv_fresh_keys(n, SciBuild::OpenCheetah), oc, "{n}");
        assert_eq!(conv_fresh_keys(n, SciBuild::Ezpc), ez, "{n}");
    }
    // Uncompressed layout at N = 16384: public key 89 + 4*8*N + 81; Galois keys 40 + 8N + 26 keys
    // x (8 + 3 x (16 + 89 + 32N + 81)); plus two sizes and a 16-byte header each.
    let n = 16384u64;
    let raw = 16 + (16 + 89 + 32 * n + 81) + (16 + 40 + 8 * n + 26 * (8 + 3 * (186 + 32 * n)));
    let b = sci_key_bytes(n, &OPENCHEETAH_KEY_BITS);
    assert_eq!(b, fresh_key_bytes_in(n, SciBuild::OpenCheetah));
    // The zeros (8N) gone; the 49-bit polynomial of each of the 79 key ciphertexts Huffman-coded
    // to about 88% (a full block saves 15,650 B); 60-bit words raw. Blocks that straddle a 49-bit
    // polynomial and mostly hold 60-bit words stay raw, so the model sits a little above.
    let expect = raw - 8 * n - 79 * 15_650;
    assert!(
        (b as f64 / expect as f64 - 1.0).abs() < 0.005,
        "{b} vs {expect}"
    );
    // Half of SEAL 3.3.2's uncompressed unseeded keys at {60, 60, 60, 38} (82,974,399 B).
    assert!((b as f64 / 82_974_399.0 - 0.47).abs() < 0.02, "{b}");
}

/// The keys `ConvField` (8192, 65536), `FCField` (8192) and `ElemWiseProdField` (8192) make in the
/// program's setup (`library_fixed_uniform.cpp` 1479-1492) against the client's setup bytes
/// (241,687,256 in `client.log`; the rest is the base OTs, 184,970 B on the server's side).
#[test]
fn setup_keys_match_the_client_log() {
    let k = |n| sci_key_bytes(n, &OPENCHEETAH_KEY_BITS);
    let keys = 3 * k(8192) + k(65536);
    eprintln!(
        "keys: 8192 {}, 32768 {}, 65536 {}, setup {keys}",
        k(8192),
        k(32768),
        k(65536)
    );
    let logged = 241_687_256u64;
    assert!(keys < logged, "{keys}");
    assert!((logged - keys) as f64 / (logged as f64) < 0.005, "{keys}");
}

/// sqnet under SCI_HE as OpenCheetah f71d4d4's `sqnet-SCI_HE` ran it on one thread
/// (`results/measured/sqnet-SCI_HE-loopback-t1`): `Conv data sent` 103.055 MiB by the server (the
/// returned ciphertexts, exact), 444.415 MiB by the client (the uploaded ciphertexts, exact, and
/// four fresh key sets at N = 32768 for conv1's stride-2 sub-convolutions, an estimate).
#[test]
fn sqnet_conv_bytes_match_the_log() {
    let net = load_network(std::path::Path::new("configs/models/sqnet.json")).unwrap();
    let mut cfg = CountConfig::new(Protocol::Cryptflow2);
    cfg.sci_build = SciBuild::OpenCheetah;
    let (mut up, mut down) = (0u64, 0u64);
    let mut ez = 0u64;
    let ezcfg = CountConfig::new(Protocol::Cryptflow2);
    for l in net.layers.iter().filter(|l| matches!(l.op, Op::Conv(_))) {
        let c = count_layer(l, &cfg).unwrap().counts;
        up += c.bytes_up;
        down += c.bytes_down;
        let e = count_layer(l, &ezcfg).unwrap().counts;
        ez += e.bytes_up + e.bytes_down;
    }
    let (up, down) = (up as f64 / MIB, down as f64 / MIB);
    eprintln!(
        "client {up:.4} MiB, server {down:.4} MiB, EzPC both {:.4}",
        ez as f64 / MIB
    );
    assert!((down / 103.055 - 1.0).abs() < 1e-4, "server {down}");
    assert!((up / 444.415 - 1.0).abs() < 0.005, "client {up}");
    assert!(((up + down) / 547.470 - 1.0).abs() < 0.005);
    // EzPC's sizes: 217.0 MiB, 60% below.
    assert!((ez as f64 / MIB - 217.0).abs() < 0.5);
}
