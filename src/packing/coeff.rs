//! Cheetah coefficient packing (Cheetah (Huang et al., USENIX Security 2022) Sec. 3), counted as
//! OpenCheetah's code runs it.
//!
//! Sources (read-only): Alibaba-Gemini-Lab/OpenCheetah `include/gemini/cheetah/shape_inference.cc`
//! (`Conv2D`: SAME padding, 1x1 sub-sampling, the slice heuristic), `sliced_3d_tensor.h`
//! (`Conv2DSliceHelper`: overlapping spatial blocks), `hom_conv2d_ss.cc` (`conv2DOneFilter`: one
//! product per non-zero kernel block, the first without an add; `conv2DSS`: `M * dH * dW` returned
//! ciphertexts, `truncate_for_decryption`, `removeUnusedCoeffs`), `hom_fc_ss.cc` (`getSplit`),
//! `hom_bn_ss.cc` and `SCI/src/cheetah/cheetah-api.cpp` (N = 4096, moduli {60, 49},
//! `setUpForBN`). No rotations and no Galois keys anywhere.
//!
//! Accumulation strategies (`he-rotate`, `striped`, `share-side`, `auto`; derived here) are about
//! rotations, which Cheetah does not have: a convolution's counts do not depend on them. Nor does
//! the group layout: a grouped convolution's products are the kernel blocks its groups' channels
//! touch ([`blocks_touched`]) with each group packed contiguously. For `group_layout: strided`
//! (group j = channels `c mod G == j`) the client packs its share with the groups re-laid out
//! contiguously (packed position `j*g_in + k` holds channel `j + k*G`), the server packs its share
//! and its kernel blocks in the same order, and output channel `j + k*G` is read from returned
//! ciphertext `j*g_out + k`. The permutation is free (derived here: the client builds each layer's
//! ciphertexts from plaintext it holds, so the channel layout can change between layers at no
//! cost): in OpenCheetah's `CheetahLinear::conv2d` (cheetah-api.cpp) the client encrypts whatever
//! tensor it is handed (`encryptImage`), the server encodes its share and filters likewise
//! (`encodeImage`, `encodeFilters`), and every output channel comes back in its own ciphertexts, so
//! a public permutation of input channels, filters and outputs is only a relabelling. It never
//! costs more than packing the strided groups in place ([`blocks_touched_strided`], what an earlier
//! version of this counter charged); the project's worked bottleneck example (`tests/accum.rs`)
//! likewise prices the striped block under Cheetah with "groups laid out contiguously", and
//! Gazelle's counter makes the same re-pack ([`super::gazelle`]). A `shuffle` is free.

use super::{LayerCost, ceil_div};
use crate::cost::OpCounts;
use crate::he::seal_wire::{self, Stored, Words};
use crate::net::{Conv, Shape};
use serde::Serialize;

/// How the tensor is cut into polynomial-sized blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Partition {
    /// OpenCheetah's `shape_inference::Conv2D` heuristic (decides what the real code sends).
    Heuristic,
    /// The paper's search minimising the client's ciphertexts (Cheetah Sec. 3.2.1, Appendix C).
    Search,
}

/// How depthwise (and other grouped) convolutions are laid out (derived here: `homconv` as
/// OpenCheetah's HomConv with zero blocks skipped, `stacked` as its HomBN packing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DepthwiseMode {
    /// Plain HomConv with the zero kernel blocks skipped ("Cheetah A").
    Homconv,
    /// Channels stacked HomBN-style so each (input c, kernel c) pair lands in its own window
    /// (`Cw^2 * Hw * Ww <= N`; "Cheetah B").
    Stacked,
}

pub use crate::he::protocol::BnProtocol;

/// Cheetah parameters (defaults: OpenCheetah's N = 4096, {60, 49}, t = 2^37).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheetahParams {
    /// Bits of the first ciphertext prime q0 (the one returned ciphertexts keep).
    pub q0_bits: u32,
    /// Total bits of all ciphertext primes (no special prime: Cheetah never key-switches).
    pub q_bits: u32,
    /// Share bit length l; the plaintext modulus is 2^l.
    pub plain_bits: u32,
    pub partition: Partition,
    pub depthwise: DepthwiseMode,
    /// The program's choice between the two batch-norm protocols: `None` takes the network's
    /// (its spec's `cheetah_batchnorm`, [`BnProtocol::Fewer`] when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batchnorm: Option<BnProtocol>,
}

impl Default for CheetahParams {
    fn default() -> Self {
        CheetahParams {
            q0_bits: 60,
            q_bits: 109,
            plain_bits: 37,
            partition: Partition::Heuristic,
            depthwise: DepthwiseMode::Homconv,
            batchnorm: None,
        }
    }
}

/// Bits kept per coefficient of a returned ciphertext `(c0, c1)` after `truncate_for_decryption`:
/// switch to q0, then drop `n_delta - 1 - [t not a power of two]` low bits of c0 and
/// `n_delta - n_var` of c1, with `n_delta = bits(q0) - bits(t)` and
/// `n_var = floor(log2(12 * N * sqrt(1/18)))`.
pub fn kept_bits(n: u64, q0_bits: u32, t_bits: u32, t_pow2: bool) -> (u64, u64) {
    let n_delta = q0_bits as i64 - t_bits as i64;
    let n_var = (12.0 * n as f64 * (1.0f64 / 18.0).sqrt()).log2().floor() as i64;
    let c0_drop = (n_delta - 1 - (!t_pow2) as i64).max(0);
    let c1_drop = (n_delta - n_var).max(0);
    (
        (q0_bits as i64 - c0_drop) as u64,
        (q0_bits as i64 - c1_drop) as u64,
    )
}

impl CheetahParams {
    /// Bit widths of the ciphertext primes: `q0_bits`, then the remaining `q_bits - q0_bits` bits
    /// (one prime for OpenCheetah's {60, 49}; more than 62 bits are spread evenly over primes of at
    /// most 60 bits, an approximation since only the first width and the total are kept).
    pub fn prime_bits(&self) -> Vec<u32> {
        let mut v = vec![self.q0_bits];
        let rest = self.q_bits.saturating_sub(self.q0_bits);
        if rest > 0 {
            let k = if rest <= 62 { 1 } else { rest.div_ceil(60) };
            v.extend((0..k).map(|i| rest / k + u32::from(i < rest % k)));
        }
        v
    }

    /// Bit-packed size of one seeded client ciphertext: c0 at the primes' widths, `N * q_bits / 8`
    /// (c1 is a seed). What an ideal serializer would send; fhe.rs comes close (the backend's byte
    /// check), SEAL does not ([`Self::bytes_up`]).
    pub fn bytes_up_packed(&self, n: u64) -> u64 {
        ceil_div(n * self.q_bits as u64, 8)
    }

    /// Wire bytes of one seeded client ciphertext as OpenCheetah sends it: SEAL 3.7
    /// `Serializable<Ciphertext>::save()` with zstd (c0 as one 64-bit word per RNS coefficient,
    /// uniform below its prime, and the seed), behind the 8-byte length prefix of
    /// `cheetah-api.cpp` `send_ciphertext`. Expected size ([`seal_wire`] doc: framing exact,
    /// compression an estimate): 62,441 B at N = 4096, {60, 49}.
    pub fn bytes_up(&self, n: u64) -> u64 {
        let words: Vec<Words> = self
            .prime_bits()
            .into_iter()
            .map(|bits| Words {
                count: n,
                bits,
                low_zero: 0,
            })
            .collect();
        seal_wire::ciphertext_bytes(&Stored {
            n,
            words,
            zeroed: 0,
            zero_runs: 0,
            seeded: true,
        })
    }

    /// Wire bytes of one returned ciphertext `(c0, c1)` at q0 holding `used` output coefficients
    /// in `zero_runs` runs of zeroed words, under a plaintext modulus of `t_bits` bits.
    /// `truncate_for_decryption` clears the low bits of every word ([`kept_bits`]) but does not
    /// bit-pack them; `removeUnusedCoeffs` zeroes the c0 words that carry no kept output. SEAL 3.7
    /// `save()` with zstd then stores c1's `N` words and the `used` c0 words as Huffman-coded bytes
    /// and the zeroed runs as matches. Expected size ([`seal_wire`] doc): 50,757 B for 3136 used of
    /// N = 4096 in one run at t = 2^37 (OpenCheetah's log: 50,769 B for such a layer).
    pub fn bytes_down(&self, n: u64, used: u64, zero_runs: u64, t_bits: u32, t_pow2: bool) -> u64 {
        let (c0, c1) = kept_bits(n, self.q0_bits, t_bits, t_pow2);
        let used = used.min(n);
        seal_wire::ciphertext_bytes(&Stored {
            n,
            words: vec![
                Words {
                    count: n,
                    bits: self.q0_bits,
                    low_zero: self.q0_bits - c1 as u32,
                },
                Words {
                    count: used,
                    bits: self.q0_bits,
                    low_zero: self.q0_bits - c0 as u32,
                },
            ],
            zeroed: n - used,
            zero_runs,
            seeded: false,
        })
    }

    /// Bit-packed size of `cts` returned ciphertexts with `used` output coefficients in all: c1
    /// whole at its kept width, c0 only where outputs sit (derived here: the ideal of
    /// OpenCheetah's `truncate_for_decryption` and `removeUnusedCoeffs`; what a
    /// bit-packing serializer would send, not what SEAL sends).
    pub fn bytes_down_packed(&self, n: u64, cts: u64, used: u64, t_bits: u32, t_pow2: bool) -> u64 {
        let (c0, c1) = kept_bits(n, self.q0_bits, t_bits, t_pow2);
        ceil_div(cts * n * c1 + used * c0, 8)
    }

    /// Bit count of the conv/FC plaintext modulus 2^l (SEAL's `bit_count`: l + 1).
    fn t_bits(&self) -> u32 {
        self.plain_bits + 1
    }
}

/// A block partition of a (padded) `C x H x W` input for an `fh x fw` kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocks {
    pub cw: u64,
    pub hw: u64,
    pub ww: u64,
    pub dc: u64,
    pub dh: u64,
    pub dw: u64,
}

/// Blocks along one axis of length `len` with windows of `win` overlapping by `k - 1`.
fn windows(len: u64, win: u64, k: u64) -> u64 {
    if len > win {
        1 + ceil_div(len - win, win - k + 1)
    } else {
        1
    }
}

/// OpenCheetah's heuristic (`shape_inference::Conv2D`).
pub fn heuristic_blocks(
    c: u64,
    h: u64,
    w: u64,
    fh: u64,
    fw: u64,
    n: u64,
) -> Result<Blocks, String> {
    let cap = n / (fh * fw);
    if cap == 0 {
        return Err(format!(
            "a {fh}x{fw} kernel does not fit a polynomial of degree {n}"
        ));
    }
    let (cw, hw, ww) = if h * w <= n {
        ((n / (h * w)).min(c).min(cap), h, w)
    } else {
        let mut hw = (((n * h) as f64 / w as f64).sqrt() as u64).min(h);
        let mut ww = (n / hw.max(1)).min(w);
        if hw.abs_diff(ww) < 2 {
            let m = hw.min(ww);
            hw = m;
            ww = m;
        }
        (1, hw, ww)
    };
    if hw < fh || ww < fw {
        return Err(format!(
            "a {h}x{w} input cannot be cut into {hw}x{ww} blocks for a {fh}x{fw} kernel"
        ));
    }
    Ok(Blocks {
        cw,
        hw,
        ww,
        dc: ceil_div(c, cw),
        dh: windows(h, hw, fh),
        dw: windows(w, ww, fw),
    })
}

/// The paper's search: minimise `dC * dH * dW` over `fh <= Hw <= H`, `fw <= Ww <= W`,
/// `Hw * Ww <= N` with `Cw = min(C, floor(N / (Hw*Ww)))`; ties: smallest `Hw`, then smallest `Ww`
/// (products are `M` times the objective, so "fewest products" is the same criterion).
pub fn search_blocks(c: u64, h: u64, w: u64, fh: u64, fw: u64, n: u64) -> Result<Blocks, String> {
    let mut best: Option<Blocks> = None;
    for hw in fh..=h {
        if hw * fw > n {
            break;
        }
        let dh = windows(h, hw, fh);
        for ww in fw..=w.min(n / hw) {
            let cw = c.min(n / (hw * ww));
            let b = Blocks {
                cw,
                hw,
                ww,
                dc: ceil_div(c, cw),
                dh,
                dw: windows(w, ww, fw),
            };
            let cost = b.dc * b.dh * b.dw;
            if best.is_none_or(|x| cost < x.dc * x.dh * x.dw) {
                best = Some(b);
            }
        }
    }
    best.ok_or_else(|| format!("no {fh}x{fw} block fits a polynomial of degree {n}"))
}

/// Number of channel blocks of width `cw` touched by `groups` contiguous groups of `g` channels
/// (group i: channels `i*g .. i*g + g - 1`), summed over the groups.
pub fn blocks_touched(groups: u64, g: u64, cw: u64) -> u64 {
    (0..groups)
        .map(|i| (i * g + g - 1) / cw - (i * g) / cw + 1)
        .sum()
}

/// Number of channel blocks of width `cw` touched by `groups` strided groups of `g` channels left
/// in place (group j: channels `j, j + G, .., j + (g-1)*G`, channel c in block `c / cw`), summed
/// over the groups. Members of a group rise by G, so their blocks never decrease: a group touches
/// one block plus one per member whose block differs from the previous member's. When `G >= cw`
/// every member is in its own block: `G*g` (all channels).
///
/// Not what [`conv`] counts: the strided layout is re-packed contiguously for free (module doc),
/// and `blocks_touched(groups, g, cw) <= blocks_touched_strided(groups, g, cw)` always (tests pin
/// it), so in-place packing would only waste products.
pub fn blocks_touched_strided(groups: u64, g: u64, cw: u64) -> u64 {
    if groups >= cw {
        return groups * g;
    }
    (0..groups)
        .map(|j| {
            1 + (1..g)
                .filter(|&t| (j + t * groups) / cw != (j + (t - 1) * groups) / cw)
                .count() as u64
        })
        .sum()
}

/// A convolution under Cheetah. `reads_input`: the layer reads the network input, which the
/// client holds whole, so the server adds no plaintext share (no AddPlain).
pub fn conv(
    input: Shape,
    out: Shape,
    c: &Conv,
    reads_input: bool,
    p: &CheetahParams,
    n: u64,
) -> Result<LayerCost, String> {
    let (fh, fw) = (c.kh as u64, c.kw as u64);
    let mut h = input.h as u64 + c.pad.top as u64 + c.pad.bottom as u64;
    let mut w = input.w as u64 + c.pad.left as u64 + c.pad.right as u64;
    let ch = input.c as u64;
    let m = out.c as u64;
    let b = match p.partition {
        Partition::Heuristic => {
            // A 1x1 kernel axis with stride s > 1 is sub-sampled before packing.
            if fh == 1 {
                h = ceil_div(h, c.sh as u64);
            }
            if fw == 1 {
                w = ceil_div(w, c.sw as u64);
            }
            heuristic_blocks(ch, h, w, fh, fw, n)?
        }
        Partition::Search => search_blocks(ch, h, w, fh, fw, n)?,
    };
    let spatial = b.dh * b.dw;
    let groups = c.groups as u64;
    let (g_in, g_out) = (ch / groups, m / groups);
    // Coefficients each returned ciphertext keeps (`removeUnusedCoeffs`): every stride-1 output of
    // its block, strided or not (see [`kept_outputs`]).
    let oh = window_outputs(h, b.hw, fh);
    let ow = window_outputs(w, b.ww, fw);
    let mut down: Vec<(u64, u64, u64)> = Vec::new();
    let (in_ct, products, out_ct, cw) =
        if groups > 1 && g_in == 1 && g_out == 1 && p.depthwise == DepthwiseMode::Stacked {
            // Stacked: input channel c at offset c*Hw*Ww, kernel c at c*Cw*Hw*Ww, Cw^2*Hw*Ww <= N.
            let cw = (((n / (b.hw * b.ww)) as f64).sqrt() as u64).min(ch).max(1);
            let dc = ceil_div(ch, cw);
            let k = dc * spatial;
            for j in 0..dc {
                let chans = cw.min(ch - j * cw);
                for (&y, &x) in oh.iter().flat_map(|y| ow.iter().map(move |x| (y, x))) {
                    // Each stacked channel's window is one block of outputs (runs: an estimate).
                    let runs = chans * zero_runs(n, y, x, y + fh - 1, x + fw - 1, 1, fh, fw);
                    down.push((1, chans * y * x, runs));
                }
            }
            (k, k, k, cw)
        } else {
            // Each output channel multiplies the kernel blocks holding its group's input channels
            // (every group has g_out outputs). Either layout is packed with each group contiguous
            // (strided groups re-packed, module doc).
            let per_filter_blocks = if groups == 1 {
                b.dc * g_out
            } else {
                blocks_touched(groups, g_in, b.cw) * g_out
            };
            for (&y, &x) in oh.iter().flat_map(|y| ow.iter().map(move |x| (y, x))) {
                let runs = zero_runs(n, y, x, y + fh - 1, x + fw - 1, b.cw, fh, fw);
                down.push((m, y * x, runs));
            }
            (
                b.dc * spatial,
                per_filter_blocks * spatial,
                m * spatial,
                b.cw,
            )
        };
    Ok(finish(
        in_ct,
        products,
        out_ct,
        &down,
        reads_input,
        p,
        n,
        cw,
    ))
}

/// Stride-1 outputs of each window along an axis of (padded, 1x1-sub-sampled) length `len` cut
/// into windows of `win` overlapping by `k - 1`: window d spans `[d*(win-k+1), min(d*(win-k+1) +
/// win, len))` and holds `end - start - k + 1` outputs (OpenCheetah `sliced_3d_tensor.h`
/// `Conv2DSliceHelper::slice`, `tensor_encoder.cc` `ConvCoeffIndexCalculator::Get`). They sum to
/// `len - k + 1`.
pub fn window_outputs(len: u64, win: u64, k: u64) -> Vec<u64> {
    (0..windows(len, win, k))
        .map(|d| {
            let start = d * (win - k + 1);
            (start + win).min(len) - start + 1 - k
        })
        .collect()
}

/// Runs of zeroed c0 words in a returned ciphertext of a `hb x wb` block of `cb` channels whose
/// `y x x` stride-1 outputs sit at `O + i*wb + j` with `O = hb*wb*(cb - 1) + wb*(kh - 1) + kw - 1`
/// (OpenCheetah `tensor_encoder.cc` `ConvCoeffIndexCalculator::Get`, `FilterIndexer::index_begin`):
/// one before `O` if `O > 0`, one between rows when `x < wb`, one after the last output if it is
/// not the last coefficient. Only the compression estimate uses it.
#[allow(clippy::too_many_arguments)]
fn zero_runs(n: u64, y: u64, x: u64, hb: u64, wb: u64, cb: u64, kh: u64, kw: u64) -> u64 {
    let o = hb * wb * (cb - 1) + wb * (kh - 1) + kw - 1;
    let last = o + (y - 1) * wb + x - 1;
    u64::from(o > 0) + if x < wb { y - 1 } else { 0 } + u64::from(last + 1 < n)
}

/// Output coefficients one filter's returned ciphertexts keep in all, for a `kh x kw` kernel on
/// a padded `h x w` input (1x1 axes with stride s > 1 already sub-sampled to `ceil(h/s)`).
///
/// OpenCheetah `hom_conv2d_ss.cc` `HomConv2DSS::removeUnusedCoeffs` builds its
/// `ConvCoeffIndexCalculator` on the strided input shape of `shape_inference::Conv2D` (padded;
/// sub-sampled only for a 1x1 axis) with `Padding::VALID` and **stride 1** ("Treat the strided
/// image with stride = 1"), and keeps every index that calculator lists: all stride-1 outputs
/// `(h - kh + 1) * (w - kw + 1)`, not only the strided outputs the client decrypts
/// (`decryptToTensor` reads those with the real stride). A 3x3 stride-2 layer on 56x56 thus keeps
/// 56*56 = 3136 coefficients per filter, four times its 28*28 outputs. Bit-exact to the code.
pub fn kept_outputs(h: u64, w: u64, kh: u64, kw: u64) -> u64 {
    (h + 1 - kh) * (w + 1 - kw)
}

/// Common tail: adds (each returned ciphertext's first product needs none,
/// OpenCheetah `hom_conv2d_ss.cc` `HomConv2DSS::conv2DSS`),
/// AddPlain of the server's share, bytes, encryptions. Masking and flooding are not counted as adds.
/// `down` lists returned ciphertexts as `(count, kept coefficients each, runs of zeroed words)`. Bytes: each direction
/// is one `send_encrypted_vector` (a 4-byte count, then each ciphertext's SEAL 3.7 wire size).
#[allow(clippy::too_many_arguments)]
fn finish(
    in_ct: u64,
    products: u64,
    out_ct: u64,
    down: &[(u64, u64, u64)],
    reads_input: bool,
    p: &CheetahParams,
    n: u64,
    cw: u64,
) -> LayerCost {
    debug_assert_eq!(down.iter().map(|d| d.0).sum::<u64>(), out_ct);
    let add_plain = if reads_input { 0 } else { in_ct };
    let t_bits = p.t_bits();
    let counts = OpCounts {
        scmult: products,
        add: products - out_ct + add_plain,
        ct_up: in_ct,
        ct_down: out_ct,
        bytes_up: seal_wire::VECTOR_COUNT + in_ct * p.bytes_up(n),
        bytes_down: seal_wire::VECTOR_COUNT
            + down
                .iter()
                .map(|&(k, used, runs)| k * p.bytes_down(n, used, runs, t_bits, true))
                .sum::<u64>(),
        // One switch to q0 per returned ciphertext.
        mod_switch: out_ct,
        enc: in_ct,
        dec: out_ct,
        ..OpCounts::default()
    };
    LayerCost {
        counts,
        n: Some(n),
        cn: Some(cw),
    }
}

/// `getSplit` of `hom_fc_ss.cc`: loop `now` then `niw` ascending, keep the first pair with
/// `now * niw <= N` that strictly lowers `ceil(ni/niw) + ceil(no/now)`. For a fixed `now` the cost
/// falls as `niw` grows, so the first minimiser is the smallest `niw` reaching
/// `ceil(ni / min(ni, N/now))` input blocks.
pub fn fc_split(ni: u64, no: u64, n: u64) -> (u64, u64) {
    let mut best = (0, 0);
    let mut best_cost = u64::MAX;
    for now in 1..=no.min(n) {
        let max_niw = ni.min(n / now);
        if max_niw == 0 {
            break;
        }
        let c_in = ceil_div(ni, max_niw);
        let niw = ceil_div(ni, c_in);
        let cost = c_in + ceil_div(no, now);
        if cost < best_cost {
            best_cost = cost;
            best = (now, niw);
        }
    }
    best
}

/// A fully connected layer under Cheetah (HomFC: Cheetah Sec. 3.1; OpenCheetah `hom_fc_ss.cc`
/// `getSplit`).
pub fn fc(ni: u64, no: u64, reads_input: bool, p: &CheetahParams, n: u64) -> LayerCost {
    let (now, niw) = fc_split(ni, no, n);
    let in_ct = ceil_div(ni, niw);
    let out_ct = ceil_div(no, now);
    // `HomFCSS::removeUnusedCoeffs` keeps one coefficient per output row of each block: `now`
    // in all but the last ciphertext, which keeps the rest.
    // The kept coefficients sit every `niw` words from 0: a zeroed run after each.
    let last = no - (out_ct - 1) * now;
    let runs = |k: u64| if niw > 1 { k } else { u64::from(k < n) };
    let down = [(out_ct - 1, now, runs(now)), (1, last, runs(last))];
    finish(in_ct, in_ct * out_ct, out_ct, &down, reads_input, p, n, niw)
}

/// Number of CRT plaintext primes and their bit width for HomBN (`setUpForBN`): the primes cover
/// `2l + 1 + 40` bits, each at most 50 bits.
pub fn bn_crt(plain_bits: u32) -> (u64, u32) {
    let crt_bits = 2 * plain_bits as u64 + 1 + 40;
    let per = (1..)
        .map(|k| ceil_div(crt_bits + 1, k))
        .find(|&b| b <= 50)
        .expect("terminates");
    (ceil_div(crt_bits, per), per as u32)
}

/// Whether OpenCheetah runs a `C x H x W` batch norm by coefficient encoding (`bn_direct`) rather
/// than the CRT SIMD `HomBNSS::bn`. With [`BnProtocol::Fewer`], as `FusedBatchNorm4411` of the
/// ResNet-50 program (`networks/main_resnet50.cpp`) decides: the 4-D `BatchNorm`
/// (`library_fixed_uniform_cheetah.cpp`, `CheetahLinear::bn_direct`) when the ring is a power of
/// two and `ceil(H*W/4096)*C < ceil(H*W*C/4096)*3`, i.e. fewer ciphertexts than the CRT plan (N
/// and the CRT prime count in place of 4096 and 3); with [`BnProtocol::Simd`] never.
pub fn bn_uses_direct(c: u64, h: u64, w: u64, p: &CheetahParams, n: u64) -> bool {
    let (crt, _) = bn_crt(p.plain_bits);
    p.batchnorm.unwrap_or_default() == BnProtocol::Fewer
        && ceil_div(h * w, n) * c < ceil_div(h * w * c, n) * crt
}

/// `getSplitBN` (`hom_bn_ss.cc`): one channel per ciphertext, tiles of `s x s` with `s =
/// floor(sqrt(N))` (64 at N = 4096), each stored row-major at width `min(s, W)`.
pub fn bn_direct_tile(h: u64, w: u64, n: u64) -> (u64, u64) {
    let s = n.isqrt();
    (s.min(h), s.min(w))
}

/// A batch norm as `HomBNSS::bn_direct` runs it: per channel and tile, the client's share
/// coefficient-encoded and encrypted (seeded, as HomConv's inputs), the server's share added
/// (AddPlain), the channel's scale multiplied in (a constant polynomial: one product), the result
/// switched to q0, masked, its unused coefficients zeroed (`remove_unused_coeffs` keeps indices
/// `0 .. used-1`, one zeroed run when the tile is not full) and truncated
/// (`truncate_for_decryption`) as HomConv's outputs, under the conv plaintext modulus `2^l`.
/// The operations follow HomConv's convention (`finish`).
pub fn batchnorm_direct(
    c: u64,
    h: u64,
    w: u64,
    reads_input: bool,
    p: &CheetahParams,
    n: u64,
) -> LayerCost {
    let (th, tw) = bn_direct_tile(h, w, n);
    let (dh, dw) = (ceil_div(h, th), ceil_div(w, tw));
    let ct = c * dh * dw;
    // Tiles by used coefficients: full, last row of tiles, last column, the corner.
    let (lh, lw) = (h - (dh - 1) * th, w - (dw - 1) * tw);
    let run = |used: u64| (used, u64::from(used < n));
    let mut down = Vec::new();
    for (k, used) in [
        ((dh - 1) * (dw - 1), th * tw),
        (dw - 1, lh * tw),
        (dh - 1, th * lw),
        (1, lh * lw),
    ] {
        if k > 0 {
            let (used, runs) = run(used);
            down.push((c * k, used, runs));
        }
    }
    finish(ct, ct, ct, &down, reads_input, p, n, 1)
}

/// An unfolded batch norm under OpenCheetah's HomBN: SIMD encoding under each CRT prime, the
/// `C*H*W` vector cut into pieces of N: one product and one AddPlain of the server share per
/// ciphertext; every coefficient of a returned ciphertext is used.
pub fn batchnorm(len: u64, reads_input: bool, p: &CheetahParams, n: u64) -> LayerCost {
    let (crt, bits) = bn_crt(p.plain_bits);
    let ct = crt * ceil_div(len, n);
    let counts = OpCounts {
        scmult: ct,
        // AddPlain of the server's share, skipped when the input is the client's own
        // (`HomBNSS::bn` adds only shared inputs).
        add: if reads_input { 0 } else { ct },
        ct_up: ct,
        ct_down: ct,
        bytes_up: seal_wire::VECTOR_COUNT + ct * p.bytes_up(n),
        bytes_down: seal_wire::VECTOR_COUNT + ct * p.bytes_down(n, n, 0, bits, false),
        mod_switch: ct,
        enc: ct,
        dec: ct,
        ..OpCounts::default()
    };
    LayerCost {
        counts,
        n: Some(n),
        cn: None,
    }
}
