//! Order-preserving key encoding: values written with [`KeyWriter`] compare, as plain bytes, in
//! the same order as the values themselves, and a tuple is the concatenation of its parts.
//!
//! The host sorts keys with `memcmp`, so every encoding here is chosen so that byte order equals
//! value order:
//! - signed integers: big-endian with the sign bit flipped (so negatives sort before positives);
//! - unsigned integers: big-endian;
//! - floats: IEEE bits, all bits flipped for negatives, sign bit flipped for positives;
//! - strings and bytes: `0x00` escaped as `0x00 0xFF`, terminated by `0x00 0x00`, so that a
//!   prefix sorts first and the next tuple element never bleeds into the comparison;
//! - optional values: a tag byte, `0x00` (absent, sorts first), `0x01` (present), `0x02` (absent,
//!   sorts last), then the value when present;
//! - descending parts: the bytes of the ascending encoding, inverted (every encoding above is
//!   prefix-free, so inverted bytes compare in exactly the reverse order).
//!
//! Every type has the same five writers:
//!
//! | ascending | descending | optional, nulls first | optional, nulls last |
//! |-----------|------------|-----------------------|----------------------|
//! | [`i64`](KeyWriter::i64) | [`i64_desc`](KeyWriter::i64_desc) | [`option_i64`](KeyWriter::option_i64) | [`option_i64_last`](KeyWriter::option_i64_last) |
//! | [`u64`](KeyWriter::u64) | [`u64_desc`](KeyWriter::u64_desc) | [`option_u64`](KeyWriter::option_u64) | [`option_u64_last`](KeyWriter::option_u64_last) |
//! | [`f64`](KeyWriter::f64) | [`f64_desc`](KeyWriter::f64_desc) | [`option_f64`](KeyWriter::option_f64) | [`option_f64_last`](KeyWriter::option_f64_last) |
//! | [`timestamp_micros`](KeyWriter::timestamp_micros) | [`timestamp_micros_desc`](KeyWriter::timestamp_micros_desc) | [`option_timestamp_micros`](KeyWriter::option_timestamp_micros) | [`option_timestamp_micros_last`](KeyWriter::option_timestamp_micros_last) |
//! | [`str`](KeyWriter::str) | [`str_desc`](KeyWriter::str_desc) | [`option_str`](KeyWriter::option_str) | [`option_str_last`](KeyWriter::option_str_last) |
//! | [`bytes`](KeyWriter::bytes) | [`bytes_desc`](KeyWriter::bytes_desc) | [`option_bytes`](KeyWriter::option_bytes) | [`option_bytes_last`](KeyWriter::option_bytes_last) |
//!
//! and two combinators for the rest: [`descending`](KeyWriter::descending) turns any part (a
//! tuple of values, an optional value) descending, and [`option`](KeyWriter::option) writes any
//! optional value with its nulls first or last, ascending or descending:
//!
//! ```
//! use c2k_plugin_sdk::key::{KeyWriter, Nulls};
//!
//! // Country ascending (no country last), then time descending (newest first).
//! fn key(country: Option<&str>, time: i64) -> Vec<u8> {
//!     let mut buf = Vec::new();
//!     KeyWriter::new(&mut buf).option_str_last(country).i64_desc(time);
//!     buf
//! }
//! let mut keys = vec![key(None, 5), key(Some("FR"), 1), key(Some("DE"), 1), key(Some("FR"), 2)];
//! keys.sort();
//! assert_eq!(keys, vec![key(Some("DE"), 1), key(Some("FR"), 2), key(Some("FR"), 1), key(None, 5)]);
//!
//! // An optional time, descending, records without one first.
//! let mut a = Vec::new();
//! KeyWriter::new(&mut a).option(None::<i64>, Nulls::First, |k, t| { k.i64_desc(t); });
//! let mut b = Vec::new();
//! KeyWriter::new(&mut b).option(Some(i64::MAX), Nulls::First, |k, t| { k.i64_desc(t); });
//! assert!(a < b);
//! ```

/// Tag byte of an absent value that sorts before every present one.
pub const ABSENT_FIRST: u8 = 0x00;
/// Tag byte of a present value.
pub const PRESENT: u8 = 0x01;
/// Tag byte of an absent value that sorts after every present one.
pub const ABSENT_LAST: u8 = 0x02;

/// Where absent (null) optional values sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// Before every present value.
    First,
    /// After every present value.
    Last,
}

/// The descending and optional writers of one type, all made of its ascending writer.
macro_rules! variants {
    ($(($t:ty, $asc:ident, $desc:ident, $first:ident, $last:ident)),* $(,)?) => {$(
        #[doc = concat!("Like [`", stringify!($asc), "`](Self::", stringify!($asc), "), sorting in descending order.")]
        pub fn $desc(&mut self, value: $t) -> &mut Self {
            self.descending(|k| {
                k.$asc(value);
            })
        }

        #[doc = concat!("An optional [`", stringify!($asc), "`](Self::", stringify!($asc), "), absent values first.")]
        pub fn $first(&mut self, value: Option<$t>) -> &mut Self {
            self.option(value, Nulls::First, |k, v| {
                k.$asc(v);
            })
        }

        #[doc = concat!("An optional [`", stringify!($asc), "`](Self::", stringify!($asc), "), absent values last.")]
        pub fn $last(&mut self, value: Option<$t>) -> &mut Self {
            self.option(value, Nulls::Last, |k, v| {
                k.$asc(v);
            })
        }
    )*};
}

/// Appends order-preserving encodings of values to a key buffer.
///
/// Inside a plugin the SDK hands one to the per-record method, writing straight into the batch's
/// key buffer (no allocation per record).
pub struct KeyWriter<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> KeyWriter<'a> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        KeyWriter { buf }
    }

    /// A signed integer.
    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.buf
            .extend_from_slice(&((value as u64) ^ (1 << 63)).to_be_bytes());
        self
    }

    /// An unsigned integer.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// A point in time as microseconds since the Unix epoch (the unit every time-like key uses,
    /// so that millisecond and microsecond fields order together).
    pub fn timestamp_micros(&mut self, micros: i64) -> &mut Self {
        self.i64(micros)
    }

    /// A float, ordered as numbers are (`-inf < -1 < -0.0 < 0.0 < 1 < inf`; NaNs last).
    pub fn f64(&mut self, value: f64) -> &mut Self {
        let bits = value.to_bits();
        let ordered = if bits >> 63 == 1 {
            !bits
        } else {
            bits ^ (1 << 63)
        };
        self.buf.extend_from_slice(&ordered.to_be_bytes());
        self
    }

    /// A byte string (escaped and terminated so that tuples order element by element).
    pub fn bytes(&mut self, value: &[u8]) -> &mut Self {
        let mut rest = value;
        while let Some(zero) = rest.iter().position(|&b| b == 0) {
            self.buf.extend_from_slice(&rest[..=zero]);
            self.buf.push(0xFF);
            rest = &rest[zero + 1..];
        }
        self.buf.extend_from_slice(rest);
        self.buf.extend_from_slice(&[0x00, 0x00]);
        self
    }

    /// A string, ordered by its UTF-8 bytes (which is code point order).
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    /// The tag of a present optional value; write the value right after it.
    pub fn present(&mut self) -> &mut Self {
        self.buf.push(PRESENT);
        self
    }

    /// An absent optional value that sorts before every present one.
    pub fn absent_first(&mut self) -> &mut Self {
        self.buf.push(ABSENT_FIRST);
        self
    }

    /// An absent optional value that sorts after every present one.
    pub fn absent_last(&mut self) -> &mut Self {
        self.buf.push(ABSENT_LAST);
        self
    }

    /// An optional value: absent sorts first or last (`nulls`), a present one is written by
    /// `write` (any writer, ascending or descending) after the tag.
    pub fn option<T>(
        &mut self,
        value: Option<T>,
        nulls: Nulls,
        write: impl FnOnce(&mut Self, T),
    ) -> &mut Self {
        match (value, nulls) {
            (Some(v), _) => {
                self.present();
                write(self, v);
                self
            }
            (None, Nulls::First) => self.absent_first(),
            (None, Nulls::Last) => self.absent_last(),
        }
    }

    variants! {
        (i64, i64, i64_desc, option_i64, option_i64_last),
        (u64, u64, u64_desc, option_u64, option_u64_last),
        (f64, f64, f64_desc, option_f64, option_f64_last),
        (i64, timestamp_micros, timestamp_micros_desc, option_timestamp_micros, option_timestamp_micros_last),
        (&str, str, str_desc, option_str, option_str_last),
        (&[u8], bytes, bytes_desc, option_bytes, option_bytes_last),
    }

    /// A part that sorts in descending order, the others staying ascending:
    /// `key.str(country).descending(|k| { k.i64(time); })` sorts by country, then newest first.
    /// The part's bytes are inverted; every encoding here is prefix-free (strings end with a
    /// terminator), so inverted bytes compare in exactly the reverse order.
    pub fn descending(&mut self, part: impl FnOnce(&mut KeyWriter<'_>)) -> &mut Self {
        let start = self.buf.len();
        part(&mut KeyWriter::new(self.buf));
        for byte in &mut self.buf[start..] {
            *byte = !*byte;
        }
        self
    }

    /// Raw bytes appended as they are: only for a last element whose bytes already order
    /// correctly (such as a fixed-size big-endian value).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }
}

/// The order-preserving encoding of one signed integer (convenience for tests and hosts).
pub fn encode_i64(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

#[cfg(test)]
mod tests {

    #[test]
    fn descending_parts_reverse_their_order_and_keep_the_rest() {
        let key = |country: &str, time: i64, name: &str| {
            let mut buf = Vec::new();
            KeyWriter::new(&mut buf)
                .str(country)
                .descending(|k| {
                    k.i64(time).str(name);
                })
                .i64(0);
            buf
        };
        let mut keys = vec![
            key("FR", 1, "a"),
            key("FR", 3, "a"),
            key("DE", -5, "a"),
            key("FR", 3, "ab"),
            key("FR", 2, ""),
        ];
        keys.sort();
        let expected = vec![
            key("DE", -5, "a"),
            key("FR", 3, "ab"),
            key("FR", 3, "a"),
            key("FR", 2, ""),
            key("FR", 1, "a"),
        ];
        assert_eq!(keys, expected);
    }

    use super::*;
    use std::cmp::Ordering;

    /// A small deterministic generator (xorshift64*), so the property tests need no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn bytes(&mut self) -> Vec<u8> {
            let len = (self.next() % 6) as usize;
            // A tiny alphabet with 0x00 and 0xFF so that escapes and prefixes collide often.
            (0..len)
                .map(|_| [0x00, 0x01, 0xFF, b'a'][(self.next() % 4) as usize])
                .collect()
        }
    }

    fn key(write: impl FnOnce(&mut KeyWriter)) -> Vec<u8> {
        let mut buf = Vec::new();
        write(&mut KeyWriter::new(&mut buf));
        buf
    }

    fn assert_same_order<T: std::fmt::Debug>(
        a: &T,
        b: &T,
        by_value: Ordering,
        ka: &[u8],
        kb: &[u8],
    ) {
        assert_eq!(
            ka.cmp(kb),
            by_value,
            "{a:?} vs {b:?}: keys {ka:02x?} vs {kb:02x?}"
        );
    }

    #[test]
    fn i64_keys_order_like_the_integers() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut values: Vec<i64> = vec![i64::MIN, -1, 0, 1, i64::MAX, i64::MIN + 1, i64::MAX - 1];
        values.extend((0..2000).map(|_| rng.next() as i64));
        values.extend((0..500).map(|_| (rng.next() % 2000) as i64 - 1000));
        for pair in values.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert_same_order(
                &a,
                &b,
                a.cmp(&b),
                &key(|k| {
                    k.i64(a);
                }),
                &key(|k| {
                    k.i64(b);
                }),
            );
        }
        assert_eq!(
            key(|k| {
                k.i64(7);
            }),
            encode_i64(7)
        );
    }

    #[test]
    fn u64_and_f64_keys_order_like_the_numbers() {
        let mut rng = Rng(42);
        for _ in 0..2000 {
            let (a, b) = (rng.next(), rng.next() >> (rng.next() % 64));
            assert_same_order(
                &a,
                &b,
                a.cmp(&b),
                &key(|k| {
                    k.u64(a);
                }),
                &key(|k| {
                    k.u64(b);
                }),
            );
        }
        let mut floats = vec![
            f64::NEG_INFINITY,
            -1e300,
            -1.5,
            -0.0,
            0.0,
            1e-300,
            2.5,
            f64::INFINITY,
        ];
        floats.extend(
            (0..2000)
                .map(|_| f64::from_bits(rng.next()))
                .filter(|f| !f.is_nan()),
        );
        for a in &floats {
            for b in floats.iter().take(50) {
                let by_value = a.partial_cmp(b).unwrap_or(Ordering::Equal);
                // -0.0 and 0.0 are equal as numbers but get distinct keys: -0.0 first.
                if by_value == Ordering::Equal && a.to_bits() != b.to_bits() {
                    continue;
                }
                assert_same_order(
                    a,
                    b,
                    by_value,
                    &key(|k| {
                        k.f64(*a);
                    }),
                    &key(|k| {
                        k.f64(*b);
                    }),
                );
            }
        }
    }

    #[test]
    fn byte_string_tuples_order_element_by_element() {
        let mut rng = Rng(7);
        for _ in 0..5000 {
            let a = (rng.bytes(), rng.next() as i64 % 3);
            let b = (rng.bytes(), rng.next() as i64 % 3);
            let ka = key(|k| {
                k.bytes(&a.0).i64(a.1);
            });
            let kb = key(|k| {
                k.bytes(&b.0).i64(b.1);
            });
            assert_same_order(&a, &b, a.cmp(&b), &ka, &kb);
        }
    }

    #[test]
    fn string_then_time_tuples_order_like_tuples() {
        let mut rng = Rng(99);
        let servers = ["", "a", "a\0", "ab", "b", "é"];
        for _ in 0..3000 {
            let a = (
                servers[(rng.next() % 6) as usize],
                rng.next() as i64 % 5 - 2,
            );
            let b = (
                servers[(rng.next() % 6) as usize],
                rng.next() as i64 % 5 - 2,
            );
            let ka = key(|k| {
                k.str(a.0).timestamp_micros(a.1);
            });
            let kb = key(|k| {
                k.str(b.0).timestamp_micros(b.1);
            });
            assert_same_order(&a, &b, a.cmp(&b), &ka, &kb);
        }
    }

    /// Every type's descending writer reverses its order, and its optional writers put absent
    /// values first or last, also inside a tuple followed by more parts.
    #[test]
    fn every_type_has_descending_and_nulls_first_and_last_writers() {
        let mut rng = Rng(0x5EED);
        // (value order, then its keys: ascending, descending, option first/last of Some, of None)
        fn check<T: std::fmt::Debug>(
            a: &T,
            b: &T,
            by_value: Ordering,
            write: &dyn Fn(&mut KeyWriter, &T, usize),
        ) {
            let k = |v: &T, variant: usize| {
                key(|w| {
                    write(w, v, variant);
                    w.i64(0);
                })
            };
            assert_same_order(a, b, by_value, &k(a, 0), &k(b, 0));
            assert_same_order(a, b, by_value.reverse(), &k(a, 1), &k(b, 1));
            assert_same_order(a, b, by_value, &k(a, 2), &k(b, 2));
            assert_same_order(a, b, by_value, &k(a, 3), &k(b, 3));
            // variant 4: absent, first; 5: absent, last.
            assert!(k(a, 4) < k(a, 2) && k(b, 4) < k(b, 2), "{a:?} {b:?}");
            assert!(k(a, 5) > k(a, 3) && k(b, 5) > k(b, 3), "{a:?} {b:?}");
        }
        for _ in 0..2000 {
            let (a, b) = (rng.next() as i64, (rng.next() % 7) as i64 - 3);
            check(&a, &b, a.cmp(&b), &|w, v, n| {
                match n {
                    0 => w.i64(*v),
                    1 => w.i64_desc(*v),
                    2 => w.option_i64(Some(*v)),
                    3 => w.option_i64_last(Some(*v)),
                    4 => w.option_i64(None),
                    _ => w.option_i64_last(None),
                };
            });
            check(&a, &b, a.cmp(&b), &|w, v, n| {
                match n {
                    0 => w.timestamp_micros(*v),
                    1 => w.timestamp_micros_desc(*v),
                    2 => w.option_timestamp_micros(Some(*v)),
                    3 => w.option_timestamp_micros_last(Some(*v)),
                    4 => w.option_timestamp_micros(None),
                    _ => w.option_timestamp_micros_last(None),
                };
            });
            let (a, b) = (rng.next(), rng.next() >> (rng.next() % 64));
            check(&a, &b, a.cmp(&b), &|w, v, n| {
                match n {
                    0 => w.u64(*v),
                    1 => w.u64_desc(*v),
                    2 => w.option_u64(Some(*v)),
                    3 => w.option_u64_last(Some(*v)),
                    4 => w.option_u64(None),
                    _ => w.option_u64_last(None),
                };
            });
            let (a, b) = (f64::from_bits(rng.next()), (rng.next() % 5) as f64 - 2.0);
            if !a.is_nan() && a != b {
                check(&a, &b, a.partial_cmp(&b).unwrap(), &|w, v, n| {
                    match n {
                        0 => w.f64(*v),
                        1 => w.f64_desc(*v),
                        2 => w.option_f64(Some(*v)),
                        3 => w.option_f64_last(Some(*v)),
                        4 => w.option_f64(None),
                        _ => w.option_f64_last(None),
                    };
                });
            }
            let (a, b) = (rng.bytes(), rng.bytes());
            check(&a, &b, a.cmp(&b), &|w, v, n| {
                match n {
                    0 => w.bytes(v),
                    1 => w.bytes_desc(v),
                    2 => w.option_bytes(Some(v)),
                    3 => w.option_bytes_last(Some(v)),
                    4 => w.option_bytes(None),
                    _ => w.option_bytes_last(None),
                };
            });
            let texts = ["", "a", "a\0", "ab", "b", "é"];
            let (a, b) = (
                texts[(rng.next() % 6) as usize],
                texts[(rng.next() % 6) as usize],
            );
            check(&a, &b, a.cmp(b), &|w, v, n| {
                match n {
                    0 => w.str(v),
                    1 => w.str_desc(v),
                    2 => w.option_str(Some(v)),
                    3 => w.option_str_last(Some(v)),
                    4 => w.option_str(None),
                    _ => w.option_str_last(None),
                };
            });
        }
    }

    #[test]
    fn absent_values_sort_first_or_last_as_asked() {
        let first = key(|k| {
            k.absent_first();
        });
        let last = key(|k| {
            k.absent_last();
        });
        for v in [i64::MIN, -1, 0, i64::MAX] {
            let present = key(|k| {
                k.present().i64(v);
            });
            assert!(first < present && present < last, "{v}");
        }
        assert!(
            key(|k| {
                k.option_i64(None);
            }) < key(|k| {
                k.option_i64(Some(i64::MIN));
            })
        );
        assert!(
            key(|k| {
                k.option_str(None);
            }) < key(|k| {
                k.option_str(Some(""));
            })
        );
    }
}
