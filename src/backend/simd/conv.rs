//! A convolution under the SCI_HE plan, as `packing::simd::conv` and `subconv_plan` count it:
//! Gazelle's strided decomposition into non-strided sub-convolutions (`ConvField::convolution` in
//! `SCI/src/LinearHE/conv-field.cpp`; Gazelle, Sec. 6.1), empty sub-filters skipped, each
//! sub-convolution a job of one plan (dense, small-group, striped; strided groups on the dense plan
//! as the strided-live plan; `share-side` returning the partial sums). Here: the jobs, the layer's
//! integer data and both parties' shares, the server's preprocessing (weight masks, its masks),
//! and the online phase of a job up to the plan's middle, which the plan files run.

use super::super::{LayerRun, RotKind, conv_weights};
use super::bytes::pt_bytes;
use super::share_side::share_side_return;
use super::small_group::group_offsets;
use super::two_party::{
    OnlineClock, Party, addmod, data_rng, draw_input, draw_mask, layer_run, mask_rng, modt, mulmod,
    plain_prime, reconstructs, share, small_nonzero, submod,
};
use super::{Result, RunOptions, dense, fail, share_side, small_group, striped};
use crate::he::KeyPolicy;
use crate::net::spec::{Accum, GroupLayout};
use crate::net::{Conv, Layer, Shape};
use crate::packing::simd::{SciLayout, strided_live_plan};
use crate::packing::{CountConfig, phase_taps};
use fhe::bfv::{Ciphertext, Plaintext};
use rand::rngs::StdRng;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Ciphertexts a job returns: its outputs, or (share-side) its live partial sums.
pub fn job_returned(j: &Job, ci: u64, co: u64, groups: u64) -> u64 {
    let l = &j.layout;
    match j.kind {
        JobKind::Dense { .. } if j.share && j.live => {
            strided_live_plan(l, ci, co, groups, KeyPolicy::PerStep).partials
        }
        JobKind::Dense { .. } if j.share => {
            strided_live_plan(l, ci / groups, co / groups, 1, KeyPolicy::PerStep).partials
        }
        JobKind::SmallGroup { g } if j.share => {
            l.inp_ct * group_offsets(g, l.hc as usize).len() as u64
        }
        _ => l.out_ct,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A dense SCI_HE convolution over the channels of group `group` (`groups == 1`: the layer).
    Dense { group: usize },
    /// Contiguous small groups of `g` channels packed in consecutive blocks (depthwise: g = 1).
    SmallGroup { g: usize },
    /// The slot-aligned striped plan over the whole layer (strided groups, G a multiple of `cn`):
    /// output ciphertext j sums the products of the input ciphertexts `k == j (mod G/cn)`.
    Striped { groups: usize },
}

/// One non-strided (sub-)convolution as `conv_into` plans it.
#[derive(Debug, Clone)]
pub struct Job {
    /// Stride phase (row, column).
    pub(super) r: usize,
    pub(super) col: usize,
    /// Stored (padded, sub-sampled) image.
    pub(super) h: usize,
    pub(super) w: usize,
    /// Sub-filter taps `(a, b)`; the kernel tap is `(a*sh + r, b*sw + col)`.
    pub(super) taps: Vec<(usize, usize)>,
    pub(super) layout: SciLayout,
    pub(super) kind: JobKind,
    /// `accum: share-side`: the partial sums are returned unrotated and aligned on the shares.
    pub(super) share: bool,
    /// Strided groups on the dense plan over the whole layer: structurally zero work skipped
    /// (`StridedLivePlan`).
    pub(super) live: bool,
}

/// The plan of `packing::simd::conv_into`: Gazelle's strided decomposition, empty sub-filters
/// skipped, each non-empty phase a dense convolution, a small-group convolution, or `groups`
/// independent dense convolutions.
pub fn conv_jobs(input: Shape, co: u32, c: &Conv, n_min: u64) -> Result<Vec<Job>> {
    let hp = input.h as u64 + c.pad.top as u64 + c.pad.bottom as u64;
    let wp = input.w as u64 + c.pad.left as u64 + c.pad.right as u64;
    let (fh, fw, sh, sw) = (c.kh as u64, c.kw as u64, c.sh as u64, c.sw as u64);
    if hp < fh || wp < fw {
        return Err(fail("the kernel is larger than the padded input"));
    }
    let limit_h = fh + (hp - fh) / sh * sh;
    let limit_w = fw + (wp - fw) / sw * sw;
    let groups = c.groups as u64;
    let (g_in, g_out) = (input.c as u64 / groups, co as u64 / groups);
    let strided = groups > 1 && c.group_layout == GroupLayout::Strided;
    let accum = c.accum.counted();
    let striped = accum == Accum::Striped;
    let share = accum == Accum::ShareSide;
    if striped && (groups == 1 || !(strided || (g_in == 1 && g_out == 1))) {
        return Err(fail(
            "accum: striped needs a grouped convolution with group_layout: strided",
        ));
    }
    let mut jobs = Vec::new();
    for r in 0..c.sh.min(c.kh) {
        for col in 0..c.sw.min(c.kw) {
            let h = (limit_h - r as u64).div_ceil(sh);
            let w = (limit_w - col as u64).div_ceil(sw);
            let taps: Vec<(usize, usize)> = phase_taps(c, r, col)
                .map(|(a, b)| (a as usize, b as usize))
                .collect();
            if taps.is_empty() {
                continue; // empty sub-filter (a dense kernel never has one)
            }
            let mut push = |layout: SciLayout, kind: JobKind| {
                jobs.push(Job {
                    r: r as usize,
                    col: col as usize,
                    h: h as usize,
                    w: w as usize,
                    taps: taps.clone(),
                    layout,
                    kind,
                    share,
                    live: strided,
                })
            };
            let probe = SciLayout::new(h, w, input.c as u64, co as u64, n_min).map_err(fail)?;
            if striped && groups.is_multiple_of(probe.cn()) {
                push(
                    probe,
                    JobKind::Striped {
                        groups: groups as usize,
                    },
                );
            } else if strided {
                // The dense plan on the whole layer, zero weights outside the groups (striped
                // with G not a multiple of cn falls back to it).
                push(probe, JobKind::Dense { group: 0 });
            } else if groups > 1 && g_in == g_out && probe.hc % g_in == 0 {
                push(probe, JobKind::SmallGroup { g: g_in as usize });
            } else {
                let layout = SciLayout::new(h, w, g_in, g_out, n_min).map_err(fail)?;
                for group in 0..groups as usize {
                    push(layout, JobKind::Dense { group });
                }
            }
        }
    }
    Ok(jobs)
}

/// A convolution's integer data and both parties' input shares.
pub struct ConvData {
    pub(super) ci: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) sh: usize,
    pub(super) sw: usize,
    pub(super) pt: usize,
    pub(super) pl: usize,
    pub(super) g_in: usize,
    pub(super) g_out: usize,
    /// Number of groups and their layout (strided: group j = channels `c mod G == j`).
    pub(super) groups: usize,
    pub(super) strided: bool,
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) t: u64,
    /// Integer input `[c][y][x]`.
    pub(super) x: Vec<i64>,
    /// Integer weights `[o][ig][dy][dx]`, non-zero exactly on the taps.
    pub(super) wts: Vec<i64>,
    /// Client and server shares of `x` mod t.
    pub(super) xc: Vec<u64>,
    pub(super) xs: Vec<u64>,
}

impl ConvData {
    /// Index into an unpadded `[c][y][x]` tensor of the padded position `(y, x)`, if not padding.
    pub fn at(&self, c: usize, y: usize, x: usize) -> Option<usize> {
        let y = y.checked_sub(self.pt)?;
        let x = x.checked_sub(self.pl)?;
        (y < self.h && x < self.w).then(|| (c * self.h + y) * self.w + x)
    }

    pub fn weight(&self, o: usize, ig: usize, dy: usize, dx: usize) -> i64 {
        self.wts[((o * self.g_in + ig) * self.kh + dy) * self.kw + dx]
    }

    /// Weight (mod t) linking global input channel `ch` to output `o` at sub-filter tap `(a, b)`
    /// of `job`; zero when `ch` is outside `o`'s group.
    pub fn sub_weight(&self, job: &Job, o: usize, ch: usize, a: usize, b: usize) -> u64 {
        let Some(ig) = self.index_in_group(o, ch) else {
            return 0;
        };
        let w = self.weight(o, ig, a * self.sh + job.r, b * self.sw + job.col);
        modt(w, self.t)
    }

    /// Position of input channel `ch` in output `o`'s group, `None` outside it.
    pub fn index_in_group(&self, o: usize, ch: usize) -> Option<usize> {
        if self.strided {
            (ch % self.groups == o % self.groups).then_some(ch / self.groups)
        } else {
            let base = (o / self.g_out) * self.g_in;
            (ch >= base && ch < base + self.g_in).then(|| ch - base)
        }
    }

    /// Global input channel number `ig` of output `o`'s group.
    pub fn group_channel(&self, o: usize, ig: usize) -> usize {
        if self.strided {
            ig * self.groups + o % self.groups
        } else {
            (o / self.g_out) * self.g_in + ig
        }
    }

    /// `sum W * v` over the layer, for `v` given mod t by `val(index)` (`None` = padding).
    pub fn apply(&self, co: usize, taps: &[(u32, u32)], val: impl Fn(usize) -> u64) -> Vec<u64> {
        let t = self.t;
        let mut out = vec![0u64; co * self.oh * self.ow];
        for o in 0..co {
            for i in 0..self.oh {
                for j in 0..self.ow {
                    let mut acc = 0u64;
                    for ig in 0..self.g_in {
                        for &(dy, dx) in taps {
                            let (dy, dx) = (dy as usize, dx as usize);
                            if let Some(k) = self.at(
                                self.group_channel(o, ig),
                                i * self.sh + dy,
                                j * self.sw + dx,
                            ) {
                                let w = modt(self.weight(o, ig, dy, dx), t);
                                acc = addmod(acc, mulmod(w, val(k), t), t);
                            }
                        }
                    }
                    out[(o * self.oh + i) * self.ow + j] = acc;
                }
            }
        }
        out
    }
}

pub fn run_conv(
    layer: &Layer,
    c: &Conv,
    cfg: &CountConfig,
    opts: &RunOptions,
    prep_budget: u64,
) -> Result<LayerRun> {
    let input = layer.input;
    let co = layer.output.c as usize;
    let jobs = conv_jobs(input, layer.output.c, c, cfg.ring_degree)?;
    let n_max = jobs
        .iter()
        .map(|j| j.layout.n)
        .max()
        .unwrap_or(cfg.ring_degree);
    let t = plain_prime(opts, n_max)?;

    // Data: integer input and non-zero weights on the taps, the input shared mod t.
    let mut rng = data_rng(opts);
    let m = opts.max_value as i64;
    let (ci, h, w) = (input.c as usize, input.h as usize, input.w as usize);
    let groups = c.groups as usize;
    let (g_in, g_out) = (ci / groups, co / groups);
    let (kh, kw) = (c.kh as usize, c.kw as usize);
    let x = draw_input(&mut rng, ci * h * w, m);
    let wts = conv_weights(co, g_in, c, || small_nonzero(&mut rng, m));
    let (xs, xc) = share(&mut rng, &x, t);
    let hp = h + (c.pad.top + c.pad.bottom) as usize;
    let wp = w + (c.pad.left + c.pad.right) as usize;
    let d = ConvData {
        ci,
        h,
        w,
        kh,
        kw,
        sh: c.sh as usize,
        sw: c.sw as usize,
        pt: c.pad.top as usize,
        pl: c.pad.left as usize,
        g_in,
        g_out,
        groups,
        strided: groups > 1 && c.group_layout == GroupLayout::Strided,
        oh: (hp - kh) / c.sh as usize + 1,
        ow: (wp - kw) / c.sw as usize + 1,
        t,
        x,
        wts,
        xc,
        xs,
    };
    if (d.oh, d.ow) != (layer.output.h as usize, layer.output.w as usize) {
        return Err(fail(format!(
            "layer `{}`: output {}x{} does not match the convolution geometry {}x{}",
            layer.path, layer.output.h, layer.output.w, d.oh, d.ow
        )));
    }
    let expected = d.apply(co, &c.taps, |k| modt(d.x[k], t));

    // Setup: one party pair per ring degree, keys made before counting.
    let mut degrees: Vec<u64> = jobs.iter().map(|j| j.layout.n).collect();
    degrees.sort_unstable();
    degrees.dedup();
    let mut parties = Vec::with_capacity(degrees.len());
    for &n in &degrees {
        let mut p = Party::new(n, t, cfg, opts)?;
        let mut steps = BTreeSet::new();
        for j in jobs.iter().filter(|j| j.layout.n == n) {
            job_steps(j, &mut steps);
        }
        p.warm_up(&steps)?;
        parties.push(p);
    }
    let party_of = |job: &Job| degrees.binary_search(&job.layout.n).unwrap();

    // Server preprocessing, before the client's ciphertexts arrive: masks drawn and encoded, weight
    // masks encoded (up to the budget).
    let mut noise_rng = mask_rng(opts);
    let mut budget = prep_budget;
    let mut preps = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let p = &parties[party_of(job)];
        let jd = JobData { d: &d, co, job };
        preps.push(JobPrep::new(p, jd, &mut noise_rng, &mut budget)?);
    }

    // The online phase.
    let mut client = vec![0u64; co * d.oh * d.ow];
    let mut budgets = Vec::new();
    let mut clock = OnlineClock::default();
    clock.start();
    let mut aligned = Vec::with_capacity(jobs.len());
    for (job, prep) in jobs.iter().zip(&preps) {
        let p = &mut parties[party_of(job)];
        let jd = JobData { d: &d, co, job };
        aligned.push(run_conv_job(
            p,
            jd,
            prep,
            &mut clock,
            &mut client,
            &mut budgets,
        )?);
    }
    clock.stop();
    let wall_ns = clock.ns();

    // Server: W * x_s in the clear, minus its masks at the output positions (its output share).
    let mut server = d.apply(co, &c.taps, |k| d.xs[k]);
    for ((job, prep), aligned) in jobs.iter().zip(&preps).zip(&aligned) {
        let masks = aligned.as_ref().unwrap_or(&prep.noise);
        JobData { d: &d, co, job }.for_each_output(|k, ct, idx| {
            server[k] = submod(server[k], masks[ct][idx], t);
        });
    }

    let correct = reconstructs(&client, &server, &expected, t);
    let n = jobs.first().map_or(cfg.ring_degree, |j| j.layout.n);
    Ok(layer_run(&parties, wall_ns, correct, &budgets, n))
}

/// The (level, step) rotations a job performs (`None`: the row swap), for key generation.
fn job_steps(j: &Job, steps: &mut BTreeSet<(usize, Option<i64>)>) {
    let l = &j.layout;
    for &(a, b) in &j.taps {
        let s = (a * j.w + b) as i64;
        if s != 0 {
            steps.insert((0, Some(s)));
        }
    }
    let (hc, s) = (l.hc as i64, l.s as i64);
    if j.share {
        return; // partial sums returned unrotated
    }
    match j.kind {
        JobKind::Striped { .. } => {}
        JobKind::Dense { .. } => {
            for rot in 1..hc {
                steps.insert((1, Some(-((hc - rot) % hc) * s)));
            }
            if l.half_perms > 1 || (l.out_halves == 1 && l.inp_halves > 1) {
                steps.insert((1, None));
            }
        }
        JobKind::SmallGroup { g } => {
            for d in group_offsets(g, l.hc as usize) {
                if d != 0 {
                    steps.insert((1, Some(-d * s)));
                }
            }
        }
    }
}

/// Writes `val` into the mask positions of the channel block starting at `base`: every stored pixel
/// `(y, x)` whose window position `(y + a, x + b)` lies inside the `h x w` image (SCI_HE's mask
/// zeroing with the padding materialised).
pub fn fill_block(mask: &mut [u64], base: usize, h: usize, w: usize, a: usize, b: usize, val: u64) {
    for y in 0..h - a {
        let row = base + y * w;
        mask[row..row + (w - b)].fill(val);
    }
}

/// One job as the server runs it: the layer's data, its number of output channels, the job.
#[derive(Clone, Copy)]
pub struct JobData<'a> {
    pub(super) d: &'a ConvData,
    pub(super) co: usize,
    pub(super) job: &'a Job,
}

/// A job's input ciphertexts rotated per tap (`filter_rotations`): `[input ciphertext][tap]`.
pub type Rotated<'c> = [Vec<Cow<'c, Ciphertext>>];

/// One job's server side in the online phase, what every plan's middle reads: the job, its
/// preprocessing and its rotated input ciphertexts.
#[derive(Clone, Copy)]
pub struct Server<'a, 'c> {
    pub(super) jd: JobData<'a>,
    pub(super) prep: &'a JobPrep,
    pub(super) rots: &'a Rotated<'c>,
}

impl Server<'_, '_> {
    pub fn layout(&self) -> &SciLayout {
        &self.jd.job.layout
    }

    /// Runs `use_block` on the job's mask block `b` (see [`JobPrep::with_block`]).
    pub fn with_block<T>(
        &self,
        p: &mut Party,
        b: usize,
        clock: &mut OnlineClock,
        use_block: impl FnOnce(&mut Party, &MaskBlock) -> Result<T>,
    ) -> Result<T> {
        self.prep.with_block(p, self.jd, b, clock, use_block)
    }
}

impl Job {
    /// The group size `g` of a small-group job (1 otherwise: one channel per group).
    pub fn group_size(&self) -> usize {
        match self.kind {
            JobKind::SmallGroup { g } => g,
            _ => 1,
        }
    }

    /// The number of groups G of a striped job (1 otherwise).
    pub fn stripes(&self) -> usize {
        match self.kind {
            JobKind::Striped { groups } => groups,
            _ => 1,
        }
    }
}

impl JobData<'_> {
    /// `(in_base, n_in, out_base, n_out)`: the global input and output channels the job covers.
    pub fn channels(&self) -> (usize, usize, usize, usize) {
        let (d, co) = (self.d, self.co);
        match self.job.kind {
            JobKind::Dense { .. } if d.strided => (0, d.ci, 0, co),
            JobKind::Dense { group } => (group * d.g_in, d.g_in, group * d.g_out, d.g_out),
            JobKind::SmallGroup { .. } | JobKind::Striped { .. } => (0, d.ci, 0, co),
        }
    }

    /// Calls `f(k, ct, slot)` for every output position of the job: `k` its index in the layer's
    /// `[o][y][x]` output, `(ct, slot)` where the job's plan leaves it.
    pub fn for_each_output(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (d, job) = (self.d, self.job);
        let (_, _, out_base, n_out) = self.channels();
        for och in 0..n_out {
            for i in 0..d.oh {
                for j in 0..d.ow {
                    let (ct, idx) = slot(&job.layout, och, i * job.w + j);
                    f(((out_base + och) * d.oh + i) * d.ow + j, ct, idx);
                }
            }
        }
    }

    /// The client's output share: `client[k] += v[ct][slot]` mod t at every output position.
    pub fn add_outputs(&self, client: &mut [u64], v: &[Vec<u64>]) {
        let t = self.d.t;
        self.for_each_output(|k, ct, idx| client[k] = addmod(client[k], v[ct][idx], t));
    }
}

/// Channel `ch` (local to the job) at pixel offset `pos`: (ciphertext, slot).
pub fn slot(l: &SciLayout, ch: usize, pos: usize) -> (usize, usize) {
    let (hc, s, half_n) = (l.hc as usize, l.s as usize, l.n as usize / 2);
    let cn = 2 * hc;
    (ch / cn, ((ch % cn) / hc) * half_n + (ch % hc) * s + pos)
}

/// Encoded weight masks of one block of a job's middle, in the order the products use them
/// (`None`: an all-zero mask, whose product SCI_HE skips). A dense job has one block per pair of
/// half-permutations, a small-group job one per input ciphertext.
pub type MaskBlock = Vec<Option<Plaintext>>;

/// The server's preprocessing of one job, done before the client's ciphertexts arrive
/// (`HE_preprocess_filters_OP`, `HE_preprocess_noise`).
pub struct JobPrep {
    /// Weight masks per block; `None`: beyond the budget, encoded when reached.
    blocks: Vec<Option<MaskBlock>>,
    /// The server's random mask per returned ciphertext (all slots, mod t) and its encoding.
    pub(super) noise: Vec<Vec<u64>>,
    pub(super) noise_pts: Vec<Plaintext>,
}

impl JobPrep {
    pub fn new(
        p: &Party,
        jd: JobData,
        noise_rng: &mut StdRng,
        budget: &mut u64,
    ) -> Result<JobPrep> {
        let job = jd.job;
        let l = &job.layout;
        let (blocks, per_block, results) = match job.kind {
            JobKind::Dense { .. } => (
                l.half_perms.div_ceil(2),
                l.hc * l.inp_ct * job.taps.len() as u64 * if l.half_perms > 1 { 2 } else { 1 },
                l.out_ct,
            ),
            JobKind::SmallGroup { g } => (
                l.inp_ct,
                group_offsets(g, l.hc as usize).len() as u64 * job.taps.len() as u64,
                l.inp_ct,
            ),
            JobKind::Striped { groups } => (
                l.out_ct,
                l.inp_ct.div_ceil(striped::period(l, groups) as u64) * job.taps.len() as u64,
                l.out_ct,
            ),
        };
        // Share-side: one mask per partial sum that may be returned.
        let results = match job.kind {
            JobKind::Dense { .. } if job.share => l.convs,
            JobKind::SmallGroup { g } if job.share => {
                l.inp_ct * group_offsets(g, l.hc as usize).len() as u64
            }
            _ => results,
        };
        let block_bytes = per_block * pt_bytes(l.n, p.he.par.moduli().len());
        let blocks = (0..blocks as usize)
            .map(|b| {
                if *budget >= block_bytes {
                    *budget -= block_bytes;
                    mask_block(p, jd, b).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let noise: Vec<Vec<u64>> = (0..results)
            .map(|_| draw_mask(noise_rng, l.n, jd.d.t))
            .collect();
        let noise_pts = noise
            .iter()
            .map(|v| p.he.encode_simd(v, 0))
            .collect::<Result<Vec<_>>>()?;
        Ok(JobPrep {
            blocks,
            noise,
            noise_pts,
        })
    }

    /// Runs `use_block` on block `b`, encoding it first (clock paused) if it was not prepared.
    pub fn with_block<T>(
        &self,
        p: &mut Party,
        jd: JobData,
        b: usize,
        clock: &mut OnlineClock,
        use_block: impl FnOnce(&mut Party, &MaskBlock) -> Result<T>,
    ) -> Result<T> {
        match &self.blocks[b] {
            Some(block) => use_block(p, block),
            None => {
                let block = clock.paused(|| mask_block(p, jd, b))?;
                let out = use_block(p, &block);
                clock.paused(|| drop(block));
                out
            }
        }
    }
}

/// Encodes block `b` of a job's weight masks (see [`MaskBlock`]) by its plan.
fn mask_block(p: &Party, jd: JobData, b: usize) -> Result<MaskBlock> {
    match jd.job.kind {
        JobKind::Dense { .. } => dense::mask_block(p, jd, b),
        JobKind::Striped { .. } => striped::mask_block(p, jd, b),
        JobKind::SmallGroup { .. } => small_group::mask_block(p, jd, b),
    }
}

/// The online phase of one non-strided (sub-)convolution: client packing and encryption, the
/// server's rotations, masked products, partial-sum rotations and masks, the client's decryption;
/// the client's output share accumulated into `client`. Share-side: returns the server's aligned
/// masks (see [`share_side_return`]).
fn run_conv_job(
    p: &mut Party,
    jd: JobData,
    prep: &JobPrep,
    clock: &mut OnlineClock,
    client: &mut [u64],
    budgets: &mut Vec<u32>,
) -> Result<Option<Vec<Vec<u64>>>> {
    let (d, job) = (jd.d, jd.job);
    let l = &job.layout;
    let n = l.n as usize;
    let (in_base, n_in, ..) = jd.channels();

    // Client: pack its share of the stored sub-image (`preprocess_image_OP`), encrypt, send.
    let mut packed = vec![vec![0u64; n]; l.inp_ct as usize];
    for ch in 0..n_in {
        for y in 0..job.h {
            for x in 0..job.w {
                let py = y * d.sh + job.r;
                let px = x * d.sw + job.col;
                if let Some(k) = d.at(in_base + ch, py, px) {
                    let (c, i) = slot(l, ch, y * job.w + x);
                    packed[c][i] = d.xc[k];
                }
            }
        }
    }
    let cts = p.encrypt_input(&packed, clock)?;

    // Server: one rotation per tap and input ciphertext (`filter_rotations`; step 0 is the input).
    let mut rots: Vec<Vec<Cow<'_, Ciphertext>>> = Vec::with_capacity(cts.len());
    for ct in &cts {
        let mut per_tap = Vec::with_capacity(job.taps.len());
        for &(a, b) in &job.taps {
            per_tap.push(p.rotate_cow(ct, (a * job.w + b) as i64, RotKind::Internal)?);
        }
        rots.push(per_tap);
    }

    let sv = Server {
        jd,
        prep,
        rots: &rots,
    };
    if job.share {
        let partials = match job.kind {
            JobKind::Dense { .. } => share_side::dense(p, sv, clock)?,
            JobKind::SmallGroup { .. } => share_side::small_group(p, sv, clock)?,
            JobKind::Striped { .. } => unreachable!("striped is not share-side"),
        };
        drop(rots);
        return share_side_return(p, jd, prep, partials, clock, client, budgets).map(Some);
    }
    let mut results = match job.kind {
        JobKind::Dense { .. } => dense::middle(p, sv, clock)?,
        JobKind::SmallGroup { .. } => small_group::middle(p, sv, clock)?,
        JobKind::Striped { .. } => striped::middle(p, sv, clock)?,
    };
    drop(rots);

    // The server's mask (`HE_preprocess_noise`, encoded ahead): random everywhere; the values at
    // output positions are its output share (negated).
    for (res, pt) in results.iter_mut().zip(&prep.noise_pts) {
        let ct = p.mask_ct(pt, true)?;
        p.he.add_assign(res, &ct);
    }
    let dec = p.finish(results, budgets, clock)?;
    jd.add_outputs(client, &dec);
    Ok(None)
}
