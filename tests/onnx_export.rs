//! `stria export --to onnx`: every shipped network goes to ONNX and back through `stria import`
//! into the same layers (paths, kinds, shapes, wiring, sparse taps, group layouts, accumulation
//! strategies, unfolded batch norms) and the same cost.

mod support;
use support::{root, stria};

use std::path::PathBuf;
use stria::cost::price::Link;
use stria::eval::{Setting, evaluate};
use stria::net::{build, load_network};
use stria::onnx::export::to_onnx;
use stria::onnx::import;
use stria::packing::Protocol;

fn shipped() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("configs/models"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    assert!(v.len() >= 10);
    v
}

#[test]
fn every_shipped_network_round_trips_through_onnx() {
    for path in shipped() {
        let net = load_network(&path).unwrap();
        let bytes = to_onnx(&net);
        let spec = import(&bytes, "rt.onnx", &net.name)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let back = build(&spec, "rt.onnx").unwrap();
        assert_eq!(back, net, "{}", path.display());
        for protocol in [Protocol::Cryptflow2, Protocol::Gala, Protocol::Cheetah] {
            let s = Setting::new(protocol, Link::preset("lan").unwrap());
            if let Ok(a) = evaluate(&net, &s) {
                assert_eq!(
                    evaluate(&back, &s).unwrap(),
                    a,
                    "{} {protocol}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn sparse_and_strided_layers_survive_the_round_trip() {
    // strianet-cifar10: striped accumulation, strided groups, cross kernels, shuffles.
    let net = load_network(&root().join("configs/models/strianet-cifar10.json")).unwrap();
    let kinds: Vec<String> = net.layers.iter().map(|l| l.kind()).collect();
    assert!(kinds.iter().any(|k| k.ends_with("_sparse")));
    assert!(kinds.iter().any(|k| k == "shuffle"));
    let spec = import(&to_onnx(&net), "rt.onnx", &net.name).unwrap();
    assert_eq!(build(&spec, "rt.onnx").unwrap(), net);
}

#[test]
fn export_then_cost_of_the_onnx_file_prints_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("resnet18-cifar10.onnx");
    let o = stria(&[
        "export",
        "configs/models/resnet18-cifar10.json",
        "--to",
        "onnx",
        "--output",
        onnx.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for protocol in ["cryptflow2", "cheetah"] {
        let a = stria(&[
            "cost",
            "configs/models/resnet18-cifar10.json",
            "--protocol",
            protocol,
        ]);
        let b = stria(&["cost", onnx.to_str().unwrap(), "--protocol", protocol]);
        assert!(a.status.success() && b.status.success());
        assert_eq!(a.stdout, b.stdout, "{protocol}");
    }
    // Standard output works when it is not a terminal (here a pipe).
    let o = stria(&[
        "export",
        "configs/models/validate-small.json",
        "--to",
        "onnx",
    ]);
    assert!(o.status.success());
    let net = load_network(&root().join("configs/models/validate-small.json")).unwrap();
    assert_eq!(o.stdout, to_onnx(&net));
}

#[test]
fn efficientnet_b0_round_trips_through_onnx_and_its_json_spec() {
    // Sigmoids, SiLU products and squeeze-excite's per-channel products: the imported spec,
    // written as JSON by `stria import` and read back, and exported to ONNX and imported again,
    // is the same spec and the same network.
    let fixture = root().join("tests/fixtures/onnx/efficientnet_b0.onnx");
    let spec = stria::onnx::load_onnx(&fixture, None).unwrap();
    let net = build(&spec, "e.onnx").unwrap();
    let again = import(&to_onnx(&net), "rt.onnx", &net.name).unwrap();
    assert!(again == spec);
    assert!(build(&again, "rt.onnx").unwrap() == net);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("e.json");
    let o = stria(&[
        "import",
        fixture.to_str().unwrap(),
        "--output",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let parsed =
        stria::net::parse_spec(&std::fs::read_to_string(&json).unwrap(), "e.json").unwrap();
    assert!(parsed == spec);
    let onnx = dir.path().join("e.onnx");
    let o = stria(&[
        "export",
        json.to_str().unwrap(),
        "--to",
        "onnx",
        "--output",
        onnx.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(load_network(&onnx).unwrap().layers == net.layers);
}
