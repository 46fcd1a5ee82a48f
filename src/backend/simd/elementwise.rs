//! The element-wise product of `SCI/src/LinearHE/elemwise-prod-field.cpp` (an unfolded batch
//! norm as a per-channel scale), as `packing::simd::elementwise` counts it.

use super::super::LayerRun;
use super::two_party::{
    OnlineClock, Party, data_rng, draw_input, draw_mask, layer_run, mask_rng, modt, mulmod,
    plain_prime, reconstructs, share, small_nonzero, submod,
};
use super::{Result, RunOptions};
use crate::net::Layer;
use crate::packing::CountConfig;

/// Unfolded batch norm as a per-channel scale, `elemwise-prod-field.cpp`: the `C*H*W` values
/// (channel-major) packed densely at the base ring degree; per ciphertext one product (skipped for
/// an all-zero scale), the server's fresh mask added, two modulus switches (flooding between them
/// skipped). The BN shift is a local addition on shares and is not part of the HE layer.
pub fn run_elementwise(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
    let n = cfg.ring_degree as usize;
    let shape = layer.input;
    let len = shape.elems() as usize;
    let per_chan = (shape.h * shape.w) as usize;
    let num_ct = len.div_ceil(n);
    let t = plain_prime(opts, n as u64)?;
    let mut rng = data_rng(opts);
    let m = opts.max_value as i64;
    let x = draw_input(&mut rng, len, m);
    let scale: Vec<i64> = (0..shape.c).map(|_| small_nonzero(&mut rng, m)).collect();
    let (xs, xc) = share(&mut rng, &x, t);
    let sc = |k: usize| modt(scale[k / per_chan], t);
    let expected: Vec<u64> = (0..len).map(|k| mulmod(sc(k), modt(x[k], t), t)).collect();

    let mut p = Party::new(n as u64, t, cfg, opts)?;
    // Server preprocessing: the scales encoded (none for an all-zero piece), the masks drawn and
    // encoded.
    let mut noise_rng = mask_rng(opts);
    let mut scales = Vec::with_capacity(num_ct);
    let mut noise = Vec::with_capacity(num_ct);
    let mut noise_pts = Vec::with_capacity(num_ct);
    for i in 0..num_ct {
        let mut sv = vec![0u64; n];
        for (j, v) in sv.iter_mut().enumerate().take(len.saturating_sub(i * n)) {
            *v = sc(i * n + j);
        }
        scales.push(p.encode_mask(&sv)?);
        let nv = draw_mask(&mut noise_rng, n as u64, t);
        noise_pts.push(p.he.encode_simd(&nv, 0)?);
        noise.push(nv);
    }

    let mut budgets = Vec::new();
    let mut clock = OnlineClock::default();
    clock.start();
    let packed: Vec<Vec<u64>> = (0..num_ct)
        .map(|i| {
            let mut v = vec![0u64; n];
            let end = len.min((i + 1) * n);
            v[..end - i * n].copy_from_slice(&xc[i * n..end]);
            v
        })
        .collect();
    let cts = p.encrypt_input(&packed, &mut clock)?;
    let mut results = Vec::with_capacity(num_ct);
    for ((ct, scale), noise_pt) in cts.iter().zip(&scales).zip(&noise_pts) {
        let enc_noise = p.mask_ct(noise_pt, false)?;
        let mut res = match scale {
            Some(pt) => p.he.mul_plain(ct, pt),
            None => p.zero.clone(),
        };
        p.he.add_assign(&mut res, &enc_noise);
        p.he.mod_switch(&mut res)?;
        results.push(res);
    }
    let dec = p.finish(results, &mut budgets, &mut clock)?;
    let mut client = vec![0u64; len];
    for k in 0..len {
        client[k] = dec[k / n][k % n];
    }
    clock.stop();
    let wall_ns = clock.ns();
    // Server: its scaled share minus its mask (its output share).
    let server: Vec<u64> = (0..len)
        .map(|k| submod(mulmod(sc(k), xs[k], t), noise[k / n][k % n], t))
        .collect();
    let correct = reconstructs(&client, &server, &expected, t);
    Ok(layer_run(&[p], wall_ns, correct, &budgets, n as u64))
}
