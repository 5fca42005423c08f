//! A producer context that counts delivery reports: what a bare rdkafka producer needs to know
//! that every message was acknowledged. Shared by the harness and the `publish_bench` example.

use std::sync::atomic::{AtomicU64, Ordering};

use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;

#[derive(Default)]
pub struct Counting {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
}

impl Counting {
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}
