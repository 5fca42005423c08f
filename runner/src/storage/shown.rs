//! Paths as messages show them. A file or folder of the archive may be named with a newline or
//! another control character (`x\ny.avro`, an ESC sequence): printed raw, it would break a
//! message's lines, forge one, or drive the terminal. Messages build their text with the raw
//! path (it is also what opens the file), so the escaping is done where text leaves `c2k`:
//!
//! - the storages [`remember`] every path they list or are handed that holds such a character,
//!   with each of its tails (`hourly/…/x\ny.avro`, `x\ny.avro`), since reports print paths
//!   relative to the topic's folder;
//! - [`printable`] rewrites each remembered path in a text with its characters escaped
//!   (`x\ny.avro`, as Rust writes a string), which the error output, the log writer, the
//!   integrity report and the run's notes do last, beside the secrets' scrubbing.
//!
//! Nothing is remembered for the names of a normal archive, and then [`printable`] costs a look
//! at an empty list.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

/// The paths (and their tails) seen with a character to escape, the longest first.
static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A character a path must not print raw: C0 and C1 controls, DEL, and the bidirectional
/// overrides that make text display in another order than it reads.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `path` with each character to escape written as Rust writes it in a string (`\n`, `\t`,
/// `\u{1b}`).
pub(crate) fn escape(path: &str) -> Cow<'_, str> {
    if !path.chars().any(needs_escape) {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 8);
    for c in path.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Remembers `path` and its tails after each `/` if it holds a character to escape. A tail made
/// of nothing but such characters is left out: rewriting every bare newline of every message
/// would garble them all.
pub(crate) fn remember(path: &str) {
    if !path.chars().any(needs_escape) {
        return;
    }
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    let tails = std::iter::once(path).chain(path.match_indices('/').map(|(i, _)| &path[i + 1..]));
    for tail in tails {
        let printable_part = tail.chars().any(|c| !needs_escape(c) && c != '/');
        if tail.chars().any(needs_escape) && printable_part && !known.iter().any(|k| k == tail) {
            known.push(tail.to_owned());
        }
    }
    // The longest first: a path is rewritten whole before any tail of it is looked for.
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `text` with every remembered path in it escaped.
pub fn printable(text: &str) -> Cow<'_, str> {
    let known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    printable_with(text, &known)
}

fn printable_with<'t>(text: &'t str, known: &[String]) -> Cow<'t, str> {
    let mut out = Cow::Borrowed(text);
    for path in known {
        if out.contains(path.as_str()) {
            out = Cow::Owned(out.replace(path.as_str(), &escape(path)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(paths: &[&str]) -> Vec<String> {
        let mut known: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        known
    }

    #[test]
    fn control_and_bidi_characters_are_escaped_and_other_text_is_kept() {
        assert_eq!(escape("hourly/x.avro"), "hourly/x.avro");
        assert_eq!(escape("é/日本.avro"), "é/日本.avro");
        assert_eq!(escape("x\ny\t\u{1b}[31m.avro"), "x\\ny\\t\\u{1b}[31m.avro");
        assert_eq!(escape("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn a_remembered_path_and_its_tails_are_escaped_where_messages_print_them() {
        let url = "/d/T/hourly/00/x\nOK: forged.avro";
        let mut paths = vec![url];
        paths.extend(url.match_indices('/').map(|(i, _)| &url[i + 1..]));
        let known = known(&paths);
        let message = format!("c2k: error: {url}: corrupt\n  - hourly/00/x\nOK: forged.avro");
        assert_eq!(
            printable_with(&message, &known),
            "c2k: error: /d/T/hourly/00/x\\nOK: forged.avro: corrupt\n  - hourly/00/x\\nOK: forged.avro"
        );
        assert_eq!(printable_with("a\nb", &known), "a\nb");
    }

    #[test]
    fn only_paths_with_a_character_to_escape_are_remembered() {
        remember("/d/T/plain.avro");
        remember("/d/T/\n/x.avro");
        let known = KNOWN.lock().unwrap().clone();
        assert!(!known.iter().any(|k| k.contains("plain")), "{known:?}");
        assert!(known.contains(&"\n/x.avro".to_string()), "{known:?}");
        // The folder's bare name is no path to rewrite: every newline would be.
        assert!(!known.iter().any(|k| k == "\n" || k == "\n/"), "{known:?}");
    }
}
