//! The output-format plugin on every core: several instances of the same plugin (each its own
//! sandbox store, the same config and schemas), fed numbered batches by whichever is free, their
//! messages put back in batch order before the sink — so the output is byte-identical to one
//! instance's. A format plugin must therefore format each batch on its own, never depending on
//! the batches before it (`format.instances: 1` runs one instance, for a plugin that does).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, Sender};

use super::FormatPlugin;
use crate::config::PluginConfig;
use crate::record::OutMessage;

/// The instances of one format plugin.
pub(crate) struct FormatPool {
    instances: Vec<FormatPlugin>,
}

impl FormatPool {
    /// Loads `config.instances` instances (`0`: one per core). The compiled component is cached
    /// by the engine, so each instance after the first costs an instantiation, not a compile.
    pub(crate) fn load(config: &PluginConfig) -> Result<FormatPool> {
        let count = match config.instances {
            0 => crate::source::parallel::default_workers(),
            n => n,
        };
        let mut instances = Vec::with_capacity(count);
        for i in 0..count {
            instances.push(FormatPlugin::load(config).with_context(|| {
                format!(
                    "instance {} of {count} of format plugin {}",
                    i + 1,
                    config.plugin
                )
            })?);
        }
        Ok(FormatPool { instances })
    }

    /// Tells every instance about a schema later batches refer to by `id`.
    pub(crate) fn register_schema(&mut self, id: u32, json: &str) -> Result<()> {
        for instance in &mut self.instances {
            instance.register_schema(id, json)?;
        }
        Ok(())
    }

    /// Formats every batch of `batches` (numbered 0, 1, … in the order they must come out) with
    /// `format_one` on one thread per instance, and hands the results to `deliver` in that order.
    /// `deliver` returns `false` when nobody wants more (the sink stopped). The first error, in
    /// batch order, ends the formatting and is returned.
    pub(crate) fn format_in_order<B: Send>(
        &mut self,
        batches: Receiver<(u64, Result<B>)>,
        format_one: impl Fn(&mut FormatPlugin, B) -> Result<Vec<OutMessage>> + Sync,
        mut deliver: impl FnMut(Vec<OutMessage>) -> bool,
    ) -> Result<()> {
        let workers = self.instances.len();
        std::thread::scope(|scope| {
            let (done_out, done_in) =
                crossbeam_channel::bounded::<(u64, Result<Vec<OutMessage>>)>(workers * 2);
            for (i, instance) in self.instances.iter_mut().enumerate() {
                let batches = batches.clone();
                let done_out: Sender<_> = done_out.clone();
                let format_one = &format_one;
                std::thread::Builder::new()
                    .name(format!("c2k-format-{i}"))
                    .spawn_scoped(scope, move || {
                        for (seq, batch) in batches {
                            let formatted = batch.and_then(|b| format_one(instance, b));
                            let failed = formatted.is_err();
                            // A closed channel: the run stopped; an error: this instance is done.
                            if done_out.send((seq, formatted)).is_err() || failed {
                                break;
                            }
                        }
                    })
                    .context("cannot start a format thread")?;
            }
            drop(done_out);
            drop(batches);
            // Results arrive in any order; at most a few batches per instance wait here.
            let mut next = 0u64;
            let mut waiting = BTreeMap::new();
            for (seq, formatted) in &done_in {
                waiting.insert(seq, formatted);
                while let Some(formatted) = waiting.remove(&next) {
                    // Returning drops `done_in`: the workers' next send fails and they stop, and
                    // with them the feed of batches.
                    if !deliver(formatted?) {
                        return Ok(());
                    }
                    next += 1;
                }
            }
            Ok(())
        })
    }
}
