//! An Avro object container file, read as the source reads one (header, every codec's blocks,
//! every record walked strictly, the count checked against the Camus name).
#![no_main]

use camus2kafka::testing::fuzz;

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| fuzz::avro_container(data));
