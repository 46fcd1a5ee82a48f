//! CrypTFlow2 SCI_HE SIMD packing, counted exactly as the EzPC code runs it.
//!
//! Sources (read-only): mpc-msri/EzPC `SCI/src/LinearHE/conv-field.cpp` (`ConvField::configure`,
//! `filter_rotations`, `HE_preprocess_filters_OP`, `HE_conv_OP`, `HE_output_rotations`,
//! `ConvField::convolution`), `fc-field.cpp` (`FCField::configure`, `fc_online`),
//! `elemwise-prod-field.cpp`, `utils-HE.cpp` (moduli {60, 60, 60, 38}: 3 data primes up, 1 down).
//! Bytes follow EzPC's build (SEAL 3.3.2) or OpenCheetah's (SEAL 3.7.2 with zstd, moduli
//! {60, 60, 60, 49}), by [`CountConfig::sci_build`]; the operation counts are the same.
//! Derived here: the closed forms below are transcribed from those functions (the ring degree,
//! layout, strided decomposition, FC and element-wise layers), and the depthwise and grouped plans
//! are the project's own layouts, held equal to the executed plans by the tests.
//!
//! Accumulation strategies (derived here: the project's per-layer choice of how channels are
//! accumulated, README "StriaBlock and StriaNet"; `Conv::accum`, `Conv::group_layout`). Every plan
//! below keeps SCI_HE's layout (channel `c` in ciphertext `c / cn`, row `(c mod cn) / hc`, block
//! `c mod hc`, the client materialising the padding), its internal rotations (one per input
//! ciphertext and tap with a non-zero step from the sub-filter's top-left position), its products
//! (all-zero masks skipped) accumulated into SCI_HE's zero ciphertext (one add per product), and
//! its return path (each returned ciphertext brought to 2 primes, either as a sum of products
//! switched 3 -> 2 or as a sum of partial sums switched earlier; the server's mask ciphertext,
//! encrypted and switched 3 -> 2, added; flooded; switched 2 -> 1; decrypted by the client). They
//! differ in what happens between the products and the return:
//!
//! - `he-rotate`, contiguous groups: SCI_HE's own plan ([`dense_subconv`]); grouped layers as
//!   `groups` independent convolutions or, when the group size divides `hc`, the consecutive-block
//!   plan ([`small_group_subconv`]). `auto` is counted exactly like `he-rotate`: which of
//!   `he-rotate` and `share-side` is cheaper depends on the link, which counting does not know;
//!   the evaluation counts both ([`crate::packing::count_layer_as`]) and prices them.
//! - `he-rotate` (or `auto`), strided groups (group j = channels `c mod G == j`, inputs and
//!   outputs, at their own positions): SCI_HE's dense plan on the whole layer, the weights outside
//!   the groups being zero, with structurally zero work skipped ([`StridedLivePlan`]): masks that
//!   are all zero are not multiplied, partial sums without a live mask are neither switched,
//!   rotated nor added, a pair member without a live partial sum is not row-swapped, and the column
//!   fold runs only when a product from the second row is live.
//! - `striped` (strided groups, derived here: slot-aligned channel mixing): when `cn` divides G
//!   every live weight links channels at the same slot position, so output ciphertext j is
//!   `sum over input ciphertexts k and taps of x_k(tap) (.) mask(j, k, tap)` with no external
//!   rotation ([`striped_pairs`]); otherwise (G not a multiple of this sub-convolution's `cn`) the
//!   strided `he-rotate` plan above, which counts exactly the rotations that remain.
//! - `share-side` (GALA's share-side rotate-and-sum, GALA (Zhang et al., NDSS 2021) Sec. III-A,
//!   applied to convolutions): the partial sums of the `he-rotate` plan (SCI_HE's `convs`, or the
//!   small-group plan's per-offset sums) are not rotated; each one that is not structurally zero is
//!   masked and returned, and both parties align and add them on their plaintext shares (rotations
//!   of share vectors: no HE work). Structurally zero partial sums (no live mask, e.g. offsets that
//!   only reach output channels past `co`) are not returned: the client knows the plan and treats
//!   them as zero.
//!
//! Files: this one holds the layout, SCI_HE's own plans, the entry points and the level mixes;
//! `variants.rs` the striped, strided-live and share-side variants; `wire.rs` the wire sizes of
//! ciphertexts and fresh keys under each build.

use super::{CountConfig, LayerCost, SciBuild, ceil_div, phase_taps};
use crate::cost::{LevelMix, OpCounts};
use crate::he::{KeyPolicy, ROW_SWAP_KEY_SWITCHES, next_pow2, rotation_key_switches};
use crate::net::graph::{Accum, GroupLayout};
use crate::net::{Conv, Shape};
use std::sync::OnceLock;

mod variants;
mod wire;

pub use variants::{StridedLivePlan, strided_live_plan, striped_pairs};
use variants::{live_he_rotate, live_share_side, small_group_share_side, striped_slot_aligned};
pub use wire::*;

/// `ceil(a / b)` for a power of two `b`.
#[inline]
fn div_ceil_pow2(a: u64, b: u64) -> u64 {
    debug_assert!(b.is_power_of_two());
    (a + b - 1) >> b.trailing_zeros()
}

/// Ring degree of a non-strided (sub-)convolution on a stored `h x w` image:
/// `min(N_MAX, max(n_min, 2*next_pow2(h*w)))` (`ConvField::non_strided_conv`).
pub fn conv_ring_degree(h: u64, w: u64, n_min: u64) -> u64 {
    N_MAX.min(n_min.max(2 * next_pow2(h * w)))
}

/// Key switches of the external rotations of one pair member: the steps
/// `-((hc - r) mod hc) * S` for `r = 1 .. hc-1`. Scaling by the power of two S maps step `-j` at
/// row length `hc` onto `-j*S` at row length `N/2 = hc*S` under every SEAL rule (the NAF digits and
/// the binary digits of `k` and `N/2 - k` all scale by S), so the sum depends on `hc` only; it is
/// tabulated once per power of two and policy.
fn external_pair_key_switches(hc: u64, policy: KeyPolicy) -> u64 {
    fn table(policy: KeyPolicy) -> Vec<u64> {
        (0..16)
            .map(|e| {
                let hc = 1u64 << e;
                (1..hc)
                    .map(|j| rotation_key_switches(-(j as i64), 2 * hc, policy))
                    .sum()
            })
            .collect()
    }
    static POW2: OnceLock<Vec<u64>> = OnceLock::new();
    static POW2_NAF: OnceLock<Vec<u64>> = OnceLock::new();
    let e = hc.trailing_zeros() as usize;
    match policy {
        KeyPolicy::PerStep => hc - 1,
        KeyPolicy::Pow2 => POW2.get_or_init(|| table(KeyPolicy::Pow2))[e],
        KeyPolicy::Pow2Naf => POW2_NAF.get_or_init(|| table(KeyPolicy::Pow2Naf))[e],
    }
}

/// Number of in-row offsets `r in [0, hc)` for which the mask of one (half-permutation, input
/// ciphertext) pair is not all zero (`HE_preprocess_filters_OP`; all-zero masks are skipped by
/// `HE_conv_OP`). Half `h` of the input ciphertext holds `n[h]` channels; its products land on
/// output channels `base_h + ((chan - r) mod hc)`, of which those below `co` exist, i.e. offsets
/// below `lim[h] = co - base_h`. With `a = (-r) mod hc` the offsets form the run `a .. a+n-1 (mod
/// hc)`, which has a member below `lim` iff it wraps (`a >= hc - n + 1`) or `a < lim`.
fn live_offsets(hc: u64, n: [u64; 2], lim: [i64; 2]) -> u64 {
    let mut prefix = 0u64; // [0, prefix)
    let mut suffix_start = hc; // [suffix_start, hc)
    let mut active = false;
    for h in 0..2 {
        if n[h] > 0 && lim[h] > 0 {
            active = true;
            prefix = prefix.max((lim[h] as u64).min(hc));
            suffix_start = suffix_start.min(hc + 1 - n[h]);
        }
    }
    if !active {
        return 0;
    }
    let suffix_start = suffix_start.min(hc);
    prefix + (hc - suffix_start) - prefix.saturating_sub(suffix_start)
}

/// Geometry of one SCI_HE non-strided (sub-)convolution (`ConvField::configure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SciLayout {
    pub n: u64,
    /// Slots per channel block, `next_pow2(h*w)`.
    pub s: u64,
    /// Channels per row (`chans_per_half`).
    pub hc: u64,
    pub inp_ct: u64,
    pub out_ct: u64,
    pub inp_halves: u64,
    pub out_halves: u64,
    pub half_perms: u64,
    /// Intermediate (partial-sum) ciphertexts, `half_perms * hc`.
    pub convs: u64,
}

impl SciLayout {
    /// Errors when a channel does not fit half a ciphertext at the largest ring degree.
    pub fn new(h: u64, w: u64, ci: u64, co: u64, n_min: u64) -> Result<SciLayout, String> {
        let n = conv_ring_degree(h, w, n_min);
        let s = next_pow2(h * w);
        if s > n / 2 {
            return Err(format!(
                "a {h}x{w} (stored) channel needs {s} slots, more than half of the largest SCI_HE ring degree {N_MAX}"
            ));
        }
        // Powers of two throughout: shifts instead of divisions (this runs per sub-convolution).
        let hc = (n / 2) >> s.trailing_zeros();
        let cn = 2 * hc;
        let out_halves = div_ceil_pow2(co, hc);
        let half_perms = if out_halves % 2 == 1 && out_halves > 1 {
            out_halves + 1
        } else {
            out_halves
        };
        Ok(SciLayout {
            n,
            s,
            hc,
            inp_ct: div_ceil_pow2(ci, cn),
            out_ct: div_ceil_pow2(co, cn),
            inp_halves: div_ceil_pow2(ci, hc),
            out_halves,
            half_perms,
            convs: half_perms * hc,
        })
    }

    pub fn cn(&self) -> u64 {
        2 * self.hc
    }

    /// Channels of input ciphertext `c` in half `h`.
    pub fn in_half(&self, ci: u64, c: u64, h: u64) -> u64 {
        ci.saturating_sub((2 * c + h) * self.hc).min(self.hc)
    }

    /// Non-zero (partial sum, input ciphertext) mask pairs per tap, summed over all pairs: the
    /// ScMult count is this times the number of taps. Input ciphertexts before the last are full,
    /// output ciphertexts before the last see every offset, so four classes suffice.
    pub fn live_masks(&self, ci: u64, co: u64) -> u64 {
        let hc = self.hc;
        let cn = 2 * hc;
        let per = |c: u64, k: u64| -> u64 {
            let n = [self.in_half(ci, c, 0), self.in_half(ci, c, 1)];
            let base = (k * cn) as i64;
            let co = co as i64;
            let hci = hc as i64;
            let second = if self.out_halves > 1 { hci } else { 0 };
            let mut t = live_offsets(hc, n, [co - base, co - base - second]);
            if self.half_perms > 1 {
                t += live_offsets(hc, n, [co - base - hci, co - base]);
            }
            t
        };
        let (li, lo) = (self.inp_ct - 1, self.out_ct - 1);
        li * lo * per(0, 0) + li * per(0, lo) + lo * per(li, 0) + per(li, lo)
    }

    /// Whether the single half-permutation needs the column fold (`out_halves == 1`, inputs in
    /// both rows).
    fn column_fold(&self) -> u64 {
        (self.out_halves == 1 && self.inp_halves > 1) as u64
    }

    /// External (output) rotations and their key switches (`HE_output_rotations`).
    pub fn external(&self, policy: KeyPolicy) -> (u64, u64) {
        let pair_ks = external_pair_key_switches(self.hc, policy);
        if self.out_halves > 1 {
            let rot = self.out_ct * (2 * (self.hc - 1) + 1);
            let ks = self.out_ct * (2 * pair_ks + ROW_SWAP_KEY_SWITCHES);
            (rot, ks)
        } else {
            let fold = self.column_fold();
            (self.hc - 1 + fold, pair_ks + fold * ROW_SWAP_KEY_SWITCHES)
        }
    }
}

/// Internal rotations and key switches of one input ciphertext: one rotation by
/// `dy*w + dx` per tap, anchored at the sub-filter's top-left position (step 0 is a copy)
/// (`filter_rotations` with the padding already materialised).
fn internal_per_ct(
    taps: impl Iterator<Item = (u64, u64)>,
    w: u64,
    n: u64,
    policy: KeyPolicy,
) -> (u64, u64, u64) {
    let (mut t, mut rot, mut ks) = (0, 0, 0);
    for (dy, dx) in taps {
        t += 1;
        let step = dy * w + dx;
        if step != 0 {
            rot += 1;
            ks += rotation_key_switches(step as i64, n, policy);
        }
    }
    (t, rot, ks)
}

/// Counts of one dense non-strided SCI_HE convolution on a stored `h x w` image (EzPC
/// `conv-field.cpp` `ConvField::non_strided_conv`). Returns the counts and the layout.
pub fn dense_subconv(
    h: u64,
    w: u64,
    ci: u64,
    co: u64,
    taps: impl Iterator<Item = (u64, u64)>,
    cfg: &CountConfig,
) -> Result<(OpCounts, SciLayout), String> {
    let mut counts = OpCounts::default();
    let l = dense_subconv_into(&mut counts, 1, h, w, ci, co, taps, cfg)?;
    Ok((counts, l))
}

/// [`dense_subconv`] times `k` (identical independent convolutions), added into `acc` in place
/// (the counter's hot path: no intermediate copies).
#[allow(clippy::too_many_arguments)]
fn dense_subconv_into(
    acc: &mut OpCounts,
    k: u64,
    h: u64,
    w: u64,
    ci: u64,
    co: u64,
    taps: impl Iterator<Item = (u64, u64)>,
    cfg: &CountConfig,
) -> Result<SciLayout, String> {
    let l = SciLayout::new(h, w, ci, co, cfg.ring_degree)?;
    let (t, rot_per_ct, ks_per_ct) = internal_per_ct(taps, w, l.n, cfg.key_policy);
    let (ext_rot, ext_ks) = l.external(cfg.key_policy);
    let scmult = l.live_masks(ci, co) * t;
    // The spec limits (channels, sides, kernels) keep every term far below 2^64.
    let add = |f: &mut u64, v: u64| *f += v * k;
    add(&mut acc.internal_rot, l.inp_ct * rot_per_ct);
    add(&mut acc.external_rot, ext_rot);
    add(&mut acc.key_switch, l.inp_ct * ks_per_ct + ext_ks);
    add(&mut acc.scmult, scmult);
    // One add per product (into the zero ciphertext), one per partial sum into its
    // half-permutation, one per half-permutation into the result, the column fold, the mask.
    add(
        &mut acc.add,
        scmult + l.convs + l.half_perms + l.column_fold() + l.out_ct,
    );
    add(&mut acc.ct_up, l.inp_ct);
    add(&mut acc.ct_down, l.out_ct);
    let build = cfg.sci_build;
    add(
        &mut acc.bytes_up,
        vector_bytes(l.n, PRIMES_UP, l.inp_ct, build),
    );
    add(
        &mut acc.bytes_down,
        vector_bytes(l.n, PRIMES_DOWN, l.out_ct, build),
    );
    // Each partial sum 3 -> 2 primes; each mask ciphertext 3 -> 2; each result 2 -> 1; and the
    // zero ciphertext `HE_output_rotations` switches down once to initialise its sums.
    add(&mut acc.mod_switch, l.convs + 2 * l.out_ct + 1);
    add(&mut acc.enc, l.inp_ct + l.out_ct);
    add(&mut acc.dec, l.out_ct);
    Ok(l)
}

/// Counts of one grouped non-strided convolution whose groups of `g` input and `g` output channels
/// sit in consecutive blocks of one row (`g` divides `hc`); derived here. Output channel
/// `o` only mixes inputs of its own group, i.e. in-row offsets `d` with `|d| < g`: `2g - 1` partial
/// sums per ciphertext (`hc` when `g == hc`, where offsets already wrap mod g), each rotated by its
/// offset except offset 0. Depthwise is `g = 1`: one partial sum, no external rotation.
pub fn small_group_subconv(
    h: u64,
    w: u64,
    c: u64,
    g: u64,
    taps: impl Iterator<Item = (u64, u64)>,
    cfg: &CountConfig,
) -> Result<(OpCounts, SciLayout), String> {
    let l = SciLayout::new(h, w, c, c, cfg.ring_degree)?;
    debug_assert!(l.hc % g == 0);
    let (t, rot_per_ct, ks_per_ct) = internal_per_ct(taps, w, l.n, cfg.key_policy);
    let partials = small_group_partials(&l, g);
    let ext_ks_per_ct = small_group_external_ks(&l, g, cfg.key_policy);
    let ct = l.inp_ct;
    let scmult = ct * partials * t;
    let counts = OpCounts {
        internal_rot: ct * rot_per_ct,
        external_rot: ct * (partials - 1),
        key_switch: ct * (ks_per_ct + ext_ks_per_ct),
        scmult,
        add: scmult + ct * (partials + 1),
        ct_up: ct,
        ct_down: ct,
        bytes_up: vector_bytes(l.n, PRIMES_UP, ct, cfg.sci_build),
        bytes_down: vector_bytes(l.n, PRIMES_DOWN, ct, cfg.sci_build),
        // Partial sums, masks and results as in the dense plan, plus the one zero ciphertext.
        mod_switch: ct * (partials + 2) + 1,
        enc: 2 * ct,
        dec: ct,
    };
    Ok((counts, l))
}

/// Partial sums per ciphertext of the consecutive-block grouped plan: `2g - 1`, or `hc` when
/// `g == hc`.
fn small_group_partials(l: &SciLayout, g: u64) -> u64 {
    if g == l.hc { l.hc } else { 2 * g - 1 }
}

/// External key switches per ciphertext of the consecutive-block grouped plan.
fn small_group_external_ks(l: &SciLayout, g: u64, policy: KeyPolicy) -> u64 {
    match policy {
        KeyPolicy::PerStep => small_group_partials(l, g) - 1,
        _ if g == l.hc => external_pair_key_switches(l.hc, policy),
        // Offsets +d and -d, d = 1 .. g-1, by d*S slots: as rotations by +-d in rows of hc (the
        // scaling argument of `external_pair_key_switches`).
        _ => (1..g as i64)
            .map(|d| {
                rotation_key_switches(d, 2 * l.hc, policy)
                    + rotation_key_switches(-d, 2 * l.hc, policy)
            })
            .sum(),
    }
}

// ---------------------------------------------------------------------------------------------
// Accumulation strategies (module documentation; derived here)
// ---------------------------------------------------------------------------------------------

/// One sub-convolution's counts under some plan, with what `subconv_mix` needs: the key
/// switches of its external rotations and the number of ciphertexts it returns (each switched
/// 2 -> 1 primes at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubCost {
    pub counts: OpCounts,
    pub layout: SciLayout,
    pub ext_ks: u64,
    pub returned: u64,
}

/// Calls `f(lh, lw, r, col)` for every non-empty sub-convolution `(r, col)` of SCI_HE's strided
/// decomposition (EzPC `conv-field.cpp` `ConvField::convolution`;
/// Gazelle (Juvekar et al., USENIX Security 2018) Sec. 6.1) on its `lh x lw` stored sub-image, in
/// `ConvField::convolution`'s order; the sub-filter is [`phase_taps`]`(c, r, col)`.
fn for_each_subconv(
    input: Shape,
    c: &Conv,
    mut f: impl FnMut(u64, u64, u32, u32) -> Result<(), String>,
) -> Result<(), String> {
    let hp = input.h as u64 + c.pad.top as u64 + c.pad.bottom as u64;
    let wp = input.w as u64 + c.pad.left as u64 + c.pad.right as u64;
    let (fh, fw, sh, sw) = (c.kh as u64, c.kw as u64, c.sh as u64, c.sw as u64);
    let limit_h = fh + (hp - fh) / sh * sh;
    let limit_w = fw + (wp - fw) / sw * sw;
    for r in 0..c.sh.min(c.kh) {
        for col in 0..c.sw.min(c.kw) {
            if phase_taps(c, r, col).next().is_none() {
                continue; // empty sub-filter: skipped
            }
            let lh = ceil_div(limit_h - r as u64, sh);
            let lw = ceil_div(limit_w - col as u64, sw);
            f(lh, lw, r, col)?;
        }
    }
    Ok(())
}

/// Counts of one non-strided sub-convolution on a stored `h x w` image, `ci -> co` channels, under
/// the accumulation strategy `accum` (`auto` counts as `he-rotate`) and the layer's groups and
/// group layout. See the module documentation for the plans.
#[allow(clippy::too_many_arguments)]
pub fn subconv(
    h: u64,
    w: u64,
    ci: u64,
    co: u64,
    c: &Conv,
    accum: Accum,
    taps: impl Iterator<Item = (u64, u64)> + Clone,
    cfg: &CountConfig,
) -> Result<SubCost, String> {
    let mut sub = subconv_plan(h, w, ci, co, c, accum, taps, cfg)?;
    if cfg.sci_build != SciBuild::Ezpc {
        // Each of the `calls` independent convolutions sends one vector each way.
        let (up, down) = (sub.counts.ct_up, sub.counts.ct_down);
        let calls = (up / sub.layout.inp_ct.max(1)).max(1);
        let n = sub.layout.n;
        sub.counts.bytes_up = calls * vector_bytes(n, PRIMES_UP, up / calls, cfg.sci_build);
        sub.counts.bytes_down = calls * vector_bytes(n, PRIMES_DOWN, down / calls, cfg.sci_build);
        if down % calls != 0 {
            sub.counts.bytes_down = vector_bytes(n, PRIMES_DOWN, down, cfg.sci_build);
        }
    }
    Ok(sub)
}

/// [`subconv`] with EzPC's bytes.
#[allow(clippy::too_many_arguments)]
fn subconv_plan(
    h: u64,
    w: u64,
    ci: u64,
    co: u64,
    c: &Conv,
    accum: Accum,
    taps: impl Iterator<Item = (u64, u64)> + Clone,
    cfg: &CountConfig,
) -> Result<SubCost, String> {
    let groups = c.groups as u64;
    let (g_in, g_out) = (ci / groups, co / groups);
    let strided = groups > 1 && c.group_layout == GroupLayout::Strided;
    let policy = cfg.key_policy;
    match accum.counted() {
        Accum::Striped => {
            if groups == 1 || !(strided || (g_in == 1 && g_out == 1)) {
                return Err(format!(
                    "accum: striped needs a grouped convolution with group_layout: strided (groups = {groups}, group_layout: {})",
                    if strided { "strided" } else { "contiguous" }
                ));
            }
            let l = SciLayout::new(h, w, ci, co, cfg.ring_degree)?;
            let (t, rot, ks) = internal_per_ct(taps, w, l.n, policy);
            if groups.is_multiple_of(l.cn()) {
                Ok(striped_slot_aligned(&l, groups, t, rot, ks))
            } else {
                let plan = strided_live_plan(&l, ci, co, groups, policy);
                Ok(live_he_rotate(&l, &plan, t, rot, ks))
            }
        }
        Accum::ShareSide if strided => {
            let l = SciLayout::new(h, w, ci, co, cfg.ring_degree)?;
            let (t, rot, ks) = internal_per_ct(taps, w, l.n, policy);
            let plan = strided_live_plan(&l, ci, co, groups, policy);
            Ok(live_share_side(&l, &plan, t, rot, ks))
        }
        Accum::ShareSide => {
            let probe = SciLayout::new(h, w, ci, co, cfg.ring_degree)?;
            if groups > 1 && g_in == g_out && probe.hc.is_multiple_of(g_in) {
                let (t, rot, ks) = internal_per_ct(taps, w, probe.n, policy);
                return Ok(small_group_share_side(&probe, g_in, t, rot, ks));
            }
            // One dense convolution, or `groups` independent ones of `g_in -> g_out` channels.
            let l = SciLayout::new(h, w, g_in, g_out, cfg.ring_degree)?;
            let (t, rot, ks) = internal_per_ct(taps, w, l.n, policy);
            let plan = strided_live_plan(&l, g_in, g_out, 1, policy);
            Ok(live_share_side(&l, &plan, t, rot, ks).times(groups))
        }
        _ if strided => {
            let l = SciLayout::new(h, w, ci, co, cfg.ring_degree)?;
            let (t, rot, ks) = internal_per_ct(taps, w, l.n, policy);
            let plan = strided_live_plan(&l, ci, co, groups, policy);
            Ok(live_he_rotate(&l, &plan, t, rot, ks))
        }
        _ => {
            // SCI_HE's own plans, as `conv_into` counts them.
            let probe = SciLayout::new(h, w, ci, co, cfg.ring_degree)?;
            if groups > 1 && g_in == g_out && probe.hc.is_multiple_of(g_in) {
                let (counts, l) = small_group_subconv(h, w, ci, g_in, taps, cfg)?;
                let ext_ks = l.inp_ct * small_group_external_ks(&l, g_in, policy);
                return Ok(SubCost {
                    counts,
                    layout: l,
                    ext_ks,
                    returned: l.inp_ct,
                });
            }
            let (counts, l) = dense_subconv(h, w, g_in, g_out, taps, cfg)?;
            let one = SubCost {
                counts,
                layout: l,
                ext_ks: l.external(policy).1,
                returned: l.out_ct,
            };
            Ok(one.times(groups))
        }
    }
}

impl SubCost {
    /// `k` identical independent sub-convolutions.
    fn times(self, k: u64) -> SubCost {
        SubCost {
            counts: self.counts.times(k),
            layout: self.layout,
            ext_ks: self.ext_ks * k,
            returned: self.returned * k,
        }
    }
}

/// Fields common to every plan: internal rotations, uploads, downloads and the return path of
/// `returned` ciphertexts that are still at 3 primes (mask encryption, three modulus switches:
/// the ciphertext and its mask 3 -> 2, the sum 2 -> 1; one mask add; decryption).
fn return_path(l: &SciLayout, rot_per_ct: u64, ks_per_ct: u64, returned: u64) -> OpCounts {
    OpCounts {
        internal_rot: l.inp_ct * rot_per_ct,
        key_switch: l.inp_ct * ks_per_ct,
        add: returned,
        ct_up: l.inp_ct,
        ct_down: returned,
        bytes_up: l.inp_ct * ct_bytes(l.n, PRIMES_UP),
        bytes_down: returned * ct_bytes(l.n, PRIMES_DOWN),
        mod_switch: 3 * returned,
        enc: l.inp_ct + returned,
        dec: returned,
        ..OpCounts::default()
    }
}

/// Levels of one sub-convolution's operations (SCI_HE's plan, `HE_conv_OP` then
/// `HE_output_rotations`): input rotations, products and their accumulation at the fresh level
/// (3 primes); partial sums switched down, so external rotations and the remaining additions run at
/// 2 primes; every modulus switch from 3 primes except the final one of each of the `returned`
/// ciphertexts; decryption at 1 prime. The other plans have the same shape: striped sums are
/// switched down and masked (mask adds at 2 primes), share-side partial sums likewise, neither with
/// external rotations.
fn subconv_mix(c: &OpCounts, ext_ks: u64, returned: u64) -> LevelMix {
    LevelMix {
        key_switch: [c.key_switch - ext_ks, ext_ks, 0],
        scmult: [c.scmult, 0, 0],
        add: [c.scmult, c.add - c.scmult, 0],
        add_plain: [0; 3],
        mod_switch: [c.mod_switch - returned, returned, 0],
        enc: [c.enc, 0, 0],
        dec: [0, 0, c.dec],
    }
}

/// The operations of [`conv`] by level (see `subconv_mix`).
pub fn conv_level_mix(
    input: Shape,
    co: u32,
    c: &Conv,
    cfg: &CountConfig,
) -> Result<LevelMix, String> {
    conv_level_mix_as(input, co, c, c.accum, cfg)
}

/// [`conv_level_mix`] with the accumulation strategy `accum` in place of the layer's own.
pub fn conv_level_mix_as(
    input: Shape,
    co: u32,
    c: &Conv,
    accum: Accum,
    cfg: &CountConfig,
) -> Result<LevelMix, String> {
    let mut mix = LevelMix::default();
    for_each_subconv(input, c, |lh, lw, r, col| {
        let taps = phase_taps(c, r, col);
        let sub = subconv(lh, lw, input.c as u64, co as u64, c, accum, taps, cfg)?;
        mix += subconv_mix(&sub.counts, sub.ext_ks, sub.returned);
        Ok(())
    })?;
    Ok(mix)
}

/// The operations of an SCI_HE FC layer by level (`fc_online`): diagonal rotations, products and
/// their sum at 3 primes; the result and the mask switched down, rotate-and-sum and the mask add at
/// 2 primes; decryption at 1 prime.
pub fn fc_level_mix(c: &OpCounts) -> LevelMix {
    LevelMix {
        key_switch: [c.key_switch - c.external_rot, c.external_rot, 0],
        scmult: [c.scmult, 0, 0],
        add: [c.scmult, c.add - c.scmult, 0],
        add_plain: [0; 3],
        mod_switch: [2, 1, 0],
        enc: [c.enc, 0, 0],
        dec: [0, 0, c.dec],
    }
}

/// The operations of an element-wise layer by level (`elemwise-prod-field.cpp`): product and mask
/// add at 3 primes, one switch from 3 and one from 2 primes per ciphertext, decryption at 1 prime.
pub fn elementwise_level_mix(c: &OpCounts) -> LevelMix {
    LevelMix {
        key_switch: [0; 3],
        scmult: [c.scmult, 0, 0],
        add: [c.add, 0, 0],
        add_plain: [0; 3],
        mod_switch: [c.mod_switch / 2, c.mod_switch / 2, 0],
        enc: [c.enc, 0, 0],
        dec: [0, 0, c.dec],
    }
}

/// A convolution under SCI_HE: Gazelle's strided decomposition as `ConvField::convolution` does it
/// (Gazelle Sec. 6.1), each non-empty sub-convolution counted on its own stored sub-image.
/// Grouped convolutions: consecutive-block packing when the group size divides `hc` (depthwise
/// included), otherwise `groups` independent dense convolutions. Other accumulation
/// strategies and the strided group layout: see the module documentation.
pub fn conv(input: Shape, co: u32, c: &Conv, cfg: &CountConfig) -> Result<LayerCost, String> {
    let mut total = LayerCost::default();
    conv_into(input, co, c, cfg, &mut total)?;
    Ok(total)
}

/// [`conv`] with the accumulation strategy `accum` in place of the layer's own.
pub fn conv_as(
    input: Shape,
    co: u32,
    c: &Conv,
    accum: Accum,
    cfg: &CountConfig,
) -> Result<LayerCost, String> {
    let mut total = LayerCost::default();
    conv_into_as(input, co, c, accum, cfg, &mut total)?;
    Ok(total)
}

/// [`conv`] written into `total` (which must start at the default).
pub fn conv_into(
    input: Shape,
    co: u32,
    c: &Conv,
    cfg: &CountConfig,
    total: &mut LayerCost,
) -> Result<(), String> {
    conv_into_as(input, co, c, c.accum, cfg, total)
}

/// [`conv_into`] with the accumulation strategy `accum` in place of the layer's own.
pub fn conv_into_as(
    input: Shape,
    co: u32,
    c: &Conv,
    accum: Accum,
    cfg: &CountConfig,
    total: &mut LayerCost,
) -> Result<(), String> {
    let accum = accum.counted();
    if accum != Accum::HeRotate || c.group_layout == GroupLayout::Strided {
        return for_each_subconv(input, c, |lh, lw, r, col| {
            let taps = phase_taps(c, r, col);
            let sub = subconv(lh, lw, input.c as u64, co as u64, c, accum, taps, cfg)?;
            total.counts += sub.counts;
            total.note_layout(sub.layout.n, sub.layout.cn());
            if conv_fresh_keys(sub.layout.n, cfg.sci_build) {
                total.counts.bytes_up += fresh_key_bytes_in(sub.layout.n, cfg.sci_build);
            }
            Ok(())
        });
    }
    // The default (SCI_HE's own plans): the hot path, counted in place.
    let groups = c.groups as u64;
    let g_in = input.c as u64 / groups;
    let g_out = co as u64 / groups;
    let dense = c.is_dense();
    let (fh, fw, sh, sw) = (c.kh as u64, c.kw as u64, c.sh as u64, c.sw as u64);
    for_each_subconv(input, c, |lh, lw, r, col| {
        let taps = phase_taps(c, r, col);
        let layout = if groups == 1 && dense {
            // Dense kernel: the sub-filter is the full lfh x lfw grid (no tap filtering).
            let (lfh, lfw) = (ceil_div(fh - r as u64, sh), ceil_div(fw - col as u64, sw));
            let grid = (0..lfh).flat_map(move |y| (0..lfw).map(move |x| (y, x)));
            dense_subconv_into(&mut total.counts, 1, lh, lw, g_in, g_out, grid, cfg)?
        } else if groups == 1 {
            dense_subconv_into(&mut total.counts, 1, lh, lw, g_in, g_out, taps, cfg)?
        } else {
            let probe = SciLayout::new(lh, lw, input.c as u64, co as u64, cfg.ring_degree)?;
            if g_in == g_out && probe.hc % g_in == 0 {
                let (counts, l) = small_group_subconv(lh, lw, input.c as u64, g_in, taps, cfg)?;
                total.counts += counts;
                l
            } else {
                dense_subconv_into(&mut total.counts, groups, lh, lw, g_in, g_out, taps, cfg)?
            }
        };
        total.note_layout(layout.n, layout.cn());
        if conv_fresh_keys(layout.n, cfg.sci_build) {
            total.counts.bytes_up += fresh_key_bytes_in(layout.n, cfg.sci_build);
        }
        Ok(())
    })
}

/// A fully connected layer `ni -> no` by the hybrid method of `fc-field.cpp` (`FCField::configure`,
/// `fc_online`; Gazelle Table 2),
/// at ring degree `min(N_MAX, max(n_min, 2*next_pow2(ni)))`.
pub fn fc(ni: u64, no: u64, cfg: &CountConfig) -> Result<LayerCost, String> {
    let n = N_MAX.min(cfg.ring_degree.max(2 * next_pow2(ni)));
    let (mut counts, pack_num) = hybrid_fc_counts(ni, no, n, cfg.key_policy)?;
    counts.bytes_up = single_ct_bytes(n, PRIMES_UP, cfg.sci_build);
    counts.bytes_down = single_ct_bytes(n, PRIMES_DOWN, cfg.sci_build);
    // OpenCheetah's `FCField::matrix_multiplication` makes and sends fresh keys at every degree
    // above `POLY_MOD_DEGREE` (`fc-field.cpp`); EzPC's are not counted here.
    if cfg.sci_build == SciBuild::OpenCheetah && n > 8192 {
        counts.bytes_up += fresh_key_bytes_in(n, cfg.sci_build);
    }
    // Result 3 -> 2 primes, mask 3 -> 2, result 2 -> 1 after flooding.
    counts.mod_switch = 3;
    Ok(LayerCost {
        counts,
        n: Some(n),
        cn: Some(pack_num),
    })
}

/// Operation counts of the hybrid FC at ring degree `n` (`fc_online`), without bytes and modulus
/// switches: `pack_num = n / ni'` copies of the input, `d = ceil(no' / pack_num)` diagonals, the
/// input rotated by `1 .. d-1` (diagonals at or past `no` hold no weight and are skipped:
/// `enc_mat[ct_idx].is_zero()`), then rotate-and-sum by `d, 2d, ... < ni'` (powers of two: one key
/// switch each; a step of n/2 is the row swap). Returns the counts and `pack_num`.
pub fn hybrid_fc_counts(
    ni: u64,
    no: u64,
    n: u64,
    policy: KeyPolicy,
) -> Result<(OpCounts, u64), String> {
    let ni2 = next_pow2(ni);
    let no2 = next_pow2(no);
    if ni2 > n {
        return Err(format!(
            "an FC input of {ni} values does not fit one ciphertext of {n} slots"
        ));
    }
    if no2 > n {
        // `preprocess_matrix` folds diagonals modulo next_pow2(ni); beyond N outputs its repacking
        // is no longer one-to-one, so fc-field.cpp cannot compute such a layer.
        return Err(format!(
            "an FC with {no} outputs does not fit SCI_HE's diagonal packing at N = {n} (at most {n} outputs)"
        ));
    }
    let pack_num = n / ni2;
    let d = ceil_div(no2, pack_num);
    // With dense weights every diagonal holds weights: d <= next_pow2(no)/2 < no when pack_num >= 2.
    let live = d;
    let internal_ks: u64 = (1..live)
        .map(|k| rotation_key_switches(k as i64, n, policy))
        .sum();
    let ext = if d < ni2 {
        (ni2 / d).trailing_zeros() as u64
    } else {
        0
    };
    let counts = OpCounts {
        internal_rot: live - 1,
        external_rot: ext,
        key_switch: internal_ks + ext,
        scmult: live,
        add: live + ext + 1,
        ct_up: 1,
        ct_down: 1,
        enc: 2,
        dec: 1,
        ..OpCounts::default()
    };
    Ok((counts, pack_num))
}

/// An element-wise product layer (unfolded batch norm as a per-channel scale), as
/// `elemwise-prod-field.cpp` runs it: the `len` values packed densely at the base ring degree,
/// one product, one mask add and two modulus switches per ciphertext, no rotation.
pub fn elementwise(len: u64, cfg: &CountConfig) -> LayerCost {
    let n = cfg.ring_degree;
    let ct = ceil_div(len, n);
    let counts = OpCounts {
        scmult: ct,
        add: ct,
        ct_up: ct,
        ct_down: ct,
        bytes_up: vector_bytes(n, PRIMES_UP, ct, cfg.sci_build),
        bytes_down: vector_bytes(n, PRIMES_DOWN, ct, cfg.sci_build),
        mod_switch: 2 * ct,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::he::Protocol;

    /// With dense weights (G = 1) and every partial sum live, the live plan is SCI_HE's plan: the
    /// strided `he-rotate` counts equal [`dense_subconv`]'s field by field.
    #[test]
    fn live_plan_is_sci_plan_when_nothing_is_zero() {
        let cfg = CountConfig::new(Protocol::Cryptflow2);
        let grid = |k: u64| (0..k).flat_map(move |y| (0..k).map(move |x| (y, x)));
        let mut compared = 0;
        for (side, k) in [(10u64, 3u64), (16, 3), (14, 1), (30, 3), (8, 1), (58, 3)] {
            for (ci, co) in [
                (64u64, 64u64),
                (128, 64),
                (64, 256),
                (32, 48),
                (100, 36),
                (8, 8),
            ] {
                let (dense, l) = dense_subconv(side, side, ci, co, grid(k), &cfg).unwrap();
                let plan = strided_live_plan(&l, ci, co, 1, cfg.key_policy);
                if plan.partials != l.convs {
                    continue;
                }
                let (t, rot, ks) = internal_per_ct(grid(k), side, l.n, cfg.key_policy);
                let live = live_he_rotate(&l, &plan, t, rot, ks);
                assert_eq!(live.counts, dense, "{side} {k} {ci} {co}");
                assert_eq!(live.ext_ks, l.external(cfg.key_policy).1);
                compared += 1;
            }
        }
        assert!(compared >= 20, "{compared}");
    }
}
