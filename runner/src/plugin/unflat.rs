//! A format plugin's answer as the host's messages: the flat `messages` of contract 0.1.1 split
//! at its ends, each end checked (a plugin's answer is untrusted input), or the `list<message>`
//! of 0.1.0 taken message by message.

use super::bindings::format::exports::camus2kafka::plugin::output_format::{Message, Messages};
use crate::record::OutMessage;

/// A 0.1.0 plugin's message.
pub(super) fn from_record(m: Message) -> OutMessage {
    OutMessage {
        key: m.key,
        value: m.value.into(),
        headers: m.headers.into_iter().map(|h| (h.key, h.value)).collect(),
        timestamp_ms: m.timestamp_ms,
        source_partition: None,
        origin: None,
    }
}

/// Splits a flat answer into messages. The count is the caller's to compare with the batch's
/// records; everything else that does not add up is refused, naming the column.
pub(super) fn messages(mut flat: Messages, records: usize) -> Result<Vec<OutMessage>, String> {
    let count = flat.value_ends.len();
    let optional = |column: &str, len: usize| {
        if len == 0 || len == count {
            Ok(len != 0)
        } else {
            Err(format!(
                "returned {len} {column} for {count} messages (format-flat: none, or one per \
                 message)"
            ))
        }
    };
    let keyed = optional("keyed flags", flat.keyed.len())?;
    if keyed && flat.key_ends.len() != count {
        return Err(format!(
            "returned {} key ends for {count} keyed flags (format-flat: one per message)",
            flat.key_ends.len()
        ));
    }
    let with_headers = optional("header ends", flat.header_ends.len())?;
    let with_times = optional("timestamps", flat.timestamps_ms.len())?;
    if flat.header_name_ends.len() != flat.header_value_ends.len() {
        return Err(format!(
            "returned {} header names but {} header values (format-flat)",
            flat.header_name_ends.len(),
            flat.header_value_ends.len()
        ));
    }
    // Each message's value is a view of this one buffer, not a copy of its part.
    let value_buffer = bytes::Bytes::from(std::mem::take(&mut flat.values));
    let values = Spans::new("values", &value_buffer, &flat.value_ends)?;
    let keys = Spans::new("keys", &flat.keys, &flat.key_ends)?;
    let names = Spans::new(
        "header names",
        flat.header_names.as_bytes(),
        &flat.header_name_ends,
    )?;
    let header_values = Spans::new(
        "header values",
        &flat.header_values,
        &flat.header_value_ends,
    )?;
    let headers = Spans::ends_only(
        "header ends",
        flat.header_name_ends.len(),
        &flat.header_ends,
    )?;

    let mut out = Vec::with_capacity(records.max(count));
    for i in 0..count {
        let key = match keyed && flat.keyed[i] {
            true => Some(keys.get(i).to_vec()),
            false if keyed && !keys.get(i).is_empty() => {
                return Err(format!(
                    "message {i} has no key but {} key bytes (format-flat)",
                    keys.get(i).len()
                ))
            }
            false => None,
        };
        let headers = match with_headers {
            true => headers
                .range(i)
                .map(|j| {
                    let name = std::str::from_utf8(names.get(j)).map_err(|_| {
                        format!("header {j} of message {i}: its name ends inside a character")
                    })?;
                    Ok((name.to_string(), header_values.get(j).to_vec()))
                })
                .collect::<Result<_, String>>()?,
            false => Vec::new(),
        };
        out.push(OutMessage {
            key,
            value: value_buffer.slice(values.range(i)),
            headers,
            timestamp_ms: if with_times {
                flat.timestamps_ms[i]
            } else {
                None
            },
            source_partition: None,
            origin: None,
        });
    }
    Ok(out)
}

/// A flat answer whose columns are cut from arbitrary bytes, split: the fuzz target's way in
/// (`testing::fuzz::format_answer`). The first byte is the batch's record count; then each
/// column in the record's order is a length byte and that many items (a byte each: an end, a
/// flag, a timestamp with 0 for none, or a byte of a buffer).
pub(crate) fn split_flat_answer_bytes(data: &[u8]) -> Result<Vec<OutMessage>, String> {
    let mut rest = data;
    let mut column = || -> &[u8] {
        let (len, tail) = rest
            .split_first()
            .map_or((0, rest), |(&n, t)| (n as usize, t));
        let (items, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        items
    };
    let records = column().len();
    let ends = |items: &[u8]| items.iter().map(|&b| u32::from(b)).collect::<Vec<_>>();
    let values = column().to_vec();
    let value_ends = ends(column());
    let keyed = column().iter().map(|b| b & 1 == 1).collect();
    let keys = column().to_vec();
    let key_ends = ends(column());
    let header_ends = ends(column());
    let header_names = String::from_utf8_lossy(column()).into_owned();
    let header_name_ends = ends(column());
    let header_values = column().to_vec();
    let header_value_ends = ends(column());
    let timestamps_ms = column()
        .iter()
        .map(|&b| (b != 0).then_some(i64::from(b)))
        .collect();
    let flat = Messages {
        values,
        value_ends,
        keyed,
        keys,
        key_ends,
        header_ends,
        header_names,
        header_name_ends,
        header_values,
        header_value_ends,
        timestamps_ms,
    };
    messages(flat, records)
}

/// Items laid out as a buffer and the end of each, checked once: item `i` is
/// `data[ends[i-1]..ends[i]]`.
struct Spans<'a> {
    data: &'a [u8],
    ends: &'a [u32],
}

impl<'a> Spans<'a> {
    fn new(column: &str, data: &'a [u8], ends: &'a [u32]) -> Result<Self, String> {
        Spans::ends_only(column, data.len(), ends)?;
        Ok(Spans { data, ends })
    }

    /// Checks that `ends` never go back and stay within `len`.
    fn ends_only(column: &str, len: usize, ends: &'a [u32]) -> Result<Spans<'a>, String> {
        let mut previous = 0;
        for (i, &end) in ends.iter().enumerate() {
            if end < previous || end as usize > len {
                return Err(format!(
                    "returned {column} whose end {i} is {end}, after {previous}, in {len} \
                     (format-flat: ends go forward within their buffer)"
                ));
            }
            previous = end;
        }
        Ok(Spans { data: &[], ends })
    }

    fn start(&self, i: usize) -> usize {
        match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        }
    }

    fn get(&self, i: usize) -> &'a [u8] {
        &self.data[self.start(i)..self.ends[i] as usize]
    }

    fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.start(i)..self.ends[i] as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(values: &[&[u8]]) -> Messages {
        let mut m = Messages {
            values: Vec::new(),
            value_ends: Vec::new(),
            keyed: Vec::new(),
            keys: Vec::new(),
            key_ends: Vec::new(),
            header_ends: Vec::new(),
            header_names: String::new(),
            header_name_ends: Vec::new(),
            header_values: Vec::new(),
            header_value_ends: Vec::new(),
            timestamps_ms: Vec::new(),
        };
        for v in values {
            m.values.extend_from_slice(v);
            m.value_ends.push(m.values.len() as u32);
        }
        m
    }

    #[test]
    fn every_column_is_split_at_its_ends() {
        let mut m = flat(&[b"a", b"", b"ccc"]);
        m.keyed = vec![true, false, true];
        m.keys = b"k1k3".to_vec();
        m.key_ends = vec![2, 2, 4];
        m.header_ends = vec![0, 2, 2];
        m.header_names = "xé".into();
        m.header_name_ends = vec![1, 3];
        m.header_values = b"12".to_vec();
        m.header_value_ends = vec![1, 2];
        m.timestamps_ms = vec![None, Some(5), Some(-1)];
        let out = messages(m, 3).unwrap();
        assert_eq!(out[0].value, &b"a"[..]);
        assert_eq!(out[0].key.as_deref(), Some(&b"k1"[..]));
        assert!(out[0].headers.is_empty());
        assert_eq!(out[1].value, &b""[..]);
        assert_eq!(out[1].key, None);
        assert_eq!(
            out[1].headers,
            vec![
                ("x".to_string(), b"1".to_vec()),
                ("é".to_string(), b"2".to_vec())
            ]
        );
        assert_eq!(out[1].timestamp_ms, Some(5));
        assert_eq!(out[2].key.as_deref(), Some(&b"k3"[..]));
        assert_eq!(out[2].timestamp_ms, Some(-1));
        // Empty columns: no key, no header, no timestamp.
        let bare = messages(flat(&[b"v"]), 1).unwrap();
        assert_eq!((bare[0].key.clone(), bare[0].timestamp_ms), (None, None));
    }

    #[test]
    fn an_answer_that_does_not_add_up_is_refused_naming_the_column() {
        let mut backwards = flat(&[b"ab", b"c"]);
        backwards.value_ends = vec![2, 1];
        let e = messages(backwards, 2).unwrap_err();
        assert!(e.contains("values whose end 1 is 1, after 2"), "{e}");

        let mut beyond = flat(&[b"ab"]);
        beyond.value_ends = vec![9];
        assert!(messages(beyond, 1).unwrap_err().contains("end 0 is 9"));

        let mut short = flat(&[b"a", b"b"]);
        short.timestamps_ms = vec![Some(1)];
        let e = messages(short, 2).unwrap_err();
        assert!(e.contains("1 timestamps for 2 messages"), "{e}");

        let mut keyless_bytes = flat(&[b"a"]);
        keyless_bytes.keyed = vec![false];
        keyless_bytes.keys = b"zz".to_vec();
        keyless_bytes.key_ends = vec![2];
        let e = messages(keyless_bytes, 1).unwrap_err();
        assert!(e.contains("message 0 has no key but 2 key bytes"), "{e}");

        let mut split_char = flat(&[b"a"]);
        split_char.header_ends = vec![1];
        split_char.header_names = "é".into();
        split_char.header_name_ends = vec![1];
        split_char.header_values = vec![];
        split_char.header_value_ends = vec![0];
        let e = messages(split_char, 1).unwrap_err();
        assert!(e.contains("its name ends inside a character"), "{e}");
    }
}
