//! OpenCheetah's `Sigmoid` and secret x secret element-wise product in its Cheetah build, and
//! the building blocks the sigmoid is made of, as OpenCheetah f71d4d4's code runs them.
//!
//! # What the Cheetah build runs
//!
//! The Cheetah network programs link the CMake library `SCI-Cheetah` (`SCI/src/CMakeLists.txt`,
//! `SCI_OT=1 USE_CHEETAH=1`), which holds `library_fixed.cpp`'s `Sigmoid` (one
//! `Sigmoid_thread` per chunk of `divide_instances`, each calling `MathFunctions::sigmoid`,
//! `SCI/src/Math/math-functions.cpp`) and `library_fixed_uniform.cpp`'s
//! `ElemWiseSecretSharedVectorMult` (`funcDotProdThread` per thread, `functionalities_uniform.h`,
//! calling `LinearOT::hadamard_cross_terms`). Neither completes at f71d4d4:
//!
//! - **Every secret x secret product crashes.** `LinearOT` (`SCI/src/LinearOT/linear-ot.cpp`,
//!   library `SCI-LinearOT`) and `MathFunctions` (`SCI-Math`) are compiled without
//!   `USE_CHEETAH` (their CMake targets do not define it; only `SCI-Cheetah`,
//!   `SCI-Cheetah-BuildingBlocks` and `Cheetah-Linear` do), so `OT/ot_pack.h` gives them
//!   CrypTFlow2's `OTPack` (`cf2-ot_pack.h`: `SplitKKOT *kkot[8]`, then `SplitIKNP
//!   *iknp_straight`), while `StartComputation` builds Cheetah's (`cheetah-ot_pack.h`: two
//!   `SilentOT` pointers first, then `SilentOTN *kkot[8]`). `LinearOT::matmul_cross_terms` reads
//!   `iknp_straight` at the split pack's offset, which in Cheetah's pack holds `kkot[6]`, and
//!   runs `SplitIKNP::send_batched_cot` / `recv_batched_cot` on it: the process dies (SIGSEGV or
//!   SIGBUS) on the first product. Compiled with `USE_CHEETAH` it would not run either:
//!   `cheetah::SilentOT::send_batched_cot` and `recv_batched_cot` (`OT/ferret/silent_ot.h`)
//!   throw `std::logic_error("Not implemented")`. `ElemWiseSecretSharedVectorMult` is one such
//!   product; `MathFunctions::sigmoid` calls `LinearOT::hadamard_product` in
//!   `lookup_table_exp` (the product tree of the digits' exponentials) and in `div`
//!   (`reciprocal_approximation`) whatever its arguments.
//! - **1-of-N OTs exist only for `log2 N` in {1, 2, 3, 4, 8}.** `SilentOT::send_ot_cm_cc(data,
//!   n, N, l)` hashes with `MITCCRH::renew_ks(keys, log2 N)` (`utils/mitccrh.h`), whose switch
//!   has no other case and throws `std::invalid_argument("MITCCRH not implemented: k")`.
//!   `lookup_table_exp` splits its `bw_x`-bit input into 8-bit digits and looks the last
//!   `bw_x - 8*(digits - 1)` bits up in a 1-of-`2^that` table: at `bw_x = 37` that is a 5-bit
//!   table, which throws before the first product is reached. `div`'s reciprocal table has
//!   `m = ceil((s_y - 2)/2)` bits (`s_y <= 18`; `ceil((ceil(s_y/2) - 2)/2)` above), 5 at
//!   `s_y = 12`.
//!
//! For a network, the arguments are the ring and scale OpenCheetah's Cheetah programs run with
//! (`ell=37 k=12`: `secret_share_mod 2^37`, scale 12, as `scripts/frameworks/run.sh` passes
//! them and the logs print): `Sigmoid` with `bw_x = bw_y = 37`, `s_x = s_y = 12`
//! ([`SigmoidArgs::network`]) and the product at `bitlength = 37`. Under those, the sigmoid
//! stops at the 5-bit digit table and the product crashes; [`sigmoid_failure`] and
//! [`elemwise_mult_failure`] say where, for any arguments, and `tests` hold that against every
//! run of `scripts/frameworks/sci-probe.sh` (`results/measured/cheetah-math.csv`), which calls
//! the two entry points of the built library.
//!
//! # The building blocks (exact)
//!
//! The steps of `MathFunctions::sigmoid` that the Cheetah build does run are
//! `SCI-Cheetah-BuildingBlocks` objects (`aux-protocols.cpp`, `truncation.cpp`,
//! `value-extension.cpp` compiled with `USE_CHEETAH`), over the OT primitives and Ferret pools of
//! [`super::cheetah_nl`]. Their traffic, per call on one thread (`ALICE` of the thread sends
//! what [`Traffic::alice`] counts):
//!
//! - `AuxProtocols::MSB(x, n, bw)`: `mill->compare` of the low `bw - 1` bits
//!   ([`msb`]); `wrap_computation(x, n, bw)`: `compare` on `bw` bits ([`wrap_computation`]).
//! - `AuxProtocols::multiplexer(sel, x, y, n, bw_x, bw_y)`: `send_cot` of `bw_y` bits on
//!   `iknp_straight` and on `iknp_reversed` ([`multiplexer`]).
//! - `AuxProtocols::B2A(x, y, n, bw)`: nothing for `bw = 1`, else one `send_cot` of `bw` bits
//!   on `iknp_straight` ([`b2a`]).
//! - `AuxProtocols::lookup_table<T>(spec, x, y, n, bits, bw_y)`: `kkot[bits - 1]`, `n`
//!   1-of-`2^bits` OTs of `bw_y`-bit messages packed in words of `sizeof(T)` bytes
//!   ([`lookup_table`]); `MSB_to_Wrap` is `lookup_table<uint8_t>(.., 2, 1)` ([`msb_to_wrap`]).
//! - `Truncation::truncate_and_reduce(n, x, y, shift, bw)`: nothing for `shift = 0`, else
//!   `wrap_computation` on `shift` bits and `B2A` to `bw - shift` bits ([`truncate_and_reduce`]).
//! - `XTProtocol::z_extend(n, x, y, bwA, bwB, msbA)`: nothing for `bwA = bwB`, else `MSB_to_Wrap`
//!   (MSB shares given, as `sigmoid` passes its zero shares) or `wrap_computation` on `bwA`
//!   bits, then `B2A` to `bwB - bwA` bits ([`z_extend`]).
//!
//! Each is held to the byte against the probe's measured calls (both parties, Ferret refill
//! included) in `tests`.

use super::cheetah_nl::RunHandle;
use std::fmt;

/// `log2 N` values `MITCCRH::renew_ks` (`utils/mitccrh.h`) implements, so the only 1-of-N OTs
/// `SilentOT::send_ot_cm_cc` can run.
pub const SILENT_ONE_OF_N_BITS: [u64; 5] = [1, 2, 3, 4, 8];

/// Digit size of `lookup_table_exp` (`KKOT_LIMIT`, `math-functions.cpp`).
pub const EXP_DIGIT_BITS: u64 = 8;

/// `AuxProtocols::MSB` of `n` values of `bw` bits.
pub fn msb(h: &mut RunHandle, n: u64, bw: u64) {
    h.compare(n, bw - 1);
}

/// `AuxProtocols::wrap_computation` of `n` values of `bw` bits.
pub fn wrap_computation(h: &mut RunHandle, n: u64, bw: u64) {
    h.compare(n, bw);
}

/// `AuxProtocols::multiplexer` of `n` values to `bw_y` bits.
pub fn multiplexer(h: &mut RunHandle, n: u64, bw_y: u64) {
    h.cot_straight(n, bw_y);
    h.cot_reversed(n, bw_y);
}

/// `AuxProtocols::B2A` of `n` bits to `bw` bits.
pub fn b2a(h: &mut RunHandle, n: u64, bw: u64) {
    if bw > 1 {
        h.cot_straight(n, bw);
    }
}

/// `AuxProtocols::lookup_table<T>` of `n` lookups in tables of `2^bits` entries of `bw_y` bits,
/// `word = sizeof(T)`; an error where `SilentOT` has no 1-of-`2^bits` OT.
pub fn lookup_table(
    h: &mut RunHandle,
    n: u64,
    bits: u64,
    bw_y: u64,
    word: u64,
) -> Result<(), Failure> {
    if !SILENT_ONE_OF_N_BITS.contains(&bits) {
        return Err(Failure::Throws {
            step: "AuxProtocols::lookup_table",
            what: format!("MITCCRH not implemented: {bits}"),
        });
    }
    h.one_of_n(n, bits, bw_y, word);
    Ok(())
}

/// `AuxProtocols::MSB_to_Wrap` of `n` values: a 1-of-4 lookup of one bit (`uint8_t`).
pub fn msb_to_wrap(h: &mut RunHandle, n: u64) {
    h.one_of_n(n, 2, 1, 1);
}

/// `Truncation::truncate_and_reduce` of `n` values of `bw` bits by `shift`.
pub fn truncate_and_reduce(h: &mut RunHandle, n: u64, shift: u64, bw: u64) {
    if shift == 0 {
        return;
    }
    wrap_computation(h, n, shift);
    b2a(h, n, bw - shift);
}

/// `XTProtocol::z_extend` of `n` values from `bw_a` to `bw_b` bits, with or without the MSB
/// shares.
pub fn z_extend(h: &mut RunHandle, n: u64, bw_a: u64, bw_b: u64, msb_known: bool) {
    if bw_a == bw_b {
        return;
    }
    if msb_known {
        msb_to_wrap(h, n);
    } else {
        wrap_computation(h, n, bw_a);
    }
    b2a(h, n, bw_b - bw_a);
}

/// How a call of OpenCheetah's Cheetah build ends when it cannot complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An uncaught exception (`what()`), thrown in `step`; it ends the process.
    Throws { step: &'static str, what: String },
    /// The process dies on a signal in `function`, reached from `step`.
    Crashes {
        step: &'static str,
        function: &'static str,
    },
}

impl Failure {
    /// The status `scripts/frameworks/sci-probe.sh` writes for it: `throw:<what>` or
    /// `crash:<function>`.
    pub fn status(&self) -> String {
        match self {
            Failure::Throws { what, .. } => format!("throw:{what}"),
            Failure::Crashes { function, .. } => format!("crash:{function}"),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Failure::Throws { step, what } => write!(
                f,
                "{step} throws \"{what}\" (cheetah::SilentOT's 1-of-N OT exists only for log2 N in \
                 {{1, 2, 3, 4, 8}}, utils/mitccrh.h)"
            ),
            Failure::Crashes { step, function } => write!(
                f,
                "{step} crashes in {function} (SCI-LinearOT is compiled without USE_CHEETAH and \
                 runs CrypTFlow2's split IKNP on Cheetah's silent-OT pack)"
            ),
        }
    }
}

/// The first secret x secret product: `LinearOT::matmul_cross_terms` on Cheetah's OT pack.
fn product_crash(step: &'static str) -> Failure {
    Failure::Crashes {
        step,
        function: "LinearOT::matmul_cross_terms",
    }
}

/// `Sigmoid`'s arguments as `library_fixed.cpp` takes them: input and output bit widths and
/// scales (`s = log2(scale)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigmoidArgs {
    pub bw_x: u64,
    pub bw_y: u64,
    pub s_x: u64,
    pub s_y: u64,
}

impl SigmoidArgs {
    /// A network's sigmoid: shares of the ring's `l` bits at scale `f` in and out.
    pub fn network(l: u64, f: u64) -> SigmoidArgs {
        SigmoidArgs {
            bw_x: l,
            bw_y: l,
            s_x: f,
            s_y: f,
        }
    }
}

/// `m` of `MathFunctions::div` for an output scale `s_out`: the bits of the reciprocal table.
pub fn div_table_bits(s_out: u64) -> u64 {
    if s_out <= 18 {
        s_out.saturating_sub(2).div_ceil(2)
    } else {
        (s_out.div_ceil(2) - 2).div_ceil(2)
    }
}

/// Where `Sigmoid` (n >= 1 elements, any thread count: every chunk runs the same steps; `s_y >=
/// 3`, below which `div`'s table would have no bits) stops in
/// OpenCheetah's Cheetah build. In `MathFunctions::sigmoid`'s order: `MSB`, `multiplexer`, then
/// `lookup_table_exp`: the 8-bit digit tables (supported), the last digit's table (throws unless
/// its size is supported), the digits' product tree (the first `hadamard_product` crashes) when
/// there is more than one digit; then `MSB`, `B2A` and `div`, whose `reciprocal_approximation`
/// looks up an `m`-bit table (throws unless supported) and multiplies (crashes).
pub fn sigmoid_failure(a: SigmoidArgs) -> Failure {
    let digits = a.bw_x.div_ceil(EXP_DIGIT_BITS);
    let last = a.bw_x - (digits - 1) * EXP_DIGIT_BITS;
    let unsupported = |bits: u64| Failure::Throws {
        step: "AuxProtocols::lookup_table",
        what: format!("MITCCRH not implemented: {bits}"),
    };
    if last != EXP_DIGIT_BITS && !SILENT_ONE_OF_N_BITS.contains(&last) {
        return unsupported(last);
    }
    if digits > 1 {
        return product_crash("MathFunctions::lookup_table_exp");
    }
    let m = div_table_bits(a.s_y);
    if !SILENT_ONE_OF_N_BITS.contains(&m) {
        return unsupported(m);
    }
    product_crash("MathFunctions::reciprocal_approximation")
}

/// Where `ElemWiseSecretSharedVectorMult` of `n` elements stops in the Cheetah build: its first
/// thread with elements crashes in the product; `None` for `n = 0` (no thread multiplies).
pub fn elemwise_mult_failure(n: u64) -> Option<Failure> {
    (n > 0).then(|| product_crash("LinearOT::hadamard_cross_terms"))
}

/// Why stria has no Cheetah count for a sigmoid (`sigmoid = true`) or a product of two
/// secret-shared tensors: where OpenCheetah's Cheetah build stops, at its programs' arguments
/// (`ell=37 k=12`), and for the sigmoid the product it reaches whatever its arguments.
pub fn cheetah_refusal(sigmoid: bool) -> String {
    let measured = "results/measured/cheetah-math.csv";
    if sigmoid {
        format!(
            "OpenCheetah's Cheetah build cannot run it: at its programs' ell=37 k=12, {}; with any \
             arguments `MathFunctions::sigmoid` reaches a secret x secret product, and {} \
             ({measured})",
            sigmoid_failure(SigmoidArgs::network(37, 12)),
            product_crash("LinearOT::hadamard_product"),
        )
    } else {
        format!(
            "OpenCheetah's Cheetah build cannot run it: in `ElemWiseSecretSharedVectorMult`, {} \
             ({measured})",
            product_crash("LinearOT::hadamard_cross_terms"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::cheetah_nl::{CheetahState, Refills};
    use super::super::sci_field::Traffic;
    use super::*;

    /// One row of `results/measured/cheetah-math.csv`.
    struct Row {
        run: String,
        op: String,
        n: u64,
        threads: u64,
        args: Vec<u64>,
        server: Option<u64>,
        client: Option<u64>,
        status: String,
    }

    fn rows() -> Vec<Row> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/results/measured/cheetah-math.csv"
        );
        let text = std::fs::read_to_string(path).expect("results/measured/cheetah-math.csv");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("run,seq,op,n,threads,ell,args,server_bytes,client_bytes,status")
        );
        lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f.len(), 10, "{l}");
                let num = |s: &str| (!s.is_empty()).then(|| s.parse::<u64>().unwrap());
                Row {
                    run: f[0].to_string(),
                    op: f[2].to_string(),
                    n: f[3].parse().unwrap(),
                    threads: f[4].parse().unwrap(),
                    args: f[6].split(':').map(|a| a.parse().unwrap()).collect(),
                    server: num(f[7]),
                    client: num(f[8]),
                    status: f[9].to_string(),
                }
            })
            .collect()
    }

    /// The model of one building-block call as the probe makes it (on thread 0).
    fn block(h: &mut RunHandle, op: &str, n: u64, a: &[u64]) {
        match op {
            "msb" => msb(h, n, a[0]),
            "mux" => multiplexer(h, n, a[1]),
            "b2a" => b2a(h, n, a[0]),
            "lut" => lookup_table(h, n, a[0], a[1], 8).unwrap(),
            "trd" => truncate_and_reduce(h, n, a[0], a[1]),
            "zext" => z_extend(h, n, a[0], a[1], a[2] == 1),
            _ => panic!("not a building block: {op}"),
        }
    }

    #[test]
    fn building_blocks_equal_every_measured_call() {
        // Each run replayed from a fresh StartComputation, calls in order, Ferret refills
        // carried over: server = thread 0's ALICE.
        let rows = rows();
        let mut runs: Vec<&str> = rows.iter().map(|r| r.run.as_str()).collect();
        runs.dedup();
        let mut checked = 0;
        for run in runs {
            let calls: Vec<&Row> = rows.iter().filter(|r| r.run == run).collect();
            if calls.iter().any(|r| r.op == "sig" || r.op == "mul") {
                continue;
            }
            let mut state = CheetahState::new(calls[0].threads, Refills::Replay);
            for r in calls {
                assert_eq!(r.status, "ok", "{run} {}", r.op);
                let t = state.on_thread(0, |h| block(h, &r.op, r.n, &r.args));
                assert_eq!(
                    (Some(t.alice), Some(t.bob)),
                    (r.server, r.client),
                    "{run} {} n={} {:?}",
                    r.op,
                    r.n,
                    r.args
                );
                checked += 1;
            }
        }
        assert!(checked >= 20, "{checked} calls checked");
    }

    #[test]
    fn failures_equal_every_measured_run() {
        let mut checked = 0;
        for r in rows().iter().filter(|r| r.op == "sig" || r.op == "mul") {
            assert_eq!((r.server, r.client), (None, None), "{} sent bytes", r.run);
            let want = if r.op == "sig" {
                let a = SigmoidArgs {
                    bw_x: r.args[0],
                    bw_y: r.args[1],
                    s_x: r.args[2],
                    s_y: r.args[3],
                };
                sigmoid_failure(a)
            } else {
                elemwise_mult_failure(r.n).unwrap()
            };
            assert_eq!(want.status(), r.status, "{}", r.run);
            checked += 1;
        }
        assert!(checked >= 6, "{checked} runs checked");
    }

    fn fresh(f: impl FnOnce(&mut RunHandle)) -> Traffic {
        CheetahState::new(1, Refills::Replay).on_thread(0, f)
    }

    #[test]
    fn msb_by_hand() {
        // 1000 MSBs of 37-bit shares: a comparison on 36 bits, 9 radix-4 digits. Leaves: 9000
        // 1-of-16 OTs of 2-bit messages, 32 bytes per 8 from ALICE plus the seed; BOB's choice
        // corrections 4 bits per OT. Triples 2*9 - 2 - ceil(log2 9) = 12 per comparison, random
        // OTs (a seed each way). AND tree of 9 digits: 7, 3, 1, 1 ANDs, 2 bits each per party.
        let t = fresh(|h| msb(h, 1000, 37));
        let ands = 2 * (7 + 3 + 1 + 1) * 1000 / 8;
        assert_eq!(t.alice, 16 + 9000 / 8 * 32 + 16 + ands);
        assert_eq!(t.bob, 9000 * 4 / 8 + 16 + ands);
        assert_eq!((t.alice, t.bob), (39_032, 7_516));
    }

    #[test]
    fn truncate_and_reduce_by_hand() {
        // Sigmoid's final truncation: 26-bit products by 12. wrap_computation on 12 bits (3
        // digits: 3000 leaves, 2 triples per comparison, ANDs 1 + 1) then B2A to 14 bits (two
        // 64-bit words per 8 COTs).
        let t = fresh(|h| truncate_and_reduce(h, 1000, 12, 26));
        let ands = 2 * 2 * 1000 / 8;
        assert_eq!(
            t.alice,
            (16 + 3000 / 8 * 32 + 16 + ands) + (16 + 1000 / 8 * 16)
        );
        assert_eq!(t.bob, (3000 * 4 / 8 + 16 + ands) + 1000 / 8);
        // No shift, no traffic.
        assert_eq!(
            fresh(|h| truncate_and_reduce(h, 1000, 0, 26)),
            Traffic::default()
        );
    }

    #[test]
    fn lookup_tables_by_hand() {
        // lookup_table_exp's 8-bit digits at s_y = 12: 1-of-256 OTs of 14-bit messages in
        // 64-bit words, ceil(8*256*14/64) = 448 words per 8 OTs; 8 choice bits per OT.
        let t = fresh(|h| lookup_table(h, 1000, 8, 14, 8).unwrap());
        assert_eq!((t.alice, t.bob), (16 + 125 * 448 * 8, 1000));
        // MSB_to_Wrap: 1-of-4 of one bit in bytes, 4 bytes per 8 OTs; z_extend with MSB shares
        // adds B2A's COTs.
        let t = fresh(|h| z_extend(h, 1000, 14, 37, true));
        assert_eq!(t.alice, (16 + 125 * 4) + (16 + 125 * 3 * 8));
        assert_eq!(t.bob, 250 + 125);
        // The 5-bit last digit of a 37-bit input has no SilentOT.
        let e = fresh(|h| assert!(lookup_table(h, 1000, 5, 14, 8).is_err()));
        assert_eq!(e, Traffic::default());
    }

    #[test]
    fn ferret_refill_in_a_building_block() {
        // 250,000 MSBs of 37 bits draw 2,250,000 * 4 leaf COTs and 3,000,000 triple OTs from
        // the pool where ALICE sends: more than the 10,001,852 a fresh pool holds, so ALICE
        // sends one extension (559,456 bytes); BOB's pool gives 3,000,000 and is not refilled.
        let t = fresh(|h| msb(h, 250_000, 37));
        let ands = 2 * 12 * 250_000 / 8;
        assert_eq!(t.alice, 16 + 2_250_000 / 8 * 32 + 16 + ands + 559_456);
        assert_eq!(t.bob, 2_250_000 * 4 / 8 + 16 + ands);
    }

    #[test]
    fn where_sigmoid_stops() {
        // The network's arguments: 37 = 4*8 + 5, a 5-bit last digit.
        let f = sigmoid_failure(SigmoidArgs::network(37, 12));
        assert_eq!(f.status(), "throw:MITCCRH not implemented: 5");
        // Digits of 8 and 4 bits: the tables run, the product tree crashes.
        for bw in [32, 36, 40] {
            let f = sigmoid_failure(SigmoidArgs::network(bw, 12));
            assert_eq!(
                f,
                Failure::Crashes {
                    step: "MathFunctions::lookup_table_exp",
                    function: "LinearOT::matmul_cross_terms"
                }
            );
        }
        // One digit: no product tree; div's table has m = ceil((12 - 2)/2) = 5 bits at s_y = 12,
        // 4 at s_y = 10, and 4 at s_y = 20 (ceil((10 - 2)/2)).
        assert_eq!(div_table_bits(12), 5);
        assert_eq!(div_table_bits(10), 4);
        assert_eq!(div_table_bits(20), 4);
        assert_eq!(div_table_bits(22), 5);
        let f = sigmoid_failure(SigmoidArgs::network(8, 12));
        assert_eq!(f.status(), "throw:MITCCRH not implemented: 5");
        let f = sigmoid_failure(SigmoidArgs::network(8, 10));
        assert_eq!(
            f,
            Failure::Crashes {
                step: "MathFunctions::reciprocal_approximation",
                function: "LinearOT::matmul_cross_terms"
            }
        );
        assert!(f.to_string().contains("without USE_CHEETAH"));
        assert!(cheetah_refusal(true).contains("throws \"MITCCRH not implemented: 5\""));
        assert!(cheetah_refusal(false).contains(
            "in `ElemWiseSecretSharedVectorMult`, LinearOT::hadamard_cross_terms crashes in \
             LinearOT::matmul_cross_terms"
        ));
        assert_eq!(elemwise_mult_failure(0), None);
        assert_eq!(
            elemwise_mult_failure(5).unwrap().status(),
            "crash:LinearOT::matmul_cross_terms"
        );
    }
}
