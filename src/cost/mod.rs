//! Operation counts: exact integers, no timing inside (pricing is a separate step).

pub mod price;
use serde::Serialize;
use std::ops::{Add, AddAssign};

/// What one layer (or a sum of layers) costs under a packing, in HE operations and traffic.
///
/// Column meanings (README "How each number is computed"): `internal_rot` rotates input ciphertexts
/// by kernel-window offsets; `external_rot` moves partial sums across channel blocks (row rotations
/// by multiples of the block size and row swaps); `key_switch` prices both under the key policy;
/// `scmult` = ciphertext x plaintext products; `add` = ciphertext additions (mask additions
/// included); `ct_up`/`ct_down` = ciphertexts client->server / server->client; `bytes_*` their
/// serialized size; `mod_switch`, `enc`, `dec` = modulus switches, encryptions (client inputs and
/// server masks) and client decryptions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct OpCounts {
    pub internal_rot: u64,
    pub external_rot: u64,
    pub key_switch: u64,
    pub scmult: u64,
    pub add: u64,
    pub ct_up: u64,
    pub ct_down: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub mod_switch: u64,
    pub enc: u64,
    pub dec: u64,
}

impl OpCounts {
    /// Every field multiplied by `k` (k identical sub-computations). Arithmetic saturates: a
    /// saturated count (u64::MAX) can only come from layers beyond the spec limits.
    pub fn times(self, k: u64) -> OpCounts {
        OpCounts {
            internal_rot: self.internal_rot.saturating_mul(k),
            external_rot: self.external_rot.saturating_mul(k),
            key_switch: self.key_switch.saturating_mul(k),
            scmult: self.scmult.saturating_mul(k),
            add: self.add.saturating_mul(k),
            ct_up: self.ct_up.saturating_mul(k),
            ct_down: self.ct_down.saturating_mul(k),
            bytes_up: self.bytes_up.saturating_mul(k),
            bytes_down: self.bytes_down.saturating_mul(k),
            mod_switch: self.mod_switch.saturating_mul(k),
            enc: self.enc.saturating_mul(k),
            dec: self.dec.saturating_mul(k),
        }
    }

    /// Total rotations (internal + external).
    pub fn rotations(&self) -> u64 {
        self.internal_rot + self.external_rot
    }
}

impl Add for OpCounts {
    type Output = OpCounts;
    fn add(self, o: OpCounts) -> OpCounts {
        OpCounts {
            internal_rot: self.internal_rot.saturating_add(o.internal_rot),
            external_rot: self.external_rot.saturating_add(o.external_rot),
            key_switch: self.key_switch.saturating_add(o.key_switch),
            scmult: self.scmult.saturating_add(o.scmult),
            add: self.add.saturating_add(o.add),
            ct_up: self.ct_up.saturating_add(o.ct_up),
            ct_down: self.ct_down.saturating_add(o.ct_down),
            bytes_up: self.bytes_up.saturating_add(o.bytes_up),
            bytes_down: self.bytes_down.saturating_add(o.bytes_down),
            mod_switch: self.mod_switch.saturating_add(o.mod_switch),
            enc: self.enc.saturating_add(o.enc),
            dec: self.dec.saturating_add(o.dec),
        }
    }
}

impl AddAssign for OpCounts {
    fn add_assign(&mut self, o: OpCounts) {
        *self = *self + o;
    }
}

impl std::iter::Sum for OpCounts {
    fn sum<I: Iterator<Item = OpCounts>>(iter: I) -> OpCounts {
        iter.fold(OpCounts::default(), Add::add)
    }
}

/// HE operations by the number of ciphertext primes they act on, relative to the fresh level:
/// index 0 = the fresh level (all data primes), 1 = one prime dropped, 2 = two dropped. Pricing
/// uses it to charge each operation at the level where the protocol runs it (SCI_HE rotates partial
/// sums after a modulus switch; Cheetah decrypts at the first prime only). Modulus switches are
/// charged at their source level.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LevelMix {
    pub key_switch: [u64; 3],
    pub scmult: [u64; 3],
    /// Ciphertext + ciphertext additions.
    pub add: [u64; 3],
    /// Ciphertext + plaintext additions (part of `OpCounts::add`).
    pub add_plain: [u64; 3],
    pub mod_switch: [u64; 3],
    pub enc: [u64; 3],
    pub dec: [u64; 3],
}

impl LevelMix {
    /// Every operation of `c` at the fresh level (protocols with one modulus level).
    pub fn fresh(c: &OpCounts) -> LevelMix {
        LevelMix {
            key_switch: [c.key_switch, 0, 0],
            scmult: [c.scmult, 0, 0],
            add: [c.add, 0, 0],
            add_plain: [0; 3],
            mod_switch: [c.mod_switch, 0, 0],
            enc: [c.enc, 0, 0],
            dec: [c.dec, 0, 0],
        }
    }

    /// The per-kind totals, for checking a mix against its `OpCounts`:
    /// `(key_switch, scmult, add + add_plain, mod_switch, enc, dec)`.
    pub fn totals(&self) -> (u64, u64, u64, u64, u64, u64) {
        let s = |a: &[u64; 3]| a.iter().sum::<u64>();
        (
            s(&self.key_switch),
            s(&self.scmult),
            s(&self.add) + s(&self.add_plain),
            s(&self.mod_switch),
            s(&self.enc),
            s(&self.dec),
        )
    }
}

impl Add for LevelMix {
    type Output = LevelMix;
    fn add(self, o: LevelMix) -> LevelMix {
        let f = |a: [u64; 3], b: [u64; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
        LevelMix {
            key_switch: f(self.key_switch, o.key_switch),
            scmult: f(self.scmult, o.scmult),
            add: f(self.add, o.add),
            add_plain: f(self.add_plain, o.add_plain),
            mod_switch: f(self.mod_switch, o.mod_switch),
            enc: f(self.enc, o.enc),
            dec: f(self.dec, o.dec),
        }
    }
}

impl AddAssign for LevelMix {
    fn add_assign(&mut self, o: LevelMix) {
        *self = *self + o;
    }
}
