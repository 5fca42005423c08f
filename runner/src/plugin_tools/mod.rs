//! Tools for plugin authors: `c2k plugin test` runs a plugin over real records without a
//! pipeline ([`try_out`]).

pub mod try_out;
