//! The variants of SCI_HE's plan for strided groups and share-side accumulation (the module
//! documentation of [`super`] describes each): the slot-aligned striped plan, the strided plan
//! restricted to its live work, and the share-side returns.

use super::{SciLayout, SubCost, return_path, small_group_partials};
use crate::he::{KeyPolicy, ROW_SWAP_KEY_SWITCHES, rotation_key_switches};

/// Live (output ciphertext, input ciphertext) pairs of the slot-aligned striped plan: with G a
/// multiple of `cn` (so `cn` divides `ci` and `co`: every ciphertext is full), output channel
/// `j*cn + b` and input channel `k*cn + b` share a group iff `(j - k)*cn` is a multiple of G, i.e.
/// `j == k (mod G/cn)`, whatever the block b. So the pairs are those with `j == k (mod G/cn)`:
/// `out_ct*inp_ct/(G/cn) = (G/cn)*g_in*g_out` of them.
pub fn striped_pairs(inp_ct: u64, out_ct: u64, groups: u64, cn: u64) -> u64 {
    let m = (groups / cn).max(1);
    (0..m.min(inp_ct).min(out_ct))
        .map(|e| ((out_ct - 1 - e) / m + 1) * ((inp_ct - 1 - e) / m + 1))
        .sum()
}

/// The slot-aligned striped plan (derived here), G a multiple of `cn`. Per output
/// ciphertext j: start from SCI_HE's zero ciphertext, add `x_k(tap) (.) mask(j, k, tap)` for every
/// input ciphertext k with `k == j (mod G/cn)` and every tap (`x_k(tap)` the internally rotated
/// input; the mask holds `W[j*cn + b, k*cn + b, tap]` in block b, zero where the window leaves the
/// image), then the return path. External rotations 0; ScMult `pairs*T`; adds one per product
/// plus the mask add; modulus switches `3*out_ct` (no partial sums, no zero at the next level).
pub(super) fn striped_slot_aligned(
    l: &SciLayout,
    groups: u64,
    t: u64,
    rot_per_ct: u64,
    ks_per_ct: u64,
) -> SubCost {
    let scmult = striped_pairs(l.inp_ct, l.out_ct, groups, l.cn()) * t;
    let mut counts = return_path(l, rot_per_ct, ks_per_ct, l.out_ct);
    counts.scmult = scmult;
    counts.add += scmult;
    SubCost {
        counts,
        layout: *l,
        ext_ks: 0,
        returned: l.out_ct,
    }
}

/// SCI_HE's dense plan (EzPC `conv-field.cpp` `HE_conv_OP`, `HE_output_rotations`) restricted to
/// the work that is not structurally zero when the weights follow a strided group structure (input
/// channel i and output channel o linked iff `i == o (mod G)`; G = 1 is a dense layer). Counts per
/// sub-convolution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StridedLivePlan {
    /// Live (partial sum, input ciphertext) pairs: masks that are not all zero, per tap.
    pub masks: u64,
    /// Partial sums (half-permutation, in-row offset) with at least one live mask.
    pub partials: u64,
    /// Pair members holding at least one live partial sum (each added into its output).
    pub parts: u64,
    /// Whether the single half-permutation needs the column fold (a live product from row 2).
    pub fold: u64,
    /// Row rotations of live partial sums with a non-zero step, row swaps of live second members,
    /// the column fold.
    pub external_rot: u64,
    pub external_ks: u64,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The inverse of `a` modulo `m` (`gcd(a, m) = 1`); 0 for `m = 1`.
fn mod_inverse(a: u64, m: u64) -> u64 {
    if m <= 1 {
        return 0;
    }
    let (mut r0, mut r1) = ((a % m) as i128, m as i128);
    let (mut s0, mut s1) = (1i128, 0i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (s0, s1) = (s1, s0 - q * s1);
    }
    debug_assert_eq!(r0, 1, "{a} is not invertible modulo {m}");
    s0.rem_euclid(m as i128) as u64
}

/// [`StridedLivePlan`] of one sub-convolution with layout `l`, `ci -> co` channels, `groups`
/// strided groups.
///
/// Derivation. The partial sum of output ciphertext j (half-permutation pair j), member m and
/// in-row offset r multiplies input channel `k*cn + h*hc + blk` (ciphertext k, row h, block blk)
/// into output channel `j*cn + h'*hc + ob`, `ob = (blk - r) mod hc`, where `h' = h` for member 0
/// and `1 - h` for member 1 (`h' = 0` when the outputs fit one row, `out_halves == 1`). For
/// `blk >= r` ("range A", `ob = blk - r`) the channel difference `in - out` is the constant
/// `(k - j)*cn + (h - h')*hc + r`; for `blk < r` ("range B", `ob = blk - r + hc`) it is that minus
/// `hc`. A range holds a real pair iff it is non-empty with both channels present: A iff
/// `r < n_in(k, h)` and `L > 0`; B iff `r > 0`, `n_in(k, h) > 0` and `L + r > hc`, with
/// `L = min(hc, co - j*cn - h'*hc)` output blocks present. The mask of (j, m, r, k) is live iff a
/// non-empty range of some row h has a difference divisible by G. Input ciphertexts before the
/// last are full, so for them the condition is `k*cn == b (mod G)`: one residue class of k modulo
/// `G / gcd(cn, G)` (or none), counted in closed form; the last ciphertext is checked directly.
/// Work: O(`convs`) per sub-convolution.
pub fn strided_live_plan(
    l: &SciLayout,
    ci: u64,
    co: u64,
    groups: u64,
    policy: KeyPolicy,
) -> StridedLivePlan {
    let hc = l.hc;
    let cn = 2 * hc;
    let g = groups.max(1);
    let gi = g as i64;
    let d = gcd(cn % g, g);
    let p = g / d;
    let inv = mod_inverse((cn % g) / d % p.max(1), p);
    // Residue of the input ciphertexts k with k*cn == b (mod G), if any.
    let solve = |b: i64| -> Option<u64> {
        let b = b.rem_euclid(gi) as u64;
        if !b.is_multiple_of(d) {
            return None;
        }
        Some(((b / d) as u128 * inv as u128 % p as u128) as u64)
    };
    let last = l.inp_ct - 1;
    let full = last; // input ciphertexts 0 .. full-1 hold hc channels in both rows
    let n_last = [l.in_half(ci, last, 0), l.in_half(ci, last, 1)];
    let in_class = |k0: u64| {
        if k0 < full {
            (full - 1 - k0) / p + 1
        } else {
            0
        }
    };
    let members = if l.half_perms > 1 { 2 } else { 1 };
    let mut plan = StridedLivePlan::default();
    for j in 0..l.out_ct {
        for m in 0..members {
            let mut member_live = false;
            for r in 0..hc {
                let mut classes = [0u64; 4];
                let mut nc = 0;
                let mut last_live = false;
                for h in 0..2u64 {
                    let hp = match (l.out_halves > 1, m) {
                        (false, _) => 0,
                        (true, 0) => h,
                        (true, _) => 1 - h,
                    };
                    let lim = co as i64 - (j * cn + hp * hc) as i64;
                    let big_l = lim.clamp(0, hc as i64) as u64;
                    if big_l == 0 {
                        continue;
                    }
                    for range_b in [false, true] {
                        if range_b && (r == 0 || big_l + r <= hc) {
                            continue;
                        }
                        let r_eff = if range_b {
                            r as i64 - hc as i64
                        } else {
                            r as i64
                        };
                        // in - out = (k - j)*cn + shift
                        let shift = (h as i64 - hp as i64) * hc as i64 + r_eff;
                        let mut row_live = false;
                        if full > 0
                            && let Some(k0) = solve((j * cn) as i64 - shift)
                            && in_class(k0) > 0
                        {
                            row_live = true;
                            if !classes[..nc].contains(&k0) {
                                classes[nc] = k0;
                                nc += 1;
                            }
                        }
                        let n = n_last[h as usize];
                        let present = if range_b { n > 0 } else { r < n };
                        if present
                            && ((last as i64 - j as i64) * cn as i64 + shift).rem_euclid(gi) == 0
                        {
                            last_live = true;
                            row_live = true;
                        }
                        if row_live && h == 1 && l.out_halves == 1 {
                            plan.fold = 1;
                        }
                    }
                }
                let masks: u64 =
                    classes[..nc].iter().map(|&k0| in_class(k0)).sum::<u64>() + last_live as u64;
                if masks == 0 {
                    continue;
                }
                plan.masks += masks;
                plan.partials += 1;
                member_live = true;
                if r != 0 {
                    let step = -((((hc - r) % hc) * l.s) as i64);
                    plan.external_rot += 1;
                    plan.external_ks += rotation_key_switches(step, l.n, policy);
                }
            }
            if member_live {
                plan.parts += 1;
                if m == 1 {
                    plan.external_rot += 1;
                    plan.external_ks += ROW_SWAP_KEY_SWITCHES;
                }
            }
        }
    }
    plan.external_rot += plan.fold;
    plan.external_ks += plan.fold * ROW_SWAP_KEY_SWITCHES;
    plan
}

/// SCI_HE's plan restricted to `plan`'s live work (strided `he-rotate`, and `striped` when G is
/// not a multiple of `cn`): products into the zero ciphertext of their partial sum; each live
/// partial sum switched 3 -> 2, rotated by `-((hc - r) mod hc)*S` (offset 0 free) and added into
/// its pair member (which starts at the zero ciphertext switched down once); each live member added
/// into its output (the second one row-swapped first); the column fold when live; the return path
/// of `out_ct` ciphertexts.
pub(super) fn live_he_rotate(
    l: &SciLayout,
    plan: &StridedLivePlan,
    t: u64,
    rot_per_ct: u64,
    ks_per_ct: u64,
) -> SubCost {
    let scmult = plan.masks * t;
    let mut counts = return_path(l, rot_per_ct, ks_per_ct, l.out_ct);
    counts.external_rot = plan.external_rot;
    counts.key_switch += plan.external_ks;
    counts.scmult = scmult;
    counts.add += scmult + plan.partials + plan.parts + plan.fold;
    // The outputs are sums of partial sums already switched 3 -> 2 (so only the mask's 3 -> 2 and
    // the final 2 -> 1 of the return path remain), the live partial sums 3 -> 2, and the zero
    // ciphertext switched down once.
    counts.mod_switch = 2 * l.out_ct + plan.partials + 1;
    SubCost {
        counts,
        layout: *l,
        ext_ks: plan.external_ks,
        returned: l.out_ct,
    }
}

/// The share-side plan on SCI_HE's partial sums (GALA's share-side rotate-and-sum, GALA
/// Sec. III-A, applied to convolutions): the products of
/// [`live_he_rotate`], then every live partial sum goes through the return path unrotated. The
/// client decrypts them; both parties rotate their share vectors by the plan's offsets (and swap
/// rows) and add: plaintext work.
pub(super) fn live_share_side(
    l: &SciLayout,
    plan: &StridedLivePlan,
    t: u64,
    rot_per_ct: u64,
    ks_per_ct: u64,
) -> SubCost {
    let scmult = plan.masks * t;
    let mut counts = return_path(l, rot_per_ct, ks_per_ct, plan.partials);
    counts.scmult = scmult;
    counts.add += scmult;
    SubCost {
        counts,
        layout: *l,
        ext_ks: 0,
        returned: plan.partials,
    }
}

/// Share-side on the consecutive-block grouped plan ([`small_group_subconv`]): per input
/// ciphertext, its `2g - 1` (or `hc`) per-offset partial sums go through the return path
/// unrotated. Every one is live (each group in a ciphertext is complete, so every offset
/// `|d| < g` links two of its channels).
pub(super) fn small_group_share_side(
    l: &SciLayout,
    g: u64,
    t: u64,
    rot_per_ct: u64,
    ks_per_ct: u64,
) -> SubCost {
    let returned = l.inp_ct * small_group_partials(l, g);
    let scmult = returned * t;
    let mut counts = return_path(l, rot_per_ct, ks_per_ct, returned);
    counts.scmult = scmult;
    counts.add += scmult;
    SubCost {
        counts,
        layout: *l,
        ext_ks: 0,
        returned,
    }
}
