//! Host bindings of the two worlds of `plugin-sdk/wit/camus2kafka.wit`.

pub(super) mod key {
    wasmtime::component::bindgen!({
        path: "../plugin-sdk/wit",
        world: "key-extractor-plugin",
    });
}

pub(super) mod format {
    wasmtime::component::bindgen!({
        path: "../plugin-sdk/wit",
        world: "output-format-plugin",
    });
}
