//! `stria validate` on the shipped validate-small.json under both protocols: exact count
//! agreement, correct decryption, the MAPE line and the CSV.

use assert_cmd::Command;

#[test]
fn validate_small_under_both_protocols() {
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/models/validate-small.json"
    );
    for protocol in ["cryptflow2", "cheetah"] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::cargo_bin("stria")
            .unwrap()
            .args(["validate", config, "--protocol", protocol, "--seed", "3"])
            .args(["--output", dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{protocol}: {stdout}\n{stderr}");
        assert!(stderr.contains("seed 3"), "{stderr}");
        assert!(
            stdout.lines().last().unwrap().starts_with("MAPE: "),
            "{stdout}"
        );
        assert!(
            !stdout.contains("DIFFER") && !stdout.contains("WRONG"),
            "{stdout}"
        );
        let csv = std::fs::read_to_string(dir.path().join("validate.csv")).unwrap();
        let mut rdr = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        // conv3x3, the StriaBlock (striped_pw, cross_dw, striped_proj), conv3x3_s2, depthwise,
        // conv1x1, cross, bn, share_side, fc.
        assert_eq!(rows.len(), 11, "{csv}");
        let h = rdr.headers().unwrap().clone();
        let col = |name: &str| h.iter().position(|x| x == name).unwrap();
        for r in &rows {
            assert_eq!(&r[col("counts_equal")], "true");
            assert_eq!(&r[col("correct")], "true");
            assert_eq!(r[col("predicted_scmult")], r[col("observed_scmult")]);
        }
        // The striped pointwise layers (strided groups, G = cn = 32 under CrypTFlow2) rotate
        // nothing, and Cheetah runs their strided groups too.
        let layers: Vec<&str> = rows.iter().map(|r| &r[col("layer")]).collect();
        for name in ["striped_pw", "cross_dw", "striped_proj"] {
            assert!(layers.contains(&name), "{protocol}: {layers:?}");
        }
        for r in rows
            .iter()
            .filter(|r| r[col("layer")].starts_with("striped_"))
        {
            assert_eq!(&r[col("observed_rot")], "0", "{protocol}: {r:?}");
        }
    }
}

#[test]
fn validate_refuses_counting_only_protocols_and_insecure_rings() {
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/models/validate-small.json"
    );
    let out = Command::cargo_bin("stria")
        .unwrap()
        .args(["validate", config, "--protocol", "gala"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("counting-only"));
    // N = 1024 with three 60-bit primes is below 128-bit security: refused without --insecure.
    let out = Command::cargo_bin("stria")
        .unwrap()
        .args([
            "validate",
            config,
            "--layers",
            "fc",
            "--protocol",
            "cheetah",
            "--ring-degree",
            "1024",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("128-bit") && err.contains("--insecure"),
        "{err}"
    );
}
