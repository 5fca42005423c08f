//! A Hadoop SequenceFile (every version, record- and block-compressed, sync escapes) read
//! record by record, Camus `EtlKey`s decoded.
#![no_main]

use camus2kafka::testing::fuzz;

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| fuzz::sequence_file(data));
