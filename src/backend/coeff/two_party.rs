//! The shared machinery of the Cheetah executors: a coefficient-packing plan (which share
//! element each client coefficient holds, the kernel polynomials, which products each returned
//! ciphertext sums and where its outputs sit) and its two-party execution (shares, the client's
//! encryption, the server's AddPlain, products, switches and mask, decryption and the check).

use super::super::instrumented::{BackendError, Result};
use super::super::simd::OnlineClock;
use super::super::{HeParams, Instrumented, LayerRun, RunOptions};
use crate::he::KeyPolicy;
use crate::net::Layer;
use fhe::bfv::{Ciphertext, Plaintext};
use fhe_math::rq::{Poly, Representation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One client ciphertext: which share element each coefficient holds (`neg`: the negated element,
/// HomFC's reversed input).
pub(super) struct InPoly {
    pub(super) coeffs: Vec<(usize, usize, bool)>,
}

/// One returned ciphertext: the products summed into it and the output coefficients it carries.
pub(super) struct OutPoly {
    /// `(input ciphertext, kernel polynomial)`; kernels that are all zero never appear.
    pub(super) terms: Vec<(usize, usize)>,
    /// `(coefficient, flat output index)`.
    pub(super) reads: Vec<(usize, usize)>,
}

pub(super) struct Plan {
    pub(super) inputs: Vec<InPoly>,
    /// Kernel polynomials (coefficients mod t), all non-zero.
    pub(super) kernels: Vec<Vec<u64>>,
    pub(super) outputs: Vec<OutPoly>,
    /// Number of output elements.
    pub(super) out_len: usize,
}

impl Plan {
    pub(super) fn new(
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
pub(super) struct Executed {
    /// The client's decrypted output share per output element.
    pub(super) client: Vec<u64>,
    /// The server's mask per output element: `client + mask = y mod t` (the server's output share
    /// is `mask`).
    pub(super) mask: Vec<u64>,
    pub(super) wall_ns: u64,
    pub(super) noise: Option<u32>,
}

pub(super) fn plain_modulus(l: u32) -> Result<u64> {
    if !(2..=61).contains(&l) {
        return Err(BackendError(format!(
            "plaintext modulus 2^{l}: fhe.rs needs 2 <= l <= 61"
        )));
    }
    Ok(1u64 << l)
}

pub(super) fn make_he(n: u64, opts: &RunOptions, t: u64, seed: u64) -> Result<Instrumented> {
    let params = HeParams {
        n: n as usize,
        moduli_bits: opts.cheetah_moduli_bits.clone(),
        plain_modulus: t,
        insecure: opts.insecure,
    };
    Instrumented::new(&params, KeyPolicy::PerStep, seed)
}

pub(super) fn data_rng(opts: &RunOptions) -> StdRng {
    StdRng::seed_from_u64(opts.seed ^ 0x5EED_C0EF_u64.rotate_left(17))
}

/// A value in `[-max, max]`.
pub(super) fn small(rng: &mut StdRng, max: u64) -> i64 {
    let m = max as i64;
    rng.random_range(-m..=m)
}

/// A non-zero value in `[-max, max]` (`max >= 1` assumed).
pub(super) fn nonzero(rng: &mut StdRng, max: u64) -> i64 {
    let v = rng.random_range(1..=max.max(1) as i64);
    if rng.random::<bool>() { -v } else { v }
}

/// `v mod 2^l` for a power of two `t = 2^l` (two's complement wrap).
pub(super) fn mod_t(v: i64, t: u64) -> u64 {
    (v as u64) & (t - 1)
}

/// Secret-shares `x` mod t: `(client, server)`; a layer reading the network input keeps it whole
/// at the client.
pub(super) fn share(
    x: &[u64],
    t: u64,
    reads_input: bool,
    rng: &mut StdRng,
) -> (Vec<u64>, Option<Vec<u64>>) {
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

pub(super) fn encode_share(p: &InPoly, share: &[u64], n: usize, t: u64) -> Vec<u64> {
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
pub(super) fn plain_poly(he: &Instrumented, pt: &Plaintext, level: usize) -> Result<Poly> {
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
pub(super) fn execute(
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

pub(super) fn check(ex: &Executed, expect: &[u64], t: u64) -> bool {
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
pub(super) fn run_plan(
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

pub(super) fn layer_run(he: &Instrumented, ex: &Executed, correct: bool) -> LayerRun {
    LayerRun {
        observed: he.counts,
        times: he.times,
        wall_ns: ex.wall_ns,
        correct,
        noise_budget_bits: ex.noise,
        n: he.degree() as u64,
    }
}
