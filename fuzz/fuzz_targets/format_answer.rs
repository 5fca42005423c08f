//! A format plugin's flat answer (contract 0.1.1) split into messages, every end checked.
#![no_main]

use camus2kafka::testing::fuzz;

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| fuzz::format_answer(data));
