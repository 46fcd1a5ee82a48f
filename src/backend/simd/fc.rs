//! The hybrid fully connected layer of `SCI/src/LinearHE/fc-field.cpp` (`FCField::configure`,
//! `preprocess_vec`, `fc_online`; Gazelle's hybrid method), as `packing::simd::fc` counts it.

use super::super::{LayerRun, RotKind};
use super::two_party::{
    OnlineClock, Party, addmod, data_rng, draw_input, draw_mask, layer_run, mask_rng, modt, mulmod,
    plain_prime, reconstructs, share, small_nonzero, submod,
};
use super::{Result, RunOptions, fail};
use crate::he::next_pow2;
use crate::net::Layer;
use crate::packing::CountConfig;
use std::collections::BTreeSet;

/// `(N, ni', pack_num, d)` of the hybrid FC (`FCField::configure`); errors as the counter does.
pub fn fc_geometry(ni: u64, no: u64, cfg: &CountConfig) -> Result<(u64, u64, u64, u64)> {
    // The counter's own checks (input fits, outputs fit the diagonal packing).
    let cost = crate::packing::simd::fc(ni, no, cfg).map_err(fail)?;
    let n = cost.n.expect("fc has a ring degree");
    let ni2 = next_pow2(ni);
    let pack_num = n / ni2;
    let d = next_pow2(no).div_ceil(pack_num);
    Ok((n, ni2, pack_num, d))
}

/// The hybrid FC of `fc-field.cpp`: the client's vector replicated `pack_num` times at stride
/// `ni'`; the server rotates it by `k = 0 .. d-1` (generalised diagonals), multiplies, accumulates,
/// switches down, rotate-and-sums by `d, 2d, ... < ni'` and adds its mask. Row `r` of the output
/// sits at slot `(r mod d) + ni' * (r / d)`.
pub fn run_fc(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
    let (ni, no) = (layer.input.c as usize, layer.output.c as usize);
    let (n, ni2, pack_num, dg) = fc_geometry(ni as u64, no as u64, cfg)?;
    let (n, ni2, pack_num, dg) = (n as usize, ni2 as usize, pack_num as usize, dg as usize);
    let half_n = n / 2;
    let t = plain_prime(opts, n as u64)?;
    let mut rng = data_rng(opts);
    let m = opts.max_value as i64;
    let x = draw_input(&mut rng, ni, m);
    let wts: Vec<i64> = (0..no * ni).map(|_| small_nonzero(&mut rng, m)).collect();
    let (xs, xc) = share(&mut rng, &x, t);
    let dot = |row: usize, v: &dyn Fn(usize) -> u64| {
        (0..ni).fold(0u64, |acc, col| {
            addmod(acc, mulmod(modt(wts[row * ni + col], t), v(col), t), t)
        })
    };
    let expected: Vec<u64> = (0..no).map(|r| dot(r, &|c| modt(x[c], t))).collect();

    let mut p = Party::new(n as u64, t, cfg, opts)?;
    let mut steps = BTreeSet::new();
    for k in 1..dg {
        steps.insert((0, Some(k as i64)));
    }
    let mut rot = dg;
    while rot < ni2 {
        steps.insert((
            1,
            if rot == half_n {
                None
            } else {
                Some(rot as i64)
            },
        ));
        rot *= 2;
    }
    p.warm_up(&steps)?;

    // Server preprocessing: its mask drawn and encoded, the generalised diagonals encoded.
    let noise = draw_mask(&mut mask_rng(opts), n as u64, t);
    let noise_pt = p.he.encode_simd(&noise, 0)?;
    let mut mask = vec![0u64; n];
    let mut diagonals = Vec::with_capacity(dg);
    for k in 0..dg {
        for (j, v) in mask.iter_mut().enumerate() {
            let (blk, u) = (j / ni2, j % ni2);
            let (row, col) = (blk * dg + u % dg, (u + k) % ni2);
            *v = if row < no && col < ni {
                modt(wts[row * ni + col], t)
            } else {
                0
            };
        }
        diagonals.push(p.encode_mask(&mask)?);
    }

    let mut budgets = Vec::new();
    let mut clock = OnlineClock::default();
    clock.start();
    // Client (`preprocess_vec`).
    let mut packed = vec![0u64; n];
    for idx in 0..pack_num {
        packed[idx * ni2..idx * ni2 + ni].copy_from_slice(&xc);
    }
    let ct = p.encrypt_input(&[packed], &mut clock)?.pop().unwrap();
    // Server (`fc_online`).
    let mut enc_noise = p.mask_ct(&noise_pt, false)?;
    let mut result = None;
    for (k, diag) in diagonals.iter().enumerate() {
        if let Some(diag) = diag {
            let r = p.rotate_cow(&ct, k as i64, RotKind::Internal)?;
            p.mac(&mut result, &r, Some(diag));
        }
    }
    let mut result = p.switched(result)?;
    p.he.mod_switch(&mut enc_noise)?;
    let mut rot = dg;
    while rot < ni2 {
        let tmp = if rot == half_n {
            p.he.swap_rows(&result, RotKind::External)?
        } else {
            p.he.rotate(&result, rot as i64, RotKind::External)?
        };
        p.he.add_assign(&mut result, &tmp);
        rot *= 2;
    }
    p.he.add_assign(&mut result, &enc_noise);
    let dec = p.finish(vec![result], &mut budgets, &mut clock)?;
    let out_slot = |r: usize| r % dg + ni2 * (r / dg);
    let client: Vec<u64> = (0..no).map(|r| dec[0][out_slot(r)]).collect();
    clock.stop();
    let wall_ns = clock.ns();
    // Server: W * x_s in the clear minus its mask (its output share).
    let server: Vec<u64> = (0..no)
        .map(|r| submod(dot(r, &|c| xs[c]), noise[out_slot(r)], t))
        .collect();

    let correct = reconstructs(&client, &server, &expected, t);
    Ok(layer_run(&[p], wall_ns, correct, &budgets, n as u64))
}
