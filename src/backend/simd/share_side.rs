//! The share-side return (`accum: share-side`), as `packing::simd::live_share_side`,
//! `small_group_share_side` and `return_path` count it: the partial sums of the dense,
//! strided-live or small-group plan (SCI_HE's `convs` in `HE_conv_OP`, or the small-group plan's
//! per-offset sums) are not rotated; each one that is not structurally zero is masked and returned,
//! and both parties align and add them on their plaintext shares (rotations of share vectors: no
//! HE work). This is GALA's share-RaS (rotate-and-sum on the shares; Zhang, Xin and Wu, NDSS
//! 2021) applied to the partial sums of a convolution.

use super::conv::{JobData, JobPrep, Server};
use super::small_group::group_offsets;
use super::two_party::{OnlineClock, Party, addmod};
use super::{Result, dense, small_group};
use fhe::bfv::Ciphertext;

/// How the parties align one returned partial sum of the share-side plan on their plaintext
/// shares: rotate both rows left by `step`, swap the rows if `swap`, add into output ciphertext
/// `out`, and (the column fold) add the row-swapped vector as well if `fold`.
#[derive(Debug, Clone, Copy)]
pub struct Align {
    out: usize,
    step: i64,
    swap: bool,
    fold: bool,
}

/// One returned partial sum: the index of its server mask, the ciphertext (switched down once),
/// its alignment.
pub type Partial = (usize, Ciphertext, Align);

impl Align {
    /// `acc[out] += align(v)` mod t.
    fn add_into(&self, acc: &mut [Vec<u64>], v: &[u64], t: u64) {
        let n = v.len();
        let half = n / 2;
        let st = self.step.rem_euclid(half as i64) as usize;
        let at = |i: usize| {
            let (row, col) = (i / half, i % half);
            let row = if self.swap { 1 - row } else { row };
            v[row * half + (col + st) % half]
        };
        let dst = &mut acc[self.out];
        for (i, x) in dst.iter_mut().enumerate() {
            *x = addmod(*x, at(i), t);
            if self.fold {
                *x = addmod(*x, at((i + half) % n), t);
            }
        }
    }
}

/// The share-side return: every partial sum gets the server's mask (encrypted and switched down
/// once) and the return path; the client decrypts each and both parties align and add theirs.
/// Returns the server's aligned masks per output ciphertext (its share, negated).
pub fn share_side_return(
    p: &mut Party,
    jd: JobData,
    prep: &JobPrep,
    partials: Vec<Partial>,
    clock: &mut OnlineClock,
    client: &mut [u64],
    budgets: &mut Vec<u32>,
) -> Result<Vec<Vec<u64>>> {
    let l = &jd.job.layout;
    let (n, t) = (l.n as usize, jd.d.t);
    let mut results = Vec::with_capacity(partials.len());
    let mut aligns = Vec::with_capacity(partials.len());
    for (idx, mut ct, al) in partials {
        let m = p.mask_ct(&prep.noise_pts[idx], true)?;
        p.he.add_assign(&mut ct, &m);
        results.push(ct);
        aligns.push((idx, al));
    }
    let dec = p.finish(results, budgets, clock)?;
    let out_ct = l.out_ct as usize;
    let mut acc = vec![vec![0u64; n]; out_ct];
    for (v, (_, al)) in dec.iter().zip(&aligns) {
        al.add_into(&mut acc, v, t);
    }
    jd.add_outputs(client, &acc);
    // Server: the same alignment of its masks (plaintext work, outside the online phase).
    clock.paused(|| {
        let mut server = vec![vec![0u64; n]; out_ct];
        for (idx, al) in &aligns {
            al.add_into(&mut server, &prep.noise[*idx], t);
        }
        Ok(server)
    })
}

/// Share-side on the dense (or strided-live) plan: the products of [`dense::products`]; every
/// live partial sum switched down once and returned with the alignment `HE_output_rotations`
/// would have applied (row rotation by `-((hc - r) mod hc)*S`, row swap of the second pair
/// member, column fold).
pub fn dense(p: &mut Party, sv: Server, clock: &mut OnlineClock) -> Result<Vec<Partial>> {
    let l = sv.layout();
    let (s, hc) = (l.s as usize, l.hc as usize);
    let out_ct = l.out_ct as usize;
    let (out_halves, half_perms) = (l.out_halves as usize, l.half_perms as usize);
    let convs = dense::products(p, sv, clock)?;
    let mut out = Vec::new();
    for (idx, c) in convs.into_iter().enumerate() {
        let Some(mut c) = c else { continue };
        let (perm0, rest) = (idx / (2 * hc) * 2, idx % (2 * hc));
        let (member, rot) = (rest / hc, rest % hc);
        debug_assert!(member == 0 || half_perms > 1);
        p.he.mod_switch(&mut c)?;
        let al = Align {
            out: (perm0 / 2) % out_ct,
            step: -((((hc - rot) % hc) * s) as i64),
            swap: member == 1,
            fold: member == 0 && perm0 == 0 && out_halves == 1 && l.inp_halves > 1,
        };
        out.push((idx, c, al));
    }
    Ok(out)
}

/// Share-side on the small-group plan: the partial sums of [`small_group::partials`], returned
/// unrotated; aligned by a row rotation of `-d*S`.
pub fn small_group(p: &mut Party, sv: Server, clock: &mut OnlineClock) -> Result<Vec<Partial>> {
    let l = sv.layout();
    let (s, hc) = (l.s as usize, l.hc as usize);
    let per_ct = group_offsets(sv.jd.job.group_size(), hc).len();
    let mut out = Vec::new();
    small_group::partials(p, sv, clock, |_, ct_idx, oi, off, acc| {
        let al = Align {
            out: ct_idx,
            step: -off * s as i64,
            swap: false,
            fold: false,
        };
        out.push((ct_idx * per_ct + oi, acc, al));
        Ok(())
    })?;
    Ok(out)
}
