//! Gazelle (input rotations / output rotations) and GALA (kernel grouping) SIMD convolution
//! formulas: Gazelle (Juvekar et al., USENIX Security 2018) Sec. 6 and Table 4;
//! GALA (Zhang et al., NDSS 2021) Sec. III-B, Tables II-III.
//!
//! The papers' model: n = N slots in one cycle, the packed layout (padding by punctured masks, so a
//! channel occupies `h*w` slots of the unpadded phase image), `cn = floor(N / (h*w))` channels per
//! ciphertext. The papers assume `cn` divides the channel counts; stria counts the exact number of
//! non-zero diagonals instead, which reduces to the papers' formulas in that case:
//! with `a` input and `o` output channels in a ciphertext pair, diagonal (offset) `r` pairs input
//! block `b` with output block `b + r mod cn`, so the live offsets are `-(a-1) .. o-1 (mod cn)`,
//! `min(cn, a + o - 1)` of them. A channel larger than N (`h*w > N`) is tiled over
//! `ceil(h*w / N)` ciphertexts with `cn = 1` (no cross-channel rotation). Strided convolutions use
//! the same phase decomposition as SCI_HE (Gazelle Sec. 6.1, Fig. 10) on the unpadded image.
//! Ciphertexts are `2 * N * 8` bytes each way (Gazelle's single 60-bit modulus at n = 2048,
//! Table 6). Pow2 key switches (both `pow2` and `pow2-naf`: Gazelle's library is not SEAL, so no
//! SEAL version's chaining rule applies) take each rotation step's NAF weight on the n-slot cycle.
//! Additions follow the papers (`paper_adds`): k - 1 for an accumulation of k products.
//!
//! Accumulation strategies (derived here: the project's per-layer choice of how channels are
//! accumulated), counted in this packed layout:
//!
//! - `he-rotate` / `auto`: the formulas above. Grouped layers are `groups` independent
//!   convolutions whatever `group_layout` says (the strided layout is counted as if the client had
//!   re-packed each group contiguously, which its free layout choice allows; only SCI_HE's counter
//!   models the strided layout in place).
//! - `striped` (strided groups): when `cn` divides G, channel i in ciphertext `i / cn`, block
//!   `i mod cn`, every live weight links channels in the same block, and each output ciphertext
//!   is the sum over the `g_in` input ciphertexts congruent to it modulo `G/cn` and the taps of
//!   the rotated input times a mask: `T - 1` hoisted internal rotations per input ciphertext, no
//!   external rotation, `g_in*out_ct*T` products, identical for IR, OR and GALA. Otherwise counted
//!   as `he-rotate`.
//! - `share-side`, OR and GALA: GALA's kernel grouping without its output rotations. Products
//!   sharing an output ciphertext and a diagonal are summed over the input ciphertexts, and each of
//!   those per-diagonal sums is returned unrotated (the client and server align the shares):
//!   external rotations 0, returned ciphertexts `sum over output ciphertexts of the live
//!   diagonals`, one decryption each. IR rotates inputs, not partial sums, so share-side does not
//!   apply to it (counted as `he-rotate`); nor to tiled channels (no cross-channel rotation).

use super::{CountConfig, LayerCost, Protocol, ceil_div, phase_taps};
use crate::cost::OpCounts;
use crate::he::{KeyPolicy, naf_weight, next_pow2};
use crate::net::graph::{Accum, GroupLayout};
use crate::net::{Conv, Shape};

/// Bits of Gazelle's ciphertext modulus (one 60-bit prime, Gazelle Table 6).
pub const LOG_Q: u32 = 60;

/// Bytes of one ciphertext: two polynomials of N 64-bit words.
pub fn ct_bytes(n: u64) -> u64 {
    2 * n * 8
}

/// Live diagonals of a ciphertext pair holding `a` input and `o` output channels.
fn diagonals(cn: u64, a: u64, o: u64) -> u64 {
    cn.min(a + o - 1)
}

/// Input rows of the phase `r` of a stride-`s` decomposition: rows `i` of `[0, len)` with
/// `(i + pad) mod s == r`.
fn phase_len(len: u64, pad: u64, s: u64, r: u64) -> u64 {
    // i in [0, len) with (i + pad) ≡ r (mod s): first i0 = (r - pad) mod s.
    let i0 = (r + s * (pad / s + 1) - pad) % s;
    if i0 >= len { 0 } else { (len - 1 - i0) / s + 1 }
}

struct Packed {
    cn: u64,
    /// Ciphertexts per channel (tiles) when one channel exceeds N.
    tiles: u64,
    inp_ct: u64,
    out_ct: u64,
    /// Channels in the last input / output ciphertext.
    a_last: u64,
    o_last: u64,
}

impl Packed {
    fn new(footprint: u64, ci: u64, co: u64, n: u64) -> Packed {
        if footprint > n {
            let tiles = ceil_div(footprint, n);
            Packed {
                cn: 1,
                tiles,
                inp_ct: ci * tiles,
                out_ct: co * tiles,
                a_last: 1,
                o_last: 1,
            }
        } else {
            let cn = n / footprint;
            let inp_ct = ceil_div(ci, cn);
            let out_ct = ceil_div(co, cn);
            Packed {
                cn,
                tiles: 1,
                inp_ct,
                out_ct,
                a_last: ci - (inp_ct - 1) * cn,
                o_last: co - (out_ct - 1) * cn,
            }
        }
    }

    /// Sum over all (input ct, output ct) pairs of `f(a, o)`.
    fn sum_pairs(&self, f: impl Fn(u64, u64) -> u64) -> u64 {
        if self.tiles > 1 {
            // Each output tile depends on the same-position tile of every input channel.
            return (self.inp_ct / self.tiles) * self.out_ct * f(1, 1);
        }
        let (li, lo, cn) = (self.inp_ct - 1, self.out_ct - 1, self.cn);
        li * lo * f(cn, cn)
            + li * f(cn, self.o_last)
            + lo * f(self.a_last, cn)
            + f(self.a_last, self.o_last)
    }

    /// Channels in input ciphertext `i` (any tile).
    fn max_out(&self) -> u64 {
        if self.out_ct > 1 {
            self.cn
        } else {
            self.o_last
        }
    }
    fn max_in(&self) -> u64 {
        if self.inp_ct > 1 && self.tiles == 1 {
            self.cn
        } else {
            self.a_last
        }
    }
}

/// Key switches of the cross-channel rotations by `r * footprint`, `r` in `offsets`.
fn channel_shift_ks(offsets: impl Iterator<Item = u64>, footprint: u64, policy: KeyPolicy) -> u64 {
    match policy {
        KeyPolicy::PerStep => offsets.count() as u64,
        KeyPolicy::Pow2 | KeyPolicy::Pow2Naf => offsets
            .map(|r| naf_weight((r * footprint) as i64) as u64)
            .sum(),
    }
}

/// Live offsets of a pair other than 0: `1 .. o-1` and `cn-a+1 .. cn-1` (or all when they cover).
fn live_nonzero_offsets(cn: u64, a: u64, o: u64) -> impl Iterator<Item = u64> {
    let all = a + o > cn;
    (1..cn).filter(move |&r| all || r < o || r > cn - a)
}

/// Additions of `scmult` products summed into `results` returned ciphertexts, the papers' way: an
/// accumulation of k products takes k - 1 additions, and rotating a partial sum before adding it
/// changes nothing, so every product but one per result is one addition. GALA Table III: `Add =
/// co*(ci*kw*kh - 1)/cn` for `ci*kw*kh` products into each of `co/cn` outputs; Gazelle is counted
/// alike. The mask that re-randomizes a result is not an accumulation and is not counted (neither
/// paper counts it; CrypTFlow2's counter does, as EzPC's code runs it).
fn paper_adds(scmult: u64, results: u64) -> u64 {
    scmult - results
}

/// Counts of a plan without cross-channel rotations: internal rotations per input ciphertext,
/// `scmult` products accumulated into the output ciphertexts ([`paper_adds`]), the ciphertexts and
/// their bytes. Depthwise and slot-aligned striped mixing are exactly this; the rotating plans add
/// their external rotations on top.
fn block_aligned(p: &Packed, t: u64, step_ks: u64, n: u64, scmult: u64) -> OpCounts {
    OpCounts {
        internal_rot: p.inp_ct * (t - 1),
        key_switch: p.inp_ct * step_ks,
        scmult,
        add: paper_adds(scmult, p.out_ct),
        ct_up: p.inp_ct,
        ct_down: p.out_ct,
        bytes_up: p.inp_ct * ct_bytes(n),
        bytes_down: p.out_ct * ct_bytes(n),
        enc: p.inp_ct + p.out_ct,
        dec: p.out_ct,
        ..OpCounts::default()
    }
}

/// Adds one sub-convolution's counts to the layer's; the first sets `n` and `cn`.
fn record(total: &mut LayerCost, n: u64, cn: u64, counts: OpCounts) {
    total.note_layout(n, cn);
    total.counts += counts;
}

/// A convolution under Gazelle IR / OR or GALA, with the layer's accumulation strategy.
pub fn conv(
    input: Shape,
    co: u32,
    c: &Conv,
    protocol: Protocol,
    cfg: &CountConfig,
) -> Result<LayerCost, String> {
    conv_as(input, co, c, c.accum, protocol, cfg)
}

/// [`conv`] with the accumulation strategy `accum` (module documentation).
pub fn conv_as(
    input: Shape,
    co: u32,
    c: &Conv,
    accum: Accum,
    protocol: Protocol,
    cfg: &CountConfig,
) -> Result<LayerCost, String> {
    let n = cfg.ring_degree;
    let groups = c.groups as u64;
    let (g_in, g_out) = (input.c as u64 / groups, co as u64 / groups);
    let accum = accum.counted();
    if accum == Accum::Striped
        && (groups == 1 || !(c.group_layout == GroupLayout::Strided || (g_in == 1 && g_out == 1)))
    {
        return Err(format!(
            "accum: striped needs a grouped convolution with group_layout: strided (groups = {groups})"
        ));
    }
    let share_side =
        accum == Accum::ShareSide && matches!(protocol, Protocol::GazelleOutput | Protocol::Gala);
    let mut total = LayerCost::default();
    // Phases past the kernel hold no taps.
    for r in 0..c.sh.min(c.kh) {
        for col in 0..c.sw.min(c.kw) {
            let taps = phase_taps(c, r, col);
            let t = taps.clone().count() as u64;
            let ph = phase_len(input.h as u64, c.pad.top as u64, c.sh as u64, r as u64);
            let pw = phase_len(input.w as u64, c.pad.left as u64, c.sw as u64, col as u64);
            if t == 0 || ph == 0 || pw == 0 {
                continue;
            }
            let footprint = ph * pw;
            // Anchor: the tap closest to the sub-filter's centre, so that one tap is free.
            let (ch, cw) = (
                c.kh.div_ceil(c.sh) as i64 - 1,
                c.kw.div_ceil(c.sw) as i64 - 1,
            );
            let anchor = taps
                .clone()
                .min_by_key(|&(y, x)| ((2 * y as i64 - ch).abs() + (2 * x as i64 - cw).abs(), y, x))
                .expect("non-empty");
            let steps: Vec<i64> = taps
                .clone()
                .map(|(y, x)| {
                    (y as i64 - anchor.0 as i64) * pw as i64 + (x as i64 - anchor.1 as i64)
                })
                .collect();
            let ks_of = |step: i64| match cfg.key_policy {
                KeyPolicy::PerStep => (step != 0) as u64,
                KeyPolicy::Pow2 | KeyPolicy::Pow2Naf => naf_weight(step) as u64,
            };
            let step_ks: u64 = steps.iter().map(|&s| ks_of(s)).sum();
            if g_in == 1 && g_out == 1 && groups > 1 {
                // Depthwise: channels packed cn per ciphertext, each output stays in its input's
                // block: T products and T - 1 rotations per ciphertext, nothing crosses channels
                // (derived here: the SIMD-native form).
                let p = Packed::new(footprint, groups, groups, n);
                record(
                    &mut total,
                    n,
                    p.cn,
                    block_aligned(&p, t, step_ks, n, p.inp_ct * t),
                );
                continue;
            }
            if accum == Accum::Striped {
                let p = Packed::new(footprint, input.c as u64, co as u64, n);
                if groups.is_multiple_of(p.cn) {
                    // Slot-aligned: output ciphertext j sums the g_in input ciphertexts k with
                    // k == j (mod G/cn) (tiled channels: the same tile of its g_in inputs).
                    let scmult = g_in * p.out_ct * t;
                    record(
                        &mut total,
                        n,
                        p.cn,
                        block_aligned(&p, t, step_ks, n, scmult),
                    );
                    continue;
                }
            }
            // Other grouped convolutions: `groups` independent convolutions.
            let p = Packed::new(footprint, g_in, g_out, n);
            let diag_total = p.sum_pairs(|a, o| diagonals(p.cn, a, o));
            let mut counts = block_aligned(&p, t, step_ks, n, t * diag_total);
            if p.tiles == 1 && share_side {
                // The per-(output ciphertext, diagonal) sums, returned unrotated.
                let a = p.max_in();
                let back = (p.out_ct - 1) * diagonals(p.cn, a, p.cn) + diagonals(p.cn, a, p.o_last);
                counts.ct_down = back;
                counts.add = paper_adds(counts.scmult, back);
                counts.bytes_down = back * ct_bytes(n);
                counts.enc = p.inp_ct + back;
                counts.dec = back;
            } else if p.tiles == 1 {
                let (ext, ks) = match protocol {
                    // Each live diagonal of a pair rotates its partial sum, except offset 0.
                    Protocol::GazelleOutput => (
                        p.sum_pairs(|a, o| diagonals(p.cn, a, o) - 1),
                        p.sum_pairs(|a, o| {
                            channel_shift_ks(
                                live_nonzero_offsets(p.cn, a, o),
                                footprint,
                                cfg.key_policy,
                            )
                        }),
                    ),
                    // Sums over input ciphertexts first, then one rotation per live offset.
                    Protocol::Gala => {
                        let per_out = |o: u64| {
                            let a = p.max_in();
                            (
                                diagonals(p.cn, a, o) - 1,
                                channel_shift_ks(
                                    live_nonzero_offsets(p.cn, a, o),
                                    footprint,
                                    cfg.key_policy,
                                ),
                            )
                        };
                        let (full, last) = (per_out(p.cn), per_out(p.o_last));
                        let k = p.out_ct - 1;
                        (k * full.0 + last.0, k * full.1 + last.1)
                    }
                    // Every input ciphertext rotated to each live offset for every tap: one
                    // rotation by `r * footprint + tap step` each.
                    _ => {
                        let per_in = |a: u64| {
                            let o = p.max_out();
                            let offs = diagonals(p.cn, a, o) - 1;
                            let ks: u64 = live_nonzero_offsets(p.cn, a, o)
                                .map(|r| {
                                    steps
                                        .iter()
                                        .map(|&s| ks_of(r as i64 * footprint as i64 + s))
                                        .sum::<u64>()
                                })
                                .sum();
                            (offs * t, ks)
                        };
                        let (full, last) = (per_in(p.cn), per_in(p.a_last));
                        let k = p.inp_ct - 1;
                        (k * full.0 + last.0, k * full.1 + last.1)
                    }
                };
                counts.external_rot = ext;
                counts.key_switch += ks;
            }
            record(&mut total, n, p.cn, counts.times(groups));
        }
    }
    Ok(total)
}

/// Gazelle's hybrid FC (Gazelle Table 2) at the fixed ring degree: the same diagonal and
/// rotate-and-sum steps as SCI_HE's `fc-field.cpp`, which implements it.
pub fn fc_hybrid(ni: u64, no: u64, cfg: &CountConfig) -> Result<LayerCost, String> {
    let n = cfg.ring_degree;
    let (mut counts, pack_num) = super::simd::hybrid_fc_counts(ni, no, n, cfg.key_policy)?;
    // The papers' additions: the `scmult` diagonal products into one sum (k - 1) and one per
    // rotate-and-sum step (`external_rot`); no mask add (SCI_HE's counter adds it, and one per
    // product into a zero ciphertext, as `fc-field.cpp` runs it).
    counts.add = paper_adds(counts.scmult, 1) + counts.external_rot;
    counts.bytes_up = ct_bytes(n);
    counts.bytes_down = ct_bytes(n);
    Ok(LayerCost {
        counts,
        n: Some(n),
        cn: Some(pack_num),
    })
}

/// GALA's FC (GALA Sec. III-A, Table II): `d = ceil(ni'*no'/N)` diagonal products whose
/// results are rotated and summed (`d - 1` rotations of partial products: external); the final
/// `log2(N/no')` rotate-and-sum steps move to the shares ("share-RaS").
pub fn fc_gala(ni: u64, no: u64, cfg: &CountConfig) -> Result<LayerCost, String> {
    let n = cfg.ring_degree;
    let (ni2, no2) = (next_pow2(ni), next_pow2(no));
    if ni2 > n {
        return Err(format!(
            "an FC input of {ni} values does not fit one ciphertext of {n} slots"
        ));
    }
    let d = ceil_div(ni2 * no2, n).min(no);
    let ks = match cfg.key_policy {
        KeyPolicy::PerStep => d - 1,
        KeyPolicy::Pow2 | KeyPolicy::Pow2Naf => (1..d).map(|k| naf_weight(k as i64) as u64).sum(),
    };
    let counts = OpCounts {
        external_rot: d - 1,
        key_switch: ks,
        scmult: d,
        // GALA Table II: `ni*no/n - 1` (the d products summed after rotation).
        add: paper_adds(d, 1),
        ct_up: 1,
        ct_down: 1,
        bytes_up: ct_bytes(n),
        bytes_down: ct_bytes(n),
        enc: 2,
        dec: 1,
        ..OpCounts::default()
    };
    Ok(LayerCost {
        counts,
        n: Some(n),
        cn: Some(n / ni2),
    })
}

/// Element-wise scale (unfolded batch norm): `ceil(len / N)` ciphertexts, one product each and
/// nothing to accumulate (`paper_adds`: no addition).
pub fn elementwise(len: u64, cfg: &CountConfig) -> LayerCost {
    let n = cfg.ring_degree;
    let ct = ceil_div(len, n);
    let counts = OpCounts {
        scmult: ct,
        add: paper_adds(ct, ct),
        ct_up: ct,
        ct_down: ct,
        bytes_up: ct * ct_bytes(n),
        bytes_down: ct * ct_bytes(n),
        enc: 2 * ct,
        dec: ct,
        ..OpCounts::default()
    };
    LayerCost {
        counts,
        n: Some(n),
        cn: None,
    }
}
