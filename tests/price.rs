//! Pricing (README "How each number is computed", Latency): hand-computed layer prices, link units
//! and presets, profile lookup (exact and derived), the shipped published-priors numbers, and file
//! errors.

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use stria::cost::OpCounts;
use stria::cost::price::{
    CostProfile, LINK_PRESETS, Link, ScMultForm, load_link, load_profile, parse_profile,
    price_layer, primes_for,
};
use stria::packing::Protocol;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn priors() -> CostProfile {
    load_profile(root().join("configs/profiles/published-priors.json")).unwrap()
}

#[track_caller]
fn close(got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol,
        "got {got}, want {want} (relative error {})",
        ((got - want) / want).abs()
    );
}

#[track_caller]
fn has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "expected `{p}` in the message: {msg}");
    }
}

/// A hand-written link: 100 Mbit/s, 10 ms RTT.
fn link_100() -> Link {
    Link {
        name: "t".into(),
        bandwidth_mbit_s: 100.0,
        rtt_ms: 10.0,
        source: "test".into(),
    }
}

fn counts() -> OpCounts {
    OpCounts {
        internal_rot: 7,
        external_rot: 5,
        key_switch: 20,
        scmult: 100,
        add: 120,
        ct_up: 4,
        ct_down: 2,
        bytes_up: 1_000_000,
        bytes_down: 250_000,
        mod_switch: 6,
        enc: 6,
        dec: 2,
    }
}

#[test]
fn price_by_hand_cryptflow2_8192() {
    // Entry (8192, 3) of published-priors: key switch 3150, ScMult 1950, add 76.5, ModSwitch 235,
    // enc 3450, dec 950 (us).
    // compute = 20*3150 + 100*1950 + 120*76.5 + 6*235 + 6*3450 + 2*950
    //         = 63000 + 195000 + 9180 + 1410 + 20700 + 1900 = 291190 us = 291.19 ms
    //   (rotation columns 7 + 5 are not priced again: the 20 key switches already are)
    // comm    = (1_000_000 + 250_000 + 50_000) B * 8 / 100e6 bit/s = 0.104 s = 104 ms
    //         + 3 rounds * 10 ms = 30 ms  -> 134 ms
    // latency = 291.19 + 134 = 425.19 ms
    let p = price_layer(&counts(), Some(8192), 3, 50_000, 3, &priors(), &link_100()).unwrap();
    close(p.compute_ms, 291.19);
    close(p.comm_ms, 134.0);
    close(p.latency_ms, 425.19);
}

#[test]
fn price_by_hand_gazelle_and_cheetah() {
    // Gazelle (2048, 1): key switch 268, ScMult 10, add 5, enc 186, dec 125; no mod switches.
    // compute = 20*268 + 100*10 + 120*5 + 6*186 + 2*125 = 5360+1000+600+1116+250 = 8326 us
    // comm on cf2-lan (3016 Mbit/s, 0.3 ms): 1_250_000*8/3016e6 s = 10_000_000/3016 us
    //      = 3.3156498673740053 ms, + 1 * 0.3 ms
    let mut c = counts();
    c.mod_switch = 0;
    let cf2 = Link::preset("cf2-lan").unwrap();
    let p = price_layer(&c, Some(2048), 1, 0, 1, &priors(), &cf2).unwrap();
    close(p.compute_ms, 8.326);
    close(p.comm_ms, 10_000.0 / 3016.0 + 0.3);
    close(p.latency_ms, 8.326 + 10_000.0 / 3016.0 + 0.3);

    // Cheetah (4096, 2): ScMult 30, add 10, ModSwitch 235*(4096*12*2)/(8192*13*3) = 940/13,
    // enc 1183, dec 902; no key switches.
    // compute = 100*30 + 120*10 + 6*940/13 + 6*1183 + 2*902 = 3000+1200+5640/13+7098+1804
    //         = 13102 + 433.846153... us
    let mut c = counts();
    c.key_switch = 0;
    let p = price_layer(
        &c,
        Some(4096),
        primes_for(Protocol::Cheetah),
        0,
        0,
        &priors(),
        &cf2,
    );
    close(p.unwrap().compute_ms, (13102.0 + 5640.0 / 13.0) / 1e3);
}

#[test]
fn no_he_work_has_no_compute() {
    // n = None: only the bytes and rounds count. 1_250_000 B * 8 / 100e6 = 100 ms, + 2 * 10 ms.
    let p = price_layer(&counts(), None, 3, 0, 2, &priors(), &link_100()).unwrap();
    assert_eq!(p.compute_ms, 0.0);
    close(p.comm_ms, 120.0);
    close(p.latency_ms, 120.0);
    // Even a profile with no usable entry is fine when there is no HE work.
    let p = price_layer(&counts(), None, 7, 0, 0, &priors(), &link_100()).unwrap();
    close(p.comm_ms, 100.0);
}

#[test]
fn rtt_term() {
    // Zero counts: comm = rounds * RTT exactly.
    let z = OpCounts::default();
    for (name, rtt) in [("lan", 0.3), ("wan", 40.0), ("cf2-wan", 80.0)] {
        let l = Link::preset(name).unwrap();
        let p = price_layer(&z, Some(8192), 3, 0, 5, &priors(), &l).unwrap();
        assert_eq!(p.compute_ms, 0.0);
        close(p.comm_ms, 5.0 * rtt);
    }
    // One extra round adds exactly one RTT.
    let l = Link::preset("wan").unwrap();
    let a = price_layer(&counts(), Some(8192), 3, 0, 1, &priors(), &l).unwrap();
    let b = price_layer(&counts(), Some(8192), 3, 0, 2, &priors(), &l).unwrap();
    close(b.comm_ms - a.comm_ms, 40.0);
}

#[test]
fn link_units() {
    // MB = 10^6 bytes: 377 MB/s = 377 * 8 = 3016 Mbit/s.
    assert_eq!(Link::mbyte_s_to_mbit_s(377.0), 3016.0);
    let want = [
        ("lan", 3000.0, 0.3),
        ("wan", 400.0, 40.0),
        ("cf2-lan", 3016.0, 0.3),
        ("cf2-wan", 320.0, 80.0),
        ("cheetah-lan", 3072.0, 0.3),
        ("cheetah-wan", 352.0, 40.0),
    ];
    for (name, bw, rtt) in want {
        let l = Link::preset(name).unwrap();
        assert_eq!((l.bandwidth_mbit_s, l.rtt_ms), (bw, rtt), "{name}");
    }
    // 377e6 bytes take exactly one second on cf2-lan.
    let l = Link::preset("cf2-lan").unwrap();
    close(l.transfer_ms(377_000_000), 1000.0);
    assert!(l.source.contains("MB = 10^6 bytes") && l.source.contains("3016 Mbit/s"));
}

#[test]
fn presets_equal_files() {
    assert_eq!(LINK_PRESETS.len(), 6);
    for name in LINK_PRESETS {
        let path = root().join(format!("configs/links/{name}.json"));
        let from_file = load_link(path.to_str().unwrap()).unwrap();
        assert_eq!(from_file, Link::preset(name).unwrap(), "{name}");
        assert_eq!(load_link(name).unwrap(), from_file);
        assert!(from_file.source.contains("MB") || name == "lan" || name == "wan");
    }
    // Every file in configs/links is a preset.
    let mut files: Vec<String> = std::fs::read_dir(root().join("configs/links"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want: Vec<String> = LINK_PRESETS.iter().map(|n| format!("{n}.json")).collect();
    want.sort();
    assert_eq!(files, want);
    assert!(Link::preset("lan2").is_none());
    // The built-in profile is the shipped file.
    let mut builtin = CostProfile::published_priors();
    let mut file = priors();
    builtin.file.clear();
    file.file.clear();
    assert_eq!(builtin, file);
}

#[test]
fn shipped_priors() {
    let p = priors();
    assert_eq!(p.name, "published-priors");
    // The note names the published sources the figures come from.
    assert!(p.note.contains("Gazelle Table 6") && p.note.contains("GALA Table I"));
    let got: Vec<(u64, u32)> = p.entries.iter().map(|e| (e.n, e.primes)).collect();
    assert_eq!(
        got,
        [
            (2048, 1),
            (4096, 2),
            (8192, 3),
            (16384, 3),
            (32768, 3),
            (65536, 3)
        ]
    );
    let e = p.entry(8192, 3).unwrap();
    assert!(!e.is_derived());
    assert_eq!(e.scmult_form, ScMultForm::Coeff);
    assert_eq!(
        (
            e.add_us,
            e.scmult_us,
            e.key_switch_us,
            e.mod_switch_us,
            e.enc_us,
            e.dec_us
        ),
        (76.5, 1950.0, 3150.0, Some(235.0), 3450.0, 950.0)
    );
    let e = p.entry(4096, 2).unwrap();
    assert_eq!(e.scmult_form, ScMultForm::Ntt);
    assert_eq!(
        (e.add_us, e.scmult_us, e.key_switch_us, e.enc_us, e.dec_us),
        (10.0, 30.0, 380.0, 1183.0, 902.0)
    );
    close(e.mod_switch_us.unwrap(), 940.0 / 13.0);
    let e = p.entry(2048, 1).unwrap();
    assert_eq!(
        (
            e.add_us,
            e.scmult_us,
            e.key_switch_us,
            e.mod_switch_us,
            e.enc_us,
            e.dec_us
        ),
        (5.0, 10.0, 268.0, None, 186.0, 125.0)
    );
    // The shipped derived entries are marked and equal what the lookup derives from (8192, 3).
    let base = p.entry(8192, 3).unwrap();
    for n in [16384u64, 32768, 65536] {
        let shipped = p.entry(n, 3).unwrap();
        assert!(shipped.is_derived(), "{n}: {}", shipped.source);
        let d = base.scaled_to(n);
        close(shipped.add_us, d.add_us);
        close(shipped.scmult_us, d.scmult_us);
        close(shipped.key_switch_us, d.key_switch_us);
        close(shipped.mod_switch_us.unwrap(), d.mod_switch_us.unwrap());
        close(shipped.enc_us, d.enc_us);
        close(shipped.dec_us, d.dec_us);
    }
}

#[test]
fn lookup_exact_and_derived() {
    let p = priors();
    // 16384 shipped (derived by hand): N log N factor 16384*14/(8192*13) = 28/13.
    // key switch 3150 * 28/13 = 6784.615384..., ScMult (coeff.) 1950 * 28/13 = 4200, add 76.5*2.
    let e = p.entry(16384, 3).unwrap();
    close(e.key_switch_us, 3150.0 * 28.0 / 13.0);
    close(e.scmult_us, 4200.0);
    close(e.add_us, 153.0);
    // Not in the file: (4096, 3) derives from its nearest 3-prime entry, 8192:
    // factor 4096*12/(8192*13) = 6/13; add halves.
    let e = p.entry(4096, 3).unwrap();
    assert!(e.is_derived());
    close(e.key_switch_us, 3150.0 * 6.0 / 13.0);
    close(e.scmult_us, 1950.0 * 6.0 / 13.0); // = 900
    close(e.scmult_us, 900.0);
    close(e.add_us, 38.25);
    close(e.mod_switch_us.unwrap(), 235.0 * 6.0 / 13.0);
    close(e.enc_us, 3450.0 * 6.0 / 13.0);
    close(e.dec_us, 950.0 * 6.0 / 13.0);
    // (8192, 2) derives from (4096, 2), whose ScMult is NTT form: linear, x2.
    // key switch 380 * 8192*13/(4096*12) = 380*26/12.
    let e = p.entry(8192, 2).unwrap();
    close(e.scmult_us, 60.0);
    close(e.add_us, 20.0);
    close(e.key_switch_us, 380.0 * 26.0 / 12.0);
    close(e.enc_us, 1183.0 * 26.0 / 12.0);
    // (131072, 3) derives from the nearest, 65536 (itself derived): same as from 8192.
    let e = p.entry(131072, 3).unwrap();
    close(
        e.key_switch_us,
        3150.0 * (131072.0 * 17.0) / (8192.0 * 13.0),
    );
    // Gazelle at n = 4096: from (2048, 1), add x2, ScMult (NTT form) x2, enc x 4096*12/(2048*11).
    let e = p.entry(4096, 1).unwrap();
    close(e.add_us, 10.0);
    close(e.scmult_us, 20.0);
    close(e.enc_us, 186.0 * 24.0 / 11.0);
    assert_eq!(e.mod_switch_us, None);
}

#[test]
fn lookup_and_pricing_errors() {
    let p = priors();
    let msg = p.entry(8192, 5).unwrap_err().to_string();
    has(
        &msg,
        &[
            "published-priors.json",
            "n = 8192",
            "primes = 5",
            "no entry",
        ],
    );
    let msg = p.entry(3000, 3).unwrap_err().to_string();
    has(&msg, &["published-priors.json", "n = 3000", "power of two"]);
    // Mod switches against an entry without mod_switch_us.
    let msg = price_layer(&counts(), Some(2048), 1, 0, 0, &p, &link_100())
        .unwrap_err()
        .to_string();
    has(
        &msg,
        &["published-priors.json", "mod_switch_us", "6 mod switches"],
    );
    // Missing entry propagates through price_layer.
    let msg = price_layer(&counts(), Some(8192), 4, 0, 0, &p, &link_100())
        .unwrap_err()
        .to_string();
    has(&msg, &["published-priors.json", "primes = 4"]);
}

#[test]
fn primes_per_protocol() {
    assert_eq!(primes_for(Protocol::Cryptflow2), 3);
    assert_eq!(primes_for(Protocol::Cheetah), 2);
    assert_eq!(primes_for(Protocol::GazelleInput), 1);
    assert_eq!(primes_for(Protocol::GazelleOutput), 1);
    assert_eq!(primes_for(Protocol::Gala), 1);
    // Every protocol's default ring degree has a published (not derived) entry.
    let p = priors();
    for proto in [
        Protocol::Cryptflow2,
        Protocol::Cheetah,
        Protocol::GazelleInput,
        Protocol::GazelleOutput,
        Protocol::Gala,
    ] {
        let e = p.entry(proto.default_ring_degree(), primes_for(proto));
        assert!(!e.unwrap().is_derived(), "{}", proto.name());
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn bad_link_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "notjson.json",
            "bandwidth: 3".to_string(),
            "invalid link file",
        ),
        (
            "unknown.json",
            r#"{"name":"x","bandwidth_mbit_s":1,"rtt_ms":1,"source":"s","latency":3}"#.into(),
            "unknown field `latency`",
        ),
        (
            "missing.json",
            r#"{"name":"x","bandwidth_mbit_s":1,"source":"s"}"#.into(),
            "missing field `rtt_ms`",
        ),
        (
            "zero.json",
            r#"{"name":"x","bandwidth_mbit_s":0,"rtt_ms":1,"source":"s"}"#.into(),
            "field `bandwidth_mbit_s`: between 0.001 and 1000000000 Mbit/s, got 0",
        ),
        (
            "negbw.json",
            r#"{"name":"x","bandwidth_mbit_s":-5,"rtt_ms":1,"source":"s"}"#.into(),
            "field `bandwidth_mbit_s`: between 0.001 and 1000000000 Mbit/s, got -5",
        ),
        (
            "tinybw.json",
            r#"{"name":"x","bandwidth_mbit_s":1e-300,"rtt_ms":1,"source":"s"}"#.into(),
            "field `bandwidth_mbit_s`: between 0.001 and 1000000000 Mbit/s, got 1e-300",
        ),
        (
            "hugebw.json",
            r#"{"name":"x","bandwidth_mbit_s":1e12,"rtt_ms":1,"source":"s"}"#.into(),
            "field `bandwidth_mbit_s`: between 0.001 and 1000000000 Mbit/s, got 1000000000000",
        ),
        (
            "hugertt.json",
            r#"{"name":"x","bandwidth_mbit_s":5,"rtt_ms":1.7e308,"source":"s"}"#.into(),
            "field `rtt_ms`: between 0 and 10000000 ms, got 1.7e308",
        ),
        (
            "negrtt.json",
            r#"{"name":"x","bandwidth_mbit_s":5,"rtt_ms":-0.1,"source":"s"}"#.into(),
            "field `rtt_ms`: between 0 and 10000000 ms, got -0.1",
        ),
    ];
    for (name, text, want) in cases {
        let path = write(&dir, name, &text);
        let msg = load_link(&path).unwrap_err().to_string();
        has(&msg, &[&path, want]);
    }
    // Neither a preset nor a file.
    let msg = load_link("lann").unwrap_err().to_string();
    has(
        &msg,
        &["lann", "not a link preset", "cf2-lan", "cheetah-wan"],
    );
    // A valid user link with zero RTT.
    let path = write(
        &dir,
        "ok.json",
        r#"{"name":"mine","bandwidth_mbit_s":1000,"rtt_ms":0,"source":"me"}"#,
    );
    let l = load_link(&path).unwrap();
    assert_eq!(
        (l.name.as_str(), l.bandwidth_mbit_s, l.rtt_ms),
        ("mine", 1000.0, 0.0)
    );
}

fn entry_json(extra: &str) -> String {
    format!(
        r#"{{"n":8192,"primes":3,"source":"s","scmult_form":"ntt","key_switch_us":1,"scmult_us":1,"add_us":1,"enc_us":1,"dec_us":1{extra}}}"#
    )
}

fn profile_json(entries: &str, extra: &str) -> String {
    format!(
        r#"{{"name":"p","machine":"m","library":"l","threads":1,"date":"d","note":"n","entries":[{entries}]{extra}}}"#
    )
}

#[test]
fn bad_profile_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("notjson.json", "[1, 2".to_string(), "invalid cost profile"),
        ("empty.json", profile_json("", ""), "`entries` is empty"),
        (
            "noentries.json",
            r#"{"name":"p","machine":"m","library":"l","threads":1,"date":"d","note":"n"}"#.into(),
            "missing field `entries`",
        ),
        (
            "unknown.json",
            profile_json(&entry_json(""), r#","cpu":"x""#),
            "unknown field `cpu`",
        ),
        (
            "unknown-entry.json",
            profile_json(&entry_json(r#","rot_us":3"#), ""),
            "unknown field `rot_us`",
        ),
        (
            "negative.json",
            profile_json(&entry_json(r#","mod_switch_us":-2"#), ""),
            "entries[0]: field `mod_switch_us`: between 0 and 1000000000 microseconds, got -2",
        ),
        (
            "huge-op.json",
            profile_json(
                &entry_json("").replace("\"add_us\":1", "\"add_us\":1.7e308"),
                "",
            ),
            "entries[0]: field `add_us`: between 0 and 1000000000 microseconds, got 1.7e308",
        ),
        (
            "huge-addplain.json",
            profile_json(&entry_json(r#","add_plain_us":1e10"#), ""),
            "entries[0]: field `add_plain_us`: between 0 and 1000000000 microseconds",
        ),
        (
            "huge-n.json",
            profile_json(&entry_json("").replace("8192", "4194304"), ""),
            "entries[0]: field `n`: a power of two between 2 and 1048576, got 4194304",
        ),
        (
            "badform.json",
            profile_json(&entry_json("").replace("\"ntt\"", "\"slow\""), ""),
            "unknown variant `slow`",
        ),
        (
            "badn.json",
            profile_json(&entry_json("").replace("8192", "1000"), ""),
            "entries[0]: field `n`: a power of two",
        ),
        (
            "dup.json",
            profile_json(&format!("{},{}", entry_json(""), entry_json("")), ""),
            "entries[1] repeats (n = 8192, primes = 3) of entries[0]",
        ),
        (
            "file-field.json",
            profile_json(&entry_json(""), r#","file":"x""#),
            "unknown field `file`",
        ),
    ];
    for (name, text, want) in cases {
        let path = write(&dir, name, &text);
        let msg = load_profile(&path).unwrap_err().to_string();
        has(&msg, &[&path, want]);
    }
    let msg = load_profile(dir.path().join("absent.json"))
        .unwrap_err()
        .to_string();
    has(&msg, &["absent.json", "cannot read cost profile"]);
    // A loaded profile names its own file in lookup errors.
    let path = write(&dir, "mine.json", &profile_json(&entry_json(""), ""));
    let p = load_profile(&path).unwrap();
    has(
        &p.entry(8192, 2).unwrap_err().to_string(),
        &[&path, "(8192, 3)"],
    );
    assert_eq!(
        parse_profile(&profile_json(&entry_json(""), ""), "x")
            .unwrap()
            .file,
        "x"
    );
}

fn arb_counts() -> impl Strategy<Value = OpCounts> {
    (
        prop::array::uniform8(0u64..1_000_000),
        prop::array::uniform4(0u64..1_000_000_000),
    )
        .prop_map(|(a, b)| OpCounts {
            internal_rot: a[0],
            external_rot: a[1],
            key_switch: a[2],
            scmult: a[3],
            add: a[4],
            ct_up: a[5],
            ct_down: a[6],
            bytes_up: b[0],
            bytes_down: b[1],
            mod_switch: a[7],
            enc: b[2] % 100_000,
            dec: b[3] % 100_000,
        })
}

proptest! {
    /// The link only moves comm (and so latency): compute is invariant, comm falls as bandwidth
    /// rises and grows with RTT.
    #[test]
    fn link_changes_only_comm(
        c in arb_counts(),
        n in prop::sample::select(vec![None, Some(4096u64), Some(8192), Some(32768)]),
        extra in 0u64..1_000_000_000,
        rounds in 0u64..50,
        bw1 in 0.1f64..1e5,
        bw2 in 0.1f64..1e5,
        rtt1 in 0.0f64..500.0,
        rtt2 in 0.0f64..500.0,
    ) {
        let p = priors();
        let mk = |bw: f64, rtt: f64| Link {
            name: "x".into(),
            bandwidth_mbit_s: bw,
            rtt_ms: rtt,
            source: "p".into(),
        };
        let a = price_layer(&c, n, 3, extra, rounds, &p, &mk(bw1, rtt1)).unwrap();
        let b = price_layer(&c, n, 3, extra, rounds, &p, &mk(bw2, rtt1)).unwrap();
        let r = price_layer(&c, n, 3, extra, rounds, &p, &mk(bw1, rtt2)).unwrap();
        prop_assert_eq!(a.compute_ms, b.compute_ms);
        prop_assert_eq!(a.compute_ms, r.compute_ms);
        if n.is_none() {
            prop_assert_eq!(a.compute_ms, 0.0);
        }
        // Monotone in bandwidth.
        if bw1 < bw2 {
            prop_assert!(a.comm_ms >= b.comm_ms);
        } else if bw1 > bw2 {
            prop_assert!(a.comm_ms <= b.comm_ms);
        }
        // Monotone in RTT.
        if rtt1 < rtt2 {
            prop_assert!(a.comm_ms <= r.comm_ms);
        }
        for q in [a, b, r] {
            prop_assert!(q.comm_ms >= 0.0);
            prop_assert_eq!(q.latency_ms, q.compute_ms + q.comm_ms);
        }
    }
}
