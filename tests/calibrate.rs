//! `stria calibrate`: a tiny calibration yields a valid, plausible cost profile; the median helper;
//! and (ignored by default) the real calibration that writes `configs/profiles/measured.json`.
#![cfg(feature = "he")]

use stria::backend::calibrate::{
    CalibrateOptions, calibrate, civil_from_days, median, profile_json, write_profile,
};
use stria::cost::price::{ScMultForm, parse_profile};

fn tiny() -> CalibrateOptions {
    CalibrateOptions {
        name: "tiny".into(),
        // A repeated degree is measured once.
        ring_degrees: vec![1024, 1024],
        derive_ring_degrees: vec![2048, 1024],
        passes: 2,
        repetitions: 5,
        warmup: 1,
        insecure: true,
        gazelle_ring_degree: Some(1024),
        gazelle_moduli_bits: vec![54],
        cheetah_ring_degree: Some(2048),
        ..CalibrateOptions::default()
    }
}

#[test]
fn median_is_the_middle_value() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[f64::NAN, 1.0]), None);
    assert_eq!(median(&[4.0]), Some(4.0));
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[5.0, 1.0, 4.0, 2.0]), Some(3.0));
    // Outliers do not move it.
    assert_eq!(median(&[10.0, 1e9, 11.0, 9.0, 0.0]), Some(10.0));
    assert_eq!(median(&[7.0, 7.0, 7.0, 1e6, 7.0, 7.0]), Some(7.0));
    // Order does not matter.
    let v = [8.0, 3.0, 6.0, 1.0, 9.0, 2.0, 7.0];
    let mut r = v;
    r.reverse();
    assert_eq!(median(&v), Some(6.0));
    assert_eq!(median(&r), Some(6.0));
}

#[test]
fn dates_from_day_counts() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(59), (1970, 3, 1));
    assert_eq!(civil_from_days(10_957), (2000, 1, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(20_517), (2026, 3, 5));
    assert_eq!(civil_from_days(20_782), (2026, 11, 25));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
}

#[test]
fn tiny_calibration_gives_a_valid_plausible_profile() {
    let opts = tiny();
    let mut lines = Vec::new();
    let p = calibrate(&opts, &mut |l: &str| {
        eprintln!("{l}");
        lines.push(l.to_string())
    })
    .unwrap();
    assert!(!lines.is_empty());

    // Round trip through the loader the pricer uses.
    let text = profile_json(&p);
    let back = parse_profile(&text, "tiny.json").unwrap();
    assert_eq!(back.entries, p.entries);
    assert_eq!(back.name, "tiny");
    assert_eq!(back.threads, 1);
    assert!(back.machine.contains("cores"), "{}", back.machine);
    assert!(back.library.contains("fhe 0.1.1"), "{}", back.library);
    assert!(
        back.note.contains("MEDIAN of the 10 timed calls"),
        "{}",
        back.note
    );
    let d = back.date.as_bytes();
    assert!(
        d.len() == 10 && d[4] == b'-' && d[7] == b'-' && back.date.starts_with("20"),
        "{}",
        back.date
    );

    let keys: Vec<(u64, u32)> = p.entries.iter().map(|e| (e.n, e.primes)).collect();
    // The measured sets, the lower levels of the multi-prime ones (their first k primes: 1024 at 1
    // and 2 primes, 2048 at 1 prime), and the derived 2048 at 3 primes.
    assert_eq!(
        keys,
        vec![
            (1024, 1),
            (2048, 1),
            (1024, 2),
            (2048, 2),
            (1024, 3),
            (2048, 3)
        ]
    );
    for e in &p.entries {
        assert_eq!(e.scmult_form, ScMultForm::Ntt);
        let what = format!("(n = {}, primes = {})", e.n, e.primes);
        if (e.n, e.primes) == (2048, 3) {
            assert!(e.is_derived(), "{what}: {}", e.source);
            let base = p.entries.iter().find(|b| (b.n, b.primes) == (1024, 3));
            assert!(e.source.contains("n = 1024"), "{}", e.source);
            assert!(e.add_us > base.unwrap().add_us);
            continue;
        }
        assert!(
            e.source.starts_with("measured by stria calibrate"),
            "{what}: {}",
            e.source
        );
        assert!(!e.is_derived());
        for (f, v) in [
            ("key switch", e.key_switch_us),
            ("scmult", e.scmult_us),
            ("add", e.add_us),
            ("enc", e.enc_us),
            ("dec", e.dec_us),
            ("ntt", e.ntt_us.unwrap()),
        ] {
            assert!(v > 0.0 && v.is_finite(), "{what}: {f} = {v}");
        }
        assert!(
            e.key_switch_us > e.scmult_us && e.scmult_us > e.add_us,
            "{what}: key switch {} us, scmult {} us, add {} us",
            e.key_switch_us,
            e.scmult_us,
            e.add_us
        );
        match e.primes {
            1 => assert_eq!(e.mod_switch_us, None, "{what}"),
            _ => assert!(e.mod_switch_us.unwrap() > 0.0, "{what}"),
        }
    }
    // The pricer's lookups work for every protocol's prime count.
    for (n, primes) in [(1024, 1), (2048, 2), (1024, 3), (4096, 3)] {
        back.entry(n, primes).unwrap();
    }

    // Atomic write, then load.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    write_profile(&p, &path).unwrap();
    let loaded = stria::cost::price::load_profile(&path).unwrap();
    assert_eq!(loaded.entries, p.entries);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn refuses_insecure_sets_and_zero_repetitions() {
    let mut opts = tiny();
    opts.insecure = false;
    let e = calibrate(&opts, &mut |_| {}).unwrap_err();
    assert!(e.0.contains("128-bit") && e.0.contains("--insecure"), "{e}");
    for (passes, reps) in [(1, 0), (0, 1)] {
        let mut opts = tiny();
        (opts.passes, opts.repetitions) = (passes, reps);
        let e = calibrate(&opts, &mut |_| {}).unwrap_err();
        assert!(e.0.contains("at least 1"), "{e}");
    }
}

/// The real default calibration; writes `configs/profiles/measured.json` (atomically). Run with
/// `cargo test --release --test calibrate -- --ignored --nocapture`.
#[test]
#[ignore]
fn write_measured_profile() {
    let opts = CalibrateOptions::default();
    let p = calibrate(&opts, &mut |l: &str| eprintln!("{l}")).unwrap();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/profiles/measured.json");
    write_profile(&p, &path).unwrap();
    let loaded = stria::cost::price::load_profile(&path).unwrap();
    assert_eq!(loaded.entries, p.entries);
    eprintln!("wrote {}", path.display());
}
