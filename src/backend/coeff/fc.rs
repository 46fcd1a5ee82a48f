//! HomFC (OpenCheetah `include/gemini/cheetah/hom_fc_ss.cc`; Cheetah Sec. 3.1): the split
//! `packing::coeff::fc_split` chooses, as a [`Plan`] run by the shared two-party execution.

use super::super::instrumented::{BackendError, Result};
use super::super::{LayerRun, RunOptions};
use super::two_party::{
    InPoly, OutPoly, Plan, data_rng, mod_t, nonzero, plain_modulus, run_plan, small,
};
use crate::net::Layer;
use crate::packing::CountConfig;
use crate::packing::coeff as cc;

pub(super) fn run_fc(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
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
