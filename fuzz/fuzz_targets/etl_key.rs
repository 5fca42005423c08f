//! A Camus `EtlKey` decoded (legacy and partition-map layouts); what decodes, re-encodes to
//! the same key.
#![no_main]

use camus2kafka::testing::fuzz;

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| fuzz::etl_key(data));
