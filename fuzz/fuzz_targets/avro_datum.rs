//! One Avro datum walked by `camus2kafka-avro` (strict and fast) in the schema the first byte
//! picks, beside apache-avro's decoder: what the strict walk accepts, both read to its end.
#![no_main]

use std::sync::OnceLock;

use camus2kafka::testing::fuzz::{self, DatumWalk};

static SCHEMAS: OnceLock<Vec<DatumWalk>> = OnceLock::new();

fn schemas() -> &'static [DatumWalk] {
    SCHEMAS.get_or_init(|| {
        [
            include_str!("../schemas/every_type.avsc"),
            include_str!("../schemas/page_view_v2.avsc"),
            include_str!("../schemas/evolution_writer.avsc"),
        ]
        .map(DatumWalk::new)
        .into()
    })
}

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| {
    if let Some((&which, datum)) = data.split_first() {
        let schemas = schemas();
        schemas[usize::from(which) % schemas.len()].run(datum);
    }
});
