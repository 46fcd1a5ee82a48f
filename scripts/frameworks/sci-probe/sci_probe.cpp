// Measures the bytes each party sends in OpenCheetah's `Sigmoid` (library_fixed.cpp) and
// `ElemWiseSecretSharedVectorMult` (library_fixed_uniform.cpp) as the Cheetah build runs
// them, and in the building blocks of the sigmoid, so that stria's model
// (src/packing/cheetah_math.rs) can be held against the real code. At f71d4d4 neither entry
// point completes in the Cheetah build: every secret x secret product dies in
// LinearOT::matmul_cross_terms (SCI-LinearOT is compiled without USE_CHEETAH and runs
// CrypTFlow2's split IKNP on Cheetah's silent-OT pack), and a 1-of-2^k lookup with k not in
// {1, 2, 3, 4, 8} throws in MITCCRH::renew_ks. A crash prints its stack to stderr (see
// on_crash) so that sci-probe.sh can record where.
//
// Built by scripts/frameworks/build.sh (target `sci-probe`) with the Cheetah network
// programs' flags (SCI_OT=1 USE_CHEETAH=1) and linked against the same archives, in the same
// order, as `<net>-cheetah`. Run both parties on 127.0.0.1 (scripts/frameworks/sci-probe.sh
// does):
//
//   sci_probe r=1 p=PORT nt=T ell=37 k=12 ops=LIST [check=1] &   # server (ALICE)
//   sci_probe r=2 p=PORT nt=T ell=37 k=12 ops=LIST [check=1]     # client (BOB)
//
// LIST is a comma-separated sequence run in order in one process (the Ferret pools carry
// their state from call to call, as in a network program):
//   sig:N:BWX:BWY:SX:SY   Sigmoid(1, N, 2^SX, 2^SY, BWX, BWY, x, y) on N elements
//   mul:N                 ElemWiseSecretSharedVectorMult(N, a, b, c) at bitlength `ell`
// and the building blocks `MathFunctions::sigmoid` calls (aux-protocols.cpp, truncation.cpp,
// value-extension.cpp), each on thread 0's objects as StartComputation() made them
// (`auxArr[0]`, `truncationArr[0]`, `xtArr[0]`):
//   msb:N:BW              AuxProtocols::MSB on BW-bit shares
//   mux:N:BWX:BWY         AuxProtocols::multiplexer
//   b2a:N:BW              AuxProtocols::B2A to BW bits
//   lut:N:BITS:BWY        AuxProtocols::lookup_table<uint64_t>, 2^BITS entries of BWY bits
//   trd:N:SHIFT:BW        Truncation::truncate_and_reduce
//   zext:N:BWA:BWB:M      XTProtocol::z_extend, with known MSB shares (M=1, as sigmoid
//                         passes them) or without (M=0)
//
// The calls are OpenCheetah's own entry points after its own `StartComputation()`: threads,
// OT packs and Ferret pools are set up exactly as in a network program. For each call the
// probe prints, per thread, the growth of `ioArr[i]->counter` (bytes this party sent on
// thread i's channel), which is what library_fixed.cpp's LOG_LAYERWISE sums into
// `SigmoidCommSent` (FIND_ALL_IO_TILL_NOW). Output lines:
//
//   probe,<seq>,<op>,<n>,<args>,<party>,<bytes thread 0>;<bytes thread 1>;...,<total>
//
// With check=1 the client also reconstructs the output after the measured call (the server
// sends its shares; that traffic comes after the counters are read) and compares it with the
// clear result: the exact product modulo 2^ell for `mul`, and for `sig` the largest distance
// to 1/(1+e^-x) in units of 2^-SY (printed; OpenCheetah's sigmoid is an approximation).
//
// Inputs are deterministic: both parties draw the clear values and the server's share from
// the same seeded generator, the client holds value - share. Values and shares do not change
// the traffic of either protocol (every message size depends on N and the bit widths only).

#include "globals.h"
#include "library_fixed.h"

#include <csignal>
#include <execinfo.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

int party = 0;
int port = 32000;
std::string address = "127.0.0.1";
int num_threads = 1;
int32_t bitlength = 37;
int32_t kScale = 12;

namespace {

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

uint64_t mask_of(int bw) { return bw >= 64 ? ~0ULL : ((1ULL << bw) - 1); }

int64_t signed_of(uint64_t v, int bw) {
  v &= mask_of(bw);
  if (bw < 64 && (v >> (bw - 1)) & 1) return int64_t(v) - int64_t(1ULL << bw);
  return int64_t(v);
}

std::vector<uint64_t> counters() {
  std::vector<uint64_t> c(num_threads);
  for (int i = 0; i < num_threads; i++) c[i] = ioArr[i]->counter;
  return c;
}

void report(int seq, const std::string &op, uint64_t n, const std::string &args,
            const std::vector<uint64_t> &before) {
  std::vector<uint64_t> after = counters();
  uint64_t total = 0;
  std::ostringstream per;
  for (int i = 0; i < num_threads; i++) {
    uint64_t d = after[i] - before[i];
    total += d;
    per << (i ? ";" : "") << d;
  }
  std::cout << "probe," << seq << "," << op << "," << n << "," << args << ","
            << (party == sci::ALICE ? "server" : "client") << "," << per.str() << ","
            << total << std::endl;
}

// Server sends its shares on thread 0's channel, the client adds them to its own.
std::vector<uint64_t> open(const std::vector<uint64_t> &share, int bw) {
  std::vector<uint64_t> out(share.size());
  if (party == sci::ALICE) {
    ioArr[0]->send_data(share.data(), share.size() * sizeof(uint64_t));
    ioArr[0]->flush();
  } else {
    ioArr[0]->recv_data(out.data(), out.size() * sizeof(uint64_t));
    for (size_t i = 0; i < out.size(); i++) out[i] = (out[i] + share[i]) & mask_of(bw);
  }
  return out;
}

// Shares of `vals` (each reduced to bw bits): the server's share is drawn from `gen`.
std::vector<uint64_t> share_of(const std::vector<uint64_t> &vals, int bw, std::mt19937_64 &gen) {
  std::vector<uint64_t> sh(vals.size());
  for (size_t i = 0; i < vals.size(); i++) {
    uint64_t r = gen() & mask_of(bw);
    sh[i] = party == sci::ALICE ? r : (vals[i] - r) & mask_of(bw);
  }
  return sh;
}

// A crash inside the framework prints its signal and stack (mangled; sci-probe.sh demangles
// it), so the measured table says where a call fails.
// Only the first thread that crashes prints (the others wait for the exit).
std::atomic<bool> crashed{false};

void on_crash(int sig) {
  if (crashed.exchange(true)) {
    for (;;) pause();
  }
  const char *name = sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : "SIGNAL";
  if (write(2, "crash,", 6) < 0 || write(2, name, strlen(name)) < 0 || write(2, "\n", 1) < 0) {
  }
  void *frames[32];
  int n = backtrace(frames, 32);
  backtrace_symbols_fd(frames, n, 2);
  _exit(128 + sig);
}

std::vector<uint64_t> random_vec(uint64_t n, int bw, std::mt19937_64 &gen) {
  std::vector<uint64_t> v(n);
  for (auto &x : v) x = gen() & mask_of(bw);
  return v;
}

// One building block on thread 0; returns false if `f` is not one.
bool building_block(const std::vector<std::string> &f, uint64_t n, int seq,
                    std::mt19937_64 &gen) {
  auto arg = [&](size_t i) { return std::stoi(f.at(i)); };
  std::vector<uint64_t> x, y(n);
  std::vector<uint8_t> bits(n);
  std::string args;
  std::vector<uint64_t> before;
  if (f[0] == "msb" && f.size() == 3) {
    x = random_vec(n, arg(2), gen);
    args = f[2];
    before = counters();
    auxArr[0]->MSB(x.data(), bits.data(), int32_t(n), arg(2));
  } else if (f[0] == "mux" && f.size() == 4) {
    x = random_vec(n, arg(2), gen);
    for (auto &b : bits) b = gen() & 1;
    args = f[2] + ":" + f[3];
    before = counters();
    auxArr[0]->multiplexer(bits.data(), x.data(), y.data(), int32_t(n), arg(2), arg(3));
  } else if (f[0] == "b2a" && f.size() == 3) {
    for (auto &b : bits) b = gen() & 1;
    args = f[2];
    before = counters();
    auxArr[0]->B2A(bits.data(), y.data(), int32_t(n), arg(2));
  } else if (f[0] == "lut" && f.size() == 4) {
    int b = arg(2), bwy = arg(3);
    uint64_t entries = 1ULL << b;
    args = f[2] + ":" + f[3];
    if (party == sci::ALICE) {
      std::vector<std::vector<uint64_t>> table(n, std::vector<uint64_t>(entries));
      std::vector<uint64_t *> rows(n);
      for (uint64_t i = 0; i < n; i++) {
        for (auto &e : table[i]) e = gen() & mask_of(bwy);
        rows[i] = table[i].data();
      }
      before = counters();
      auxArr[0]->lookup_table<uint64_t>(rows.data(), nullptr, nullptr, int32_t(n), b, bwy);
    } else {
      x = random_vec(n, b, gen);
      before = counters();
      auxArr[0]->lookup_table<uint64_t>(nullptr, x.data(), y.data(), int32_t(n), b, bwy);
    }
  } else if (f[0] == "trd" && f.size() == 4) {
    x = random_vec(n, arg(3), gen);
    args = f[2] + ":" + f[3];
    before = counters();
    truncationArr[0]->truncate_and_reduce(int32_t(n), x.data(), y.data(), arg(2), arg(3));
  } else if (f[0] == "zext" && f.size() == 5) {
    x = random_vec(n, arg(2), gen);
    args = f[2] + ":" + f[3] + ":" + f[4];
    before = counters();
    xtArr[0]->z_extend(int32_t(n), x.data(), y.data(), arg(2), arg(3),
                       arg(4) ? bits.data() : nullptr);
  } else {
    return false;
  }
  report(seq, f[0], n, args, before);
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  std::string ops;
  int check = 0;
  ArgMapping amap;
  amap.arg("r", party, "Role of party: ALICE/SERVER = 1; BOB/CLIENT = 2");
  amap.arg("p", port, "Port Number");
  amap.arg("ip", address, "IP Address of server (ALICE)");
  amap.arg("nt", num_threads, "Number of Threads");
  amap.arg("ell", bitlength, "Uniform Bitwidth");
  amap.arg("k", kScale, "scaling factor");
  amap.arg("ops", ops, "calls to measure, e.g. sig:1000:37:37:12:12,mul:1000");
  amap.arg("check", check, "reconstruct and check each result");
  amap.parse(argc, argv);
  if (party != SERVER && party != CLIENT) {
    std::cerr << "r must be 1 or 2" << std::endl;
    return 2;
  }

  // On its own stack, so that a stack overflow is reported too.
  static char alt_stack[1 << 16];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof(alt_stack);
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
  StartComputation();

  std::mt19937_64 gen(20261206);
  int seq = 0;
  for (const std::string &spec : split(ops, ',')) {
    std::vector<std::string> f = split(spec, ':');
    if (f.size() < 2) {
      std::cerr << "bad op " << spec << std::endl;
      return 2;
    }
    uint64_t n = std::stoull(f[1]);
    if (f[0] == "sig" && f.size() == 6) {
      int bwx = std::stoi(f[2]), bwy = std::stoi(f[3]);
      int sx = std::stoi(f[4]), sy = std::stoi(f[5]);
      // Clear inputs in (-8, 8) at scale sx.
      std::vector<uint64_t> vals(n);
      for (auto &v : vals) v = uint64_t(int64_t(gen() % (16ULL << sx)) - int64_t(8ULL << sx));
      std::vector<uint64_t> x = share_of(vals, bwx, gen);
      std::vector<uint64_t> y(n);
      auto before = counters();
      Sigmoid(int64_t(1), int64_t(n), int64_t(1) << sx, int64_t(1) << sy, int64_t(bwx),
              int64_t(bwy), x.data(), y.data());
      std::string args = std::to_string(bwx) + ":" + std::to_string(bwy) + ":" +
                         std::to_string(sx) + ":" + std::to_string(sy);
      report(seq, "sig", n, args, before);
      if (check) {
        std::vector<uint64_t> out = open(y, bwy);
        if (party == sci::BOB) {
          double worst = 0;
          for (uint64_t i = 0; i < n; i++) {
            double xv = double(signed_of(vals[i], bwx)) / double(1ULL << sx);
            double want = 1.0 / (1.0 + std::exp(-xv));
            double got = double(signed_of(out[i], bwy)) / double(1ULL << sy);
            worst = std::max(worst, std::fabs(got - want) * double(1ULL << sy));
          }
          std::cout << "check," << seq << ",sig,max_ulp_error," << worst << std::endl;
        }
      }
    } else if (f[0] == "mul" && f.size() == 2) {
      int l = bitlength;
      std::vector<uint64_t> va(n), vb(n);
      for (auto &v : va) v = gen() & mask_of(l);
      for (auto &v : vb) v = gen() & mask_of(l);
      std::vector<uint64_t> a = share_of(va, l, gen), b = share_of(vb, l, gen);
      std::vector<uint64_t> c(n);
      auto before = counters();
      ElemWiseSecretSharedVectorMult(int32_t(n), a.data(), b.data(), c.data());
      report(seq, "mul", n, std::to_string(l), before);
      if (check) {
        std::vector<uint64_t> out = open(c, l);
        if (party == sci::BOB) {
          uint64_t wrong = 0;
          for (uint64_t i = 0; i < n; i++) wrong += out[i] != ((va[i] * vb[i]) & mask_of(l));
          std::cout << "check," << seq << ",mul,wrong," << wrong << std::endl;
        }
      }
    } else if (!building_block(f, n, seq, gen)) {
      std::cerr << "bad op " << spec << std::endl;
      return 2;
    }
    seq++;
  }

  EndComputation();
  return 0;
}
