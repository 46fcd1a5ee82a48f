//! Which candidates a search visits, as a pure function of (strategy, seed, sequence number):
//! the same seed gives the same candidates in the same order whatever the thread count or the
//! sharding.

use super::compile::Compiled;
use super::pareto::Front;

/// Search strategies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Every candidate, in index order (last dimension fastest), up to the budget.
    Exhaustive,
    /// A seeded random sample without replacement (a keyed permutation of the index space).
    Random,
    /// Generations of mutations and crossovers of the current Pareto front, seeded.
    Evolution,
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Exhaustive => "exhaustive",
            Strategy::Random => "random",
            Strategy::Evolution => "evolution",
        }
    }
}

/// Candidates per evolution generation.
pub const GENERATION: u64 = 2048;

/// SplitMix64: a fast, well-mixed hash of one word.
#[inline(always)]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A keyed bijection of `0..n`: a 4-round Feistel network on the smallest even number of bits
/// covering `n`, with cycle walking (re-apply until the value falls below `n`; fewer than 4
/// rounds of walking on average since the bit domain is less than 4n).
#[derive(Debug, Clone, Copy)]
pub struct Permutation {
    n: u64,
    half: u32,
    mask: u64,
    keys: [u64; 4],
}

impl Permutation {
    pub fn new(n: u64, seed: u64) -> Permutation {
        let bits = (64 - n.saturating_sub(1).leading_zeros()).max(2);
        let half = bits.div_ceil(2);
        let mut keys = [0; 4];
        for (i, k) in keys.iter_mut().enumerate() {
            *k = mix(seed ^ mix(0x5354_5249_4100 + i as u64));
        }
        Permutation {
            n,
            half,
            mask: (1u64 << half) - 1,
            keys,
        }
    }

    #[inline]
    fn round_trip(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> self.half, x & self.mask);
        for k in self.keys {
            let f = mix(r ^ k) & self.mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half) | r
    }

    /// The image of `i` (`i < n`).
    #[inline]
    pub fn apply(&self, i: u64) -> u64 {
        let mut x = self.round_trip(i);
        while x >= self.n {
            x = self.round_trip(x);
        }
        x
    }
}

/// The candidate at each sequence number, for one strategy and seed.
pub struct CandidateSource<'a> {
    pub strategy: Strategy,
    pub seed: u64,
    perm: Permutation,
    compiled: &'a Compiled,
    /// Evolution: the parents of the current generation (the front before it).
    parents: Vec<Vec<u32>>,
}

impl<'a> CandidateSource<'a> {
    pub fn new(strategy: Strategy, seed: u64, compiled: &'a Compiled) -> CandidateSource<'a> {
        CandidateSource {
            strategy,
            seed,
            perm: Permutation::new(compiled.total.max(1), seed),
            compiled,
            parents: Vec::new(),
        }
    }

    /// Evolution: sets the parents of the next generation from the current front.
    pub fn set_parents(&mut self, front: &Front<Vec<u32>>) {
        self.parents = front.points().iter().map(|p| p.item.clone()).collect();
    }

    /// Writes the digits of candidate `seq` into `digits`.
    #[inline]
    pub fn candidate(&self, seq: u64, digits: &mut [u32]) {
        match self.strategy {
            Strategy::Exhaustive => self.compiled.decode(seq, digits),
            Strategy::Random => self.compiled.decode(self.perm.apply(seq), digits),
            Strategy::Evolution => {
                let n = self.compiled.total.max(1);
                if seq < GENERATION || self.parents.is_empty() {
                    // First generation (or no feasible parent yet): a random sample.
                    self.compiled.decode(self.perm.apply(seq % n), digits);
                    return;
                }
                let mut r = Rng(mix(self.seed ^ mix(seq)));
                let a = &self.parents[r.below(self.parents.len() as u64) as usize];
                digits.copy_from_slice(a);
                if r.below(2) == 0 {
                    let b = &self.parents[r.below(self.parents.len() as u64) as usize];
                    for (d, &x) in digits.iter_mut().zip(b) {
                        if r.below(2) == 0 {
                            *d = x;
                        }
                    }
                }
                let radix = self.compiled.radix();
                for _ in 0..1 + r.below(2) {
                    let d = r.below(radix.len() as u64) as usize;
                    let size = radix[d];
                    if size < 2 {
                        continue;
                    }
                    // Ordinal dimensions (ratios, depths, widths) move a step; a random jump
                    // one time in four.
                    digits[d] = if r.below(4) == 0 {
                        r.below(size) as u32
                    } else if digits[d] == 0 || (r.below(2) == 0 && (digits[d] as u64) < size - 1) {
                        digits[d] + 1
                    } else {
                        digits[d] - 1
                    };
                }
            }
        }
    }
}

/// A tiny deterministic generator (SplitMix64 stream).
struct Rng(u64);

impl Rng {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    /// Uniform in `0..n` (multiply-shift; `n > 0`).
    #[inline]
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 5, 17, 64, 1000, 4097] {
            for seed in [0, 7] {
                let p = Permutation::new(n, seed);
                let mut seen: Vec<u64> = (0..n).map(|i| p.apply(i)).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
            }
        }
    }
}
