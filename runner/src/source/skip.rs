//! Finding where one Avro datum ends without decoding it.
//!
//! The source passes records through as bytes whenever it can, so it needs each datum's byte
//! boundaries but not its value. A [`Skipper`] is the writer schema compiled into a flat table of
//! nodes; [`Skipper::skip`] walks one datum, checking every length, varint and union/enum index
//! against the bytes that are really there, and returns where the datum ends. It never allocates
//! and never panics on bad bytes: it returns a [`SkipError`] saying what was wrong and where.

use std::collections::HashMap;

use apache_avro::Schema;

/// Deeper nesting than this (only reachable through recursive schemas) is treated as corrupt data
/// rather than risking the stack.
const MAX_DEPTH: u32 = 256;

/// Why a datum could not be walked. Positions are byte offsets inside the decompressed block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipError {
    #[error("datum runs past the end of its block (at byte {0})")]
    Truncated(usize),
    #[error("malformed varint at byte {0}")]
    BadVarint(usize),
    #[error("negative length {len} at byte {at}")]
    NegativeLength { len: i64, at: usize },
    #[error("union branch {index} out of range (the union has {branches}) at byte {at}")]
    BadUnionIndex {
        index: i64,
        branches: usize,
        at: usize,
    },
    #[error("enum symbol {index} out of range (the enum has {symbols}) at byte {at}")]
    BadEnumIndex {
        index: i64,
        symbols: usize,
        at: usize,
    },
    #[error("boolean byte {value} is neither 0 nor 1 at byte {at}")]
    BadBoolean { value: u8, at: usize },
    #[error("nesting deeper than {MAX_DEPTH} levels at byte {0}")]
    TooDeep(usize),
}

/// Why a schema could not be compiled into a skipper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schema refers to the unknown named type `{0}`")]
pub struct UnknownName(pub String);

type NodeId = u32;

#[derive(Debug, Clone)]
enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    /// bytes and string: a long length then that many bytes.
    Bytes,
    Fixed(usize),
    Enum(usize),
    Array(NodeId),
    Map(NodeId),
    Union(Vec<NodeId>),
    Record(Vec<NodeId>),
    /// A named type seen before its definition was compiled (recursive schemas); resolved to the
    /// definition's node after compilation.
    Ref(String),
}

/// A writer schema compiled for [`Skipper::skip`].
#[derive(Debug, Clone)]
pub struct Skipper {
    nodes: Vec<Node>,
}

impl Skipper {
    pub fn new(schema: &Schema) -> Result<Skipper, UnknownName> {
        let mut compiler = Compiler {
            nodes: Vec::new(),
            named: HashMap::new(),
        };
        compiler.compile(schema);
        let Compiler { mut nodes, named } = compiler;
        // Replace every forward reference by the node it names.
        for i in 0..nodes.len() {
            if let Node::Ref(name) = &nodes[i] {
                let target = *named.get(name).ok_or_else(|| UnknownName(name.clone()))?;
                nodes[i] = nodes[target as usize].clone();
            }
        }
        Ok(Skipper { nodes })
    }

    /// The end (exclusive) of the datum starting at `start` in `buf`.
    pub fn skip(&self, buf: &[u8], start: usize) -> Result<usize, SkipError> {
        let mut pos = start;
        self.walk(0, buf, &mut pos, 0)?;
        Ok(pos)
    }

    fn walk(&self, node: NodeId, buf: &[u8], pos: &mut usize, depth: u32) -> Result<(), SkipError> {
        if depth > MAX_DEPTH {
            return Err(SkipError::TooDeep(*pos));
        }
        match &self.nodes[node as usize] {
            Node::Null => Ok(()),
            Node::Boolean => {
                let at = *pos;
                let value = *buf.get(at).ok_or(SkipError::Truncated(at))?;
                if value > 1 {
                    return Err(SkipError::BadBoolean { value, at });
                }
                *pos += 1;
                Ok(())
            }
            Node::Int => read_varint(buf, pos, 5).map(|_| ()),
            Node::Long => read_varint(buf, pos, 10).map(|_| ()),
            Node::Float => advance(buf, pos, 4),
            Node::Double => advance(buf, pos, 8),
            Node::Bytes => {
                let len = read_length(buf, pos)?;
                advance(buf, pos, len)
            }
            Node::Fixed(size) => advance(buf, pos, *size),
            Node::Enum(symbols) => {
                let at = *pos;
                let index = read_varint(buf, pos, 5)?;
                if index < 0 || index as usize >= *symbols {
                    return Err(SkipError::BadEnumIndex {
                        index,
                        symbols: *symbols,
                        at,
                    });
                }
                Ok(())
            }
            Node::Array(items) => {
                self.walk_blocks(buf, pos, |s, b, p| s.walk(*items, b, p, depth + 1))
            }
            Node::Map(values) => self.walk_blocks(buf, pos, |s, b, p| {
                let len = read_length(b, p)?;
                advance(b, p, len)?;
                s.walk(*values, b, p, depth + 1)
            }),
            Node::Union(branches) => {
                let at = *pos;
                let index = read_varint(buf, pos, 10)?;
                match usize::try_from(index).ok().and_then(|i| branches.get(i)) {
                    Some(branch) => self.walk(*branch, buf, pos, depth + 1),
                    None => Err(SkipError::BadUnionIndex {
                        index,
                        branches: branches.len(),
                        at,
                    }),
                }
            }
            Node::Record(fields) => {
                for field in fields {
                    self.walk(*field, buf, pos, depth + 1)?;
                }
                Ok(())
            }
            // Resolved in `new`; a self-reference that points at another Ref cannot occur because
            // every name is defined by a record, enum or fixed node.
            Node::Ref(_) => Ok(()),
        }
    }

    /// Arrays and maps: blocks of `count` items, a negative count being followed by the block's
    /// byte size, until a zero count.
    fn walk_blocks(
        &self,
        buf: &[u8],
        pos: &mut usize,
        item: impl Fn(&Self, &[u8], &mut usize) -> Result<(), SkipError>,
    ) -> Result<(), SkipError> {
        loop {
            let mut count = read_varint(buf, pos, 10)?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                count = count.checked_neg().ok_or(SkipError::BadVarint(*pos))?;
                read_length(buf, pos)?;
            }
            let before = *pos;
            item(self, buf, pos)?;
            // An item type that takes no bytes (null, empty records) takes none for every item:
            // no need to loop over a count that corrupt data may have made huge.
            if *pos != before {
                for _ in 1..count {
                    item(self, buf, pos)?;
                }
            }
        }
    }
}

struct Compiler {
    nodes: Vec<Node>,
    named: HashMap<String, NodeId>,
}

impl Compiler {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        (self.nodes.len() - 1) as NodeId
    }

    fn compile(&mut self, schema: &Schema) -> NodeId {
        match schema {
            Schema::Null => self.push(Node::Null),
            Schema::Boolean => self.push(Node::Boolean),
            Schema::Int | Schema::Date | Schema::TimeMillis => self.push(Node::Int),
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => self.push(Node::Long),
            Schema::Float => self.push(Node::Float),
            Schema::Double => self.push(Node::Double),
            Schema::Bytes | Schema::String | Schema::BigDecimal | Schema::Uuid => {
                self.push(Node::Bytes)
            }
            Schema::Duration => self.push(Node::Fixed(12)),
            Schema::Decimal(decimal) => self.compile(&decimal.inner),
            Schema::Fixed(fixed) => {
                let id = self.push(Node::Fixed(fixed.size));
                self.named.insert(fixed.name.fullname(None), id);
                id
            }
            Schema::Enum(e) => {
                let id = self.push(Node::Enum(e.symbols.len()));
                self.named.insert(e.name.fullname(None), id);
                id
            }
            Schema::Array(array) => {
                let id = self.push(Node::Null);
                let items = self.compile(&array.items);
                self.nodes[id as usize] = Node::Array(items);
                id
            }
            Schema::Map(map) => {
                let id = self.push(Node::Null);
                let values = self.compile(&map.types);
                self.nodes[id as usize] = Node::Map(values);
                id
            }
            Schema::Union(union) => {
                let id = self.push(Node::Null);
                let branches = union.variants().iter().map(|v| self.compile(v)).collect();
                self.nodes[id as usize] = Node::Union(branches);
                id
            }
            Schema::Record(record) => {
                // Registered before its fields so that a field may refer to its own record.
                let id = self.push(Node::Record(Vec::new()));
                self.named.insert(record.name.fullname(None), id);
                let fields = record
                    .fields
                    .iter()
                    .map(|f| self.compile(&f.schema))
                    .collect();
                self.nodes[id as usize] = Node::Record(fields);
                id
            }
            Schema::Ref { name } => {
                let full = name.fullname(None);
                match self.named.get(&full) {
                    Some(&id) => id,
                    None => self.push(Node::Ref(full)),
                }
            }
        }
    }
}

fn advance(buf: &[u8], pos: &mut usize, len: usize) -> Result<(), SkipError> {
    let end = pos
        .checked_add(len)
        .filter(|&end| end <= buf.len())
        .ok_or(SkipError::Truncated(*pos))?;
    *pos = end;
    Ok(())
}

fn read_length(buf: &[u8], pos: &mut usize) -> Result<usize, SkipError> {
    let at = *pos;
    let len = read_varint(buf, pos, 10)?;
    usize::try_from(len).map_err(|_| SkipError::NegativeLength { len, at })
}

/// A zig-zag varint of at most `max_bytes` bytes.
pub fn read_varint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Result<i64, SkipError> {
    let start = *pos;
    let mut value: u64 = 0;
    for i in 0..max_bytes {
        let byte = *buf.get(start + i).ok_or(SkipError::Truncated(start + i))?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *pos = start + i + 1;
            return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    Err(SkipError::BadVarint(start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Value;

    fn schema() -> Schema {
        Schema::parse_str(
            r#"{"type":"record","name":"R","fields":[
                {"name":"a","type":"int"},
                {"name":"s","type":["null","string"]},
                {"name":"m","type":{"type":"map","values":"long"}},
                {"name":"xs","type":{"type":"array","items":"double"}},
                {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
                {"name":"f","type":{"type":"fixed","name":"F","size":3}},
                {"name":"next","type":["null","R"]}
            ]}"#,
        )
        .unwrap()
    }

    fn value(depth: u32) -> Value {
        Value::Record(vec![
            ("a".into(), Value::Int(-5)),
            (
                "s".into(),
                Value::Union(1, Box::new(Value::String("héllo".into()))),
            ),
            (
                "m".into(),
                Value::Map([("k".to_string(), Value::Long(1 << 40))].into()),
            ),
            (
                "xs".into(),
                Value::Array(vec![Value::Double(1.5), Value::Double(-2.0)]),
            ),
            ("e".into(), Value::Enum(1, "Y".into())),
            ("f".into(), Value::Fixed(3, vec![1, 2, 3])),
            (
                "next".into(),
                if depth == 0 {
                    Value::Union(0, Box::new(Value::Null))
                } else {
                    Value::Union(1, Box::new(value(depth - 1)))
                },
            ),
        ])
    }

    #[test]
    fn skip_finds_the_exact_end_of_each_datum_including_recursive_ones() {
        let schema = schema();
        let skipper = Skipper::new(&schema).unwrap();
        let mut buf = Vec::new();
        let mut ends = Vec::new();
        for depth in 0..4 {
            buf.extend(apache_avro::to_avro_datum(&schema, value(depth)).unwrap());
            ends.push(buf.len());
        }
        let mut pos = 0;
        for end in ends {
            pos = skipper.skip(&buf, pos).unwrap();
            assert_eq!(pos, end);
        }
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let schema = schema();
        let skipper = Skipper::new(&schema).unwrap();
        let buf = apache_avro::to_avro_datum(&schema, value(2)).unwrap();
        for len in 0..buf.len() {
            assert!(skipper.skip(&buf[..len], 0).is_err(), "truncated at {len}");
        }
    }

    #[test]
    fn bit_flips_never_panic() {
        let schema = schema();
        let skipper = Skipper::new(&schema).unwrap();
        let buf = apache_avro::to_avro_datum(&schema, value(3)).unwrap();
        for i in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[i] ^= 1 << bit;
                let _ = skipper.skip(&bad, 0);
            }
        }
    }

    #[test]
    fn varints_decode_zigzag() {
        let mut pos = 0;
        assert_eq!(read_varint(&[0x03], &mut pos, 10), Ok(-2));
        let mut pos = 0;
        assert_eq!(read_varint(&[0x80, 0x01], &mut pos, 10), Ok(64));
        let mut pos = 0;
        assert!(read_varint(&[0xff; 11], &mut pos, 10).is_err());
    }
}
