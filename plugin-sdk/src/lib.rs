//! The camus2kafka plugin SDK (being written).
