//! Pareto fronts: the candidates no other candidate beats on every objective.
//!
//! Objectives are stored as "smaller is better" (maximized metrics negated). `a` dominates `b`
//! when it is no worse on every objective and better on one. Among candidates with equal
//! objective vectors only the one with the smallest sequence number stays, so a front is a pure
//! function of the set of candidates offered, in any order and in any split into parts: this is
//! what makes the result independent of the thread count and of sharding.

/// At most this many objectives.
pub const MAX_OBJECTIVES: usize = 4;

/// An objective vector (smaller is better in every coordinate; unused coordinates are 0).
pub type Objective = [f64; MAX_OBJECTIVES];

/// One point of a front: its objectives, sequence number and payload (the candidate).
#[derive(Debug, Clone, PartialEq)]
pub struct Point<T> {
    pub obj: Objective,
    pub seq: u64,
    pub item: T,
}

/// `a` is no worse than `b` everywhere (`a` weakly dominates `b`).
#[inline(always)]
fn weakly(a: &Objective, b: &Objective, k: usize) -> bool {
    (0..k).all(|i| a[i] <= b[i])
}

/// Ordering used by the sweep: lexicographic on the objectives, then the sequence number.
fn cmp_points<T>(a: &Point<T>, b: &Point<T>, k: usize) -> std::cmp::Ordering {
    for i in 0..k {
        match a.obj[i].total_cmp(&b.obj[i]) {
            std::cmp::Ordering::Equal => {}
            o => return o,
        }
    }
    a.seq.cmp(&b.seq)
}

/// A non-dominated set over `k` objectives.
#[derive(Debug, Clone)]
pub struct Front<T> {
    k: usize,
    points: Vec<Point<T>>,
}

impl<T: Clone> Front<T> {
    pub fn new(k: usize) -> Front<T> {
        assert!(
            (1..=MAX_OBJECTIVES).contains(&k),
            "1 to {MAX_OBJECTIVES} objectives"
        );
        Front {
            k,
            points: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The points, sorted by their first objective (then the others, then seq).
    pub fn points(&self) -> &[Point<T>] {
        &self.points
    }

    /// Would `obj` (with sequence number `seq`) be rejected? True when a point weakly dominates
    /// it (an equal point with a smaller seq counts; an equal point with a larger seq does not).
    #[inline]
    pub fn rejects(&self, obj: &Objective, seq: u64) -> bool {
        let k = self.k;
        if k == 2 {
            // The front sorted by obj[0] has obj[1] strictly decreasing: the last point with
            // obj[0] <= obj.0 has the smallest obj[1] among them.
            let i = self.points.partition_point(|p| p.obj[0] <= obj[0]);
            if i == 0 {
                return false;
            }
            let p = &self.points[i - 1];
            if p.obj[1] < obj[1] {
                return true;
            }
            if p.obj[1] > obj[1] {
                return false;
            }
            // Equal in obj[1]: dominated unless it is the same vector with a larger seq.
            return !(p.obj[0] == obj[0] && p.seq > seq);
        }
        self.points
            .iter()
            .any(|p| weakly(&p.obj, obj, k) && (p.obj[..k] != obj[..k] || p.seq < seq))
    }

    /// Offers a point; keeps the front non-dominated. Returns whether it was added.
    pub fn offer(&mut self, obj: Objective, seq: u64, item: impl FnOnce() -> T) -> bool {
        if self.rejects(&obj, seq) {
            return false;
        }
        let k = self.k;
        self.points.retain(|p| !weakly(&obj, &p.obj, k));
        let p = Point {
            obj,
            seq,
            item: item(),
        };
        let at = self
            .points
            .partition_point(|q| cmp_points(q, &p, k) == std::cmp::Ordering::Less);
        self.points.insert(at, p);
        true
    }

    /// Joins another front into this one.
    pub fn merge(&mut self, other: Front<T>) {
        let mut all = std::mem::take(&mut self.points);
        all.extend(other.points);
        let k = self.k;
        all.sort_by(|a, b| cmp_points(a, b, k));
        all.dedup_by(|b, a| a.seq == b.seq);
        for p in all {
            if !self.rejects(&p.obj, p.seq) {
                let k = self.k;
                self.points.retain(|q| !weakly(&p.obj, &q.obj, k));
                self.points.push(p);
            }
        }
    }
}
