//! Cheetah coefficient packing executed on real BFV ciphertexts (Huang et al., "Cheetah", USENIX
//! Security 2022, Secs. 3.1-3.3; OpenCheetah `include/gemini/cheetah/hom_conv2d_ss.cc`,
//! `hom_fc_ss.cc`, `hom_bn_ss.cc`), on the `fhe` crate: HomConv (dense, strided, grouped in both group layouts, depthwise in both
//! layouts), HomFC and HomBN, run with exactly the partition the closed-form counter
//! `packing::coeff` chooses, through the counting [`Instrumented`] evaluator. Strided groups
//! (`c mod G == j`) are packed with every group contiguous, the counter's plan: packed position
//! `j*g_in + k` holds channel `j + k*G`, the kernels follow, and returned ciphertext
//! `j*g_out + k` is output channel `j + k*G`.
//!
//! Two-party semantics follow OpenCheetah (`hom_conv2d_ss.cc`, `hom_fc_ss.cc`, `hom_bn_ss.cc`;
//! read, not copied):
//!
//! 1. The layer input is additively shared mod `t = 2^l`, `x = x_c + x_s`. A layer that reads the
//!    network input is held whole by the client (`x_s = 0`, no AddPlain).
//! 2. The client encodes its share block by block (input coefficient `c*Hw*Ww + i*Ww + j`),
//!    encrypts with the secret key (seeded) and sends the `in_ct` ciphertexts (`send_up`).
//! 3. The server adds its own share as a plaintext (AddPlain, counted in `add`), multiplies by every
//!    non-zero kernel-block polynomial (reversed kernel, `O = Hw*Ww*(Cw-1) + Ww*(h-1) + (h-1)`),
//!    accumulating over channel blocks (the first product of an output needs no add), switches
//!    every output down to the first prime (counted `mod_switch`), subtracts a uniform random mask
//!    polynomial and returns `out_ct` ciphertexts (`send_down`).
//! 4. The client decrypts and reads the output coefficients; `client + mask` must equal the
//!    integer layer reduced mod `t`, exactly.
//!
//! Deliberate differences from OpenCheetah, none of which the counter counts:
//! - masking (`sub_poly_inplace`, a plaintext subtraction on c0 only) is not counted as an add;
//!   OpenCheetah's noise flooding (uniform noise of `log q - log t - 1` bits) and re-randomisation
//!   (adding a public-key encryption of zero) are not run, so the reported noise budget is the
//!   budget *before* flooding (what flooding may consume);
//! - `truncate_for_decryption` / `removeUnusedCoeffs` are not run: fhe.rs serializes every
//!   coefficient at the full prime width, so returned ciphertexts are larger than the counter's
//!   SEAL 3.7 wire size ([`predicted_bytes_down_ideal`] reports both and their ratio);
//! - HomBN: OpenCheetah's mask is added with `add_plain_inplace` (not counted either) and its CRT
//!   primes come from SEAL's `CoeffModulus::Create` (the largest primes of the given size, `= 1 mod
//!   2N`); stria takes the same (largest) primes, one [`Instrumented`] per prime, and sums counts.
//!
//! Noise: fhe.rs encodes `floor(q*m/t)` exactly and lifts a plaintext multiplier from `[0, t)`
//! without centring (SEAL's `multiply_plain` centres it), so a negative weight multiplies the noise
//! by about `t` instead of `|w|`: the budgets reported here are about `l` bits below SEAL's for the
//! same layer. They stay positive at OpenCheetah's `{60, 49}`, `t = 2^37`.
//!
//! Weights are drawn non-zero (`1..=max_value` with a random sign) so that the blocks OpenCheetah
//! skips (`Plaintext::is_zero`) are exactly the structurally empty ones the counter skips.

use super::instrumented::is_prime;
use super::instrumented::{BackendError, HeParams, Instrumented, Result};
use super::simd::OnlineClock;
use super::{LayerRun, RunOptions};
use crate::cost::OpCounts;
use crate::he::KeyPolicy;
use crate::net::graph::GroupLayout;
use crate::net::{Conv, Layer, Op};
use crate::packing::CountConfig;
use crate::packing::coeff::{self as cc, DepthwiseMode, Partition};
use fhe::bfv::{Ciphertext, Plaintext};
use fhe_math::rq::{Poly, Representation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Runs one layer under Cheetah: `Op::Conv` (any groups, strides, taps), `Op::Fc` and an unfolded
/// `Op::BatchNorm`, with ring degree `cfg.ring_degree`, ciphertext primes
/// `opts.cheetah_moduli_bits` and plaintext modulus `2^cfg.cheetah.plain_bits` (HomBN: the CRT
/// primes of [`cc::bn_crt`]). Random inputs and weights come from `opts.seed`.
///
/// `wall_ns` is the online phase, as OpenCheetah splits it: from the client's encoding of its
/// input share, through its encryption, the server's evaluation from the received ciphertexts to
/// the returned ones (AddPlain of its share, products, additions, modulus switches, masking), to
/// the client's decryption and decoding of the results (HomBN: summed over the CRT primes). Not in
/// `wall_ns`:
/// - the server's preprocessing, done before the client's ciphertexts arrive: the kernel (HomBN:
///   scale) polynomials, its input share and its random output masks, each encoded once;
/// - key generation (setup);
/// - serialization (`to_bytes` in `send_up` / `send_down`, run only to count the bytes);
/// - the reconstruction of the output shares, data drawing, the reference computation and the
///   noise measurement.
///
/// `times` is the sum of the priced primitives inside that phase, so `wall_ns / times.total_ns()`
/// is the overhead of everything else the online phase does (client encoding and decoding, the
/// uncounted mask subtraction, accumulator bookkeeping).
pub fn run_layer(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
    match &layer.op {
        Op::Conv(c) => run_conv(layer, c, cfg, opts),
        Op::Fc => run_fc(layer, cfg, opts),
        Op::BatchNorm { folded: false } => {
            let i = layer.input;
            let (c, h, w) = (i.c as u64, i.h as u64, i.w as u64);
            if cc::bn_uses_direct(c, h, w, &cfg.cheetah, cfg.ring_degree) {
                run_bn_direct(layer, cfg, opts)
            } else {
                run_bn(layer, cfg, opts)
            }
        }
        _ => Err(BackendError(format!(
            "layer `{}` ({}) has no HE work under Cheetah",
            layer.path,
            layer.kind()
        ))),
    }
}

/// Serialized size in bytes of one fhe.rs 0.1.1 ciphertext (protobuf `fhers.bfv.Ciphertext` of
/// `fhers.rq.Rq` polynomials in NTT form), exactly:
///
/// - each polynomial: its coefficients bit-packed at each prime's width,
///   `D = sum_i ceil(N * bits_i / 8)`, plus the `Rq` fields (representation 2 B, degree
///   `1 + varint(N)`, coefficients `1 + varint(D)`, `allow_variable_time` 2 B: encryption sets it
///   and every operation keeps it) and the repeated-field header `1 + varint(len)`;
/// - a fresh secret-key encryption (`seeded`) sends c0 and a 32-byte seed (`2 + 32` B) instead of
///   c1: `N*B/8 + 32 + ~17` B with `B` the sum of prime widths;
/// - any other ciphertext sends both polynomials: `2*N*B/8 + ~30` B; a non-zero `level` adds
///   `1 + varint(level)` B.
///
/// `prime_bits` lists the widths of the primes the ciphertext still carries.
pub fn fhe_ciphertext_bytes(n: u64, prime_bits: &[u64], seeded: bool, level: u64) -> u64 {
    let data: u64 = prime_bits.iter().map(|b| (n * b).div_ceil(8)).sum();
    let rq = 2 + 1 + varint_len(n) + 1 + varint_len(data) + data + 2;
    let poly = 1 + varint_len(rq) + rq;
    let polys = if seeded { poly + 2 + 32 } else { 2 * poly };
    let lvl = if level > 0 { 1 + varint_len(level) } else { 0 };
    polys + lvl
}

fn varint_len(mut v: u64) -> u64 {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Client-to-server bytes of one fresh ciphertext under `opts` (the fhe.rs seeded size model).
pub fn fhe_bytes_up_per_ct(n: u64, opts: &RunOptions) -> u64 {
    let bits: Vec<u64> = opts.cheetah_moduli_bits.iter().map(|&b| b as u64).collect();
    fhe_ciphertext_bytes(n, &bits, true, 0)
}

/// Server-to-client bytes of one returned ciphertext under `opts`: both polynomials at the first
/// prime only (every coefficient at full width: fhe.rs cannot drop low bits).
pub fn fhe_bytes_down_per_ct(n: u64, opts: &RunOptions) -> u64 {
    let bits = opts.cheetah_moduli_bits.first().copied().unwrap_or(0) as u64;
    let level = opts.cheetah_moduli_bits.len().saturating_sub(1) as u64;
    fhe_ciphertext_bytes(n, &[bits], false, level)
}

/// Server-to-client bytes: the counter's ideal (truncated) size against fhe.rs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BytesDown {
    /// `count_layer(..).bytes_down`: OpenCheetah's wire size (`truncate_for_decryption` low bits
    /// zeroed, `removeUnusedCoeffs` words zeroed, SEAL 3.7 `save()` with zstd; an expected size).
    pub ideal: u64,
    /// `out_ct * fhe_bytes_down_per_ct`: the fhe.rs size model of the same ciphertexts.
    pub fhe_model: u64,
    /// What the run serialized.
    pub observed: u64,
    /// `observed / ideal`: the overhead of an untruncated library.
    pub ratio: f64,
}

/// The counter's server-to-client wire size for `layer` against the real fhe.rs serialized size of
/// `run` (fhe.rs cannot drop low bits or zero unused words, so `ratio > 1`).
pub fn predicted_bytes_down_ideal(
    layer: &Layer,
    cfg: &CountConfig,
    opts: &RunOptions,
    run: &LayerRun,
) -> Result<BytesDown> {
    let lc = crate::packing::count_layer(layer, cfg).map_err(|e| BackendError(e.to_string()))?;
    let ideal = lc.counts.bytes_down;
    let observed = run.observed.bytes_down;
    Ok(BytesDown {
        ideal,
        fhe_model: lc.counts.ct_down * fhe_bytes_down_per_ct(cfg.ring_degree, opts),
        observed,
        ratio: observed as f64 / ideal.max(1) as f64,
    })
}

// ---------------------------------------------------------------------------------------------
// Shared machinery: a coefficient-packing plan and its two-party execution.

/// One client ciphertext: which share element each coefficient holds (`neg`: the negated element,
/// HomFC's reversed input).
struct InPoly {
    coeffs: Vec<(usize, usize, bool)>,
}

/// One returned ciphertext: the products summed into it and the output coefficients it carries.
struct OutPoly {
    /// `(input ciphertext, kernel polynomial)`; kernels that are all zero never appear.
    terms: Vec<(usize, usize)>,
    /// `(coefficient, flat output index)`.
    reads: Vec<(usize, usize)>,
}

struct Plan {
    inputs: Vec<InPoly>,
    /// Kernel polynomials (coefficients mod t), all non-zero.
    kernels: Vec<Vec<u64>>,
    outputs: Vec<OutPoly>,
    /// Number of output elements.
    out_len: usize,
}

impl Plan {
    fn new(
        inputs: Vec<InPoly>,
        kernels: Vec<Vec<u64>>,
        outputs: Vec<OutPoly>,
        out_len: usize,
    ) -> Plan {
        Plan {
            inputs,
            kernels,
            outputs,
            out_len,
        }
    }
}

/// What a two-party execution produced.
struct Executed {
    /// The client's decrypted output share per output element.
    client: Vec<u64>,
    /// The server's mask per output element: `client + mask = y mod t` (the server's output share
    /// is `mask`).
    mask: Vec<u64>,
    wall_ns: u64,
    noise: Option<u32>,
}

fn plain_modulus(l: u32) -> Result<u64> {
    if !(2..=61).contains(&l) {
        return Err(BackendError(format!(
            "plaintext modulus 2^{l}: fhe.rs needs 2 <= l <= 61"
        )));
    }
    Ok(1u64 << l)
}

fn make_he(n: u64, opts: &RunOptions, t: u64, seed: u64) -> Result<Instrumented> {
    let params = HeParams {
        n: n as usize,
        moduli_bits: opts.cheetah_moduli_bits.clone(),
        plain_modulus: t,
        insecure: opts.insecure,
    };
    Instrumented::new(&params, KeyPolicy::PerStep, seed)
}

fn data_rng(opts: &RunOptions) -> StdRng {
    StdRng::seed_from_u64(opts.seed ^ 0x5EED_C0EF_u64.rotate_left(17))
}

/// A value in `[-max, max]`.
fn small(rng: &mut StdRng, max: u64) -> i64 {
    let m = max as i64;
    rng.random_range(-m..=m)
}

/// A non-zero value in `[-max, max]` (`max >= 1` assumed).
fn nonzero(rng: &mut StdRng, max: u64) -> i64 {
    let v = rng.random_range(1..=max.max(1) as i64);
    if rng.random::<bool>() { -v } else { v }
}

/// `v mod 2^l` for a power of two `t = 2^l` (two's complement wrap).
fn mod_t(v: i64, t: u64) -> u64 {
    (v as u64) & (t - 1)
}

/// Secret-shares `x` mod t: `(client, server)`; a layer reading the network input keeps it whole
/// at the client.
fn share(x: &[u64], t: u64, reads_input: bool, rng: &mut StdRng) -> (Vec<u64>, Option<Vec<u64>>) {
    if reads_input {
        return (x.to_vec(), None);
    }
    let xc: Vec<u64> = x.iter().map(|_| rng.random::<u64>() & (t - 1)).collect();
    let xs = x
        .iter()
        .zip(&xc)
        .map(|(&v, &c)| v.wrapping_sub(c) & (t - 1))
        .collect();
    (xc, Some(xs))
}

fn encode_share(p: &InPoly, share: &[u64], n: usize, t: u64) -> Vec<u64> {
    let mut v = vec![0u64; n];
    for &(coef, idx, neg) in &p.coeffs {
        let x = share[idx];
        v[coef] = if neg { x.wrapping_neg() & (t - 1) } else { x };
    }
    v
}

/// The encoding `floor(q*m/t)` (NTT form, at `level`) of the plaintext `pt`: adding it to (or
/// subtracting it from) c0 adds (subtracts) `pt`, exactly as `ct += &pt` (`ct -= &pt`) does,
/// which would encode it again at every use.
fn plain_poly(he: &Instrumented, pt: &Plaintext, level: usize) -> Result<Poly> {
    let ctx = he.par.context_at_level(level)?;
    let zero = || Poly::zero(ctx, Representation::Ntt);
    let mut z = Ciphertext::new(vec![zero(), zero()], &he.par)?;
    z += pt;
    Ok(z[0].clone())
}

/// Client encrypts, server evaluates the plan, masks, switches to the first prime and returns;
/// client decrypts. Counts go to `he`.
///
/// Server preprocessing runs first, untimed (OpenCheetah does it before the client's ciphertexts
/// arrive): the kernel polynomials encoded (`encodeFilters`), the server's input share encoded,
/// the output masks drawn and encoded. `wall_ns` then times the online phase (see [`run_layer`]),
/// with the clock paused while ciphertexts are serialized for the byte counts.
fn execute(
    he: &mut Instrumented,
    plan: &Plan,
    xc: &[u64],
    xs: Option<&[u64]>,
    rng: &mut StdRng,
) -> Result<Executed> {
    let n = he.degree();
    let t = he.plain_modulus();
    let max_level = he.par.max_level();
    // Server, offline: kernel encodings (not counted; OpenCheetah `encodeFilters`), its input share
    // and the output masks (uniform polynomials mod t, subtracted from c0 after the last switch).
    let kernels = plan
        .kernels
        .iter()
        .map(|k| he.encode_poly(k, 0))
        .collect::<Result<Vec<_>>>()?;
    let server_share = xs
        .map(|xs| {
            plan.inputs
                .iter()
                .map(|p| he.encode_poly(&encode_share(p, xs, n, t), 0))
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let masks: Vec<Vec<u64>> = plan
        .outputs
        .iter()
        .map(|_| (0..n).map(|_| rng.random::<u64>() & (t - 1)).collect())
        .collect();
    let mask_polys = masks
        .iter()
        .map(|m| plain_poly(he, &he.encode_poly(m, max_level)?, max_level))
        .collect::<Result<Vec<_>>>()?;

    let mut clock = OnlineClock::default();
    clock.start();
    // Client: encode and encrypt its share.
    let mut cts = Vec::with_capacity(plan.inputs.len());
    for p in &plan.inputs {
        let pt = he.encode_poly(&encode_share(p, xc, n, t), 0)?;
        cts.push(he.encrypt(&pt)?);
    }
    let mut cts = clock.paused(|| he.send_up(cts))?;
    // Server: add its share (AddPlain), products, accumulation.
    if let Some(pts) = &server_share {
        for (ct, pt) in cts.iter_mut().zip(pts) {
            he.add_plain_assign(ct, pt);
        }
    }
    let mut outs = Vec::with_capacity(plan.outputs.len());
    for (o, mask) in plan.outputs.iter().zip(&mask_polys) {
        let mut acc: Option<Ciphertext> = None;
        for &(i, k) in &o.terms {
            let prod = he.mul_plain(&cts[i], &kernels[k]);
            match acc.as_mut() {
                None => acc = Some(prod),
                Some(a) => he.add_assign(a, &prod),
            }
        }
        let mut ct =
            acc.ok_or_else(|| BackendError("an output ciphertext has no product".into()))?;
        // One switch per returned ciphertext down to the first prime ({60, 49}: one switch).
        while he.level(&ct)? < max_level {
            he.mod_switch(&mut ct)?;
        }
        // Mask: subtracted from c0 (`sub_poly_inplace`; not counted as an add).
        ct[0] -= mask;
        outs.push(ct);
    }
    let outs = clock.paused(|| he.send_down(outs))?;
    // Client: decrypt and read the output coefficients.
    let mut client = vec![u64::MAX; plan.out_len];
    for (ct, o) in outs.iter().zip(&plan.outputs) {
        let pt = he.decrypt(ct)?;
        let v = Instrumented::decode_poly(&pt)?;
        for &(coef, idx) in &o.reads {
            if client[idx] != u64::MAX {
                return Err(BackendError(format!("output {idx} produced twice")));
            }
            client[idx] = v[coef];
        }
    }
    clock.stop();
    let wall_ns = clock.ns();
    // Server: its output share, the mask at each output coefficient.
    let mut mask = vec![0u64; plan.out_len];
    for (o, m) in plan.outputs.iter().zip(&masks) {
        for &(coef, idx) in &o.reads {
            mask[idx] = m[coef];
        }
    }
    let noise = outs.iter().map(|c| he.noise_budget(c)).min().flatten();
    Ok(Executed {
        client,
        mask,
        wall_ns,
        noise,
    })
}

fn check(ex: &Executed, expect: &[u64], t: u64) -> bool {
    ex.client.len() == expect.len()
        && ex
            .client
            .iter()
            .zip(&ex.mask)
            .zip(expect)
            .all(|((&c, &m), &y)| c != u64::MAX && c.wrapping_add(m) & (t - 1) == y)
}

/// Runs a HomConv / HomFC plan on the signed input `x`: shares it (mod t), executes, and checks
/// the reconstruction against `expect`.
#[allow(clippy::too_many_arguments)]
fn run_plan(
    layer: &Layer,
    n: u64,
    t: u64,
    opts: &RunOptions,
    plan: &Plan,
    x: &[i64],
    expect: &[u64],
    rng: &mut StdRng,
) -> Result<LayerRun> {
    let xu: Vec<u64> = x.iter().map(|&v| mod_t(v, t)).collect();
    let (xc, xs) = share(&xu, t, layer.reads_input, rng);
    let mut he = make_he(n, opts, t, opts.seed)?;
    let ex = execute(&mut he, plan, &xc, xs.as_deref(), rng)?;
    let correct = check(&ex, expect, t);
    Ok(layer_run(&he, &ex, correct))
}

fn layer_run(he: &Instrumented, ex: &Executed, correct: bool) -> LayerRun {
    LayerRun {
        observed: he.counts,
        times: he.times,
        wall_ns: ex.wall_ns,
        correct,
        noise_budget_bits: ex.noise,
        n: he.degree() as u64,
    }
}

// ---------------------------------------------------------------------------------------------
// HomConv.

/// One spatial axis of the partition: the (padded, possibly sub-sampled) length, the window and
/// kernel size, the number of windows and the stride still to apply inside the blocks.
#[derive(Debug, Clone, Copy)]
struct Axis {
    /// Length of the packed axis (padded; sub-sampled for a 1-wide kernel under the heuristic).
    len: usize,
    win: usize,
    k: usize,
    d: usize,
    /// Stride applied by the client keeping every `stride`-th stride-1 output (1 once sub-sampled).
    stride: usize,
    /// Padded positions per packed position (the sub-sampling factor, else 1).
    sub: usize,
    /// Leading padding and the unpadded length.
    pad: usize,
    in_len: usize,
}

impl Axis {
    fn start(&self, b: usize) -> usize {
        b * (self.win - self.k + 1)
    }
    fn size(&self, b: usize) -> usize {
        self.win.min(self.len - self.start(b))
    }
    /// Input row/column of packed position `p`, or `None` in the padding.
    fn source(&self, p: usize) -> Option<usize> {
        (p * self.sub)
            .checked_sub(self.pad)
            .filter(|&r| r < self.in_len)
    }
    /// Stride-1 outputs of window `b` the client keeps: `(local position, output index)`.
    fn outputs(&self, b: usize) -> Vec<(usize, usize)> {
        let s = self.start(b);
        (s..=s + self.size(b) - self.k)
            .filter(|p| p % self.stride == 0)
            .map(|p| (p - s, p / self.stride))
            .collect()
    }
}

fn run_conv(layer: &Layer, c: &Conv, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
    let n = cfg.ring_degree;
    let p = &cfg.cheetah;
    let t = plain_modulus(p.plain_bits)?;
    let err = |m: String| BackendError(format!("layer `{}`: {m}", layer.path));
    let (ch, m) = (layer.input.c as usize, layer.output.c as usize);
    let (ih, iw) = (layer.input.h as usize, layer.input.w as usize);
    let (kh, kw) = (c.kh as usize, c.kw as usize);
    let (sh, sw) = (c.sh as usize, c.sw as usize);
    let hp = ih + c.pad.top as usize + c.pad.bottom as usize;
    let wp = iw + c.pad.left as usize + c.pad.right as usize;
    if hp < kh || wp < kw {
        return Err(err("kernel larger than the padded input".into()));
    }
    let (oh, ow) = ((hp - kh) / sh + 1, (wp - kw) / sw + 1);
    if (oh, ow) != (layer.output.h as usize, layer.output.w as usize) {
        return Err(err(format!(
            "output {oh}x{ow} differs from the resolved {}",
            layer.output
        )));
    }
    let groups = c.groups as usize;
    let (g_in, g_out) = (ch / groups, m / groups);
    // The counter's partition (packing::coeff::conv), verbatim.
    let heuristic = p.partition == Partition::Heuristic;
    let (sub_h, sub_w) = (heuristic && kh == 1, heuristic && kw == 1);
    let len_h = if sub_h { hp.div_ceil(sh) } else { hp };
    let len_w = if sub_w { wp.div_ceil(sw) } else { wp };
    let b = match p.partition {
        Partition::Heuristic => cc::heuristic_blocks(
            ch as u64,
            len_h as u64,
            len_w as u64,
            kh as u64,
            kw as u64,
            n,
        ),
        Partition::Search => {
            cc::search_blocks(ch as u64, hp as u64, wp as u64, kh as u64, kw as u64, n)
        }
    }
    .map_err(err)?;
    let ax = |len, win, k, d, s, sub: bool, pad: u32, in_len| Axis {
        len,
        win: win as usize,
        k,
        d: d as usize,
        stride: if sub { 1 } else { s },
        sub: if sub { s } else { 1 },
        pad: pad as usize,
        in_len,
    };
    let ah = ax(len_h, b.hw, kh, b.dh, sh, sub_h, c.pad.top, ih);
    let aw = ax(len_w, b.ww, kw, b.dw, sw, sub_w, c.pad.left, iw);
    let (hw, ww) = (b.hw as usize, b.ww as usize);
    let area = hw * ww;
    let stacked = groups > 1 && g_in == 1 && g_out == 1 && p.depthwise == DepthwiseMode::Stacked;
    let cw = if stacked {
        (((n / (b.hw * b.ww)) as f64).sqrt() as u64)
            .min(ch as u64)
            .max(1) as usize
    } else {
        b.cw as usize
    };
    let dc = ch.div_ceil(cw);
    let spatial = ah.d * aw.d;

    // Data: input x (small, signed), weights w[m][c_in_group][dy][dx] non-zero on the taps.
    let mut rng = data_rng(opts);
    let max = opts.max_value;
    let x: Vec<i64> = (0..ch * ih * iw).map(|_| small(&mut rng, max)).collect();
    let w = super::conv_weights(m, g_in, c, || nonzero(&mut rng, max));
    let wt = |mo: usize, ci: usize, dy: usize, dx: usize| w[((mo * g_in + ci) * kh + dy) * kw + dx];
    // Group layout: member `k` of output `mo`'s group is input channel `group_channel(mo, k)`
    // (contiguous: `(mo / g_out)*g_in + k`; strided: `mo mod G + k*G`).
    let strided = groups > 1 && c.group_layout == GroupLayout::Strided;
    let group_channel = |mo: usize, k: usize| {
        if strided {
            mo % groups + k * groups
        } else {
            (mo / g_out) * g_in + k
        }
    };
    // The packing order (the counter's plan, packing::coeff module doc): every group contiguous.
    // Packed input position `j*g_in + k` holds channel `in_chan(j*g_in + k)` (strided: `j + k*G`)
    // and returned output `j*g_out + k` is output channel `out_chan(j*g_out + k)`; identity for
    // contiguous groups. Both parties pack their shares, and the server its kernels, in this
    // order, which costs nothing (each party builds its ciphertexts and plaintexts from data it
    // holds, so a public permutation of the channels is local work).
    let in_chan = |pos: usize| {
        if strided {
            pos / g_in + (pos % g_in) * groups
        } else {
            pos
        }
    };
    let out_chan = |pos: usize| {
        if strided {
            pos / g_out + (pos % g_out) * groups
        } else {
            pos
        }
    };
    // Reference: the strided integer convolution, mod t.
    let xp = |ci: usize, r: usize, q: usize| -> i64 {
        match (
            r.checked_sub(c.pad.top as usize),
            q.checked_sub(c.pad.left as usize),
        ) {
            (Some(y), Some(z)) if y < ih && z < iw => x[(ci * ih + y) * iw + z],
            _ => 0,
        }
    };
    let mut expect = vec![0u64; m * oh * ow];
    for mo in 0..m {
        for o in 0..oh {
            for q in 0..ow {
                let mut acc = 0i64;
                for ci in 0..g_in {
                    for &(dy, dx) in &c.taps {
                        let (dy, dx) = (dy as usize, dx as usize);
                        acc = acc.wrapping_add(wt(mo, ci, dy, dx).wrapping_mul(xp(
                            group_channel(mo, ci),
                            o * sh + dy,
                            q * sw + dx,
                        )));
                    }
                }
                expect[(mo * oh + o) * ow + q] = mod_t(acc, t);
            }
        }
    }

    // The plan: client ciphertext (cb, bh, bw) at index (cb*dH + bh)*dW + bw.
    let in_idx = |cb: usize, bh: usize, bw: usize| (cb * ah.d + bh) * aw.d + bw;
    let mut inputs = Vec::with_capacity(dc * spatial);
    for cb in 0..dc {
        for bh in 0..ah.d {
            for bw in 0..aw.d {
                let mut coeffs = Vec::new();
                for cl in 0..cw.min(ch - cb * cw) {
                    let ci = in_chan(cb * cw + cl);
                    for i in 0..ah.size(bh) {
                        let Some(y) = ah.source(ah.start(bh) + i) else {
                            continue;
                        };
                        for j in 0..aw.size(bw) {
                            if let Some(z) = aw.source(aw.start(bw) + j) {
                                coeffs.push((
                                    cl * area + i * ww + j,
                                    (ci * ih + y) * iw + z,
                                    false,
                                ));
                            }
                        }
                    }
                }
                inputs.push(InPoly { coeffs });
            }
        }
    }
    let mut kernels = Vec::new();
    let mut outputs = Vec::new();
    let reads = |bh: usize, bw: usize, base: usize, out_c: usize| {
        let mut r = Vec::new();
        for &(li, o) in &ah.outputs(bh) {
            for &(lj, q) in &aw.outputs(bw) {
                r.push((base + li * ww + lj, (out_c * oh + o) * ow + q));
            }
        }
        r
    };
    if stacked {
        // Channel c of a block at c*Hw*Ww in the input and c*Cw*Hw*Ww in the kernel: the pair
        // (c, c) lands at c*(Cw+1)*Hw*Ww + O1 + i*Ww + j, clear of every cross pair.
        let o1 = ww * (kh - 1) + (kw - 1);
        for cb in 0..dc {
            let chans = cw.min(ch - cb * cw);
            let mut k = vec![0u64; n as usize];
            for cl in 0..chans {
                for &(dy, dx) in &c.taps {
                    let (dy, dx) = (dy as usize, dx as usize);
                    k[cl * cw * area + o1 - dy * ww - dx] = mod_t(wt(cb * cw + cl, 0, dy, dx), t);
                }
            }
            let kid = kernels.len();
            kernels.push(k);
            for bh in 0..ah.d {
                for bw in 0..aw.d {
                    let mut rd = Vec::new();
                    for cl in 0..chans {
                        rd.extend(reads(bh, bw, cl * (cw + 1) * area + o1, cb * cw + cl));
                    }
                    outputs.push(OutPoly {
                        terms: vec![(in_idx(cb, bh, bw), kid)],
                        reads: rd,
                    });
                }
            }
        }
    } else {
        // HomConv: kernel block (m, cb) reversed at O - c*Hw*Ww - dy*Ww - dx; all-zero blocks
        // (channels outside m's group) are skipped as OpenCheetah's `is_zero` does.
        // Positions are packed positions: output `mp` (channel `out_chan(mp)`) is in packed group
        // `mp / g_out`, whose members sit at input positions `g*g_in ..`, member `pos - g*g_in`.
        let o = area * (cw - 1) + ww * (kh - 1) + (kw - 1);
        for mp in 0..m {
            let (g, mo) = (mp / g_out, out_chan(mp));
            let mut kid = vec![None; dc];
            for (cb, slot) in kid.iter_mut().enumerate() {
                let mut k = vec![0u64; n as usize];
                let mut any = false;
                for cl in 0..cw.min(ch - cb * cw) {
                    let pos = cb * cw + cl;
                    if pos / g_in != g {
                        continue;
                    }
                    for &(dy, dx) in &c.taps {
                        let (dy, dx) = (dy as usize, dx as usize);
                        let v = mod_t(wt(mo, pos - g * g_in, dy, dx), t);
                        any |= v != 0;
                        k[o - cl * area - dy * ww - dx] = v;
                    }
                }
                if any {
                    *slot = Some(kernels.len());
                    kernels.push(k);
                }
            }
            for bh in 0..ah.d {
                for bw in 0..aw.d {
                    let terms = (0..dc)
                        .filter_map(|cb| kid[cb].map(|k| (in_idx(cb, bh, bw), k)))
                        .collect();
                    outputs.push(OutPoly {
                        terms,
                        reads: reads(bh, bw, o, mo),
                    });
                }
            }
        }
    }
    let plan = Plan::new(inputs, kernels, outputs, m * oh * ow);

    run_plan(layer, n, t, opts, &plan, &x, &expect, &mut rng)
}

// ---------------------------------------------------------------------------------------------
// HomFC.

fn run_fc(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
    let n = cfg.ring_degree;
    let t = plain_modulus(cfg.cheetah.plain_bits)?;
    let (ni, no) = (layer.input.c as usize, layer.output.c as usize);
    if layer.input.elems() != ni as u64 {
        return Err(BackendError(format!(
            "layer `{}`: FC input {} is not flattened",
            layer.path, layer.input
        )));
    }
    // OpenCheetah `getSplit` as the counter reproduces it: `now` outputs x `niw` inputs per block.
    let (now, niw) = cc::fc_split(ni as u64, no as u64, n);
    let (now, niw) = (now as usize, niw as usize);
    let (in_ct, out_ct) = (ni.div_ceil(niw), no.div_ceil(now));

    let mut rng = data_rng(opts);
    let max = opts.max_value;
    let x: Vec<i64> = (0..ni).map(|_| small(&mut rng, max)).collect();
    let w: Vec<i64> = (0..no * ni).map(|_| nonzero(&mut rng, max)).collect();
    let expect: Vec<u64> = (0..no)
        .map(|i| {
            let acc = (0..ni).fold(0i64, |a, j| {
                a.wrapping_add(w[i * ni + j].wrapping_mul(x[j]))
            });
            mod_t(acc, t)
        })
        .collect();

    // Input block k: coefficient 0 holds v[k*niw], coefficient N - j holds -v[k*niw + j]
    // (v reversed: sum_j v_j X^-j). Weight block (r, k): coefficient i*niw + j holds
    // W[r*now + i][k*niw + j]; the product's coefficient i*niw is the dot product of row i.
    let nn = n as usize;
    let inputs = (0..in_ct)
        .map(|k| {
            let s = k * niw;
            let len = niw.min(ni - s);
            let coeffs = (0..len)
                .map(|j| {
                    if j == 0 {
                        (0, s, false)
                    } else {
                        (nn - j, s + j, true)
                    }
                })
                .collect();
            InPoly { coeffs }
        })
        .collect();
    let mut kernels = Vec::with_capacity(in_ct * out_ct);
    let mut outputs = Vec::with_capacity(out_ct);
    for r in 0..out_ct {
        let rows = now.min(no - r * now);
        let mut terms = Vec::with_capacity(in_ct);
        for k in 0..in_ct {
            let cols = niw.min(ni - k * niw);
            let mut poly = vec![0u64; nn];
            for i in 0..rows {
                for j in 0..cols {
                    poly[i * niw + j] = mod_t(w[(r * now + i) * ni + k * niw + j], t);
                }
            }
            terms.push((k, kernels.len()));
            kernels.push(poly);
        }
        let reads = (0..rows).map(|i| (i * niw, r * now + i)).collect();
        outputs.push(OutPoly { terms, reads });
    }
    let plan = Plan::new(inputs, kernels, outputs, no);
    run_plan(layer, n, t, opts, &plan, &x, &expect, &mut rng)
}

// ---------------------------------------------------------------------------------------------
// HomBN.

/// The `count` largest primes `p = 1 mod 2n` with exactly `bits` bits, descending (SEAL's
/// `CoeffModulus::Create`, which OpenCheetah's `setUpForBN` uses for the CRT plaintext primes).
pub fn largest_batching_primes(bits: u32, n: u64, count: usize) -> Option<Vec<u64>> {
    let m = 2 * n;
    let lo = 1u64 << (bits - 1);
    let hi = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut p = (hi - 1) / m * m + 1;
    let mut out = Vec::with_capacity(count);
    while out.len() < count && p > lo {
        if is_prime(p) {
            out.push(p);
        }
        p = p.checked_sub(m)?;
    }
    (out.len() == count).then_some(out)
}

fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

fn pow_mod(mut b: u64, mut e: u64, m: u64) -> u64 {
    let mut r = 1u64;
    b %= m;
    while e > 0 {
        if e & 1 == 1 {
            r = mul_mod(r, b, m);
        }
        b = mul_mod(b, b, m);
        e >>= 1;
    }
    r
}

/// `y mod 2^64` of the integer `0 <= y < prod(primes)` with residues `res` (Garner's mixed radix,
/// then the radix sum with wrapping arithmetic, exact mod 2^64).
fn crt_mod_2_64(res: &[u64], primes: &[u64]) -> u64 {
    let mut digits: Vec<u64> = Vec::with_capacity(primes.len());
    for (&a, &pi) in res.iter().zip(primes) {
        let mut x = a % pi;
        for (&v, &pj) in digits.iter().zip(primes) {
            let inv = pow_mod(pj % pi, pi - 2, pi);
            x = mul_mod((x + pi - v % pi) % pi, inv, pi);
        }
        digits.push(x);
    }
    let mut y = 0u64;
    let mut radix = 1u64;
    for (v, &p) in digits.iter().zip(primes) {
        y = y.wrapping_add(v.wrapping_mul(radix));
        radix = radix.wrapping_mul(p);
    }
    y
}

/// `HomBNSS::bn_direct` ([`cc::batchnorm_direct`]) as a plan: one input polynomial per channel
/// and `getSplitBN` tile (row-major at the tile width), the channel's scale as a constant kernel
/// polynomial, one output per input reading the tile's positions.
fn run_bn_direct(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
    let n = cfg.ring_degree;
    let t = plain_modulus(cfg.cheetah.plain_bits)?;
    let i = layer.input;
    let (c, h, w) = (i.c as usize, i.h as usize, i.w as usize);
    let (th, tw) = cc::bn_direct_tile(h as u64, w as u64, n);
    let (th, tw) = (th as usize, tw as usize);
    let (dh, dw) = (h.div_ceil(th), w.div_ceil(tw));
    let mut rng = data_rng(opts);
    let max = opts.max_value;
    let len = c * h * w;
    let x: Vec<i64> = (0..len).map(|_| small(&mut rng, max)).collect();
    let scale: Vec<i64> = (0..c).map(|_| nonzero(&mut rng, max)).collect();
    let expect: Vec<u64> = (0..len)
        .map(|k| mod_t(x[k], t).wrapping_mul(mod_t(scale[k / (h * w)], t)) & (t - 1))
        .collect();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut kernels = Vec::with_capacity(c);
    for (ch, &s) in scale.iter().enumerate() {
        let mut k = vec![0u64; n as usize];
        k[0] = mod_t(s, t);
        kernels.push(k);
        for bh in 0..dh {
            for bw in 0..dw {
                let mut coeffs = Vec::new();
                let mut reads = Vec::new();
                for y in 0..th {
                    for xw in 0..tw {
                        let (gy, gx) = (bh * th + y, bw * tw + xw);
                        if gy < h && gx < w {
                            let idx = ch * h * w + gy * w + gx;
                            coeffs.push((y * tw + xw, idx, false));
                            reads.push((y * tw + xw, idx));
                        }
                    }
                }
                outputs.push(OutPoly {
                    terms: vec![(inputs.len(), ch)],
                    reads,
                });
                inputs.push(InPoly { coeffs });
            }
        }
    }
    let plan = Plan::new(inputs, kernels, outputs, len);
    run_plan(layer, n, t, opts, &plan, &x, &expect, &mut rng)
}

fn run_bn(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
    let n = cfg.ring_degree;
    let l = cfg.cheetah.plain_bits;
    let t = plain_modulus(l)?;
    let (crt, bits) = cc::bn_crt(l);
    let r_bits = 2 * l + 1 + 40;
    if r_bits > 127 {
        return Err(BackendError(format!(
            "HomBN mask of {r_bits} bits (l = {l}) exceeds 127 bits"
        )));
    }
    let primes = largest_batching_primes(bits, n, crt as usize)
        .ok_or_else(|| BackendError(format!("no {crt} primes of {bits} bits = 1 mod {}", 2 * n)))?;
    let len = layer.input.elems() as usize;
    let plane = layer.input.h as usize * layer.input.w as usize;
    let nn = n as usize;
    let pieces = len.div_ceil(nn);

    let mut rng = data_rng(opts);
    let max = opts.max_value;
    let x: Vec<u64> = (0..len).map(|_| mod_t(small(&mut rng, max), t)).collect();
    let scale: Vec<u64> = (0..layer.input.c)
        .map(|_| mod_t(nonzero(&mut rng, max), t))
        .collect();
    let s: Vec<u64> = (0..len).map(|i| scale[i / plane]).collect();
    let expect: Vec<u64> = (0..len)
        .map(|i| x[i].wrapping_mul(s[i]) & (t - 1))
        .collect();
    let (xc, xs) = share(&x, t, layer.reads_input, &mut rng);
    // Server mask r < 2^(2l + 1 + 40); its output share is -r mod 2^l.
    let r: Vec<u128> = (0..len)
        .map(|_| rng.random::<u128>() & ((1u128 << r_bits) - 1))
        .collect();

    let mut counts = OpCounts::default();
    let mut times = super::OpTimes::default();
    let mut wall_ns = 0u64;
    let mut noise: Option<u32> = None;
    let mut residues = vec![vec![0u64; len]; crt as usize];
    for (pi, &p) in primes.iter().enumerate() {
        let mut he = make_he(n, opts, p, opts.seed.wrapping_add(pi as u64))?;
        let piece = |v: &[u64], k: usize| -> Vec<u64> {
            v[k * nn..len.min((k + 1) * nn)]
                .iter()
                .map(|&a| a % p)
                .collect()
        };
        // Server, offline: the scales, its input share and its masks under this prime.
        let max_level = he.par.max_level();
        let scales = (0..pieces)
            .map(|k| he.encode_simd(&piece(&s, k), 0))
            .collect::<Result<Vec<_>>>()?;
        let shares = xs
            .as_ref()
            .map(|xs| {
                (0..pieces)
                    .map(|k| he.encode_simd(&piece(xs, k), 0))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let masks = (0..pieces)
            .map(|k| {
                let rm: Vec<u64> = r[k * nn..len.min((k + 1) * nn)]
                    .iter()
                    .map(|&v| (v % p as u128) as u64)
                    .collect();
                plain_poly(&he, &he.encode_simd(&rm, max_level)?, max_level)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut clock = OnlineClock::default();
        clock.start();
        let mut cts = Vec::with_capacity(pieces);
        for k in 0..pieces {
            let pt = he.encode_simd(&piece(&xc, k), 0)?;
            cts.push(he.encrypt(&pt)?);
        }
        let cts = clock.paused(|| he.send_up(cts))?;
        let mut outs = Vec::with_capacity(pieces);
        for (k, mut ct) in cts.into_iter().enumerate() {
            if let Some(shares) = &shares {
                he.add_plain_assign(&mut ct, &shares[k]);
            }
            let mut ct = he.mul_plain(&ct, &scales[k]);
            while he.level(&ct)? < max_level {
                he.mod_switch(&mut ct)?;
            }
            // Mask: added to c0 (`add_plain_inplace`; not counted).
            ct[0] += &masks[k];
            outs.push(ct);
        }
        let outs = clock.paused(|| he.send_down(outs))?;
        for (k, ct) in outs.iter().enumerate() {
            let v = Instrumented::decode_simd(&he.decrypt(ct)?)?;
            let end = len.min((k + 1) * nn);
            residues[pi][k * nn..end].copy_from_slice(&v[..end - k * nn]);
        }
        clock.stop();
        wall_ns += clock.ns();
        let nb = outs.iter().map(|c| he.noise_budget(c)).min().flatten();
        noise = match (noise, nb) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        counts += he.counts;
        times.key_switch_ns += he.times.key_switch_ns;
        times.scmult_ns += he.times.scmult_ns;
        times.add_ns += he.times.add_ns;
        times.mod_switch_ns += he.times.mod_switch_ns;
        times.enc_ns += he.times.enc_ns;
        times.dec_ns += he.times.dec_ns;
    }
    // Client: CRT-compose (x_c + x_s)*s + r, reduce mod 2^l; server share -r mod 2^l.
    let correct = (0..len).all(|i| {
        let res: Vec<u64> = residues.iter().map(|v| v[i]).collect();
        let y = crt_mod_2_64(&res, &primes) & (t - 1);
        let server = (r[i] as u64).wrapping_neg() & (t - 1);
        y.wrapping_add(server) & (t - 1) == expect[i]
    });
    Ok(LayerRun {
        observed: counts,
        times,
        wall_ns,
        correct,
        noise_budget_bits: noise,
        n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crt_composes() {
        let primes = largest_batching_primes(39, 1024, 3).unwrap();
        assert!(
            primes
                .iter()
                .all(|&p| p >> 38 == 1 && p % 2048 == 1 && is_prime(p))
        );
        assert!(primes[0] > primes[1] && primes[1] > primes[2]);
        let y: u128 = (1u128 << 115) + 123_456_789_012_345;
        let res: Vec<u64> = primes.iter().map(|&p| (y % p as u128) as u64).collect();
        assert_eq!(crt_mod_2_64(&res, &primes), y as u64);
    }

    #[test]
    fn varints() {
        assert_eq!(
            (varint_len(127), varint_len(128), varint_len(16384)),
            (1, 2, 3)
        );
    }
}
