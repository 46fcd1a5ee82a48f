//! User-facing errors. Every error a user can cause names the file and, for layer problems, the
//! layer path (for example `stages[2].blocks[1].conv2`).

use std::fmt;

/// A problem in a network file (or another user-supplied config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file the problem is in.
    pub file: String,
    /// The layer path, when the problem is inside a layer.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl SpecError {
    pub fn file(file: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            file: file.to_string(),
            path: None,
            message: message.into(),
        }
    }
    pub fn layer(file: &str, path: impl AsRef<str>, message: impl Into<String>) -> SpecError {
        SpecError {
            file: file.to_string(),
            path: Some(path.as_ref().to_string()),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: layer `{}`: {}", self.file, p, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for SpecError {}

/// A number for an error message: plain when moderate, scientific when huge or tiny (`1.7e308`,
/// `1e-300`), so that a bad value fits on one line.
pub fn show_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-6..1e15).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}
