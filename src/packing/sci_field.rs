//! SCI_HE's non-linear protocols as its code runs them: bytes each party sends and round trips.
//!
//! SCI_HE (CrypTFlow2's HE backend) keeps its shares in a prime field `Z_p` whose bit length is
//! the share bit length `eta` (SCI `utils/constants.h`, `default_prime_mod`: a prime just below
//! `2^eta` for `eta` = 32 .. 41; any other bit length falls back to 41 bits in
//! `library_fixed_uniform.cpp` `StartComputation`). Every non-linear layer is built from three
//! oblivious-transfer (OT) extensions, and this module replays, call by call, the OT invocations
//! of the code and the exact byte counts of each, including the batching and padding the code
//! does. The figures below follow OpenCheetah at f71d4d4 (`SCI/src`), which builds the SCI_HE
//! network programs; EzPC's `SCI/src` has the same protocols (non-`WAN_EXEC` build).
//!
//! The OT primitives (`OT/split-kkot.h`, `OT/split-iknp.h`, `OT/iknp.h`):
//!
//! - `SplitKKOT` (1-out-of-N, `N = 2 .. 256`, `lambda = 256`): the receiver sends 32 bytes per
//!   OT of the *padded* length (`recv_pre`: blocks of `min(16384, 256*ceil(n/256))` OTs); the
//!   sender sends the `N` masked messages of `l` bits, packed per batch of 2048 OTs into bytes
//!   (`l <= 8`) or 64-bit words (`l > 8`) (`got_send_post`).
//! - `SplitIKNP` (1-out-of-2, `lambda = 128`): 16 bytes per padded OT from the receiver (same
//!   padding); the sender packs `2*l` bits per OT per batch of 1024 (`got_send_post<T>`), or
//!   sends two 16-byte blocks per OT for block messages.
//! - `IKNP` (the non-split one in `otInstanceArr`, used only by the field division): the
//!   receiver always pads to a multiple of 16384 OTs (`padded_length` with a fixed block), 16
//!   bytes each; the sender packs `2*l` bits per OT into 64-bit words per batch of 1024.
//!
//! The protocols (`NonLinear/drelu-field.h`, `relu-field.h`, `maxpool.h`, `argmax.h`,
//! `Millionaire/millionaire.h`, `bit-triple-generator.h`, `functionalities_uniform.h`
//! `funcFieldDiv`): the millionaires' tree has radix `MILL_PARAM = 4`; its leaves are 1-of-16
//! KKOTs (the last, partial digit a 1-of-`2^r` KKOT, or an IKNP when `r = 1`); its AND gates use
//! bit triples from 1-of-8 KKOTs (two correlated triples per OT) and 1-of-16 KKOTs (two
//! standard triples per OT); each tree level exchanges the masked AND inputs, `2` bits per AND
//! per party. DReLU over `Z_p` compares on `eta + 1` bits, two comparisons per element in one
//! tree, then a 1-of-4 KKOT MUX; ReLU adds two IKNPs of `eta`-bit messages (one each way).
//! Truncation by `2^f` (and average pooling by `d`) is `funcFieldDiv`: a DReLU when the MSB is
//! unknown, a 1-of-4 KKOT of `eta + ceil(log2(6d))`-bit messages, a millionaires' on
//! `ceil(log2(6d)) - 1` bits over 2 (or 3) comparisons per element, and an IKNP of `eta`-bit
//! messages per comparison. After a ReLU the MSB is known to be zero and the DReLU is skipped
//! (`Relu` with `doTruncation`).
//!
//! Threads: `Relu`, `MaxPool` and the division split their (8-padded) elements into `threads`
//! chunks of `floor(n/(8T))*8`, the last taking the rest; each chunk runs its own OT calls (and
//! pads on its own). Argmax runs on one thread.
//!
//! Round trips: one per OT extension call (the receiver's matrix, then the sender's messages)
//! and one per AND-tree level, in the order the code issues them; chunks on different threads
//! run side by side, so a layer's rounds are those of its largest chunk. This is our count of
//! sequential exchanges, not the `Number of rounds` SCI's channel prints (that counts every
//! change of direction of the socket).
//!
//! Checked against OpenCheetah's SCI_HE SqueezeNet run (1 thread): ReLU, max-pool, average pool
//! and argmax traffic agree to the 0.001 MiB its log prints, the fused truncations to the
//! one-time base OTs of the division's IKNP (see `tests/nonlinear.rs`).

use super::nonlinear::ceil_log2;

/// Bytes sent by each party and round trips of one protocol run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes sent by the OT sender side of the code's `ALICE` (the server on even threads).
    pub alice: u64,
    /// Bytes sent by `BOB` (the client on even threads).
    pub bob: u64,
    /// Sequential round trips.
    pub rounds: u64,
}

impl Traffic {
    /// Both directions.
    pub fn bytes(&self) -> u64 {
        self.alice + self.bob
    }

    fn then(self, o: Traffic) -> Traffic {
        Traffic {
            alice: self.alice + o.alice,
            bob: self.bob + o.bob,
            rounds: self.rounds + o.rounds,
        }
    }

    /// Roles swapped: the receiver of an OT is `ALICE`.
    fn reversed(self) -> Traffic {
        Traffic {
            alice: self.bob,
            bob: self.alice,
            rounds: self.rounds,
        }
    }
}

/// SCI's prime for a share bit length (`utils/constants.h` `default_prime_mod`); lengths outside
/// the table fall back to 41 bits as `StartComputation` does. Returns `(bits, prime)`.
pub fn sci_prime(eta: u32) -> (u32, u64) {
    const TABLE: [(u32, u64); 10] = [
        (32, 4293918721),
        (33, 8585084929),
        (34, 17171218433),
        (35, 34359214081),
        (36, 68686184449),
        (37, 137352314881),
        (38, 274824036353),
        (39, 549753716737),
        (40, 1099480956929),
        (41, 2198100901889),
    ];
    TABLE
        .iter()
        .copied()
        .find(|&(b, _)| b == eta)
        .unwrap_or(TABLE[9])
}

/// Millionaires' radix of the compiled code (`MILL_PARAM`).
pub const MILL_PARAM: u64 = 4;

/// Padded length of a split OT extension (`recv_pre`): blocks of `min(16384, 256*ceil(n/256))`.
fn split_padded(n: u64) -> u64 {
    let block = 16384u64.min(256 * n.div_ceil(256));
    n.div_ceil(block) * block
}

/// Sender bytes of `n` OTs whose `k` messages of `l` bits are packed per batch of `batch`.
fn packed_messages(n: u64, k: u64, l: u64, batch: u64) -> u64 {
    let word = if l <= 8 { 1 } else { 8 };
    let full = n / batch;
    let rest = n % batch;
    let per = |b: u64| word * (k * b * l).div_ceil(8 * word);
    full * per(batch) + if rest > 0 { per(rest) } else { 0 }
}

/// `SplitKKOT<N>::send/recv` of `n` OTs with `l`-bit messages; `ALICE` is the sender.
pub fn kkot(big_n: u64, n: u64, l: u64) -> Traffic {
    if n == 0 {
        return Traffic::default();
    }
    Traffic {
        alice: packed_messages(n, big_n, l, 2048),
        bob: 32 * split_padded(n),
        rounds: 1,
    }
}

/// `SplitIKNP::send/recv` of `n` OTs with `l`-bit messages; `ALICE` is the sender.
pub fn iknp_split(n: u64, l: u64) -> Traffic {
    if n == 0 {
        return Traffic::default();
    }
    Traffic {
        alice: packed_messages(n, 2, l, 1024),
        bob: 16 * split_padded(n),
        rounds: 1,
    }
}

/// `SplitIKNP` with 128-bit block messages (`got_send_post(block128, block128)`).
fn iknp_split_blocks(n: u64) -> Traffic {
    Traffic {
        alice: 32 * n,
        bob: 16 * split_padded(n),
        rounds: 1,
    }
}

/// The non-split `IKNP` of `funcFieldDiv` with `l`-bit messages (`OT/iknp.h`).
fn iknp_plain(n: u64, l: u64) -> Traffic {
    if n == 0 {
        return Traffic::default();
    }
    Traffic {
        alice: packed_messages(n, 2, l, 1024),
        bob: 16 * n.div_ceil(16384) * 16384,
        rounds: 1,
    }
}

/// Digits, last-digit width and triple counts of a radix-`MILL_PARAM` comparison on `bits` bits
/// (`MillionaireProtocol::configure`; `sci::bitlen(x)` is `ceil(log2 x)`, `utils/utils.hpp`): `(num_digits, r, num_triples_corr, num_triples_std)`.
fn mill_shape(bits: u64) -> (u64, u64, u64, u64) {
    let nd = bits.div_ceil(MILL_PARAM);
    let r = bits % MILL_PARAM;
    let log_nd = ceil_log2(nd); // sci::bitlen is ceil(log2 x) (utils/utils.hpp)
    let corr = (2 * nd).saturating_sub(2 + 2 * log_nd);
    (nd, r, corr, log_nd)
}

/// Bit-triple generation (`TripleGenerator::generate`, `_8KKOT` and `_16KKOT_to_4OT`) and the
/// AND tree of `traverse_and_compute_ANDs` for `nc` comparisons of `nd` digits.
fn triples_and_tree(nd: u64, corr: u64, std: u64, nc: u64) -> Traffic {
    let mut t = kkot(8, corr * nc / 2, 2).then(kkot(16, std * nc / 2, 2));
    for ands in and_levels(nd) {
        // Each party sends e and f: one bit each per AND and comparison.
        let each = 2 * ands * nc / 8;
        t = t.then(Traffic {
            alice: each,
            bob: each,
            rounds: 1,
        });
    }
    t
}

/// ANDs per level of the millionaires' combining tree over `nd` digits
/// (`MillionaireProtocol::traverse_and_compute_ANDs`): level `i = 1, 2, 4, ...` merges node `j`
/// with `j + i`; the merge into the first node needs one AND (comparison), every other merge two
/// (comparison and equality). The same tree runs under SCI_HE and Cheetah.
pub fn and_levels(nd: u64) -> Vec<u64> {
    let mut levels = Vec::new();
    let mut i = 1;
    while i < nd {
        let mut ands = 0;
        let mut j = 0;
        while j + i < nd {
            ands += if j == 0 { 1 } else { 2 };
            j += 2 * i;
        }
        levels.push(ands);
        i *= 2;
    }
    levels
}

/// `MillionaireProtocol::compare` of `num_cmps` values on `bits` bits (non-`WAN_EXEC` build).
pub fn millionaire(num_cmps: u64, bits: u64) -> Traffic {
    if bits <= MILL_PARAM {
        return if bits > 1 {
            kkot(1 << bits, num_cmps, 1)
        } else {
            iknp_split(num_cmps, 1)
        };
    }
    let nc = num_cmps.div_ceil(8) * 8;
    let (nd, r, corr, std) = mill_shape(bits);
    let leaves = kkot(16, nc, 1).then(match r {
        0 => kkot(16, nc * (nd - 1), 2),
        1 => kkot(16, nc * (nd - 2), 2).then(iknp_split(nc, 2)),
        _ => kkot(16, nc * (nd - 2), 2).then(kkot(1 << r, nc, 2)),
    });
    leaves.then(triples_and_tree(nd, corr, std, nc))
}

/// `DReLUFieldProtocol::compute_drelu` of `n` elements (`n` a multiple of 8) on `bits` = eta + 1.
pub fn drelu_field(n: u64, bits: u64) -> Traffic {
    let (nd, r, corr, std) = mill_shape(bits);
    let leaves = kkot(16, n, 2).then(match r {
        0 => kkot(16, n * (nd - 1), 4),
        1 => kkot(16, n * (nd - 2), 4).then(iknp_split(n, 4)),
        _ => kkot(16, n * (nd - 2), 4).then(kkot(1 << r, n, 4)),
    });
    leaves
        .then(triples_and_tree(nd, corr, std, 2 * n))
        .then(kkot(4, n, 1))
}

/// `ReLUFieldProtocol::relu` of `n` elements: DReLU, then one IKNP each way of `eta`-bit shares.
pub fn relu_field(n: u64, eta: u64) -> Traffic {
    drelu_field(n, eta + 1)
        .then(iknp_split(n, eta))
        .then(iknp_split(n, eta).reversed())
}

/// `funcFieldDiv` of `n` elements by `divisor` over SCI's prime `p` of `eta` bits; `msb_known`:
/// the MSB share is given (after a ReLU) and no DReLU runs.
pub fn field_div(n: u64, divisor: u64, msb_known: bool, eta: u64, p: u64) -> Traffic {
    let bits_a = ceil_log2(6 * divisor);
    let mut t = if msb_known {
        Traffic::default()
    } else {
        drelu_field(n, eta + 1)
    };
    // A 1-of-4 KKOT of (field, small-ring) corrections packed in one word when they fit
    // (`OT1oo4FitsIn64Bits`), else two 64-bit halves of a block (`KKOT::send_impl(block128)`,
    // 4 blocks per OT, 32 bytes of receiver matrix).
    let total = eta + bits_a;
    t = t.then(if total <= 64 {
        kkot(4, n, total)
    } else {
        Traffic {
            alice: 4 * 16 * n,
            bob: 32 * n.div_ceil(16384) * 16384,
            rounds: 1,
        }
    });
    let comps = if 2 * (p % divisor) < divisor {
        2 * n
    } else {
        3 * n
    };
    t.then(millionaire(comps, bits_a - 1))
        .then(iknp_plain(comps, eta))
}

/// The thread chunks of `n` padded elements (`Relu`, `MaxPool`, `funcFieldDivWrapper`).
pub fn chunks(n: u64, threads: u64) -> impl Iterator<Item = u64> {
    let t = threads.max(1);
    let c = n / (8 * t) * 8;
    (0..t).map(move |i| if i + 1 < t { c } else { n - c * (t - 1) })
}

/// Runs `f` on each thread chunk of `n` elements (padded to 8), odd threads with roles swapped
/// as `StartComputation` sets them up; rounds are those of the slowest chunk.
pub fn threaded(n: u64, threads: u64, f: impl Fn(u64) -> Traffic) -> Traffic {
    let padded = n.div_ceil(8) * 8;
    let mut total = Traffic::default();
    for (i, c) in chunks(padded, threads).enumerate() {
        if c == 0 {
            continue;
        }
        let t = f(c);
        let t = if i % 2 == 1 { t.reversed() } else { t };
        total.alice += t.alice;
        total.bob += t.bob;
        total.rounds = total.rounds.max(t.rounds);
    }
    total
}

/// `ArgMaxProtocol::ArgMaxMPC` over `size` values (one thread): a tournament whose levels pad
/// the number of pairs to a multiple of 8 (and stop after five levels stuck at 8); each level
/// is a DReLU plus one IKNP each way carrying value and index shares (two 64-bit halves of a
/// block for `eta > 32`, `2*eta`-bit messages otherwise).
pub fn argmax(size: u64, eta: u64) -> Traffic {
    let mut nodes = size + (size & 1);
    let mut stuck = 0;
    let mut t = Traffic::default();
    while nodes > 1 {
        let child = nodes.div_ceil(2).div_ceil(8) * 8;
        if child == 8 {
            stuck += 1;
        }
        if stuck >= 5 {
            break;
        }
        let mux = if eta > 32 {
            iknp_split_blocks(child)
        } else {
            iknp_split(child, 2 * eta)
        };
        t = t
            .then(drelu_field(child, eta + 1))
            .then(mux)
            .then(mux.reversed());
        nodes = child;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_of_split_extensions() {
        // Up to 16384 OTs: padded to a multiple of 256; above: to a multiple of 16384.
        assert_eq!(split_padded(1), 256);
        assert_eq!(split_padded(8192), 8192);
        assert_eq!(split_padded(16385), 32768);
        assert_eq!(split_padded(200704), 13 * 16384);
    }

    #[test]
    fn kkot_by_hand() {
        // 1000 1-of-16 OTs of 2-bit messages: 1024 padded OTs x 32 bytes from the receiver;
        // 16*1000*2 bits = 4000 bytes from the sender (one batch).
        let t = kkot(16, 1000, 2);
        assert_eq!((t.alice, t.bob, t.rounds), (4000, 32 * 1024, 1));
        // 1-of-4 with 52-bit messages, 3000 OTs: batches of 2048 and 952 packed in words.
        let t = kkot(4, 3000, 52);
        assert_eq!(
            t.alice,
            8 * (4 * 2048 * 52u64).div_ceil(64) + 8 * (4 * 952 * 52u64).div_ceil(64)
        );
    }

    #[test]
    fn millionaire_shape_by_hand() {
        // 38 bits, radix 4: 10 digits, last digit 2 bits, bitlen(10) = 4 standard triples and
        // 2*10 - 2 - 8 = 10 correlated ones; the tree merges 9 times over 4 levels.
        assert_eq!(mill_shape(38), (10, 2, 10, 4));
        // 14 bits (truncation by 2^12): 4 digits, r = 2; `sci::bitlen(4)` = ceil(log2 4) = 2
        // standard triples and 2*4 - 2 - 4 = 2 correlated ones (the tree's 3 + 1 ANDs).
        assert_eq!(mill_shape(14), (4, 2, 2, 2));
    }

    #[test]
    fn relu_field_per_element_at_8192() {
        // One chunk of 8192 ReLUs at eta = 37, worked out from the calls above:
        // leaves: 1-of-16 (n, 2 bits) + 1-of-16 (8n, 4 bits) + 1-of-4 (n, 4 bits);
        // triples: 1-of-8 (10*2n/2) + 1-of-16 (4*2n/2) of 2 bits; AND tree: 9 merges of
        // which 5 need two ANDs, 14 ANDs (= 10 + 4 triples) x 2n
        // comparisons x 2 bits each way; MUX 1-of-4 (n, 1 bit); two IKNPs of 37-bit shares.
        let n = 8192u64;
        let leaves = (32 * n + 16 * n * 2 / 8)
            + (32 * 8 * n + 16 * 8 * n * 4 / 8)
            + (32 * n + 4 * n * 4 / 8);
        let triples = (32 * 10 * n + 8 * 10 * n * 2 / 8) + (32 * 4 * n + 16 * 4 * n * 2 / 8);
        let ands = 2 * (2 * 14 * 2 * n / 8);
        let mux = 32 * n + 4 * n / 8;
        let iknp = 2 * (16 * n + 2 * n * 37 / 8);
        assert_eq!(
            relu_field(n, 37).bytes(),
            leaves + triples + ands + mux + iknp
        );
    }

    #[test]
    fn threads_split_and_swap_roles() {
        let one = threaded(16000, 1, |c| relu_field(c, 37));
        let two = threaded(16000, 2, |c| relu_field(c, 37));
        // 8000 + 8000: each chunk pads to 8192 on its own; roles alternate.
        assert_eq!(two.bytes(), 2 * relu_field(8000, 37).bytes());
        assert_eq!(two.alice, two.bob);
        assert!(one.bytes() < two.bytes());
        assert_eq!(chunks(1000, 3).collect::<Vec<_>>(), vec![328, 328, 344]);
    }

    #[test]
    fn prime_table() {
        assert_eq!(sci_prime(37), (37, 137352314881));
        assert_eq!(sci_prime(20), (41, 2198100901889));
        // Truncation by 2^12 at eta = 37: p mod 4096 = 1, so two comparisons per element.
        assert_eq!(137352314881u64 % 4096, 1);
    }
}
