//! The dense SCI_HE plan of one non-strided (sub-)convolution, as `packing::simd::dense_subconv`
//! counts it: `HE_preprocess_filters_OP` (the weight masks), `HE_conv_OP` (the masked products
//! accumulated per half-permutation and in-row offset) and `HE_output_rotations` (the output
//! rotations, pair sums, row swaps and the column fold) in `SCI/src/LinearHE/conv-field.cpp`.
//! With strided groups (`Job::live`) the same plan runs with structurally zero work skipped; what
//! it skips is decided in `strided_live.rs`.

use super::super::RotKind;
use super::Result;
use super::conv::{JobData, MaskBlock, Server, fill_block};
use super::strided_live::{column_fold_runs, live_or_zero};
use super::two_party::{OnlineClock, Party, accumulate, or_zero};
use fhe::bfv::Ciphertext;

/// Encodes block `b` (the half-permutation pair `2b, 2b + 1`) of the dense plan's weight masks.
pub fn mask_block(p: &Party, jd: JobData, b: usize) -> Result<MaskBlock> {
    let (d, job) = (jd.d, jd.job);
    let l = &job.layout;
    let (n, s, hc) = (l.n as usize, l.s as usize, l.hc as usize);
    let half_n = n / 2;
    let mut out = Vec::new();
    // `HE_preprocess_filters_OP`: per (in-row offset, input ciphertext, tap) one mask per
    // half-permutation of the pair.
    let (in_base, ci, out_base_ch, co) = jd.channels();
    let (inp_ct, out_ct) = (l.inp_ct as usize, l.out_ct as usize);
    let (out_halves, half_perms) = (l.out_halves as usize, l.half_perms as usize);
    let out_mod = out_ct * 2 * hc;
    let perm = 2 * b;
    let out_base = (perm * hc) % out_mod;
    let mut m0 = vec![0u64; n];
    let mut m1 = vec![0u64; n];
    for rot in 0..hc {
        for ct_idx in 0..inp_ct {
            for &(a, bb) in &job.taps {
                m0.fill(0);
                m1.fill(0);
                for half in 0..2 {
                    let inp_base = (2 * ct_idx + half) * hc;
                    for chan in 0..hc.min(ci.saturating_sub(inp_base)) {
                        let offset = (chan + hc - rot) % hc;
                        let (out_idx, out_idx2) = if half == 1 {
                            let first = if out_halves > 1 {
                                offset + out_base + hc
                            } else {
                                offset + out_base
                            };
                            (first, offset + out_base)
                        } else {
                            (offset + out_base, offset + out_base + hc)
                        };
                        let ch = in_base + inp_base + chan;
                        let wt = |o: usize| {
                            if o < co {
                                d.sub_weight(job, out_base_ch + o, ch, a, bb)
                            } else {
                                0
                            }
                        };
                        let base = half * half_n + chan * s;
                        fill_block(&mut m0, base, job.h, job.w, a, bb, wt(out_idx));
                        if half_perms > 1 {
                            fill_block(&mut m1, base, job.h, job.w, a, bb, wt(out_idx2));
                        }
                    }
                }
                out.push(p.encode_mask(&m0)?);
                if half_perms > 1 {
                    out.push(p.encode_mask(&m1)?);
                }
            }
        }
    }
    Ok(out)
}

/// The masked products of the dense plan, accumulated per (half-permutation, in-row offset)
/// (`HE_conv_OP`); `None`: a partial sum without a live mask.
pub fn products(
    p: &mut Party,
    sv: Server,
    clock: &mut OnlineClock,
) -> Result<Vec<Option<Ciphertext>>> {
    let l = sv.layout();
    let hc = l.hc as usize;
    let inp_ct = l.inp_ct as usize;
    let half_perms = l.half_perms as usize;
    let mut convs: Vec<Option<Ciphertext>> = (0..l.convs).map(|_| None).collect();
    for (b, perm) in (0..half_perms).step_by(2).enumerate() {
        sv.with_block(p, b, clock, |p, block| {
            let mut masks = block.iter();
            let mut next = || masks.next().expect("one mask per product").as_ref();
            for rot in 0..hc {
                let conv_idx = perm * hc + rot;
                for ct_rots in sv.rots.iter().take(inp_ct) {
                    for src in ct_rots {
                        p.mac(&mut convs[conv_idx], src, next());
                        if half_perms > 1 {
                            p.mac(&mut convs[conv_idx + hc], src, next());
                        }
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(convs)
}

/// The dense SCI_HE middle: masked products accumulated per (half-permutation, in-row offset)
/// (`HE_conv_OP`, masks from `HE_preprocess_filters_OP`), then the output rotations, pair sums,
/// row swaps and the column fold (`HE_output_rotations`). Returns `out_ct` ciphertexts at level 1.
pub fn middle(p: &mut Party, sv: Server, clock: &mut OnlineClock) -> Result<Vec<Ciphertext>> {
    let (jd, l) = (sv.jd, sv.layout());
    let (s, hc) = (l.s as usize, l.hc as usize);
    let out_ct = l.out_ct as usize;
    let half_perms = l.half_perms as usize;

    let convs = products(p, sv, clock)?;
    let mut switched = Vec::with_capacity(convs.len());
    for c in convs {
        // Live plan: a partial sum without a live mask is neither switched, rotated nor added.
        switched.push(match live_or_zero(jd.job, c, &p.zero) {
            Some(mut c) => {
                p.he.mod_switch(&mut c)?;
                Some(c)
            }
            None => None,
        });
    }
    let mut convs = switched;
    let fold_live = column_fold_runs(jd);

    // Output rotations.
    let zero1 = p.zero_next_level()?;
    let mut result: Vec<Option<Ciphertext>> = (0..out_ct).map(|_| None).collect();
    for perm in (0..half_perms).step_by(2) {
        let mut part0 = None;
        let mut part1 = None;
        for rot in 0..hc {
            let conv_idx = perm * hc + rot;
            let step = -((((hc - rot) % hc) * s) as i64);
            if let Some(c) = convs[conv_idx].take() {
                let r = p.rotate_owned(c, step, RotKind::External)?;
                accumulate(&mut p.he, &mut part0, r, &zero1);
            }
            if half_perms > 1
                && let Some(c) = convs[conv_idx + hc].take()
            {
                let r = p.rotate_owned(c, step, RotKind::External)?;
                accumulate(&mut p.he, &mut part1, r, &zero1);
            }
        }
        let out_idx = (perm / 2) % out_ct;
        // Live plan: a pair member without a live partial sum is not added (nor swapped).
        if let Some(part0) = live_or_zero(jd.job, part0, &zero1) {
            // Outputs fit one row, inputs span both: fold the rows together.
            let fold = if perm == 0 && fold_live {
                Some(p.he.swap_rows(&part0, RotKind::External)?)
            } else {
                None
            };
            accumulate(&mut p.he, &mut result[out_idx], part0, &zero1);
            if let Some(sw) = fold {
                accumulate(&mut p.he, &mut result[out_idx], sw, &zero1);
            }
        }
        if half_perms > 1
            && let Some(part1) = live_or_zero(jd.job, part1, &zero1)
        {
            let sw = p.he.swap_rows(&part1, RotKind::External)?;
            accumulate(&mut p.he, &mut result[out_idx], sw, &zero1);
        }
    }
    Ok(or_zero(result, &zero1))
}
