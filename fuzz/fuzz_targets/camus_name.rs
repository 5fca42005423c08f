//! Camus file names (`<topic>.<leader>.<partition>.<count>.<offset>[.<bucket>].avro`), with
//! and without the pipeline's topic, and which paths are data files.
#![no_main]

use camus2kafka::testing::fuzz;

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| fuzz::camus_name(data));
