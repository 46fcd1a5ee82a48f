//! The protocols stria counts and the builds of them it follows: the shared vocabulary of every
//! layer above (`packing` counts under a [`Protocol`], `cost` prices its fresh level, `eval`,
//! `backend` and `report` name it).

use super::KeyPolicy;
use serde::Serialize;

/// Which packing / framework to count.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// CrypTFlow2 SCI_HE: exactly the EzPC code's logic.
    Cryptflow2,
    /// Gazelle convolution with input rotations (IR).
    GazelleInput,
    /// Gazelle convolution with output rotations (OR).
    GazelleOutput,
    /// GALA kernel grouping (rotate the cn per-offset sums once per output ciphertext).
    Gala,
    /// Cheetah coefficient packing, as OpenCheetah runs it.
    Cheetah,
}

impl Protocol {
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Cryptflow2 => "cryptflow2",
            Protocol::GazelleInput => "gazelle-input",
            Protocol::GazelleOutput => "gazelle-output",
            Protocol::Gala => "gala",
            Protocol::Cheetah => "cheetah",
        }
    }

    /// The key policy the framework's code uses: SEAL's default power-of-two keys for SCI_HE,
    /// one key per step for Gazelle (`GetAutomorphismKey`) and GALA (built on Gazelle's library).
    pub fn default_key_policy(&self) -> KeyPolicy {
        match self {
            Protocol::Cryptflow2 => KeyPolicy::Pow2,
            _ => KeyPolicy::PerStep,
        }
    }

    /// Default ring degree: the minimum per-layer degree for SCI_HE (8192, utils-HE.cpp); the fixed
    /// slot count n = 2048 of the Gazelle and GALA papers; OpenCheetah's N = 4096.
    pub fn default_ring_degree(&self) -> u64 {
        match self {
            Protocol::Cryptflow2 => 8192,
            Protocol::Cheetah => 4096,
            _ => 2048,
        }
    }

    /// Every protocol, in the order tables list them.
    pub const ALL: [Protocol; 5] = [
        Protocol::Cryptflow2,
        Protocol::GazelleInput,
        Protocol::GazelleOutput,
        Protocol::Gala,
        Protocol::Cheetah,
    ];
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The build of CrypTFlow2's SCI_HE whose wire format the SIMD counter's bytes follow
/// (`packing::simd`: `ct_bytes`, `fresh_key_bytes` for EzPC; [`super::seal_wire`] for
/// OpenCheetah).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum SciBuild {
    /// mpc-msri/EzPC's SCI with SEAL 3.3.2: `2 N L 8` bytes per ciphertext, uncompressed keys,
    /// keys kept at ring degrees 8192 and 32768.
    #[default]
    Ezpc,
    /// OpenCheetah f71d4d4's SCI_HE with SEAL 3.7.2 and zstd: moduli {60, 60, 60, 49},
    /// ciphertexts saved whole (stored raw by zstd), seeded compressed keys, kept at 8192 and
    /// 65536.
    #[value(name = "opencheetah")]
    #[serde(rename = "opencheetah")]
    OpenCheetah,
}

impl std::fmt::Display for SciBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SciBuild::Ezpc => "ezpc",
            SciBuild::OpenCheetah => "opencheetah",
        })
    }
}

/// Which of OpenCheetah's two batch-norm protocols an unfolded batch norm runs: the choice is
/// made by the network program, not by the library (`FusedBatchNorm4411` in
/// `networks/main_<net>.cpp`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum BnProtocol {
    /// Coefficient encoding (`BatchNorm`, `CheetahLinear::bn_direct`) when it needs fewer
    /// ciphertexts than the CRT SIMD plan, the SIMD plan otherwise: the test under `#if
    /// USE_CHEETAH` in the ResNet-50 program (`networks/main_resnet50.cpp`). Default.
    #[default]
    Fewer,
    /// Always the CRT SIMD plan (`ElemWiseActModelVectorMult`, `CheetahLinear::bn`): the
    /// DenseNet-121 program, whose test sits under `#if SCI_CONV_SS`, a macro no build defines
    /// (`networks/main_densenet121.cpp`).
    Simd,
}
