//! HomBN (OpenCheetah `include/gemini/cheetah/hom_bn_ss.cc`, `HomBNSS::bn` and `bn_direct`): an
//! unfolded batch norm as a
//! per-channel scale, over CRT primes (`packing::coeff::bn_crt`) or directly mod `2^l` when the
//! counter packs it so (`packing::coeff::bn_uses_direct`).

use super::super::instrumented::is_prime;
use super::super::instrumented::{BackendError, Result};
use super::super::simd::OnlineClock;
use super::super::{Instrumented, LayerRun, OpTimes, RunOptions};
use super::two_party::{
    InPoly, OutPoly, Plan, data_rng, make_he, mod_t, nonzero, plain_modulus, plain_poly, run_plan,
    share, small,
};
use crate::cost::OpCounts;
use crate::net::Layer;
use crate::packing::CountConfig;
use crate::packing::coeff as cc;
use rand::Rng;

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

pub(super) fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

pub(super) fn pow_mod(mut b: u64, mut e: u64, m: u64) -> u64 {
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
pub(super) fn crt_mod_2_64(res: &[u64], primes: &[u64]) -> u64 {
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
pub(super) fn run_bn_direct(
    layer: &Layer,
    cfg: &CountConfig,
    opts: &RunOptions,
) -> Result<LayerRun> {
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

pub(super) fn run_bn(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
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
    let mut times = OpTimes::default();
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
}
