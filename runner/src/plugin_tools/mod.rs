//! Tools for plugin authors: `c2k plugin new` writes a plugin crate of its own ([`scaffold`]),
//! `c2k plugin test` runs a plugin over real records without a pipeline ([`try_out`]).

pub(crate) mod scaffold;
pub(crate) mod try_out;
