//! Networks: the JSON spec (`spec`), reading it with layer paths in errors (`parse`), lowering it to
//! resolved layers with shapes (`graph`), and the built-in model zoo (`zoo`).

pub mod graph;
pub mod parse;
pub mod spec;
pub mod zoo;

pub use graph::{Conv, Layer, Network, Op, Pool, Shape, build, load_network};
pub use parse::{load_spec, parse_spec, parse_spec_value};
pub use spec::NetworkSpec;
