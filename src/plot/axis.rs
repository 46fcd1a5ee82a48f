//! Numeric axes (linear or log10, drawn on a linear f64 coordinate with chosen key points) and
//! label formatting.

use std::ops::Range;

/// A numeric axis. Values are mapped to plot coordinates by [`Axis::t`] (identity, or `log10`
/// for a log axis); tick positions and labels are chosen here, so every chart uses one
/// coordinate type whatever the scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub log: bool,
    /// Data range (both ends > 0 on a log axis).
    pub lo: f64,
    pub hi: f64,
}

impl Axis {
    /// Linear axis from 0 to a little above the largest value (1 when all are 0).
    pub fn from_zero(values: impl IntoIterator<Item = f64>) -> Axis {
        let max = values
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        Axis {
            log: false,
            lo: 0.0,
            hi: if max > 0.0 { max * 1.08 } else { 1.0 },
        }
    }

    /// Log axis padded around the positive values (non-positive values are left out).
    pub fn log_of(values: impl IntoIterator<Item = f64>) -> Axis {
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for v in values.into_iter().filter(|v| v.is_finite() && *v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            return Axis {
                log: true,
                lo: 1.0,
                hi: 10.0,
            };
        }
        // Pad by a fraction of the decades spanned (at least a quarter of a decade).
        let pad = ((hi / lo).log10() * 0.06).max(0.12);
        Axis {
            log: true,
            lo: lo / 10f64.powf(pad),
            hi: hi * 10f64.powf(pad),
        }
    }

    /// Log when the positive values span more than `ratio`, linear from zero otherwise.
    pub fn auto(values: &[f64], ratio: f64) -> Axis {
        let pos: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = pos.iter().copied().fold(0.0, f64::max);
        if !pos.is_empty() && hi / lo > ratio {
            Axis::log_of(pos)
        } else {
            Axis::from_zero(values.iter().copied())
        }
    }

    /// Plot coordinate of a data value.
    pub fn t(&self, v: f64) -> f64 {
        if self.log {
            v.max(f64::MIN_POSITIVE).log10()
        } else {
            v
        }
    }

    /// Data value of a plot coordinate.
    pub fn inv(&self, t: f64) -> f64 {
        if self.log { 10f64.powf(t) } else { t }
    }

    /// The coordinate range.
    pub fn range(&self) -> Range<f64> {
        self.t(self.lo)..self.t(self.hi)
    }

    /// Tick positions (plot coordinates): 1-2-5 steps on a linear axis; decades on a log axis
    /// (with 2 and 5 when few decades are shown, every integer multiple within one decade).
    pub fn ticks(&self) -> Vec<f64> {
        if !self.log {
            let step = nice_step((self.hi - self.lo) / 8.0);
            let first = (self.lo / step).ceil() as i64;
            let last = (self.hi / step).floor() as i64;
            return (first..=last).map(|k| k as f64 * step).collect();
        }
        let (a, b) = (self.lo.log10(), self.hi.log10());
        let decades = b - a;
        let mults: &[f64] = if decades > 3.5 {
            &[1.0]
        } else if decades > 1.2 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
        };
        let mut out = Vec::new();
        for e in (a.floor() as i32)..=(b.ceil() as i32) {
            // Very wide axes: every other decade.
            if decades > 9.0 && e % 2 != 0 {
                continue;
            }
            for m in mults {
                let v = m * 10f64.powi(e);
                if v >= self.lo && v <= self.hi {
                    out.push(v.log10());
                }
            }
        }
        out
    }

    /// Label of a tick (plot coordinate).
    pub fn label(&self, t: f64) -> String {
        fmt_num(self.inv(t))
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let k = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    k * p
}

/// Short number: thousands as k, millions as M, billions as G; three significant digits at
/// most, trailing zeros dropped.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", sig3(x))
}

/// Three significant digits (no exponent), trailing zeros dropped.
pub(crate) fn sig3(x: f64) -> String {
    let a = x.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // 0.0123 -> 4 decimals
        (2 - a.log10().floor() as i32).clamp(0, 8) as usize
    };
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Abbreviated layer path: each `name[k]` segment becomes its first letter and `k`
/// (`stages[1].blocks[0].conv1` -> `s1.b0.conv1`).
pub fn short_name(path: &str) -> String {
    path.split('.')
        .map(|seg| match (seg.find('['), seg.strip_suffix(']')) {
            (Some(i), Some(inner)) if i > 0 => {
                let first = seg[..i].chars().next().unwrap_or('x');
                format!("{first}{}", &inner[i + 1..])
            }
            _ => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_name("stages[1].blocks[0].conv1"), "s1.b0.conv1");
        assert_eq!(short_name("layer1.0.conv1"), "layer1.0.conv1");
        assert_eq!(short_name("fc"), "fc");
    }

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1500.0), "1.5k");
        assert_eq!(fmt_num(999.0), "999");
        assert_eq!(fmt_num(25_000.0), "25k");
        assert_eq!(fmt_num(2_500_000.0), "2.5M");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(0.0125), "0.0125");
    }

    #[test]
    fn ticks_cover_the_range() {
        let a = Axis::from_zero([0.0, 93.0]);
        let t = a.ticks();
        assert_eq!(t.first(), Some(&0.0));
        assert!(t.len() >= 4 && t.len() <= 12, "{t:?}");
        let l = Axis::log_of([3.0, 40_000.0]);
        let t = l.ticks();
        assert!(t.contains(&1.0) && t.contains(&4.0), "{t:?}");
        let narrow = Axis::log_of([20.0, 60.0]);
        assert!(narrow.ticks().len() >= 3);
    }
}
