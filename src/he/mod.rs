//! HE facts shared by the counters: rotation key switches under a Galois key policy (NAF rule),
//! ring-degree helpers and the HE-standard security bound.

use serde::Serialize;

pub mod seal_wire;

/// How Galois keys are provisioned, which decides what a rotation by `k` costs in key switches
/// (background.md section 1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPolicy {
    /// One Galois key per rotation amount used (Gazelle): every rotation is one key switch.
    PerStep,
    /// SEAL's default `galois_keys()` (used by SCI_HE): keys for `+-2^i` and the row swap; a step
    /// without its own key runs as one rotation per non-zero NAF digit, skipping a digit of
    /// magnitude N/2 (SEAL `Evaluator::rotate_internal`, `util::naf`).
    Pow2,
}

impl std::fmt::Display for KeyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyPolicy::PerStep => "per-step",
            KeyPolicy::Pow2 => "pow2",
        })
    }
}

/// Non-zero digits of the non-adjacent form of `k >= 0`, as bit masks `(plus, minus)`:
/// `k = plus - minus`, no two adjacent digits non-zero. Uses the identity that the NAF digits of k
/// sit where `k` and `3k` differ (one bit above), which equals the digit-by-digit algorithm of
/// background.md section 1.6 (tested against it).
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

/// Key switches of one row rotation by the signed step `step` at ring degree `n` (rows of n/2
/// slots). Zero is a copy (SEAL returns early). Per-step keys: one. Power-of-two keys: one per
/// non-zero NAF digit, minus a digit of magnitude n/2 (a full-row rotation, skipped by SEAL); a
/// step whose Galois element has its own key (`+-2^i` modulo the row) costs one, which the NAF rule
/// also yields.
pub fn rotation_key_switches(step: i64, n: u64, policy: KeyPolicy) -> u64 {
    if step == 0 {
        return 0;
    }
    match policy {
        KeyPolicy::PerStep => 1,
        KeyPolicy::Pow2 => {
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
    fn seal_pow2_examples_from_background_1_6() {
        // Steps 1, 2, 4, 8 cost one; 3, 5, 7, 2047 two; 11, 100, 1000 three (measured on SEAL).
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
            assert_eq!(rotation_key_switches(k, n, KeyPolicy::Pow2), ks, "step {k}");
            assert_eq!(
                rotation_key_switches(-k, n, KeyPolicy::Pow2),
                ks,
                "step -{k}"
            );
            assert_eq!(rotation_key_switches(k, n, KeyPolicy::PerStep), 1);
        }
        assert_eq!(rotation_key_switches(0, n, KeyPolicy::Pow2), 0);
        // 4095 = 4096 - 1: the n/2 digit is skipped, leaving one key switch.
        assert_eq!(rotation_key_switches(4095, n, KeyPolicy::Pow2), 1);
        // -3712 = -(4096 - 512 + 128): n/2 digit skipped, two left.
        assert_eq!(rotation_key_switches(-3712, n, KeyPolicy::Pow2), 2);
    }

    #[test]
    fn security_table() {
        assert!(security_warning(8192, 218).is_none());
        assert!(security_warning(2048, 60).is_some());
        assert!(security_warning(4096, 109).is_none());
    }
}
