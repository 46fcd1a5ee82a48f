//! Cheetah's non-linear protocols as OpenCheetah's code runs them: bytes each party sends and
//! round trips, Ferret's own extension traffic included.
//!
//! The figures follow OpenCheetah at f71d4d4 (`SCI/src`, built with `USE_CHEETAH=1`) and the
//! emp-ot it builds against (7f3d4f0, `emp-ot/ferret`). Shares live in `Z_(2^l)`.
//!
//! # OT primitives (`OT/cheetah-ot_pack.h`, `OT/ferret/silent_ot.h`)
//!
//! Every OT of the Cheetah build is a `cheetah::SilentOT` over emp-ot's `FerretCOT`: `kkot[i]`
//! (1-of-`2^(i+1)`) and `iknp_straight` use `silent_ot`, in which the thread's `ALICE` is the
//! sender; `iknp_reversed` uses `silent_ot_reversed`, in which `BOB` is. Random correlated OTs
//! come out of a pool Ferret refills on demand; what goes over the wire per call is:
//!
//! - chosen-choice COTs (`FerretCOT::send_cot`/`recv_cot`, `online_recver`): the receiver sends
//!   its choice corrections with `send_bool`, one byte per 8 choices plus one byte per left-over
//!   choice (`IOChannel::send_bool_aligned`): [`bool_bytes`];
//! - every derandomised call (`send_ot_cm_cc`, `send_ot_cam_cc`, `send_ot_rm_cc`,
//!   `send_ot_rm_rc`): a 16-byte hash seed from the sender (`send_block(&s, 1)`);
//! - `send_ot_cm_cc<T>(data, n, l)` (1-of-2, `l`-bit messages): per batch of `ot_bsize = 8`
//!   OTs, `ceil(2*b*l / (8*sizeof T))` words of `T` (`Run::ot2`);
//! - `send_ot_cam_cc` (`send_cot`: additive correlation, `l`-bit): per batch of 8,
//!   `ceil(b*l/64)` 64-bit words (`Run::cot_add`);
//! - `send_ot_cm_cc<T>(data, n, N, l)` (1-of-`N`): `n*log2(N)` chosen-choice COTs, then per
//!   batch of 8, `ceil(b*N*l / (8*sizeof T))` words (`Run::kkot`);
//! - `send_ot_cm_cc(block, block)` (128-bit messages): two blocks per OT;
//! - `send_ot_rm_rc` (random OTs of the `_2ROT` bit triples): the seed only.
//!
//! Ferret (`FerretCOT::rcot`, `extend_f2k`; `MpcotReg`, `OTPre`, `SPCOT_Sender::send_f2k`,
//! `LpnF2::seed_gen`; `constants.h`): each pool holds `ot_limit = N_REG - M` COTs, `M = K_REG +
//! 13*T_REG + 128` reserved for the next extension. When a call needs more than are left, every
//! extension (`ceil` of the shortfall over `ot_limit`) has the pool's sender send, for each of
//! the `T_REG = 1295` GGM trees, 13 pairs of blocks and one block of sums, plus a 16-byte LPN
//! seed: 559,456 bytes; the receiver sends nothing (semi-honest, choices taken from the
//! pre-OTs). The setup's warm-up `rcot(1)` (in `SilentOT`'s constructor) leaves each pool at
//! `ot_limit - 1`. There are two pools per thread (one per direction), and their state carries
//! over from layer to layer: in the run, a layer pays for a refill when it is the one that drains
//! a pool ([`Refills::Replay`], exact to a whole run in order). By default each COT pays its
//! share instead ([`Refills::Amortized`]), so a layer's cost does not depend on what ran before.
//!
//! # Protocols
//!
//! - Millionaires' (`Millionaire/millionaire.h`, `compare`, the `USE_CHEETAH` branches): radix 4,
//!   comparisons padded to 8; all `num_digits` leaves in one 1-of-16 OT call with 2-bit
//!   messages (the WAN-style leaves, even for a short last digit); `2*nd - 2 - ceil(log2 nd)` bit
//!   triples per comparison (`sci::bitlen`) from two random OTs each (`_2ROT`,
//!   `bit-triple-generator.h`); the AND tree sends 2 bits per AND per party per level. At most 4
//!   bits: a single 1-of-`2^bits` OT (or a 1-of-2 one) of 1-bit messages.
//! - ReLU (`NonLinear/relu-ring.h`, `relu` with `approx = true`, as `Relu` in
//!   `library_fixed_uniform.cpp` calls it): the comparison drops the low `lo = f` bits (`3f/2`
//!   when the ReLU truncates afterwards) and rounds to whole digits: `bits = this_l - 1`,
//!   `this_l = l - lo - ((l - lo - 1) mod 4)`; then `AuxProtocols::multiplexer`: one `l`-bit
//!   `send_cot` each way.
//! - Truncation by `f` (`BuildingBlocks/truncation-cheetah.cpp`, `truncate_msb0`, reached by both
//!   `funcReLUTruncateTwoPowerRingWrapper` after a ReLU and `ScaleDown` before a product:
//!   `truncate` with no MSB applies the `msb0` heuristic): `msb1_to_wrap`, a 1-of-2 OT of 1-bit
//!   messages, then `B2A` to `f` bits, an `f`-bit `send_cot`. Known and unknown MSB cost the same.
//! - Max-pool (`NonLinear/maxpool.h`, `funcMaxMPC`): `d - 1` sequential ReLUs, not approximate:
//!   a comparison on `l - 1` bits plus the multiplexer.
//! - Average pool (`functionalities_uniform.h`, `funcAvgPoolTwoPowerRing`): a comparison on
//!   `l - 1` bits (`relu` with `skip_ot`), a 1-of-4 OT of `l + bitsA`-bit messages
//!   (`bitsA = ceil(log2(6d))`), a comparison on `bitsA - 1` bits of 2 (3 when
//!   `2*(2^l mod d) >= d`) values per element, and a 64-bit COT of the classic IKNP
//!   (`otInstanceArr`, `IKNP::send_cot_moduloAdd`): 8 bytes per COT from the sender, 16 bytes
//!   per COT padded to 16384 from the receiver, and, on the thread's first use, its 128 base OTs
//!   (`OT/np.h`, 69-byte uncompressed points).
//! - Argmax (`NonLinear/argmax.h`, `ArgMaxMPC`, one thread): the tournament of SCI_HE
//!   ([`super::sci_field::argmax`]), each level a comparison on `l - 1` bits and one block OT
//!   each way (`l > 32`, `argmax_this_level_super_32`) or one OT of 64-bit messages each way
//!   (`argmax_this_level_sub_32`).
//!
//! Threads: `Relu`, `MaxPool`, the truncations and average pooling split their 8-padded elements
//! into `threads` chunks of `floor(n/(8T))*8` (the last takes the rest), each on its own
//! `OTPack` and Ferret pools, odd threads with the roles swapped.
//!
//! Round trips: one per OT call, one per AND-tree level, one for the triples, one per Ferret
//! refill; chunks run side by side.

use super::nonlinear::ceil_log2;
use super::sci_field::{Traffic, chunks};

/// emp-ot's `ot_bsize`: OTs per derandomisation batch.
const OT_BSIZE: u64 = 8;
/// `N_REG` of emp-ot's Ferret (`ferret/constants.h`).
pub const FERRET_N: u64 = 10_608_640;
/// `T_REG`: GGM trees per extension.
pub const FERRET_T: u64 = 1295;
/// `K_REG`.
pub const FERRET_K: u64 = 589_824;
/// `BIN_SZ_REG`: tree depth minus one.
pub const FERRET_LOG_BIN: u64 = 13;
/// COTs kept for the next extension: `M = k + (tree_height - 1)*tree_n + 128`.
pub const FERRET_M: u64 = FERRET_K + FERRET_LOG_BIN * FERRET_T + 128;
/// Usable COTs per extension, `ot_limit = n - M`.
pub const FERRET_LIMIT: u64 = FERRET_N - FERRET_M;
/// Bytes the pool's sender sends per extension: `T*(13*32 + 16) + 16`.
pub const FERRET_EXTEND_BYTES: u64 = FERRET_T * (FERRET_LOG_BIN * 32 + 16) + 16;
/// Bytes of the 128 Naor-Pinkas base OTs of a classic IKNP, sent by the base-OT sender (the
/// IKNP receiver): `C`, 128 points `g^r` (4-byte length + 65 bytes each) and 128 pairs of
/// blocks.
pub const IKNP_BASE_SENDER: u64 = 69 + 128 * 69 + 128 * 32;
/// Bytes of the base OTs from the base-OT receiver (the IKNP sender): 128 points.
pub const IKNP_BASE_RECEIVER: u64 = 128 * 69;

/// Which party of a thread sends in an OT: `A`, its `ALICE` (`silent_ot`, `kkot`,
/// `iknp_straight`), or `B`, its `BOB` (`silent_ot_reversed`, `iknp_reversed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    A,
    B,
}

/// The state one thread's OTs carry from call to call: its two Ferret pools and whether its
/// classic IKNP has run its base OTs.
#[derive(Debug, Clone)]
pub struct ThreadState {
    /// COTs left in the pool where `ALICE`, then `BOB`, sends.
    left: [u64; 2],
    iknp_ready: bool,
    refills: Refills,
    /// Chosen-choice COTs drawn from each pool (OpenCheetah counts those of `silent_ot` in
    /// `SilentOT::get_rcot_count`).
    chosen: [u64; 2],
    /// Extensions run by each pool.
    extends: [u64; 2],
}

impl Default for ThreadState {
    fn default() -> Self {
        ThreadState {
            left: [FERRET_LIMIT - 1; 2],
            iknp_ready: false,
            refills: Refills::Amortized,
            chosen: [0; 2],
            extends: [0; 2],
        }
    }
}

/// How Ferret's extension traffic is charged.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Refills {
    /// Every COT drawn pays its share of an extension (559,456 bytes per 10,001,853 COTs), and
    /// every average pool its IKNP base OTs: a layer's cost does not depend on the layers
    /// before it, so costs add up block by block (the search's memoised tables). Default.
    #[default]
    Amortized,
    /// The pools' state carried from layer to layer as the run has it: an extension is charged
    /// whole to the call that drains a pool, base OTs to a thread's first average pool. Exact to
    /// a whole run, in order.
    Replay,
}

/// Ferret and IKNP state of a whole run, one entry per thread.
#[derive(Debug, Clone)]
pub struct CheetahState {
    threads: Vec<ThreadState>,
}

impl CheetahState {
    /// A fresh run on `threads` threads, right after `StartComputation`.
    pub fn new(threads: u64, refills: Refills) -> CheetahState {
        let t = ThreadState {
            refills,
            ..ThreadState::default()
        };
        CheetahState {
            threads: vec![t; threads.max(1) as usize],
        }
    }

    /// Number of threads.
    pub fn threads(&self) -> u64 {
        self.threads.len() as u64
    }

    /// Chosen-choice COTs drawn so far on thread `i`, from the pool where its `ALICE` sends and
    /// from the one where its `BOB` does.
    pub fn chosen_cots(&self, i: usize) -> [u64; 2] {
        self.threads[i].chosen
    }

    /// Ferret extensions run so far on thread `i`, per pool.
    pub fn extensions(&self, i: usize) -> [u64; 2] {
        self.threads[i].extends
    }

    /// COTs left in thread `i`'s pools.
    pub fn left(&self, i: usize) -> [u64; 2] {
        self.threads[i].left
    }
}

/// Bytes of `send_bool` of `n` choices: one per 8, one per left-over choice.
pub fn bool_bytes(n: u64) -> u64 {
    n / 8 + n % 8
}

/// Sum over the `ot_bsize` batches of `n` OTs of `per(batch size)`.
fn batched(n: u64, per: impl Fn(u64) -> u64) -> u64 {
    let full = n / OT_BSIZE;
    let rest = n % OT_BSIZE;
    full * per(OT_BSIZE) + if rest > 0 { per(rest) } else { 0 }
}

/// One thread's protocol run: its state and the traffic so far (`alice`/`bob` are the
/// thread's roles).
struct Run<'a> {
    st: &'a mut ThreadState,
    t: Traffic,
}

impl Run<'_> {
    fn send(&mut self, dir: Dir, bytes: u64) {
        match dir {
            Dir::A => self.t.alice += bytes,
            Dir::B => self.t.bob += bytes,
        }
    }

    fn recv_side(dir: Dir) -> Dir {
        match dir {
            Dir::A => Dir::B,
            Dir::B => Dir::A,
        }
    }

    /// `FerretCOT::rcot` of `num` COTs from the pool of `dir`: refills when it runs dry
    /// ([`Refills::Replay`]), or pays its share of an extension, `num * 559456 / 10001853`
    /// bytes rounded ([`Refills::Amortized`]).
    fn rcot(&mut self, dir: Dir, num: u64) {
        if self.st.refills == Refills::Amortized {
            let bytes = (num * FERRET_EXTEND_BYTES + FERRET_LIMIT / 2) / FERRET_LIMIT;
            self.send(dir, bytes);
            return;
        }
        let left = &mut self.st.left[dir as usize];
        if num <= *left {
            *left -= num;
            return;
        }
        let rest = num - *left;
        // `(num - gened - M) / ot_limit` in signed arithmetic (truncates towards zero).
        let inplace = rest.saturating_sub(FERRET_M) / FERRET_LIMIT;
        let mut last = rest - inplace * FERRET_LIMIT;
        let memcpy = last > FERRET_LIMIT;
        if memcpy {
            last -= FERRET_LIMIT;
        }
        let extends = inplace + memcpy as u64 + (last > 0) as u64;
        *left = if last > 0 {
            FERRET_LIMIT - last
        } else if memcpy {
            FERRET_LIMIT
        } else {
            0
        };
        self.st.extends[dir as usize] += extends;
        self.send(dir, extends * FERRET_EXTEND_BYTES);
        self.t.rounds += extends;
    }

    /// Chosen-choice COTs: pool use and the receiver's choice corrections.
    fn cot(&mut self, dir: Dir, n: u64) {
        self.st.chosen[dir as usize] += n;
        self.rcot(dir, n);
        self.send(Self::recv_side(dir), bool_bytes(n));
    }

    /// `send_ot_cm_cc<T>(data, n, l)`: 1-of-2 OTs of `l`-bit messages in words of `word` bytes.
    fn ot2(&mut self, dir: Dir, n: u64, l: u64, word: u64) {
        if n == 0 {
            return;
        }
        self.cot(dir, n);
        let msgs = batched(n, |b| (2 * b * l).div_ceil(8 * word) * word);
        self.send(dir, 16 + msgs);
        self.t.rounds += 1;
    }

    /// `send_ot_cam_cc` (`send_cot`): additive-correlation COTs of `l` bits.
    fn cot_add(&mut self, dir: Dir, n: u64, l: u64) {
        if n == 0 {
            return;
        }
        self.cot(dir, n);
        let msgs = batched(n, |b| (b * l).div_ceil(64) * 8);
        self.send(dir, 16 + msgs);
        self.t.rounds += 1;
    }

    /// 1-of-`big_n` OTs of `l`-bit messages packed in words of `word` bytes.
    fn kkot(&mut self, dir: Dir, big_n: u64, n: u64, l: u64, word: u64) {
        if n == 0 {
            return;
        }
        self.cot(dir, n * ceil_log2(big_n));
        let msgs = batched(n, |b| (b * big_n * l).div_ceil(8 * word) * word);
        self.send(dir, 16 + msgs);
        self.t.rounds += 1;
    }

    /// `send_ot_cm_cc(block, block)`: two 128-bit messages per OT.
    fn ot_blocks(&mut self, dir: Dir, n: u64) {
        if n == 0 {
            return;
        }
        self.cot(dir, n);
        self.send(dir, 16 + 32 * n);
        self.t.rounds += 1;
    }

    /// `_2ROT` bit triples: a random OT each way per triple, a seed from each party.
    fn triples(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.rcot(Dir::B, n);
        self.rcot(Dir::A, n);
        self.send(Dir::A, 16);
        self.send(Dir::B, 16);
        self.t.rounds += 1;
    }

    /// `MillionaireProtocol::compare` of `num_cmps` values on `bits` bits.
    fn millionaire(&mut self, num_cmps: u64, bits: u64) {
        if num_cmps == 0 || bits == 0 {
            return;
        }
        if bits <= 4 {
            if bits > 1 {
                self.kkot(Dir::A, 1 << bits, num_cmps, 1, 1);
            } else {
                self.ot2(Dir::A, num_cmps, 1, 1);
            }
            return;
        }
        let nc = num_cmps.div_ceil(8) * 8;
        let nd = bits.div_ceil(4);
        self.kkot(Dir::A, 16, nc * nd, 2, 1);
        // `sci::bitlen(x)` is `ceil(log2 x)` (`utils/utils.hpp`).
        self.triples((2 * nd).saturating_sub(2 + ceil_log2(nd)) * nc);
        for ands in super::sci_field::and_levels(nd) {
            let each = 2 * ands * nc / 8;
            self.send(Dir::A, each);
            self.send(Dir::B, each);
            self.t.rounds += 1;
        }
    }

    /// `AuxProtocols::multiplexer` of `n` `l`-bit values: one `send_cot` each way.
    fn mux(&mut self, n: u64, l: u64) {
        self.cot_add(Dir::A, n, l);
        self.cot_add(Dir::B, n, l);
    }
}

/// Bits compared by the approximate ReLU (`relu` with `approx`): `this_l - 1`.
pub fn relu_approx_bits(l: u64, f: u64, truncates: bool) -> u64 {
    let lo = if truncates { f * 3 / 2 } else { f };
    let this_l = l.saturating_sub(lo).max(2);
    let this_l = this_l - (this_l - 1) % 4;
    this_l - 1
}

/// One thread's chunk of `n` elements of a protocol; `(ALICE, BOB)` of the thread.
type Chunk<'a> = dyn Fn(&mut RunHandle, u64) + 'a;

/// The protocol steps a chunk can run (keeps `Run` private).
pub struct RunHandle<'a, 'b> {
    run: &'a mut Run<'b>,
}

impl RunHandle<'_, '_> {
    /// Approximate ReLU (`Relu`): comparison and multiplexer.
    pub fn relu(&mut self, n: u64, l: u64, f: u64, truncates: bool) {
        self.run.millionaire(n, relu_approx_bits(l, f, truncates));
        self.run.mux(n, l);
    }

    /// Exact ReLU (max-pool steps): comparison on `l - 1` bits and multiplexer.
    pub fn relu_exact(&mut self, n: u64, l: u64) {
        self.run.millionaire(n, l - 1);
        self.run.mux(n, l);
    }

    /// `truncate_msb0` by `f` bits: `msb1_to_wrap` and `B2A`.
    pub fn truncate(&mut self, n: u64, f: u64) {
        if f == 0 {
            return;
        }
        self.run.ot2(Dir::A, n, 1, 1);
        if f > 1 {
            self.run.cot_add(Dir::A, n, f);
        }
    }

    /// `MillionaireProtocol::compare` of `n` values on `bits` bits (`AuxProtocols::MSB`,
    /// `wrap_computation`).
    pub fn compare(&mut self, n: u64, bits: u64) {
        self.run.millionaire(n, bits);
    }

    /// `send_cot` of `n` additive COTs of `l` bits on `iknp_straight` (`ALICE` sends).
    pub fn cot_straight(&mut self, n: u64, l: u64) {
        self.run.cot_add(Dir::A, n, l);
    }

    /// `send_cot` of `n` additive COTs of `l` bits on `iknp_reversed` (`BOB` sends).
    pub fn cot_reversed(&mut self, n: u64, l: u64) {
        self.run.cot_add(Dir::B, n, l);
    }

    /// `kkot[bits - 1]`: `n` 1-of-`2^bits` OTs of `l`-bit messages packed in words of `word`
    /// bytes, `ALICE` sending (`SilentOTN` over `silent_ot`).
    pub fn one_of_n(&mut self, n: u64, bits: u64, l: u64, word: u64) {
        self.run.kkot(Dir::A, 1 << bits, n, l, word);
    }

    /// `funcAvgPoolTwoPowerRing` of `n` elements by `d`.
    pub fn avgpool(&mut self, n: u64, d: u64, l: u64) {
        let run = &mut *self.run;
        run.millionaire(n, l - 1);
        let bits_a = ceil_log2(6 * d);
        if bits_a + l <= 64 {
            run.kkot(Dir::A, 4, n, l + bits_a, 8);
        } else {
            // `KKOT::send_impl(block128)` of the classic KKOT (kept as SCI_HE counts it).
            run.send(Dir::A, 64 * n);
            run.send(Dir::B, 32 * n.div_ceil(16384) * 16384);
            run.t.rounds += 1;
        }
        let ring_rem = if l >= 64 {
            0u64.wrapping_sub(d) % d
        } else {
            (1u64 << l) % d
        };
        let comps = if 2 * ring_rem < d { 2 * n } else { 3 * n };
        run.millionaire(comps, bits_a - 1);
        if !run.st.iknp_ready {
            run.st.iknp_ready = run.st.refills == Refills::Replay;
            run.send(Dir::A, IKNP_BASE_RECEIVER);
            run.send(Dir::B, IKNP_BASE_SENDER);
            run.t.rounds += 1;
        }
        run.send(Dir::A, 8 * comps);
        run.send(Dir::B, 16 * comps.div_ceil(16384) * 16384);
        run.t.rounds += 1;
    }
}

impl CheetahState {
    /// Runs `f` on the thread chunks of `n` elements (padded to 8), odd threads with the roles
    /// swapped; rounds are those of the slowest chunk.
    pub fn threaded(&mut self, n: u64, f: &Chunk) -> Traffic {
        if n == 0 {
            return Traffic::default();
        }
        let padded = n.div_ceil(8) * 8;
        let threads = self.threads();
        let mut total = Traffic::default();
        for (i, c) in chunks(padded, threads).enumerate() {
            if c == 0 {
                continue;
            }
            let t = self.on_thread(i, |h| f(h, c));
            let t = if i % 2 == 1 { swap(t) } else { t };
            total.alice += t.alice;
            total.bob += t.bob;
            total.rounds = total.rounds.max(t.rounds);
        }
        total
    }

    /// Runs `f` on thread `i` alone (roles as that thread has them).
    pub fn on_thread(&mut self, i: usize, f: impl FnOnce(&mut RunHandle)) -> Traffic {
        let mut run = Run {
            st: &mut self.threads[i],
            t: Traffic::default(),
        };
        f(&mut RunHandle { run: &mut run });
        run.t
    }

    /// `ArgMaxProtocol::ArgMaxMPC` over `size` values on thread 0.
    pub fn argmax(&mut self, size: u64, l: u64) -> Traffic {
        let mut run = Run {
            st: &mut self.threads[0],
            t: Traffic::default(),
        };
        let mut nodes = size + (size & 1);
        let mut stuck = 0;
        while nodes > 1 {
            let child = nodes.div_ceil(2).div_ceil(8) * 8;
            if child == 8 {
                stuck += 1;
            }
            if stuck >= 5 {
                break;
            }
            run.millionaire(child, l - 1);
            if l > 32 {
                run.ot_blocks(Dir::A, child);
                run.ot_blocks(Dir::B, child);
            } else {
                // `argmax_this_level_sub_32`: value and index packed in one 64-bit message.
                run.ot2(Dir::A, child, 64, 8);
                run.ot2(Dir::B, child, 64, 8);
            }
            nodes = child;
        }
        run.t
    }
}

fn swap(t: Traffic) -> Traffic {
    Traffic {
        alice: t.bob,
        bob: t.alice,
        rounds: t.rounds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(f: impl FnOnce(&mut RunHandle)) -> Traffic {
        CheetahState::new(1, Refills::Replay).on_thread(0, f)
    }

    #[test]
    fn ferret_constants() {
        // M = 589824 + 13*1295 + 128 = 606787; ot_limit = 10608640 - 606787.
        assert_eq!(FERRET_M, 606_787);
        assert_eq!(FERRET_LIMIT, 10_001_853);
        assert_eq!(FERRET_EXTEND_BYTES, 1295 * 432 + 16);
        assert_eq!(bool_bytes(1000), 125);
        assert_eq!(bool_bytes(13), 1 + 5);
    }

    #[test]
    fn relu_comparison_widths() {
        // l = 37, f = 12: after-ReLU truncation drops 18 bits, 19 -> 17, compares 16 bits
        // (OpenCheetah prints "Mill dotrunc 1 on 16 bits"); without truncation 25 -> 24 bits.
        assert_eq!(relu_approx_bits(37, 12, true), 16);
        assert_eq!(relu_approx_bits(37, 12, false), 24);
    }

    #[test]
    fn relu_by_hand() {
        // 8000 ReLUs with truncation, l = 37: 16 bits -> 4 digits.
        // Leaves: 32000 1-of-16 OTs, 2-bit messages: ALICE 16 + 32 bytes per 8 OTs; BOB 4
        // choice bits per OT. Triples 2*4 - 2 - 2 = 4 per comparison, from random OTs: 16
        // bytes each way.
        // AND tree: 3 ANDs then 1: 2*4*8000/8 bytes each way.
        // Mux: 37-bit COTs each way, 5 words per 8 OTs, plus 1000 bytes of choices.
        let n = 8000u64;
        let t = one(|h| h.relu(n, 37, 12, true));
        let leaves_a = 16 + 32 * n / 8 * 4;
        let leaves_b = 4 * 4 * n / 8;
        let ands = 2 * 4 * n / 8;
        let mux_send = 16 + 40 * n / 8;
        let mux_recv = n / 8;
        assert_eq!(t.alice, leaves_a + 16 + ands + mux_send + mux_recv);
        assert_eq!(t.bob, leaves_b + 16 + ands + mux_recv + mux_send);
        // Rounds: leaves, triples, 2 tree levels, 2 COT calls.
        assert_eq!(t.rounds, 1 + 1 + 2 + 2);
    }

    #[test]
    fn truncation_by_hand() {
        // 8000 elements by 12 bits: msb1_to_wrap (1-of-2, 1-bit: 2 bytes per 8 OTs) and B2A
        // to 12 bits (2 words per 8 OTs); BOB sends one choice bit per OT in each.
        let t = one(|h| h.truncate(8000, 12));
        assert_eq!(t.alice, (16 + 2000) + (16 + 16000));
        assert_eq!(t.bob, 1000 + 1000);
    }

    #[test]
    fn avgpool_matches_sqnet_log() {
        // SqueezeNet's global average pool: 1000 channels over 13x13 on one thread. OpenCheetah's
        // log: server (ALICE) 0.107681 MiB, client 0.273631 MiB.
        let t = one(|h| h.avgpool(1000, 169, 37));
        assert_eq!(t.alice, 112_912);
        assert_eq!(t.bob, 286_923);
    }

    #[test]
    fn argmax_by_hand() {
        // 1000 values, l = 37: levels of 504, 256, 128, 64, 32, 16, 8, 8, 8, 8 pairs (padded
        // to 8; the fifth level stuck at 8 ends the loop), 10 levels. Each: a comparison on 36
        // bits and a block OT each way (16 + 32 bytes per OT; a choice bit each).
        let mut s = CheetahState::new(1, Refills::Replay);
        let t = s.argmax(1000, 37);
        let levels = [504u64, 256, 128, 64, 32, 16, 8, 8, 8, 8];
        let mut want = CheetahState::new(1, Refills::Replay);
        let w = want.on_thread(0, |h| {
            for &c in &levels {
                h.run.millionaire(c, 36);
                h.run.ot_blocks(Dir::A, c);
                h.run.ot_blocks(Dir::B, c);
            }
        });
        assert_eq!(t, w);
        let blocks: u64 = levels.iter().map(|&c| 16 + 32 * c + bool_bytes(c)).sum();
        let mill = CheetahState::new(1, Refills::Replay).on_thread(0, |h| {
            for &c in &levels {
                h.run.millionaire(c, 36);
            }
        });
        assert_eq!(t.bytes(), mill.bytes() + 2 * blocks);
        // OpenCheetah's SqueezeNet and ResNet-50 logs: 0.109762 MiB (both parties).
        assert!((t.bytes() as f64 / 1048576.0 - 0.109762).abs() < 5e-7);
    }

    #[test]
    fn ferret_amortized() {
        // One pool's worth of COTs pays one extension, whatever was drawn before.
        let mut s = CheetahState::new(1, Refills::Amortized);
        let t = s.on_thread(0, |h| h.run.rcot(Dir::A, FERRET_LIMIT));
        assert_eq!(t.alice, FERRET_EXTEND_BYTES);
        // 1000 COTs: 1000 * 559456 / 10001853 = 55.9 -> 56 bytes.
        let t = s.on_thread(0, |h| h.run.rcot(Dir::B, 1000));
        assert_eq!(t.bob, 56);
    }

    #[test]
    fn ferret_refill() {
        let mut s = CheetahState::new(1, Refills::Replay);
        // The first FERRET_LIMIT - 1 COTs are free; one more triggers an extension.
        let t = s.on_thread(0, |h| h.run.rcot(Dir::A, FERRET_LIMIT - 1));
        assert_eq!(t.alice, 0);
        let t = s.on_thread(0, |h| h.run.rcot(Dir::A, 10));
        assert_eq!(t.alice, FERRET_EXTEND_BYTES);
        assert_eq!(s.threads[0].left[0], FERRET_LIMIT - 10);
        // A call of two pools and a bit from a fresh pool (FERRET_LIMIT - 1 left): the shortfall
        // FERRET_LIMIT + 6 takes two extensions, leaving FERRET_LIMIT - 6.
        let t = s.on_thread(0, |h| h.run.rcot(Dir::B, 2 * FERRET_LIMIT + 5));
        assert_eq!(t.bob, 2 * FERRET_EXTEND_BYTES);
        assert_eq!(s.threads[0].left[1], FERRET_LIMIT - 6);
    }
}
