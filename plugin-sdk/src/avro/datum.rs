//! One value read out of an Avro datum by a projection, borrowing the datum's bytes.

/// A leaf value: primitives as they are, logical types tagged, complex values as raw bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Datum<'a> {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Bytes(&'a [u8]),
    String(&'a str),
    Fixed(&'a [u8]),
    Enum {
        index: u32,
        symbol: &'a str,
    },
    /// Days since the Unix epoch.
    Date(i32),
    TimeMillis(i32),
    TimeMicros(i64),
    TimestampMillis(i64),
    TimestampMicros(i64),
    TimestampNanos(i64),
    LocalTimestampMillis(i64),
    LocalTimestampMicros(i64),
    LocalTimestampNanos(i64),
    /// The two's-complement big-endian unscaled value.
    Decimal(&'a [u8]),
    Uuid(&'a str),
    /// A record, array or map: its Avro binary encoding, unparsed.
    Raw(&'a [u8]),
    /// In a text record (contract 0.1.3): an object, an array or a string with escapes, as
    /// its JSON text (a string with its quotes).
    Json(&'a [u8]),
}

impl<'a> Datum<'a> {
    /// Any integer-like value (int, long, dates, times, timestamps) as an `i64`, as stored.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Datum::Int(v) | Datum::Date(v) | Datum::TimeMillis(v) => Some(v.into()),
            Datum::Long(v)
            | Datum::TimeMicros(v)
            | Datum::TimestampMillis(v)
            | Datum::TimestampMicros(v)
            | Datum::TimestampNanos(v)
            | Datum::LocalTimestampMillis(v)
            | Datum::LocalTimestampMicros(v)
            | Datum::LocalTimestampNanos(v) => Some(v),
            _ => None,
        }
    }

    /// A string, enum symbol or uuid.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Datum::String(s) | Datum::Uuid(s) => Some(s),
            Datum::Enum { symbol, .. } => Some(symbol),
            _ => None,
        }
    }

    /// The value's bytes for byte-like values (bytes, fixed, strings, decimals, raw values).
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Datum::Bytes(b) | Datum::Fixed(b) | Datum::Decimal(b) | Datum::Raw(b) => Some(b),
            Datum::Json(text) => Some(text),
            Datum::String(s) | Datum::Uuid(s) => Some(s.as_bytes()),
            Datum::Enum { symbol, .. } => Some(symbol.as_bytes()),
            _ => None,
        }
    }

    /// A point in time in microseconds since the Unix epoch, for timestamp types; plain `long`
    /// and `int` values count as milliseconds (what Camus records carry).
    pub fn as_timestamp_micros(&self) -> Option<i64> {
        match *self {
            Datum::Int(ms) => Some(i64::from(ms) * 1000),
            Datum::Long(ms) | Datum::TimestampMillis(ms) | Datum::LocalTimestampMillis(ms) => {
                ms.checked_mul(1000)
            }
            Datum::TimestampMicros(us) | Datum::LocalTimestampMicros(us) => Some(us),
            Datum::TimestampNanos(ns) | Datum::LocalTimestampNanos(ns) => Some(ns.div_euclid(1000)),
            _ => None,
        }
    }

    /// The value as text for a message key: strings as they are, numbers in decimal, bytes as
    /// they are. `None` for null.
    pub fn to_key_bytes(&self) -> Option<Vec<u8>> {
        match *self {
            Datum::Null => None,
            Datum::Boolean(b) => Some(b.to_string().into_bytes()),
            Datum::Float(f) => Some(f.to_string().into_bytes()),
            Datum::Double(f) => Some(f.to_string().into_bytes()),
            // A JSON string with escapes keys by its value, as the same string without would.
            Datum::Json(text) if text.first() == Some(&b'"') => Some(
                serde_json::from_slice::<String>(text)
                    .map_or_else(|_| text.to_vec(), String::into_bytes),
            ),
            _ => self
                .as_i64()
                .map(|v| v.to_string().into_bytes())
                .or_else(|| self.as_bytes().map(<[u8]>::to_vec)),
        }
    }
}
