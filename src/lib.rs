//! stria: exact cost model of HE-based two-party neural-network inference.
//!
//! Data flow: `net` (spec -> resolved layers) -> `packing` (closed-form counts per protocol) ->
//! `report` (table / CSV / JSON). `he` holds ring and key facts shared by the counters.

#[cfg(feature = "he")]
pub mod backend;
pub mod cost;
pub mod error;
pub mod eval;
pub mod explore;
pub mod export;
pub mod he;
pub mod io;
pub mod net;
pub mod onnx;
pub mod packing;
pub mod plot;
pub mod report;
