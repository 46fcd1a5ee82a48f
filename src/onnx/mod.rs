//! ONNX files: `import` reads a model's graph as a network spec, `export` writes a network as an
//! ONNX graph; `proto` holds the protobuf messages both use (through `prost`).

pub mod export;
pub mod import;
pub mod proto;

pub use import::{import, is_onnx, load_onnx, load_onnx_network};
