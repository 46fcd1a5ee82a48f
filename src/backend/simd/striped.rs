//! The slot-aligned striped plan of one non-strided (sub-)convolution, as
//! `packing::simd::striped_slot_aligned` counts it: strided groups with G a multiple of `cn`, so
//! every live weight links channels at the same slot position and output ciphertext j is the sum,
//! over the input ciphertexts `k == j (mod G/cn)` and the taps, of `x_k(tap) (.) mask(j, k, tap)`,
//! with no external rotation. (G not a multiple of `cn` runs the strided-live plan instead.)

use super::Result;
use super::conv::{JobData, MaskBlock, Server, fill_block};
use super::two_party::{OnlineClock, Party};
use crate::packing::simd::SciLayout;
use fhe::bfv::Ciphertext;

/// `G / cn` (at least 1): output ciphertext j of the slot-aligned striped plan reads the input
/// ciphertexts `k == j` modulo it.
pub fn period(l: &SciLayout, groups: usize) -> usize {
    (groups / l.cn() as usize).max(1)
}

/// Encodes block `b` (output ciphertext `b`) of the striped plan's weight masks: per input
/// ciphertext of its residue class and tap, the weights linking each slot position to the same
/// position.
pub fn mask_block(p: &Party, jd: JobData, b: usize) -> Result<MaskBlock> {
    let (d, co, job) = (jd.d, jd.co, jd.job);
    let l = &job.layout;
    let (n, s, hc) = (l.n as usize, l.s as usize, l.hc as usize);
    let half_n = n / 2;
    let mut out = Vec::new();
    // Output ciphertext b: per input ciphertext of its residue class and tap, the weights
    // linking each slot position to the same position.
    let cn = 2 * hc;
    let (j, m) = (b, period(l, job.stripes()));
    let mut mask = vec![0u64; n];
    for k in (j % m..l.inp_ct as usize).step_by(m) {
        for &(a, bb) in &job.taps {
            mask.fill(0);
            for pos in 0..cn {
                let (ch, o) = (k * cn + pos, j * cn + pos);
                if ch >= d.ci || o >= co {
                    continue;
                }
                let val = d.sub_weight(job, o, ch, a, bb);
                let base = (pos / hc) * half_n + (pos % hc) * s;
                fill_block(&mut mask, base, job.h, job.w, a, bb, val);
            }
            out.push(p.encode_mask(&mask)?);
        }
    }
    Ok(out)
}

/// The striped middle: per output ciphertext j, the products of every input ciphertext
/// `k == j (mod G/cn)` and tap accumulated into the zero ciphertext and switched down once.
/// Returns `out_ct` ciphertexts at level 1.
pub fn middle(p: &mut Party, sv: Server, clock: &mut OnlineClock) -> Result<Vec<Ciphertext>> {
    let l = sv.layout();
    let m = period(l, sv.jd.job.stripes());
    let mut out = Vec::with_capacity(l.out_ct as usize);
    for j in 0..l.out_ct as usize {
        let acc = sv.with_block(p, j, clock, |p, block| {
            let mut masks = block.iter();
            let mut acc = None;
            for ct_rots in sv.rots.iter().skip(j % m).step_by(m) {
                p.mac_each(&mut acc, ct_rots, &mut masks);
            }
            Ok(acc)
        })?;
        out.push(p.switched(acc)?);
    }
    Ok(out)
}
