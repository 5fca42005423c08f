//! `json`: each message's value is the record as JSON.
//!
//! `encoding: avro` (default) is Avro's JSON encoding exactly as Java's `JsonEncoder` writes it:
//! unions as `{"<branch type full name>": value}` (null as `null`), bytes and fixed as ISO-8859-1
//! strings, enums as their symbol, maps as objects, no whitespace. `encoding: plain` is ordinary
//! JSON with union branches unwrapped. `key_field` (a dotted path) sets the message key.
//!
//! The JSON is written straight from the binary datum by a plan compiled once per schema
//! (`plan.rs`): no value tree is built.
//!
//! A text record (a JSON topic archived by Camus' text or SequenceFile writer, contract 0.1.3)
//! is already JSON: `text: as_is` (default) passes its bytes through unchanged, what the live
//! topic carried; `text: compact` checks that it is JSON and writes it again without
//! insignificant whitespace, members in their order.

mod compact;
mod numbers;
mod plan;
mod text;
mod writer;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use plan::Plan;

use c2k_plugin_sdk::prelude::*;

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Avro,
    Plain,
}

/// What becomes of a text record.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TextRecords {
    #[default]
    AsIs,
    Compact,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    encoding: Encoding,
    #[serde(default)]
    text: TextRecords,
    #[serde(default)]
    key_field: Option<String>,
}

pub struct Json {
    encoding: Encoding,
    text: TextRecords,
    key_field: Option<String>,
    /// Each schema's plan, compiled the first time one of its records comes (by schema id).
    plans: RefCell<HashMap<u32, Rc<Plan>>>,
    /// The last plan used: the records of a batch nearly always share one schema.
    last: RefCell<Option<(u32, Rc<Plan>)>>,
}

impl Json {
    fn plan(&self, record: &Record<'_>) -> Rc<Plan> {
        let id = record.schema_id();
        if let Some((last, plan)) = &*self.last.borrow() {
            if *last == id {
                return Rc::clone(plan);
            }
        }
        let tagged_unions = self.encoding == Encoding::Avro;
        let plan = Rc::clone(
            self.plans
                .borrow_mut()
                .entry(id)
                .or_insert_with(|| Rc::new(Plan::compile(record.compiled(), tagged_unions))),
        );
        *self.last.borrow_mut() = Some((id, Rc::clone(&plan)));
        plan
    }
}

impl OutputFormat for Json {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Json {
            encoding: config.encoding,
            text: config.text,
            key_field: config.key_field,
            plans: RefCell::default(),
            last: RefCell::default(),
        })
    }

    fn fields(&self) -> Vec<String> {
        self.key_field.iter().cloned().collect()
    }

    fn format(&self, record: &Record<'_>, message: &mut Message) -> Result<(), Error> {
        if record.is_text() {
            match self.text {
                TextRecords::AsIs => message.value.extend_from_slice(record.datum()),
                TextRecords::Compact => compact::compact(record.datum(), &mut message.value)?,
            }
            if self.key_field.is_some() {
                message.key = record.get(0)?.and_then(|d| d.to_key_bytes());
            }
            return Ok(());
        }
        // JSON of a binary datum is rarely more than twice its size: one allocation, not many.
        message.value.reserve(record.datum().len() * 2 + 16);
        let plan = self.plan(record);
        writer::write_datum(&plan, record.datum(), &mut message.value)
            .map_err(|e| e.to_string())?;
        if self.key_field.is_some() {
            message.key = record.get(0)?.and_then(|d| d.to_key_bytes());
        }
        Ok(())
    }
}

c2k_plugin_sdk::export_output_format!(Json);
