//! The small-group plan of one non-strided (sub-)convolution, as
//! `packing::simd::small_group_subconv` counts it: contiguous groups of `g` channels (`g` dividing
//! `hc`; depthwise: `g = 1`) packed in consecutive blocks of a row, so each output block reads the
//! input blocks of its own group at in-row offsets `d`; per input ciphertext and offset one masked
//! partial sum, rotated by `-d*S` into place (offset 0 free). The share-side variant returns the
//! partial sums unrotated (`share_side.rs`).

use super::super::RotKind;
use super::Result;
use super::conv::{JobData, MaskBlock, Server, fill_block};
use super::two_party::{OnlineClock, Party, accumulate, or_zero};
use fhe::bfv::Ciphertext;

/// In-row block offsets `d` (output block minus input block) of a small-group convolution:
/// `-(g-1) ..= g-1`, or `0 .. hc` when `g == hc` (rows wrap modulo the group).
pub fn group_offsets(g: usize, hc: usize) -> Vec<i64> {
    if g == hc {
        (0..hc as i64).collect()
    } else {
        (-(g as i64 - 1)..g as i64).collect()
    }
}

/// Encodes block `b` (input ciphertext `b`) of the small-group plan's weight masks: per in-row
/// offset and tap, the weights linking each block to the block `off` away.
pub fn mask_block(p: &Party, jd: JobData, b: usize) -> Result<MaskBlock> {
    let (d, job) = (jd.d, jd.job);
    let g = job.group_size();
    let l = &job.layout;
    let (n, s, hc) = (l.n as usize, l.s as usize, l.hc as usize);
    let half_n = n / 2;
    let mut out = Vec::new();
    // Per in-row offset and tap, the weights linking each block to the block `off` away.
    let cn = 2 * hc;
    let c = d.ci;
    let ct_idx = b;
    let mut mask = vec![0u64; n];
    for off in group_offsets(g, hc) {
        for &(a, bb) in &job.taps {
            mask.fill(0);
            for half in 0..2 {
                for blk in 0..hc {
                    let ch = ct_idx * cn + half * hc + blk;
                    if ch >= c {
                        break;
                    }
                    let ob = blk as i64 + off;
                    let ob = if g == hc {
                        ob.rem_euclid(hc as i64) as usize
                    } else if ob >= 0 && (ob as usize) < hc && ob as usize / g == blk / g {
                        ob as usize
                    } else {
                        continue;
                    };
                    let o = ct_idx * cn + half * hc + ob;
                    let val = d.sub_weight(job, o, ch, a, bb);
                    fill_block(&mut mask, half * half_n + blk * s, job.h, job.w, a, bb, val);
                }
            }
            out.push(p.encode_mask(&mask)?);
        }
    }
    Ok(out)
}

/// The small-group plan's partial sums: per input ciphertext and in-row offset `d` (index `oi`
/// into [`group_offsets`]), the masked products of all taps accumulated into the zero ciphertext
/// and switched down once; each is handed to `emit(p, ct_idx, oi, d, partial)`.
pub fn partials(
    p: &mut Party,
    sv: Server,
    clock: &mut OnlineClock,
    mut emit: impl FnMut(&mut Party, usize, usize, i64, Ciphertext) -> Result<()>,
) -> Result<()> {
    let offsets = group_offsets(sv.jd.job.group_size(), sv.layout().hc as usize);
    for (ct_idx, ct_rots) in sv.rots.iter().enumerate() {
        sv.with_block(p, ct_idx, clock, |p, block| {
            let mut masks = block.iter();
            for (oi, &off) in offsets.iter().enumerate() {
                let mut acc = None;
                p.mac_each(&mut acc, ct_rots, &mut masks);
                let acc = p.switched(acc)?;
                emit(p, ct_idx, oi, off, acc)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The small-group middle: the partial sums of [`partials`] rotated by `-d*S` (offset 0 free) and
/// added into the result. Returns `inp_ct` ciphertexts at level 1.
pub fn middle(p: &mut Party, sv: Server, clock: &mut OnlineClock) -> Result<Vec<Ciphertext>> {
    let l = sv.layout();
    let s = l.s as usize;
    let zero1 = p.zero_next_level()?;
    let mut result: Vec<Option<Ciphertext>> = (0..l.inp_ct).map(|_| None).collect();
    partials(p, sv, clock, |p, ct_idx, _, off, acc| {
        let r = p.rotate_owned(acc, -off * s as i64, RotKind::External)?;
        accumulate(&mut p.he, &mut result[ct_idx], r, &zero1);
        Ok(())
    })?;
    Ok(or_zero(result, &zero1))
}
