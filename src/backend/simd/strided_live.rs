//! Strided groups (group j = channels `c mod G == j`, at their own positions) on the dense SCI_HE
//! plan over the whole layer, the weights outside the groups zero, with structurally zero work
//! skipped, as `packing::simd::strided_live_plan` counts it (`StridedLivePlan`): all-zero masks
//! are not multiplied (as in every plan), partial sums without a live mask are neither switched,
//! rotated nor added, a pair member without a live partial sum is not row-swapped, and the column
//! fold runs only when a product from the second row is live. `dense.rs` runs the plan; the
//! decisions are here.

use super::conv::{Job, JobData};
use fhe::bfv::Ciphertext;

/// A partial sum or pair member of the dense plan entering its next step (`None`: no live product
/// reached it). The live plan leaves an absent one out; SCI_HE's plan uses its zero ciphertext
/// `zero` (the accumulator it starts from).
pub fn live_or_zero(job: &Job, c: Option<Ciphertext>, zero: &Ciphertext) -> Option<Ciphertext> {
    if job.live {
        c
    } else {
        Some(c.unwrap_or_else(|| zero.clone()))
    }
}

/// Whether the column fold runs (outputs fit one row, inputs span both rows): always under
/// SCI_HE's plan, under the live plan only with a live product from the second row.
pub fn column_fold_runs(jd: JobData) -> bool {
    let l = &jd.job.layout;
    l.out_halves == 1 && l.inp_halves > 1 && (!jd.job.live || second_row_live(jd))
}

/// Whether a product from an input in the second row is live for the first half-permutation
/// (outputs in one row, so output channel `(chan - r) mod hc` of input block `chan`): some input
/// channel there shares a group with an existing output channel at some offset.
fn second_row_live(jd: JobData) -> bool {
    let (d, co) = (jd.d, jd.co);
    let l = &jd.job.layout;
    let hc = l.hc as usize;
    (0..l.inp_ct as usize).any(|k| {
        (0..hc).any(|chan| {
            let ch = (2 * k + 1) * hc + chan;
            ch < d.ci
                && (0..hc).any(|rot| {
                    let o = (chan + hc - rot) % hc;
                    o < co && d.index_in_group(o, ch).is_some()
                })
        })
    })
}
