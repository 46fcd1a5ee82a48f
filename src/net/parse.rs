//! Reading network files: JSON text -> [`NetworkSpec`], with the layer path in every error.
//!
//! serde alone reports a line and column; a user wants `stages[2].blocks[1].conv2: unknown field
//! ...`. So the file is read as a JSON value first and every node is converted on its own, with its
//! path attached to any error.

use super::spec::{NetworkSpec, Node, StageSpec};
use crate::error::SpecError;
use serde_json::Value;
use std::path::Path;

/// Reads and parses a network file.
pub fn load_spec(path: &Path) -> Result<NetworkSpec, SpecError> {
    let file = path.display().to_string();
    let text = crate::io::read_text_capped(path)
        .map_err(|e| SpecError::file(&file, format!("cannot read file: {e}")))?;
    parse_spec(&text, &file)
}

/// Parses network JSON text; `file` names the source in error messages.
pub fn parse_spec(text: &str, file: &str) -> Result<NetworkSpec, SpecError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| SpecError::file(file, format!("not valid JSON: {e}")))?;
    parse_spec_value(value, file)
}

/// [`parse_spec`] on an already parsed JSON value (specs built in memory, e.g. by the search).
pub fn parse_spec_value(value: Value, file: &str) -> Result<NetworkSpec, SpecError> {
    let Value::Object(mut top) = value else {
        return Err(SpecError::file(file, "the top level must be a JSON object"));
    };
    let ctx = Ctx { file };
    let layers = ctx.node_list(top.remove("layers"), "", "layers")?;
    let head = ctx.node_list(top.remove("head"), "", "head")?;
    let stages = match top.remove("stages") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| ctx.stage(v, i))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(SpecError::layer(
                file,
                "stages",
                format!("expected a list of stages, got {}", kind_of(&other)),
            ));
        }
    };
    top.insert("layers".into(), Value::Array(Vec::new()));
    let mut spec: NetworkSpec = from_value(Value::Object(top))
        .map_err(|e| SpecError::file(file, format!("network: {e}")))?;
    spec.layers = layers;
    spec.stages = stages;
    spec.head = head;
    if spec.layers.is_empty() && spec.stages.is_empty() && spec.head.is_empty() {
        return Err(SpecError::file(file, "the network has no layers"));
    }
    Ok(spec)
}

/// `serde_json::from_value` that names the offending field (`field `taps[0]`: ...`).
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path.is_empty() || path == "." || inner.contains(&format!("`{path}`")) {
            inner
        } else {
            format!("field `{path}`: {inner}")
        }
    })
}

/// Converts a node's fields (without `type`) into the variant `ty` names. Going through the
/// variant's own struct (not the tagged enum) keeps the field path in serde's errors.
fn typed_node(ty: &str, v: Value) -> Result<Node, String> {
    Ok(match ty {
        "conv" => Node::Conv(from_value(v)?),
        "depthwise" => Node::Depthwise(from_value(v)?),
        "fc" => Node::Fc(from_value(v)?),
        "batchnorm" => Node::Batchnorm(from_value(v)?),
        "relu" => Node::Relu(from_value(v)?),
        "relu6" => Node::Relu6(from_value(v)?),
        "sigmoid" => Node::Sigmoid(from_value(v)?),
        "maxpool" => Node::Maxpool(from_value(v)?),
        "avgpool" => Node::Avgpool(from_value(v)?),
        "global_avgpool" => Node::GlobalAvgpool(from_value(v)?),
        "add" => Node::Add(from_value(v)?),
        "concat" => Node::Concat(from_value(v)?),
        "mul" => Node::Mul(from_value(v)?),
        "flatten" => Node::Flatten(from_value(v)?),
        "argmax" => Node::Argmax(from_value(v)?),
        "shuffle" => Node::Shuffle(from_value(v)?),
        "block" => Node::Block(from_value(v)?),
        "residual" => Node::Residual(from_value(v)?),
        "basic" => Node::Basic(from_value(v)?),
        "bottleneck" => Node::Bottleneck(from_value(v)?),
        "inverted_residual" => Node::InvertedResidual(from_value(v)?),
        "stria_block" => Node::StriaBlock(from_value(v)?),
        other => {
            return Err(format!(
                "unknown layer type `{other}` (expected one of {LAYER_TYPES})"
            ));
        }
    })
}

struct Ctx<'a> {
    file: &'a str,
}

/// The path of child `i` of list `field` under `parent`: its name when it has one.
pub(crate) fn child_path(parent: &str, field: &str, i: usize, name: Option<&str>) -> String {
    let seg = match name {
        Some(n) => n.to_string(),
        None => format!("{field}[{i}]"),
    };
    if parent.is_empty() {
        seg
    } else {
        format!("{parent}.{seg}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

const LAYER_TYPES: &str = "conv, depthwise, fc, batchnorm, relu, relu6, sigmoid, maxpool, \
                           avgpool, global_avgpool, add, mul, concat, flatten, argmax, shuffle, block, \
                           residual, basic, bottleneck, inverted_residual, stria_block";

impl Ctx<'_> {
    fn node_list(
        &self,
        v: Option<Value>,
        parent: &str,
        field: &str,
    ) -> Result<Vec<Node>, SpecError> {
        match v {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| self.node(item, parent, field, i))
                .collect(),
            Some(other) => {
                let p = if parent.is_empty() {
                    field.to_string()
                } else {
                    format!("{parent}.{field}")
                };
                Err(SpecError::layer(
                    self.file,
                    p,
                    format!("expected a list of layers, got {}", kind_of(&other)),
                ))
            }
        }
    }

    fn stage(&self, v: Value, i: usize) -> Result<StageSpec, SpecError> {
        let name = v.get("name").and_then(Value::as_str).map(str::to_string);
        let path = child_path("", "stages", i, name.as_deref());
        let Value::Object(mut obj) = v else {
            return Err(SpecError::layer(
                self.file,
                path,
                format!("expected a stage object, got {}", kind_of(&v)),
            ));
        };
        let blocks = self.node_list(obj.remove("blocks"), &path, "blocks")?;
        if blocks.is_empty() {
            return Err(SpecError::layer(
                self.file,
                path,
                "a stage needs a non-empty `blocks` list",
            ));
        }
        obj.insert("blocks".into(), Value::Array(Vec::new()));
        let mut stage: StageSpec =
            from_value(Value::Object(obj)).map_err(|e| SpecError::layer(self.file, &path, e))?;
        stage.blocks = blocks;
        Ok(stage)
    }

    fn node(&self, v: Value, parent: &str, field: &str, i: usize) -> Result<Node, SpecError> {
        let name = v.get("name").and_then(Value::as_str).map(str::to_string);
        let path = child_path(parent, field, i, name.as_deref());
        let Value::Object(mut obj) = v else {
            return Err(SpecError::layer(
                self.file,
                path,
                format!("expected a layer object, got {}", kind_of(&v)),
            ));
        };
        let ty = match obj.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(other) => {
                return Err(SpecError::layer(
                    self.file,
                    path,
                    format!("`type` must be a string, got {}", kind_of(other)),
                ));
            }
            None => {
                return Err(SpecError::layer(
                    self.file,
                    path,
                    format!("missing field `type` (one of {LAYER_TYPES})"),
                ));
            }
        };
        let children: &[&str] = match ty.as_str() {
            "block" => &["layers"],
            "residual" => &["body", "shortcut"],
            "conv" | "depthwise" | "fc" | "batchnorm" | "relu" | "relu6" | "sigmoid"
            | "maxpool" | "avgpool" | "global_avgpool" | "add" | "mul" | "concat" | "flatten"
            | "argmax" | "shuffle" | "basic" | "bottleneck" | "inverted_residual"
            | "stria_block" => &[],
            other => {
                return Err(SpecError::layer(
                    self.file,
                    path,
                    format!("unknown layer type `{other}` (expected one of {LAYER_TYPES})"),
                ));
            }
        };
        let mut parsed: Vec<Vec<Node>> = Vec::new();
        for field in children {
            let list = self.node_list(obj.remove(*field), &path, field)?;
            parsed.push(list);
            obj.insert((*field).into(), Value::Array(Vec::new()));
        }
        obj.remove("type");
        let mut node = typed_node(&ty, Value::Object(obj))
            .map_err(|e| SpecError::layer(self.file, &path, e))?;
        match &mut node {
            Node::Block(b) => {
                b.layers = parsed.remove(0);
                if b.layers.is_empty() {
                    return Err(SpecError::layer(
                        self.file,
                        path,
                        "a block needs a non-empty `layers` list",
                    ));
                }
            }
            Node::Residual(r) => {
                r.body = parsed.remove(0);
                r.shortcut = parsed.remove(0);
                if r.body.is_empty() {
                    return Err(SpecError::layer(
                        self.file,
                        path,
                        "a residual needs a non-empty `body` list",
                    ));
                }
            }
            _ => {}
        }
        Ok(node)
    }
}
