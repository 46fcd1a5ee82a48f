// seal_bench: per-operation times of the SEAL 3.7.2 primitives that OpenCheetah's
// Cheetah and SCI_HE programs call in their linear layers, measured against the
// same SEAL build the programs link (OpenCheetah's patched SEAL, zstd on, no HEXL).
//
//   seal_bench [--passes P] [--warmup W] [--rounds R]
//
// Prints one JSON object per parameter set and level (one line each) on stdout;
// scripts/frameworks/seal-bench.sh turns them into a stria cost profile.
//
// Method (as `stria calibrate`): P passes over all parameter sets; in each pass
// every set runs W untimed warm-up rounds and then R timed rounds, a round
// calling every operation once (interleaved, so a slow phase of the machine hits
// all of them alike). Every figure is the MEDIAN of the P*R timed calls, in
// microseconds per operation. One thread.
//
// What each operation mirrors is written next to it (framework file:function).
// The code is written for this benchmark; it cites but does not copy the
// frameworks.
#include <seal/seal.h>
#include <seal/util/polyarithsmallmod.h>
#include <seal/util/ntt.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace seal;

namespace {

struct Op {
    std::string name;
    std::function<void()> setup;  // untimed, before each call (may be empty)
    std::function<void()> run;    // timed
    std::vector<double> samples;
};

// One (parameter set, level): the operands and the operations at that level.
struct Level {
    std::string framework;
    std::string params;  // description for the JSON
    size_t n = 0;
    size_t primes = 0;
    std::vector<Op> ops;
    std::vector<std::pair<std::string, std::string>> facts;  // extra key/values (strings)
};

double now_us()
{
    using namespace std::chrono;
    return duration<double, std::micro>(steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v)
{
    if (v.empty())
        return -1;
    std::sort(v.begin(), v.end());
    size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::vector<uint64_t> random_vec(size_t len, uint64_t mod, std::mt19937_64 &rng)
{
    std::vector<uint64_t> v(len);
    for (auto &x : v)
        x = mod ? rng() % mod : rng();
    return v;
}

// Parameter-set state kept alive for the whole run (keys are made once).
// The product as the framework calls it (`multiply_plain(ct, pt, out)`, coefficient form, NTTs
// inside), the same product with both operands already in NTT form (point-wise only, for the
// note), `add_inplace` and `add_plain`: the same calls under both frameworks, in this order.
void add_product_ops(Level &L, const std::shared_ptr<Evaluator> &ev, const std::shared_ptr<Ciphertext> &ct,
                     const std::shared_ptr<Plaintext> &pt, const std::shared_ptr<Plaintext> &pt2,
                     const std::shared_ptr<Ciphertext> &ct2, const std::shared_ptr<Ciphertext> &out,
                     const std::shared_ptr<Ciphertext> &out2, parms_id_type pid)
{
    L.ops.push_back({ "scmult", {}, [=] { ev->multiply_plain(*ct, *pt, *out); }, {} });
    auto nct = std::make_shared<Ciphertext>(*ct);
    ev->transform_to_ntt_inplace(*nct);
    auto npt = std::make_shared<Plaintext>(*pt);
    ev->transform_to_ntt_inplace(*npt, pid);
    auto nout = std::make_shared<Ciphertext>();
    L.ops.push_back({ "scmult_nttform", {}, [=] { ev->multiply_plain(*nct, *npt, *nout); }, {} });
    L.ops.push_back({ "add", {}, [=] { ev->add_inplace(*out2, *ct2); }, {} });
    L.ops.push_back({ "add_plain", {}, [=] { ev->add_plain(*ct, *pt2, *out); }, {} });
}

// Decryption, transform_to_ntt_inplace of a coefficient-form plaintext at the level, and
// seal::util's forward and inverse NTT of one polynomial over the level's primes: the same calls
// under both frameworks, added in this order to the level's operations.
void add_dec_and_ntt_ops(Level &L, const std::shared_ptr<SEALContext> &ctx, const std::shared_ptr<Evaluator> &ev,
                         const std::shared_ptr<Decryptor> &dec, const std::shared_ptr<Ciphertext> &ct,
                         const std::shared_ptr<Plaintext> &pt, parms_id_type pid, size_t N, size_t primes,
                         std::mt19937_64 &rng)
{
    auto dpt = std::make_shared<Plaintext>();
    L.ops.push_back({ "dec", {}, [=] { dec->decrypt(*ct, *dpt); }, {} });
    auto tpt = std::make_shared<Plaintext>();
    L.ops.push_back({ "ntt", [=] { *tpt = *pt; }, [=] { ev->transform_to_ntt_inplace(*tpt, pid); }, {} });
    auto cd = ctx->get_context_data(pid);
    auto poly = std::make_shared<std::vector<uint64_t>>(N * primes);
    for (size_t j = 0; j < primes; ++j) {
        auto r = random_vec(N, cd->parms().coeff_modulus()[j].value(), rng);
        std::copy(r.begin(), r.end(), poly->begin() + j * N);
    }
    L.ops.push_back({ "ntt_fwd_util", {}, [=] {
                         util::RNSIter it(poly->data(), N);
                         util::ntt_negacyclic_harvey(it, primes, cd->small_ntt_tables());
                     }, {} });
    L.ops.push_back({ "ntt_inv_util", {}, [=] {
                         util::RNSIter it(poly->data(), N);
                         util::inverse_ntt_negacyclic_harvey(it, primes, cd->small_ntt_tables());
                     }, {} });
}

struct Set {
    std::shared_ptr<SEALContext> ctx;
    std::shared_ptr<KeyGenerator> keygen;
    SecretKey sk;
    PublicKey pk;
    GaloisKeys gk;
    std::shared_ptr<SEALContext> ks_ctx;  // context used for the key switch (may equal ctx)
    std::shared_ptr<KeyGenerator> ks_keygen;
    GaloisKeys ks_gk;
    std::string ks_note;
};

std::string bits_str(const std::vector<int> &bits)
{
    std::string s = "{";
    for (size_t i = 0; i < bits.size(); ++i)
        s += (i ? ", " : "") + std::to_string(bits[i]);
    return s + "}";
}

// ---------------------------------------------------------------------------------------------
// Cheetah: SCI/src/cheetah/cheetah-api.cpp CheetahLinear::CheetahLinear sets BFV, N = 4096,
// coeff moduli CoeffModulus::Create(4096, {60, 49}) with set_n_special_primes(0) (the patched
// SEAL: no special prime, both primes carry data), plain modulus = base_mod = 2^ell (ell = 37
// in the runs), tc128. setUpForBN uses the same N and moduli with CRT plain primes.
// ---------------------------------------------------------------------------------------------
void add_cheetah(std::vector<Level> &levels, std::vector<std::shared_ptr<Set>> &keep, std::mt19937_64 &rng)
{
    const size_t N = 4096;
    const std::vector<int> bits{ 60, 49 };
    const uint64_t t = 1ULL << 37;
    auto set = std::make_shared<Set>();
    keep.push_back(set);
    EncryptionParameters parms(scheme_type::bfv);
    parms.set_n_special_primes(0);
    parms.set_poly_modulus_degree(N);
    parms.set_coeff_modulus(CoeffModulus::Create(N, bits));
    parms.set_plain_modulus(t);
    set->ctx = std::make_shared<SEALContext>(parms, true, sec_level_type::tc128);
    set->keygen = std::make_shared<KeyGenerator>(*set->ctx);
    set->sk = set->keygen->secret_key();
    set->keygen->create_public_key(set->pk);

    // Cheetah never rotates, and with no special prime this SEAL cannot make Galois keys.
    // For the required key-switch field: the same N and data primes {60, 49} plus one 60-bit
    // special prime (SEAL's usual layout; 169 bits, so security level "none").
    {
        EncryptionParameters kp(scheme_type::bfv);
        kp.set_poly_modulus_degree(N);
        kp.set_coeff_modulus(CoeffModulus::Create(N, { 60, 49, 60 }));
        kp.set_plain_modulus(PlainModulus::Batching(N, 37));  // SEAL 3.7 makes Galois keys only with batching
        set->ks_ctx = std::make_shared<SEALContext>(kp, true, sec_level_type::none);
        set->ks_keygen = std::make_shared<KeyGenerator>(*set->ks_ctx);
        set->ks_keygen->create_galois_keys(std::vector<int>{ 1 }, set->ks_gk);
        set->ks_note = "N = 4096, data primes {60, 49} plus a 60-bit special prime, plain modulus a 37-bit "
                       "batching prime, security level none";
    }

    auto ctx = set->ctx;
    auto ev = std::make_shared<Evaluator>(*ctx);
    auto enc = std::make_shared<Encryptor>(*ctx, set->sk);  // hom_conv2d_ss.cc HomConv2DSS::setUp: Encryptor(context, sk)
    auto dec = std::make_shared<Decryptor>(*ctx, set->sk);
    auto ks_ev = std::make_shared<Evaluator>(*set->ks_ctx);
    auto ks_enc = std::make_shared<Encryptor>(*set->ks_ctx, set->ks_keygen->secret_key());

    // A dense polynomial with coefficients mod t (what TensorEncoder writes for an image
    // slice or a filter; filters are encoded in coefficient form for BFV:
    // hom_conv2d_ss.cc HomConv2DSS::encodeFilters, to_ntt = (scheme == ckks)).
    auto coeffs = std::make_shared<std::vector<uint64_t>>(random_vec(N, t, rng));
    auto pt = std::make_shared<Plaintext>(N);
    std::copy(coeffs->begin(), coeffs->end(), pt->data());
    auto pt2 = std::make_shared<Plaintext>(N);
    {
        auto c2 = random_vec(N, t, rng);
        std::copy(c2.begin(), c2.end(), pt2->data());
    }

    for (size_t primes : { 2, 1 }) {
        Level L;
        L.framework = "Cheetah";
        L.n = N;
        L.primes = primes;
        L.params = "N = 4096, coeff moduli {60, 49} with no special prime (set_n_special_primes(0)), plain modulus "
                   "t = 2^37, tc128";
        // ciphertexts at this level (coefficient form, as BFV encryption leaves them)
        auto ct = std::make_shared<Ciphertext>();
        auto ct2 = std::make_shared<Ciphertext>();
        enc->encrypt_symmetric(*pt, *ct);
        enc->encrypt_symmetric(*pt2, *ct2);
        auto pid = ctx->last_parms_id();
        if (primes == 2)
            pid = ctx->first_parms_id();
        else {
            ev->mod_switch_to_inplace(*ct, pid);
            ev->mod_switch_to_inplace(*ct2, pid);
        }
        auto out = std::make_shared<Ciphertext>();
        auto out2 = std::make_shared<Ciphertext>(*ct2);  // accumulator of the add
        auto kout = std::make_shared<Ciphertext>();

        // key switch (Cheetah never calls one): rotate_rows by one step in the stand-in context,
        // operand at the same data primes
        auto kct = std::make_shared<Ciphertext>();
        ks_enc->encrypt_symmetric(*pt2, *kct);
        if (primes == 1)
            ks_ev->mod_switch_to_next_inplace(*kct);
        L.ops.push_back({ "key_switch", {}, [=] { ks_ev->rotate_rows(*kct, 1, set->ks_gk, *kout); }, {} });

        // ScMult: hom_conv2d_ss.cc HomConv2DSS::conv2DOneFilter: copy of the image ciphertext,
        // multiply_plain_inplace with the coefficient-form filter (NTTs inside SEAL's
        // multiply_plain), or multiply_plain(ct, pt, out) for the first channel.
        // add: conv2DOneFilter add_inplace(out_buff[o], cpy_ct); add_plain: hom_conv2d_ss.cc
        // HomConv2DSS::conv2DSS add_plain(img_share0, img_share1, image)
        add_product_ops(L, ev, ct, pt, pt2, ct2, out, out2, pid);
        // mod switch: hom_conv2d_ss.cc truncate_for_decryption: mod_switch_to_inplace(ct, last)
        if (primes > 1) {
            auto tmp = std::make_shared<Ciphertext>();
            L.ops.push_back({ "mod_switch", [=] { *tmp = *ct; }, [=] { ev->mod_switch_to_inplace(*tmp, ctx->last_parms_id()); }, {} });
        }
        // enc: hom_conv2d_ss.cc HomConv2DSS::encryptImage: encrypt_symmetric(pt) returning a
        // Serializable<Ciphertext> (seeded: the second polynomial is sent as its PRNG seed).
        // Always at the first (2-prime) level.
        auto sct = std::make_shared<Serializable<Ciphertext>>(enc->encrypt_symmetric(*pt));
        L.ops.push_back({ "enc", {}, [=] { *sct = enc->encrypt_symmetric(*pt); }, {} });
        // dec (hom_conv2d_ss.cc HomConv2DSS::decryptToTensor: Decryptor::decrypt; the client
        // decrypts the server's results at the last level, 1 prime) and the NTTs
        add_dec_and_ntt_ops(L, ctx, ev, dec, ct, pt, pid, N, primes, rng);
        // encode: gemini/cheetah/tensor_encoder.cc (plaintext from coefficients): resize the
        // plaintext to N and reduce the coefficients mod t into it (modulo_poly_coeffs).
        auto ept = std::make_shared<Plaintext>();
        auto tmod = ctx->first_context_data()->parms().plain_modulus();
        L.ops.push_back({ "encode", [=] { ept->release(); }, [=] {
                             ept->resize(N);
                             util::modulo_poly_coeffs(coeffs->data(), N, tmod, ept->data());
                         }, {} });
        // batch encode at N = 4096 (a 37-bit batching prime; the key-switch stand-in context):
        // hom_bn_ss.cc HomBNSS encodes batch-norm vectors with a BatchEncoder per CRT plain prime
        // (cheetah-api.cpp CheetahLinear::setUpForBN). Reported in the source only.
        {
            auto kbe = std::make_shared<BatchEncoder>(*set->ks_ctx);
            auto kt = set->ks_ctx->first_context_data()->parms().plain_modulus().value();
            auto bslots = std::make_shared<std::vector<uint64_t>>(random_vec(N, kt, rng));
            auto bpt = std::make_shared<Plaintext>();
            L.ops.push_back({ "encode_batch", {}, [=] { kbe->encode(*bslots, *bpt); }, {} });
        }
        // save / load: cheetah-api.cpp send_ciphertext: ct.save(os) with SEAL's default
        // compression (zstd in this build); recv_ciphertext: ct.load (checked) for what the
        // server receives, ct.unsafe_load for the truncated results the client receives.
        auto sbuf = std::make_shared<std::string>();
        auto lct = std::make_shared<Ciphertext>();
        if (primes == 2) {
            // the client's seeded symmetric ciphertext
            L.ops.push_back({ "save", {}, [=] {
                                 std::stringstream os;
                                 sct->save(os);
                                 *sbuf = os.str();
                             }, {} });
            L.ops.push_back({ "load", {}, [=] {
                                 std::stringstream is(*sbuf);
                                 lct->load(*ctx, is);
                             }, {} });
            {
                std::stringstream os;
                sct->save(os);
                *sbuf = os.str();
            }
            L.facts.push_back({ "save_what", "the client's seeded symmetric ciphertext (Serializable<Ciphertext>, 2 primes), default compression (zstd); load = Ciphertext::load (checked, expands the seed), as the server receives it" });
        } else {
            // hom_conv2d_ss.cc truncate_for_decryption (BFV_TRUNCATE_LARGE/SMALL on): after the mod
            // switch to the last prime the low bits of c0 and c1 that decryption does not need are
            // zeroed, which zstd then compresses. Same bit counts, written here for the benchmark:
            // Delta bits = bits(q0) - bits(t); c0 keeps all but its (Delta bits - 1) low bits, c1
            // all but (Delta bits - floor(log2(12 N / sqrt(18)))) low bits.
            auto tct = std::make_shared<Ciphertext>(*ct);
            {
                auto &lp = ctx->last_context_data()->parms();
                int delta_bits = lp.coeff_modulus()[0].bit_count() - lp.plain_modulus().bit_count();
                int var_bits = static_cast<int>(std::log2(12.0 * N * std::sqrt(1 / 18.)));
                auto low_zero = [](int k) {
                    k = std::min(63, std::max(0, k));
                    return (~0ULL >> k) << k;
                };
                uint64_t m0 = low_zero(delta_bits - 1), m1 = low_zero(delta_bits - var_bits);
                for (size_t i = 0; i < N; ++i) {
                    tct->data(0)[i] &= m0;
                    tct->data(1)[i] &= m1;
                }
            }
            L.ops.push_back({ "save", {}, [=] {
                                 std::stringstream os;
                                 tct->save(os);
                                 *sbuf = os.str();
                             }, {} });
            L.ops.push_back({ "load", {}, [=] {
                                 std::stringstream is(*sbuf);
                                 lct->unsafe_load(*ctx, is);
                             }, {} });
            {
                std::stringstream os;
                tct->save(os);
                *sbuf = os.str();
            }
            L.facts.push_back({ "save_what", "a server result at the last level (1 prime, coefficient form) with the low bits truncate_for_decryption zeroes, default compression (zstd); load = Ciphertext::unsafe_load, as the client receives it (recv_ciphertext with is_truncated)" });
        }
        L.facts.push_back({ "save_bytes", std::to_string(sbuf->size()) });
        L.facts.push_back({ "ks_context", set->ks_note });
        levels.push_back(std::move(L));
    }
}

// ---------------------------------------------------------------------------------------------
// SCI_HE: SCI/src/LinearHE/utils-HE.cpp generate_new_keys: BFV, N = slot_count, coeff moduli
// CoeffModulus::Create(N, {60, 60, 60, 49}) (last prime special: 3 data primes), plain modulus
// prime_mod (SCI/src/library_fixed_uniform.cpp: default_prime_mod.at(37) = 137352314881 for
// ell = 37), sec_level_type::none; public key and all power-of-two Galois keys from BOB.
// N = 8192 (POLY_MOD_DEGREE) for most layers; conv-field.cpp ConvField::non_strided_conv uses
// N = min(SEAL_POLY_MOD_DEGREE_MAX, max(8192, 2 * next_pow2(H * W))) and makes new keys when that
// is neither 8192 nor 65536 (e.g. 32768 for the first convolution of sqnet and ResNet-50).
// ---------------------------------------------------------------------------------------------
void add_sci(size_t N, std::vector<Level> &levels, std::vector<std::shared_ptr<Set>> &keep, std::mt19937_64 &rng)
{
    const std::vector<int> bits{ 60, 60, 60, 49 };
    const uint64_t t = 137352314881ULL;
    auto set = std::make_shared<Set>();
    keep.push_back(set);
    EncryptionParameters parms(scheme_type::bfv);
    parms.set_poly_modulus_degree(N);
    parms.set_coeff_modulus(CoeffModulus::Create(N, bits));
    parms.set_plain_modulus(t);
    set->ctx = std::make_shared<SEALContext>(parms, true, sec_level_type::none);
    set->keygen = std::make_shared<KeyGenerator>(*set->ctx);
    set->sk = set->keygen->secret_key();
    set->keygen->create_public_key(set->pk);
    // Only the keys the benchmark uses (the framework makes all power-of-two steps; a rotation
    // by one power-of-two step is one key switch either way).
    set->keygen->create_galois_keys(std::vector<int>{ 1 }, set->gk);
    {
        // column rotation key (Galois element 2N - 1), as rotate_columns uses
        std::vector<uint32_t> elts{ static_cast<uint32_t>(2 * N - 1),
                                    set->ctx->key_context_data()->galois_tool()->get_elt_from_step(1) };
        set->keygen->create_galois_keys(elts, set->gk);
    }
    auto ctx = set->ctx;
    auto ev = std::make_shared<Evaluator>(*ctx);
    auto enc = std::make_shared<Encryptor>(*ctx, set->pk);  // utils-HE.cpp: Encryptor(context, public key)
    auto dec = std::make_shared<Decryptor>(*ctx, set->sk);
    auto be = std::make_shared<BatchEncoder>(*ctx);

    auto slots = std::make_shared<std::vector<uint64_t>>(random_vec(N, t, rng));
    auto slots2 = std::make_shared<std::vector<uint64_t>>(random_vec(N, t, rng));
    auto pt = std::make_shared<Plaintext>();
    auto pt2 = std::make_shared<Plaintext>();
    be->encode(*slots, *pt);
    be->encode(*slots2, *pt2);

    for (size_t primes : { 3, 2, 1 }) {
        Level L;
        L.framework = "SCI_HE";
        L.n = N;
        L.primes = primes;
        L.params = "N = " + std::to_string(N) +
                   ", coeff moduli {60, 60, 60, 49} (last prime special), plain modulus prime_mod = 137352314881 "
                   "(ell = 37), security level none";
        auto ct = std::make_shared<Ciphertext>();
        auto ct2 = std::make_shared<Ciphertext>();
        enc->encrypt(*pt, *ct);
        enc->encrypt(*pt2, *ct2);
        for (size_t k = 3; k > primes; --k) {
            ev->mod_switch_to_next_inplace(*ct);
            ev->mod_switch_to_next_inplace(*ct2);
        }
        auto pid = ct->parms_id();
        auto out = std::make_shared<Ciphertext>();
        auto out2 = std::make_shared<Ciphertext>(*ct2);

        // key switch: conv-field.cpp filter_rotations: rotate_rows(input, step, gal_keys, out);
        // HE_output_rotations / fc-field.cpp fc_online: rotate_rows_inplace / rotate_rows.
        L.ops.push_back({ "key_switch", {}, [=] { ev->rotate_rows(*ct, 1, set->gk, *out); }, {} });
        // column rotation: conv-field.cpp HE_output_rotations rotate_columns_inplace
        L.ops.push_back({ "rotate_columns", {}, [=] { ev->rotate_columns(*ct, set->gk, *out); }, {} });
        // ScMult: conv-field.cpp HE_conv_OP multiply_plain(rotations, masks, tmp); fc-field.cpp
        // fc_online multiply_plain_inplace; elemwise-prod-field.cpp multiply_plain. Coefficient-form
        // ciphertext and batch-encoded plaintext: SEAL's multiply_plain does the NTTs inside.
        // add: conv-field.cpp HE_conv_OP / HE_output_rotations add_inplace; add_plain is not
        // called in SCI_HE's linear layers and measured as add_plain(ct, pt, out)
        add_product_ops(L, ev, ct, pt, pt2, ct2, out, out2, pid);
        // mod switch: conv-field.cpp HE_conv_OP / ConvField::non_strided_conv,
        // HE_preprocess_noise: mod_switch_to_next_inplace
        if (primes > 1) {
            auto tmp = std::make_shared<Ciphertext>();
            L.ops.push_back({ "mod_switch", [=] { *tmp = *ct; }, [=] { ev->mod_switch_to_next_inplace(*tmp); }, {} });
        }
        // enc: conv-field.cpp HE_encrypt / HE_preprocess_noise: Encryptor (public key)::encrypt,
        // always at the first level (3 primes), not seeded.
        auto ect = std::make_shared<Ciphertext>();
        L.ops.push_back({ "enc", {}, [=] { enc->encrypt(*pt, *ect); }, {} });
        // dec (conv-field.cpp HE_decrypt: Decryptor::decrypt, at 1 prime in the runs) and the NTTs
        add_dec_and_ntt_ops(L, ctx, ev, dec, ct, pt, pid, N, primes, rng);
        // encode: conv-field.cpp HE_encrypt / HE_preprocess_filters_OP: BatchEncoder::encode of a
        // full slot vector (N slots)
        auto ept = std::make_shared<Plaintext>();
        L.ops.push_back({ "encode", {}, [=] { be->encode(*slots, *ept); }, {} });
        // save / load: utils-HE.cpp send_ciphertext ct.save(os) (default compression = zstd),
        // recv_ciphertext ct.unsafe_load(context, is)
        auto sbuf = std::make_shared<std::string>();
        auto lct = std::make_shared<Ciphertext>();
        L.ops.push_back({ "save", {}, [=] {
                             std::stringstream os;
                             ct->save(os);
                             *sbuf = os.str();
                         }, {} });
        L.ops.push_back({ "load", {}, [=] {
                             std::stringstream is(*sbuf);
                             lct->unsafe_load(*ctx, is);
                         }, {} });
        {
            std::stringstream os;
            ct->save(os);
            *sbuf = os.str();
        }
        L.facts.push_back({ "save_what", std::string("a public-key ciphertext at ") + std::to_string(primes) + " prime(s), coefficient form, default compression (zstd); load = Ciphertext::unsafe_load" });
        L.facts.push_back({ "save_bytes", std::to_string(sbuf->size()) });
        levels.push_back(std::move(L));
    }
}

std::string json_escape(const std::string &s)
{
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\')
            o += '\\';
        o += c;
    }
    return o;
}

} // namespace

int main(int argc, char **argv)
{
    size_t passes = 5, warmup = 2, rounds = 15;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        size_t v = std::strtoul(argv[i + 1], nullptr, 10);
        if (a == "--passes")
            passes = v;
        else if (a == "--warmup")
            warmup = v;
        else if (a == "--rounds")
            rounds = v;
        else {
            std::fprintf(stderr, "usage: seal_bench [--passes P] [--warmup W] [--rounds R]\n");
            return 2;
        }
    }
    if (!passes || !rounds) {
        std::fprintf(stderr, "passes and rounds must be positive\n");
        return 2;
    }
    const double t0 = now_us();
    std::mt19937_64 rng(1);
    std::vector<Level> levels;
    std::vector<std::shared_ptr<Set>> keep;
    add_cheetah(levels, keep, rng);
    add_sci(8192, levels, keep, rng);
    add_sci(32768, levels, keep, rng);
    const double t_setup = now_us() - t0;
    std::fprintf(stderr, "[seal_bench] set-up (contexts, keys, operands) %.1f s\n", t_setup / 1e6);

    for (size_t p = 0; p < passes; ++p) {
        for (auto &L : levels) {
            for (size_t r = 0; r < warmup + rounds; ++r) {
                for (auto &op : L.ops) {
                    if (op.setup)
                        op.setup();
                    double a = now_us();
                    op.run();
                    double b = now_us();
                    if (r >= warmup)
                        op.samples.push_back(b - a);
                }
            }
        }
        std::fprintf(stderr, "[seal_bench] pass %zu/%zu done at %.1f s\n", p + 1, passes, (now_us() - t0) / 1e6);
    }
    const double total = (now_us() - t0) / 1e6;

    for (auto &L : levels) {
        std::printf("{\"framework\": \"%s\", \"n\": %zu, \"primes\": %zu, \"params\": \"%s\", \"samples\": %zu",
                    L.framework.c_str(), L.n, L.primes, json_escape(L.params).c_str(), passes * rounds);
        for (auto &op : L.ops)
            std::printf(", \"%s_us\": %.2f", op.name.c_str(), median(op.samples));
        for (auto &f : L.facts)
            std::printf(", \"%s\": \"%s\"", f.first.c_str(), json_escape(f.second).c_str());
        std::printf("}\n");
    }
    std::printf("{\"passes\": %zu, \"warmup\": %zu, \"rounds\": %zu, \"setup_s\": %.1f, \"total_s\": %.1f}\n", passes,
                warmup, rounds, t_setup / 1e6, total);
    return 0;
}
