//! Evaluation = counts + non-linear costs + prices: pricing arithmetic by hand, link invariance,
//! the `--by kind` view, and the `compare` command.

use assert_cmd::Command;
use proptest::prelude::*;
use stria::cost::price::Link;
use stria::eval::{Setting, Totals, evaluate};
use stria::net::{Network, build, parse_spec};
use stria::packing::Protocol;
use stria::report::{CostReport, View};

fn net(layers: &str, c: u32, h: u32, w: u32) -> Network {
    let text = format!(
        r#"{{"name": "t", "input": {{"channels": {c}, "height": {h}, "width": {w}}}, "layers": [{layers}]}}"#
    );
    build(&parse_spec(&text, "t.json").unwrap(), "t.json").unwrap()
}

fn lan() -> Link {
    Link::preset("lan").unwrap()
}

#[test]
fn pricing_arithmetic_of_one_conv() {
    // Example A of `tests/simd_examples.rs` under CrypTFlow2 (8x8, 256 -> 256, 3x3 pad 1): key
    // switches 68 + 476 = 544 under SEAL 3.3.2's rule (EzPC's pin): the external rotations of each
    // of the 4 output ciphertexts cost 2*59 + 1 (two pair members over steps -j*S, j = 1..31 in
    // rows of hc = 32, each min(w(j), w(32 - j)); j = 7 and 25 cost 3 where SEAL 3.7's NAF needs 2,
    // which gave 2*57 + 1 and 460 in all), ScMult 9216, Add 9216 + 256 + 8 + 4 = 9484, ModSwitch
    // 256 + 8 + 1 = 265, Enc 8, Dec 4.
    let mut n = net(
        r#"{"type": "conv", "out_channels": 256, "kernel": 3, "padding": 1}"#,
        256,
        8,
        8,
    );
    // The input holds unreduced products, so the conv truncates it first (unknown MSB), priced
    // here with the paper's bound for SCI_HE's field division.
    n.input_untruncated = true;
    let mut s = Setting::new(Protocol::Cryptflow2, lan());
    s.nonlinear.cryptflow2_nonlinear = stria::packing::nonlinear::Cryptflow2Nonlinear::PaperBounds;
    s.profile = stria::cost::price::CostProfile::published_priors();
    let e = evaluate(&n, &s).unwrap();
    let c = e[0].cost.counts;
    assert_eq!(
        (c.key_switch, c.scmult, c.add, c.mod_switch, c.enc, c.dec),
        (544, 9216, 9484, 265, 8, 4)
    );
    // Published priors at (8192, 3 primes): key switch 3150 us, ScMult 1950, Add 76.5, ModSwitch
    // 235, Enc 3450, Dec 950:
    // 544*3150 + 9216*1950 + 9484*76.5 + 265*235 + 8*3450 + 4*950
    // = 1,713,600 + 17,971,200 + 725,526 + 62,275 + 27,600 + 3,800 = 20,504,001 us.
    let compute_ms = 20_504.001;
    assert!((e[0].price.compute_ms - compute_ms).abs() < 1e-6);
    // Truncation of the 256*8*8 = 16,384 inputs, SCI_HE field protocol (eta = 37, f = 12):
    // 15,142 bits each = 248,086,528 bits = 31,010,816 bytes, 16 rounds.
    assert_eq!((e[0].nl.trunc, e[0].nonlinear_bytes), (16_384, 31_010_816));
    assert_eq!(e[0].rounds, 1 + 16);
    // LAN: 3000 Mbit/s, 0.3 ms. HE bytes 1,572,864 + 524,288 = 2,097,152 -> 5.592405333 ms, plus
    // one round trip; non-linear 31,010,816 bytes -> 82.695509333 ms plus 16 round trips.
    let he_ms = 2_097_152.0 * 8.0 / 3e6;
    let nl_ms = 31_010_816.0 * 8.0 / 3e6;
    let comm_ms = he_ms + nl_ms + 17.0 * 0.3;
    assert!((e[0].price.comm_ms - comm_ms).abs() < 1e-9);
    assert!((e[0].price.latency_ms - (compute_ms + comm_ms)).abs() < 1e-6);
    assert!((e[0].linear_ms - (compute_ms + he_ms + 0.3)).abs() < 1e-6);
    assert!((e[0].nonlinear_ms - (nl_ms + 16.0 * 0.3)).abs() < 1e-6);
}

fn protocols() -> impl Strategy<Value = Protocol> {
    prop::sample::select(Protocol::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Changing the link changes neither the counts nor the compute time; communication time
    /// falls as bandwidth rises and grows with the round-trip time.
    #[test]
    fn link_never_changes_counts(
        ci in 1u32..40, co in 1u32..40, hw in 4u32..20, k in 1u32..4, s in 1u32..3,
        protocol in protocols(),
        bw in 1.0f64..10_000.0, rtt in 0.0f64..100.0,
    ) {
        let layers = format!(
            r#"{{"type": "conv", "out_channels": {co}, "kernel": {k}, "stride": {s}, "padding": 1}},
               {{"type": "batchnorm"}}, {{"type": "relu"}}, {{"type": "global_avgpool"}},
               {{"type": "fc", "out_features": 10}}"#
        );
        let n = net(&layers, ci, hw, hw);
        let a = evaluate(&n, &Setting::new(protocol, lan())).unwrap();
        let slow = Link { name: "x".into(), bandwidth_mbit_s: bw, rtt_ms: rtt, source: String::new() };
        let b = evaluate(&n, &Setting::new(protocol, slow.clone())).unwrap();
        let faster = Link { bandwidth_mbit_s: 2.0 * bw, ..slow };
        let c = evaluate(&n, &Setting::new(protocol, faster)).unwrap();
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            prop_assert_eq!(x.cost, y.cost);
            prop_assert_eq!(x.nl, y.nl);
            prop_assert_eq!(x.rounds, y.rounds);
            prop_assert!((x.price.compute_ms - y.price.compute_ms).abs() < 1e-9);
            prop_assert!(z.price.comm_ms <= y.price.comm_ms + 1e-12);
        }
    }
}

#[test]
fn kind_view_sums_to_the_layer_view() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/models/mobilenetv2-cifar10.json"
    );
    let n = stria::net::load_network(std::path::Path::new(path)).unwrap();
    let s = Setting::new(Protocol::Cheetah, lan());
    let e = evaluate(&n, &s).unwrap();
    let by_layer = CostReport::new(&n, &s, &e, View::Layer);
    let by_kind = CostReport::new(&n, &s, &e, View::Kind);
    assert_eq!(by_layer.total, by_kind.total);
    let dw = by_kind
        .layers
        .iter()
        .find(|r| r.kind == "depthwise3x3")
        .unwrap();
    assert_eq!(dw.layers, 17);
    let sum: u64 = by_kind.layers.iter().map(|r| r.counts.scmult).sum();
    assert_eq!(sum, Totals::of(&e).counts.scmult);
    let layers: u64 = by_kind.layers.iter().map(|r| r.layers).sum();
    assert_eq!(layers as usize, n.layers.len());
    // Linear + non-linear split adds up to the total latency.
    let sp = by_kind.split;
    assert!((sp.linear_ms + sp.nonlinear_ms - by_kind.total.latency_ms).abs() < 1e-6);
}

fn stria() -> Command {
    Command::cargo_bin("stria").unwrap()
}

fn model(name: &str) -> String {
    format!("{}/configs/models/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn compare_rows_and_speedups() {
    let out = stria()
        .args([
            "compare",
            &model("resnet18-cifar10"),
            &model("mobilenetv2-cifar10"),
        ])
        .args([
            "--protocol",
            "cryptflow2,cheetah",
            "--link",
            "lan",
            "--link",
            "wan",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    for col in [
        "network",
        "protocol",
        "link",
        "bytes_up",
        "nonlinear_bytes",
        "latency_s",
        "speedup",
    ] {
        assert!(header.contains(&col.to_string()), "{header:?}");
    }
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    // 2 networks x 2 protocols x 2 links, network-major order.
    assert_eq!(rows.len(), 8);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let order: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[col("network")].to_string(),
                r[col("protocol")].to_string(),
                r[col("link")].to_string(),
            )
        })
        .collect();
    assert_eq!(
        order[0],
        ("resnet18-cifar10".into(), "cryptflow2".into(), "lan".into())
    );
    assert_eq!(
        order[3],
        ("resnet18-cifar10".into(), "cheetah".into(), "wan".into())
    );
    assert_eq!(order[4].0, "mobilenetv2-cifar10");
    let lat: Vec<f64> = rows
        .iter()
        .map(|r| r[col("latency_s")].parse().unwrap())
        .collect();
    let sp: Vec<f64> = rows
        .iter()
        .map(|r| r[col("speedup")].parse().unwrap())
        .collect();
    assert!((sp[0] - 1.0).abs() < 1e-12);
    for (l, s) in lat.iter().zip(&sp) {
        assert!((s - lat[0] / l).abs() < 1e-9);
    }
    // The same network and protocol on WAN is slower than on LAN; counts do not move.
    assert!(lat[1] > lat[0]);
    assert_eq!(rows[0][col("scmult")], rows[1][col("scmult")]);
    // Table and JSON forms.
    let table = stria()
        .args([
            "compare",
            &model("resnet18-cifar10"),
            "--protocol",
            "gala",
            "--link",
            "wan",
        ])
        .output()
        .unwrap();
    assert!(table.status.success());
    let t = String::from_utf8(table.stdout).unwrap();
    assert!(t.contains("Speedup") && t.contains("1.00x"), "{t}");
    let json = stria()
        .args(["compare", &model("resnet18-cifar10"), "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn compare_errors_name_the_problem() {
    let out = stria()
        .args(["compare", &model("resnet18-cifar10"), "--link", "moon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("moon") && !err.contains("panicked"), "{err}");
    let out = stria().args(["compare"]).output().unwrap();
    assert!(!out.status.success());
}

/// The level split used for pricing accounts for every counted operation, on every layer of every
/// shipped network under every protocol; SCI_HE runs external rotations one level down.
#[test]
fn level_mix_accounts_for_every_operation() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/models");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let n = stria::net::load_network(&path).unwrap();
        for protocol in Protocol::ALL {
            let cfg = stria::packing::CountConfig::new(protocol);
            for l in &n.layers {
                let cost = stria::packing::count_layer(l, &cfg).unwrap();
                let mix = stria::packing::level_mix(l, &cfg, &cost).unwrap();
                let c = cost.counts;
                assert_eq!(
                    mix.totals(),
                    (c.key_switch, c.scmult, c.add, c.mod_switch, c.enc, c.dec),
                    "{} {protocol} {}",
                    path.display(),
                    l.path
                );
                if protocol == Protocol::Cryptflow2
                    && c.external_rot > 0
                    && matches!(l.op, stria::net::Op::Conv(_))
                {
                    assert!(mix.key_switch[1] >= c.external_rot, "{}", l.path);
                    assert_eq!(mix.dec[2], c.dec);
                }
            }
        }
    }
}

/// `accum: auto` takes the faster of he-rotate and share-side on the setting's link, per layer.
#[test]
fn auto_accumulation_picks_the_faster_plan() {
    let layer = |accum: &str| {
        format!(r#"{{"type": "conv", "out_channels": 64, "kernel": 1, "accum": "{accum}"}}"#)
    };
    let links = [
        Link {
            name: "fast".into(),
            bandwidth_mbit_s: 1e9,
            rtt_ms: 0.0,
            source: String::new(),
        },
        Link {
            name: "slow".into(),
            bandwidth_mbit_s: 1.0,
            rtt_ms: 0.0,
            source: String::new(),
        },
    ];
    for link in links {
        let s = Setting::new(Protocol::Cryptflow2, link.clone());
        let lat = |accum: &str| evaluate(&net(&layer(accum), 128, 14, 14), &s).unwrap()[0];
        let (auto, he, ss) = (lat("auto"), lat("he-rotate"), lat("share-side"));
        // 14x14: S = 256, cn = 32; he-rotate rotates 2*31 partial sums and returns 2 ciphertexts,
        // share-side returns the 64 partial sums unrotated.
        assert_eq!(
            (he.cost.counts.external_rot, he.cost.counts.ct_down),
            (62, 2)
        );
        assert_eq!(
            (ss.cost.counts.external_rot, ss.cost.counts.ct_down),
            (0, 64)
        );
        let best = if ss.price.latency_ms < he.price.latency_ms {
            ss
        } else {
            he
        };
        assert_eq!(auto.cost, best.cost, "{}", link.name);
        assert!(auto.price.latency_ms <= he.price.latency_ms.min(ss.price.latency_ms) + 1e-9);
    }
    // On a 1 Mbit/s link the 62 extra returned ciphertexts dominate: he-rotate wins.
    let slow = Link {
        name: "slow".into(),
        bandwidth_mbit_s: 1.0,
        rtt_ms: 0.0,
        source: String::new(),
    };
    let e = evaluate(
        &net(&layer("auto"), 128, 14, 14),
        &Setting::new(Protocol::Cryptflow2, slow),
    )
    .unwrap();
    assert_eq!(e[0].cost.counts.external_rot, 62);
}
