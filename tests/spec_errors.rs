use stria::net::{build, parse_spec};

fn err(text: &str) -> String {
    match parse_spec(text, "net.json").and_then(|s| build(&s, "net.json")) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn minimal_conv_parses() {
    let s = parse_spec(
        r#"{"name": "one-conv", "input": {"channels": 64, "height": 56, "width": 56},
            "layers": [{"type": "conv", "out_channels": 256, "kernel": 1, "stride": 1, "padding": 0}]}"#,
        "x.json",
    )
    .unwrap();
    let n = build(&s, "x.json").unwrap();
    assert_eq!(n.layers.len(), 1);
    assert_eq!(n.layers[0].output, stria::net::Shape::new(256, 56, 56));
}

#[test]
fn unknown_field_names_layer_path() {
    let e = err(
        r#"{"name": "n", "input": {"channels": 3, "height": 8, "width": 8},
        "stages": [{"blocks": [{"type": "block", "layers": [{"type": "relu"}]}]},
                   {"blocks": [{"type": "block", "layers": [{"type": "relu"}]},
                               {"type": "block", "layers": [{"type": "conv", "name": "conv2", "out_channels": 4, "kernal": 3}]}]}]}"#,
    );
    assert!(e.contains("net.json"), "{e}");
    assert!(e.contains("stages[1].blocks[1].conv2"), "{e}");
    assert!(e.contains("kernal"), "{e}");
}
