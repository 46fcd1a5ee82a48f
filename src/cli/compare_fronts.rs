//! `stria compare-fronts`: one search's front against another's at equal capacity.

use super::out;
use crate::CompareFrontsArgs;
use anyhow::Result;

pub(crate) fn run(a: CompareFrontsArgs) -> Result<()> {
    let CompareFrontsArgs { reference, other } = a;
    out(&stria::explore::fronts::compare_text(&reference, &other)?)
}
