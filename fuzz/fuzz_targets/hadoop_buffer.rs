//! One SequenceFile buffer decompressed with the Hadoop codec the first byte picks (zlib,
//! gzip, bzip2, snappy and lz4 block framing, zstd), within the buffer limit.
#![no_main]

use camus2kafka::testing::fuzz;

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| fuzz::hadoop_buffer(data));
