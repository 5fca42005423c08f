//! `time-field`: sorts records by one time field. The logic lives in the SDK
//! ([`c2k_plugin_sdk::extractors::TimeField`]) so that the host can also compile it in natively
//! (`key.plugin: native:time-field`) for benchmarks; this crate only exports it as a component.

c2k_plugin_sdk::export_key_extractor!(c2k_plugin_sdk::extractors::TimeField);
