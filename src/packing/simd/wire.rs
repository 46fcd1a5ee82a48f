//! SCI_HE's wire sizes: ciphertexts and fresh keys as EzPC's build (SEAL 3.3.2) and OpenCheetah's
//! (SEAL 3.7.2 with zstd) send them, and the ring-degree limits they depend on.

use crate::he::SciBuild;
use crate::he::seal_wire::{sci_ciphertext_bytes, sci_key_bytes};

/// SCI_HE's largest ring degree (EzPC raises SEAL's limit to 65536, `SCI/cmake/seal.patch`).
pub const N_MAX: u64 = 65536;
/// Data primes of a client->server ciphertext ({60, 60, 60} + the special 38-bit prime).
pub const PRIMES_UP: u64 = 3;
/// Data primes of a returned ciphertext (after the final modulus switch).
pub const PRIMES_DOWN: u64 = 1;

/// SEAL serializes each RNS coefficient as a 64-bit word: `2 * N * L * 8` bytes per ciphertext.
pub fn ct_bytes(n: u64, primes: u64) -> u64 {
    2 * n * primes * 8
}

/// Whether a sub-convolution at ring degree `n` makes and sends fresh keys: EzPC's `ConvField`
/// keeps keys for `POLY_MOD_DEGREE` (8192) and `POLY_MOD_DEGREE_LARGE` (32768), made in its
/// constructor (setup); `ConvField::non_strided_conv` calls `generate_new_keys` for any other
/// degree (16384, 65536) on every call, i.e. once per sub-convolution (`conv-field.cpp`).
pub fn fresh_keys(n: u64) -> bool {
    n != 8192 && n != 32768
}

/// Bytes the client sends when `generate_new_keys` (EzPC `SCI/src/LinearHE/utils-HE.cpp`) makes
/// keys at ring degree `n`: two `uint64_t` sizes, then SEAL 3.3.2's `PublicKey::save` and
/// `GaloisKeys::save` of `keygen.galois_keys()` (EzPC pins SEAL 3.3.2, which has no compression).
/// A key-level ciphertext (4 primes of {60, 60, 60, 38}) saves 65 bytes of metadata (`parms_id`,
/// NTT flag, size, degree, prime count, scale) and an `IntArray` (8-byte count, `2*4*n` words):
/// `73 + 64n`. `KSwitchKeys::save` writes `parms_id` (32), the slot count (8), and for each of the
/// `n` slots `keys_` is sized to an 8-byte count and its keys: the default set fills `2*log2(n) -
/// 2` distinct slots (`3^(n/4) = 3^(-n/4)`), each with one key per data prime (3). Bit-exact to
/// the SEAL 3.3.2 save functions (`ciphertext.cpp`, `kswitchkeys.cpp`, `intarray.h`); 82,974,399
/// bytes at n = 16384. OpenCheetah's SCI_HE build sends `Serializable` seeded keys through SEAL
/// 3.7.2 with zstd and {60, 60, 60, 49} instead, 47% of this: [`fresh_key_bytes_in`].
pub fn fresh_key_bytes(n: u64) -> u64 {
    let key_primes = PRIMES_UP + 1;
    let ct = 65 + 8 + 2 * n * key_primes * 8;
    let keys = 2 * n.trailing_zeros() as u64 - 2;
    let galois = 32 + 8 + n * 8 + keys * PRIMES_UP * ct;
    16 + ct + galois
}

/// OpenCheetah's SCI_HE moduli (`utils-HE.cpp` `generate_new_keys`: `CoeffModulus::Create(N,
/// {60, 60, 60, 49})`): three 60-bit data primes, the 49-bit special prime last.
pub const OPENCHEETAH_KEY_BITS: [u32; 4] = [60, 60, 60, 49];

/// Bytes of `cts` ciphertexts of `primes` data primes at ring degree `n` sent as one vector
/// (`send_encrypted_vector`) by `build`: EzPC, [`ct_bytes`] each; OpenCheetah, a `uint32_t` count
/// and each ciphertext's `uint64_t` length and zstd `save()` ([`sci_ciphertext_bytes`], exact:
/// 60-bit words are stored raw).
pub fn vector_bytes(n: u64, primes: u64, cts: u64, build: SciBuild) -> u64 {
    match build {
        SciBuild::Ezpc => cts * ct_bytes(n, primes),
        SciBuild::OpenCheetah if cts == 0 => 0,
        SciBuild::OpenCheetah => {
            let bits = &OPENCHEETAH_KEY_BITS[..primes as usize];
            crate::he::seal_wire::VECTOR_COUNT + cts * sci_ciphertext_bytes(n, bits)
        }
    }
}

/// Bytes of one ciphertext sent alone (`send_ciphertext`, as `fc-field.cpp` does).
pub fn single_ct_bytes(n: u64, primes: u64, build: SciBuild) -> u64 {
    match build {
        SciBuild::Ezpc => ct_bytes(n, primes),
        SciBuild::OpenCheetah => sci_ciphertext_bytes(n, &OPENCHEETAH_KEY_BITS[..primes as usize]),
    }
}

/// Whether a convolution at ring degree `n` makes fresh keys under `build`: EzPC, [`fresh_keys`];
/// OpenCheetah's `ConvField` keeps the keys its constructor makes at `POLY_MOD_DEGREE` (8192) and
/// `POLY_MOD_DEGREE_LARGE` (65536, `defines-HE.h`) and calls `generate_new_keys` for any other
/// degree on every sub-convolution (`conv-field.cpp` `non_strided_conv`).
pub fn conv_fresh_keys(n: u64, build: SciBuild) -> bool {
    match build {
        SciBuild::Ezpc => fresh_keys(n),
        SciBuild::OpenCheetah => n != 8192 && n != 65536,
    }
}

/// Bytes of one fresh key set at ring degree `n` under `build`: EzPC [`fresh_key_bytes`];
/// OpenCheetah [`sci_key_bytes`] with [`OPENCHEETAH_KEY_BITS`] (seeded, zstd).
pub fn fresh_key_bytes_in(n: u64, build: SciBuild) -> u64 {
    match build {
        SciBuild::Ezpc => fresh_key_bytes(n),
        SciBuild::OpenCheetah => sci_key_bytes(n, &OPENCHEETAH_KEY_BITS),
    }
}
