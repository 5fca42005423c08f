//! One datum of a writer schema rewritten in a reader schema by the compiled transcoder, for the
//! pair the first byte picks, beside apache-avro's resolution: the two agree.
#![no_main]

use std::sync::OnceLock;

use camus2kafka::testing::fuzz::{self, TranscodePair};

static PAIRS: OnceLock<Vec<TranscodePair>> = OnceLock::new();

fn pairs() -> &'static [TranscodePair] {
    PAIRS.get_or_init(|| {
        let every = include_str!("../schemas/every_type.avsc");
        vec![
            TranscodePair::new(
                include_str!("../schemas/evolution_writer.avsc"),
                include_str!("../schemas/evolution_reader.avsc"),
            ),
            TranscodePair::new(
                include_str!("../schemas/page_view_v1.avsc"),
                include_str!("../schemas/page_view_v2.avsc"),
            ),
            TranscodePair::new(every, every),
        ]
    })
}

libfuzzer_sys::fuzz_target!(init: fuzz::init(), |data: &[u8]| {
    if let Some((&which, datum)) = data.split_first() {
        let pairs = pairs();
        pairs[usize::from(which) % pairs.len()].run(datum);
    }
});
