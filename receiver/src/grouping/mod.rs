//! Grouping (being written).
