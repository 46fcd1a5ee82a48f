//! Constant folding: the shape arithmetic exporters emit to build `Pad` widths, computed when
//! every input of a node is a constant.

use super::super::proto::{NodeProto, TensorProto, data_type};
use super::Importer;
use super::Val;
use super::attrs::*;

impl Importer<'_> {
    /// Computes a node whose inputs are all constants (exporters build `Pad` widths that way:
    /// `ConstantOfShape`, `Concat`, `Reshape`, `Slice`, `Transpose`, `Cast`).
    pub(super) fn fold(&self, node: &NodeProto, op: &str) -> Result<TensorProto, String> {
        let k = |i: usize| -> Result<(Vec<i64>, Vec<f64>), String> {
            let name = node
                .input
                .get(i)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("input {i} is missing"))?;
            match self.vals.get(name.as_str()) {
                Some(Val::Const(t)) => Ok((t.dims.clone(), values(t)?)),
                _ => Err(format!("input {i} is not a constant")),
            }
        };
        let ints = |v: &[f64]| v.iter().map(|&x| x as i64).collect::<Vec<i64>>();
        let (dims, data) = match op {
            "ConstantOfShape" => {
                let (_, shape) = k(0)?;
                let fill = match attr(node, "value").and_then(|a| a.t.as_ref()) {
                    Some(t) => *values(t)?.first().ok_or("an empty `value`")?,
                    None => 0.0,
                };
                let dims = ints(&shape);
                let n: i64 = dims.iter().product();
                (dims, vec![fill; n.max(0) as usize])
            }
            "Concat" => {
                let mut data = Vec::new();
                for i in 0..node.input.len() {
                    let (d, v) = k(i)?;
                    if d.len() != 1 {
                        return Err("stria folds a Concat of 1-D constants only".into());
                    }
                    data.extend(v);
                }
                (vec![data.len() as i64], data)
            }
            "Reshape" => {
                let (d, v) = k(0)?;
                let mut shape = ints(&k(1)?.1);
                for (i, s) in shape.iter_mut().enumerate() {
                    if *s == 0 {
                        *s = *d.get(i).ok_or("a 0 in the shape past the input's rank")?;
                    }
                }
                let known: i64 = shape.iter().filter(|&&s| s != -1).product();
                if let Some(s) = shape.iter_mut().find(|s| **s == -1) {
                    *s = if known == 0 {
                        0
                    } else {
                        v.len() as i64 / known
                    };
                }
                if shape.iter().product::<i64>() != v.len() as i64 {
                    return Err(format!("cannot reshape {} values to {shape:?}", v.len()));
                }
                (shape, v)
            }
            "Slice" => {
                let (d, v) = k(0)?;
                let (starts, ends) = (ints(&k(1)?.1), ints(&k(2)?.1));
                let axes = if node.input.get(3).is_some_and(|n| !n.is_empty()) {
                    ints(&k(3)?.1)
                } else {
                    vec![0]
                };
                let steps = if node.input.get(4).is_some_and(|n| !n.is_empty()) {
                    ints(&k(4)?.1)
                } else {
                    vec![1]
                };
                if d.is_empty()
                    || starts.len() != 1
                    || ends.len() != 1
                    || axes != [0]
                    || steps.len() != 1
                    || steps[0] == 0
                {
                    return Err("stria folds a Slice of constants along axis 0 only".into());
                }
                let (n, step) = (d[0], steps[0]);
                let row: usize = d[1..].iter().product::<i64>() as usize;
                let norm = |x: i64| if x < 0 { x.saturating_add(n) } else { x };
                let (mut i, end) = if step > 0 {
                    (norm(starts[0]).clamp(0, n), norm(ends[0]).clamp(0, n))
                } else {
                    (
                        norm(starts[0]).clamp(-1, n - 1),
                        norm(ends[0]).clamp(-1, n - 1),
                    )
                };
                let mut data = Vec::new();
                let mut rows = 0;
                while (step > 0 && i < end) || (step < 0 && i > end) {
                    data.extend_from_slice(&v[i as usize * row..(i as usize + 1) * row]);
                    rows += 1;
                    i += step;
                }
                let mut dims = d.clone();
                dims[0] = rows;
                (dims, data)
            }
            "Transpose" => {
                let (d, v) = k(0)?;
                let perm = attr_ints(node, "perm").unwrap_or_else(|| vec![1, 0]);
                if d.len() != 2 || perm != [1, 0] {
                    return Err("stria folds the transpose of a 2-D constant only".into());
                }
                let (r, c) = (d[0] as usize, d[1] as usize);
                let data = (0..c)
                    .flat_map(|j| (0..r).map(move |i| (i, j)))
                    .map(|(i, j)| v[i * c + j])
                    .collect();
                (vec![d[1], d[0]], data)
            }
            "Cast" => {
                let (d, v) = k(0)?;
                let to = attr_int(node, "to").unwrap_or(0) as i32;
                let v = match to {
                    data_type::FLOAT | data_type::DOUBLE => v,
                    data_type::INT32 | data_type::INT64 => v.iter().map(|x| x.trunc()).collect(),
                    other => {
                        return Err(format!(
                            "stria folds casts to float and integers, not to type {other}"
                        ));
                    }
                };
                (d, v)
            }
            _ => unreachable!("FOLDED lists the folded ops"),
        };
        Ok(TensorProto {
            dims,
            data_type: Some(data_type::DOUBLE),
            name: node.output.first().cloned(),
            double_data: data,
            ..Default::default()
        })
    }
}
