//! One Avro block decompressed with the codec the first byte picks (null, deflate, snappy,
//! zstandard, bzip2, xz), within the block limit.
#![no_main]

use camus2kafka::testing::fuzz;

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| fuzz::avro_block(data));
