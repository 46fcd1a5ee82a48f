//! Reading a node's attributes and a constant tensor's values, and the padding arithmetic of
//! windows (`pads`, `auto_pad`, `ceil_mode`), for the importer ([`super`]).

use super::super::proto::{AttributeProto, NodeProto, TensorProto, data_type};
use crate::net::Shape;
use crate::net::spec::Padding;

pub(super) fn nm(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// A layer name from an ONNX node name: `/layer1/layer1.0/conv1/Conv` gives `layer1.0.conv1`
/// (scopes that the next one repeats are dropped, and the trailing op type).
pub(super) fn base_name(node: &NodeProto, op: &str, index: usize) -> String {
    let raw = node.name.as_deref().unwrap_or("");
    let parts: Vec<&str> = raw.split('/').filter(|p| !p.is_empty()).collect();
    let mut keep: Vec<&str> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let repeated = parts
            .get(i + 1)
            .is_some_and(|next| next.starts_with(&format!("{p}.")));
        let last_op = i + 1 == parts.len() && parts.len() > 1 && p.starts_with(op);
        if !repeated && !last_op {
            keep.push(p);
        }
    }
    let s = keep.join(".");
    if s.is_empty() || s == "input" {
        format!("{}{index}", op.to_ascii_lowercase())
    } else {
        s
    }
}

pub(super) fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute
        .iter()
        .find(|a| a.name.as_deref() == Some(name))
}

/// A `stria.*` entry of a node's `metadata_props` (written by `stria export --to onnx`).
pub(super) fn meta<'n>(node: &'n NodeProto, key: &str) -> Option<&'n str> {
    node.metadata_props
        .iter()
        .find(|e| e.key.as_deref() == Some(key))
        .and_then(|e| e.value.as_deref())
}

pub(super) fn attr_int(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).and_then(|a| a.i)
}

pub(super) fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

pub(super) fn attr_str(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name)
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).into_owned())
}

/// The numbers a constant holds, or why they cannot be read.
pub(super) fn values(t: &TensorProto) -> Result<Vec<f64>, String> {
    let name = t.name.as_deref().unwrap_or("");
    if t.data_location == Some(1) || !t.external_data.is_empty() {
        let loc = t
            .external_data
            .iter()
            .find(|e| e.key.as_deref() == Some("location"))
            .and_then(|e| e.value.clone())
            .unwrap_or_default();
        return Err(format!(
            "the values of `{name}` are kept in the external data file `{loc}`, which stria does \
             not read (re-export with the small constants inside the graph)"
        ));
    }
    let raw = t.raw_data.as_deref().unwrap_or(&[]);
    let dt = t.data_type.unwrap_or(0);
    let out: Vec<f64> = match dt {
        data_type::FLOAT if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        data_type::FLOAT => t.float_data.iter().map(|&v| v as f64).collect(),
        data_type::DOUBLE if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
        data_type::DOUBLE => t.double_data.clone(),
        data_type::INT64 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64)
            .collect(),
        data_type::INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
        data_type::INT32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        data_type::INT32 => t.int32_data.iter().map(|&v| v as f64).collect(),
        other => {
            return Err(format!(
                "`{name}` has element type {other}; stria reads float, double, int32 and int64 constants"
            ));
        }
    };
    let n: i64 = t.dims.iter().product();
    if out.len() as i64 != n {
        return Err(format!(
            "`{name}` has dims {:?} but holds {} values",
            t.dims,
            out.len()
        ));
    }
    Ok(out)
}

pub(super) fn to_u32(v: i64, what: &str) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("{what} {v} is not a non-negative 32-bit integer"))
}

/// Two spatial values from an ONNX list attribute (default `d` when absent).
pub(super) fn pair_attr(node: &NodeProto, name: &str, d: u32) -> Result<(u32, u32), String> {
    match attr_ints(node, name) {
        None => Ok((d, d)),
        Some(v) if v.len() == 2 => Ok((to_u32(v[0], name)?, to_u32(v[1], name)?)),
        Some(v) => Err(format!(
            "{name} = {v:?}: stria reads 2-D (height, width) windows only"
        )),
    }
}

/// `pads` ([top, left, bottom, right]) or `auto_pad` for a window of effective size `k` and
/// stride `s` on an `x` input.
pub(super) fn window_pads(
    node: &NodeProto,
    x: Shape,
    k: (u32, u32),
    s: (u32, u32),
) -> Result<Padding, String> {
    let auto = attr_str(node, "auto_pad").unwrap_or_else(|| "NOTSET".into());
    match auto.as_str() {
        "NOTSET" => match attr_ints(node, "pads") {
            None => Ok(Padding::default()),
            Some(p) if p.len() == 4 => Ok(Padding {
                top: to_u32(p[0], "pads")?,
                left: to_u32(p[1], "pads")?,
                bottom: to_u32(p[2], "pads")?,
                right: to_u32(p[3], "pads")?,
            }),
            Some(p) => Err(format!(
                "pads = {p:?}: stria reads 2-D windows ([top, left, bottom, right])"
            )),
        },
        "VALID" => Ok(Padding::default()),
        "SAME_UPPER" | "SAME_LOWER" => {
            let total = |len: u32, k: u32, s: u32| {
                let out = len.div_ceil(s);
                ((out - 1) * s + k).saturating_sub(len)
            };
            let (th, tw) = (total(x.h, k.0, s.0), total(x.w, k.1, s.1));
            let upper = auto == "SAME_UPPER";
            let split = |t: u32| {
                if upper {
                    (t / 2, t - t / 2)
                } else {
                    (t - t / 2, t / 2)
                }
            };
            let ((top, bottom), (left, right)) = (split(th), split(tw));
            Ok(Padding {
                top,
                bottom,
                left,
                right,
            })
        }
        other => Err(format!(
            "auto_pad = {other}: expected NOTSET, VALID, SAME_UPPER or SAME_LOWER"
        )),
    }
}

pub(super) fn add_pad(a: Padding, b: Option<Padding>) -> Padding {
    match b {
        None => a,
        Some(b) => Padding {
            top: a.top + b.top,
            bottom: a.bottom + b.bottom,
            left: a.left + b.left,
            right: a.right + b.right,
        },
    }
}
