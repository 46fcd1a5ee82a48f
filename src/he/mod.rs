//! HE facts shared by the counters: rotation key switches under a Galois key policy (the rule of
//! the SEAL version each framework pins), ring-degree helpers, the HE-standard security bound, and
//! SEAL's wire sizes ([`seal_wire`]).

use serde::Serialize;

pub mod protocol;
pub mod seal_wire;

pub use protocol::{BnProtocol, Protocol, SciBuild};

/// How Galois keys are provisioned, which decides what a rotation by `k` costs in key switches
/// (SEAL `native/src/seal/util/galois.cpp` `GaloisTool::get_elts_all`; per-step keys as in
/// Gazelle).
///
/// Both power-of-two policies hold SEAL's default key set (`KeyGenerator::galois_keys()`: the row
/// swap and `3^(+-2^i)`, i.e. row rotations by `+-2^i`); they differ in how SEAL chains a step
/// that has no key of its own, which changed between the versions the frameworks pin:
/// - EzPC (CrypTFlow2) pins SEAL 3.3.2 (`SCI/src/LinearHE/CMakeLists.txt`:
///   `find_package(SEAL 3.3.2 EXACT ...)`): [`KeyPolicy::Pow2`].
/// - OpenCheetah f71d4d4 builds SEAL 3.7.2 (`scripts/build-deps.sh`: `git checkout 7923472
///   #v3.7.2`) for both its Cheetah and its SCI_HE programs: [`KeyPolicy::Pow2Naf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPolicy {
    /// One Galois key per rotation amount used (Gazelle): every rotation is one key switch.
    PerStep,
    /// SEAL 3.3.2's default keys and rule (CrypTFlow2 as EzPC builds it; the default for
    /// `cryptflow2`): a step without its own key is decomposed in `Evaluator::apply_galois_inplace`
    /// by the binary digits of its generator exponent `k` (the step mod N/2) or of `N/2 - k`,
    /// whichever has the smaller Hamming weight, one key switch per set bit.
    Pow2,
    /// SEAL 3.4+'s rule (3.7.2, as OpenCheetah's SCI_HE build links it): one rotation per non-zero
    /// NAF digit of the step, skipping a digit of magnitude N/2 (`Evaluator::rotate_internal`,
    /// `util::naf`).
    Pow2Naf,
}

impl std::fmt::Display for KeyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyPolicy::PerStep => "per-step",
            KeyPolicy::Pow2 => "pow2",
            KeyPolicy::Pow2Naf => "pow2-naf",
        })
    }
}

/// Non-zero digits of the non-adjacent form of `k >= 0`, as bit masks `(plus, minus)`:
/// `k = plus - minus`, no two adjacent digits non-zero. Uses the identity that the NAF digits of k
/// sit where `k` and `3k` differ (one bit above), which equals the digit-by-digit algorithm
/// (while k != 0: if k is odd take digit `2 - (k mod 4)` and subtract it; halve k), as SEAL's
/// `util::naf` computes it (tested against it).
pub fn naf_masks(k: u64) -> (u64, u64) {
    let k = k as u128;
    let xh = k >> 1;
    let x3 = k + xh;
    let c = xh ^ x3;
    let plus = x3 & c;
    let minus = xh & c;
    // Digit at bit i+1 of the shifted form is digit i of the NAF of 2k; shift back.
    (plus as u64, minus as u64)
}

/// `w_naf(k)`: number of non-zero digits of the NAF of |k|.
pub fn naf_weight(k: i64) -> u32 {
    let (p, m) = naf_masks(k.unsigned_abs() * 2);
    (p | m).count_ones()
}

/// NAF digits of the signed step `k` exactly as SEAL's `util::naf` lists them (low to high).
pub fn naf_digits(k: i64) -> Vec<i64> {
    let sign = if k < 0 { -1 } else { 1 };
    let mut v = k.unsigned_abs() as i64;
    let mut out = Vec::new();
    let mut i = 0;
    while v != 0 {
        let z = if v & 1 == 1 { 2 - (v & 3) } else { 0 };
        v = (v - z) >> 1;
        if z != 0 {
            out.push(sign * z * (1i64 << i));
        }
        i += 1;
    }
    out
}

/// The key-switched rotations SEAL runs for a row rotation by the signed `step` at ring degree `n`
/// (rows of n/2 slots), each by a step that has its own key, in execution order. Empty for a step
/// that is a multiple of n/2 (a copy).
///
/// - [`KeyPolicy::PerStep`]: the step itself.
/// - [`KeyPolicy::Pow2`], SEAL 3.3.2 (`native/src/seal/evaluator.cpp` `Evaluator::rotate_internal`
///   maps the step to `galois_elt = 3^k mod 2N` with `k = step` or `N/2 - |step|` for a negative
///   step (`util::steps_to_galois_elt`); `Evaluator::apply_galois_inplace`, when that element has no
///   key, reads `order1 = k` from `Zmstar_to_generator_`, switches to the generator `3^-1` and
///   `order1 = N/2 - k` if `hamming_weight(N/2 - k) < hamming_weight(k)`, then applies
///   `3^(+-2^i)` for every set bit i of `order1`, low bits first): rotations by `+2^i` over the set
///   bits of `k`, or by `-2^i` over those of `N/2 - k`. A step with its own key (`k` or `N/2 - k` a
///   power of two) is one rotation either way.
/// - [`KeyPolicy::Pow2Naf`], SEAL 3.7.2 (`evaluator.cpp` `Evaluator::rotate_internal`: if
///   `galois_keys.has_key(get_elt_from_step(steps))` one rotation, else one recursive rotation per
///   digit of `util::naf(steps)`, skipping a digit of magnitude N/2): the NAF digits of `step`.
pub fn rotation_steps(step: i64, n: u64, policy: KeyPolicy) -> Vec<i64> {
    let half = (n / 2).max(1) as i64;
    let k = step.rem_euclid(half);
    if k == 0 {
        return Vec::new();
    }
    match policy {
        KeyPolicy::PerStep => vec![step],
        KeyPolicy::Pow2 => {
            let (order, sign) = if ((half - k).count_ones()) < k.count_ones() {
                (half - k, -1)
            } else {
                (k, 1)
            };
            (0..63)
                .filter(|i| (order >> i) & 1 == 1)
                .map(|i| sign * (1i64 << i))
                .collect()
        }
        KeyPolicy::Pow2Naf => naf_digits(step)
            .into_iter()
            .filter(|d| d.unsigned_abs() != half as u64)
            .collect(),
    }
}

/// Key switches of one row rotation by the signed step `step` at ring degree `n` (rows of n/2
/// slots): the length of [`rotation_steps`], in closed form. Zero is a copy (SEAL returns early).
/// Per-step keys: one. SEAL 3.3.2 ([`KeyPolicy::Pow2`]): `min(w(k), w(N/2 - k))`, `w` the Hamming
/// weight and `k = step mod N/2`. SEAL 3.7.2 ([`KeyPolicy::Pow2Naf`]): one per non-zero NAF digit,
/// minus a digit of magnitude n/2. A step whose Galois element has its own key (`+-2^i` modulo the
/// row) costs one under every rule.
pub fn rotation_key_switches(step: i64, n: u64, policy: KeyPolicy) -> u64 {
    if step == 0 {
        return 0;
    }
    match policy {
        KeyPolicy::PerStep => 1,
        KeyPolicy::Pow2 => {
            let half = (n / 2).max(1);
            let k = step.rem_euclid(half as i64) as u64;
            if k == 0 {
                0
            } else {
                u64::from(k.count_ones().min((half - k).count_ones()))
            }
        }
        KeyPolicy::Pow2Naf => {
            let (p, m) = naf_masks(step.unsigned_abs() * 2);
            let digits = p | m;
            // Bit i+1 of `digits` is digit 2^i; the n/2 digit is bit log2(n/2)+1 = log2(n).
            let half_bit = if n >= 2 {
                (digits >> n.trailing_zeros()) & 1
            } else {
                0
            };
            digits.count_ones() as u64 - half_bit
        }
    }
}

/// Key switches of the row swap (SEAL `rotate_columns`, fhe.rs `rotates_rows`): one under either
/// policy (the swap key is in SEAL's default set).
pub const ROW_SWAP_KEY_SWITCHES: u64 = 1;

/// Smallest power of two `>= x` (`next_pow2(0) = 1`).
pub fn next_pow2(x: u64) -> u64 {
    x.max(1).next_power_of_two()
}

/// Largest total coefficient-modulus bit count with 128-bit classical security for a ternary
/// secret, per the HomomorphicEncryption.org standard table (as SEAL encodes it in
/// `CoeffModulus::MaxBitCount`). N = 65536 is not in the standard; it is taken as double the
/// N = 32768 bound, as EzPC does when it raises SEAL's degree limit.
pub fn max_secure_log_q(n: u64) -> Option<u32> {
    match n {
        1024 => Some(27),
        2048 => Some(54),
        4096 => Some(109),
        8192 => Some(218),
        16384 => Some(438),
        32768 => Some(881),
        65536 => Some(1762),
        _ => None,
    }
}

/// `Some(reason)` when a ring of degree `n` with `log_q` modulus bits is below 128-bit security.
pub fn security_warning(n: u64, log_q: u32) -> Option<String> {
    match max_secure_log_q(n) {
        Some(max) if log_q <= max => None,
        Some(max) => Some(format!(
            "N = {n} with a {log_q}-bit modulus is below 128-bit security (the HE standard allows at most {max} bits at this degree)"
        )),
        None => Some(format!(
            "N = {n} is not in the HE-standard security table; security unknown"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naf_weight_matches_digit_algorithm() {
        for k in -5000i64..5000 {
            assert_eq!(naf_weight(k) as usize, naf_digits(k).len(), "k = {k}");
            assert_eq!(naf_digits(k).iter().sum::<i64>(), k);
        }
    }

    #[test]
    fn seal_3_7_naf_examples() {
        // SEAL 3.7 (NAF): steps 1, 2, 4, 8 cost one; 3, 5, 7, 2047 two; 11, 100, 1000 three
        // (derived here: measured by timing SEAL).
        let n = 8192;
        for (k, ks) in [
            (1, 1),
            (2, 1),
            (4, 1),
            (8, 1),
            (3, 2),
            (5, 2),
            (7, 2),
            (2047, 2),
            (11, 3),
            (100, 3),
            (1000, 3),
        ] {
            assert_eq!(
                rotation_key_switches(k, n, KeyPolicy::Pow2Naf),
                ks,
                "step {k}"
            );
            assert_eq!(
                rotation_key_switches(-k, n, KeyPolicy::Pow2Naf),
                ks,
                "step -{k}"
            );
            assert_eq!(rotation_key_switches(k, n, KeyPolicy::PerStep), 1);
        }
        assert_eq!(rotation_key_switches(0, n, KeyPolicy::Pow2Naf), 0);
        // 4095 = 4096 - 1: the n/2 digit is skipped, leaving one key switch.
        assert_eq!(rotation_key_switches(4095, n, KeyPolicy::Pow2Naf), 1);
        // -3712 = -(4096 - 512 + 128): n/2 digit skipped, two left.
        assert_eq!(rotation_key_switches(-3712, n, KeyPolicy::Pow2Naf), 2);
    }

    #[test]
    fn seal_3_3_binary_rule_by_hand() {
        // SEAL 3.3.2 at N = 8192 (rows of 4096): k = step mod 4096, cost min(w(k), w(4096 - k)).
        let n = 8192;
        for (step, ks, steps) in [
            // 7 = 0b111: w 3; 4089 = 0b1111_1111_1001: w 10. Three rotations by 1, 2, 4 (the
            // NAF 8 - 1 would take two).
            (7i64, 3u64, vec![1i64, 2, 4]),
            // 3: w 2 (1 + 2); 4093: w 11.
            (3, 2, vec![1, 2]),
            // -1: k = 4095 (w 12), 4096 - k = 1 (w 1): one rotation by -1, its own key.
            (-1, 1, vec![-1]),
            // -7: k = 4089 (w 10), 4096 - 4089 = 7 (w 3): rotations by -1, -2, -4.
            (-7, 3, vec![-1, -2, -4]),
            // 1000 = 0b11_1110_1000: w 6; 3096 = 0b1100_0001_1000: w 4: by -8, -16, -1024, -2048.
            (1000, 4, vec![-8, -16, -1024, -2048]),
            // 100 = 0b110_0100: w 3 (the NAF 128 - 32 + 4 is also 3).
            (100, 3, vec![4, 32, 64]),
            // 11 = 0b1011: w 3; 4085: w 10.
            (11, 3, vec![1, 2, 8]),
            // 2047: w 11; 2049 = 2048 + 1: w 2, by -1 and -2048.
            (2047, 2, vec![-1, -2048]),
            // 4095 = -1 mod 4096 as a left step: 4096 - 4095 = 1: one rotation by -1.
            (4095, 1, vec![-1]),
            // -3712: k = 384 = 256 + 128 (w 2): by +128, +256.
            (-3712, 2, vec![128, 256]),
        ] {
            assert_eq!(
                rotation_key_switches(step, n, KeyPolicy::Pow2),
                ks,
                "step {step}"
            );
            assert_eq!(
                rotation_steps(step, n, KeyPolicy::Pow2),
                steps,
                "step {step}"
            );
            // The chain rotates by the step modulo the row.
            assert_eq!(
                steps.iter().sum::<i64>().rem_euclid(4096),
                step.rem_euclid(4096)
            );
        }
        assert_eq!(rotation_key_switches(0, n, KeyPolicy::Pow2), 0);
        assert!(rotation_steps(4096, n, KeyPolicy::Pow2).is_empty());
    }

    #[test]
    fn rotation_steps_match_their_counts() {
        for n in [16u64, 256, 8192] {
            let half = (n / 2) as i64;
            for step in (1 - half)..half {
                for policy in [KeyPolicy::PerStep, KeyPolicy::Pow2, KeyPolicy::Pow2Naf] {
                    let steps = rotation_steps(step, n, policy);
                    assert_eq!(
                        steps.len() as u64,
                        rotation_key_switches(step, n, policy),
                        "N {n} step {step} {policy}"
                    );
                    assert_eq!(
                        steps.iter().sum::<i64>().rem_euclid(half),
                        step.rem_euclid(half)
                    );
                    if policy != KeyPolicy::PerStep {
                        // Every link has its own key: +-2^i.
                        assert!(steps.iter().all(|s| s.unsigned_abs().is_power_of_two()));
                    }
                }
                // The binary rule never beats the NAF.
                assert!(
                    rotation_key_switches(step, n, KeyPolicy::Pow2)
                        >= rotation_key_switches(step, n, KeyPolicy::Pow2Naf)
                );
            }
        }
    }

    #[test]
    fn security_table() {
        assert!(security_warning(8192, 218).is_none());
        assert!(security_warning(2048, 60).is_some());
        assert!(security_warning(4096, 109).is_none());
    }
}
