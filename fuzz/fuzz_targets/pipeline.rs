//! A pipeline YAML file with `--set KEY=VALUE` overrides, checked and built.
#![no_main]

use camus2kafka::testing::fuzz;

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| fuzz::pipeline(data));
