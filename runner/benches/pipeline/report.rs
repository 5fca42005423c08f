//! The results: one row per figure with its target, printed as a table and written as JSON so
//! that runs can be compared.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// One line of the table.
pub struct Row {
    pub name: String,
    /// The figure as shown, or why it is missing.
    pub measured: String,
    pub target: &'static str,
    /// `Some(true)` met, `Some(false)` missed, `None` no target or not measured.
    pub met: Option<bool>,
}

pub fn row(
    name: impl Into<String>,
    measured: String,
    target: &'static str,
    met: Option<bool>,
) -> Row {
    Row {
        name: name.into(),
        measured,
        target,
        met,
    }
}

/// Widest "measured" cell in the table; longer texts (errors) are cut, the JSON keeps them whole.
const MEASURED_WIDTH: usize = 72;

pub fn print_table(rows: &[Row]) {
    let cut = |text: &str| -> String {
        if text.chars().count() > MEASURED_WIDTH {
            let mut short: String = text.chars().take(MEASURED_WIDTH - 3).collect();
            short.push_str("...");
            short
        } else {
            text.to_string()
        }
    };
    let w0 = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| cut(&r.measured).chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let w2 = rows
        .iter()
        .map(|r| r.target.len())
        .max()
        .unwrap_or(0)
        .max(6);
    println!(
        "{:<w0$}  {:<w1$}  {:<w2$}  met",
        "figure", "measured", "target"
    );
    println!("{}", "-".repeat(w0 + w1 + w2 + 9));
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {met}",
            r.name,
            cut(&r.measured),
            r.target
        );
    }
}

pub fn write_json(path: &Path, context: Value, figures: Value, rows: &[Row]) -> Result<()> {
    let table: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "figure": r.name, "measured": r.measured, "target": r.target, "met": r.met }))
        .collect();
    let doc = json!({ "context": context, "figures": figures, "table": table });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `12.3 MiB`-style sizes for the table.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}
