//! `stria compare-fronts`: one search's front against another's at equal capacity.

use super::*;

pub(crate) fn run(a: CompareFrontsArgs) -> Result<()> {
    let CompareFrontsArgs { reference, other } = a;
    out(&stria::explore::fronts::compare_text(&reference, &other)?)
}
