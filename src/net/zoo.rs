//! Built-in model zoo (filled in below).
