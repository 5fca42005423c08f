//! An Avro schema compiled once into a flat table of nodes, so that reading or skipping a datum
//! never looks at JSON, names or `apache_avro::Schema` again. Named references become node ids
//! (recursive types included); runs of fixed-size fields are known in advance and skipped at once.

use std::collections::HashMap;

use apache_avro::schema::{Name, Namespace, ResolvedSchema};
use apache_avro::Schema;

use super::binary::{Cursor, DecodeError};

/// Index of a node in a [`CompiledSchema`].
pub type NodeId = u32;

/// The binary shape of a schema node.
#[derive(Debug, Clone)]
pub enum Kind {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed { size: usize },
    Enum { symbols: Vec<String> },
    Array(NodeId),
    Map(NodeId),
    Union(Vec<NodeId>),
    Record { fields: Vec<(String, NodeId)> },
}

/// The logical type over a node's binary shape, when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    None,
    Date,
    TimeMillis,
    TimeMicros,
    TimestampMillis,
    TimestampMicros,
    TimestampNanos,
    LocalTimestampMillis,
    LocalTimestampMicros,
    LocalTimestampNanos,
    Decimal,
    Uuid,
    Duration,
}

/// One node: its shape, logical type, and the name a JSON union branch uses for it.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub logical: Logical,
    /// `"long"`, `"string"`, `"array"`, ... or a named type's full name.
    pub type_name: String,
    /// The encoded size when every value of this node has the same size (`null`, `boolean`,
    /// `float`, `double`, `fixed`, records of those).
    pub fixed_size: Option<usize>,
}

/// How deep nested values may go before a datum is rejected (guards the stack against
/// maliciously deep data in recursive schemas).
const MAX_DEPTH: u32 = 512;

/// A schema compiled into a node table; node 0 is not necessarily the root, see [`Self::root`].
#[derive(Debug, Clone)]
pub struct CompiledSchema {
    nodes: Vec<Node>,
    root: NodeId,
}

impl CompiledSchema {
    /// Compiles a parsed schema.
    pub fn compile(schema: &Schema) -> Result<Self, String> {
        let resolved = ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
        let mut compiler = Compiler {
            nodes: Vec::new(),
            named: HashMap::new(),
            known: resolved.get_names(),
        };
        let root = compiler.compile(schema, &None)?;
        Ok(CompiledSchema {
            nodes: compiler.nodes,
            root,
        })
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// Skips one value of node `id`.
    pub fn skip(&self, id: NodeId, c: &mut Cursor<'_>) -> Result<(), DecodeError> {
        self.skip_at(id, c, 0)
    }

    fn skip_at(&self, id: NodeId, c: &mut Cursor<'_>, depth: u32) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError {
                offset: c.position(),
                what: "values nested too deeply",
            });
        }
        let node = self.node(id);
        if let Some(size) = node.fixed_size {
            return c.skip(size);
        }
        match &node.kind {
            Kind::Int | Kind::Long | Kind::Enum { .. } => c.skip_varint(),
            Kind::Bytes | Kind::String => {
                let n = c.length()?;
                c.skip(n)
            }
            Kind::Array(item) => self.skip_blocks(c, depth, |c| self.skip_at(*item, c, depth + 1)),
            Kind::Map(value) => self.skip_blocks(c, depth, |c| {
                let n = c.length()?;
                c.skip(n)?;
                self.skip_at(*value, c, depth + 1)
            }),
            Kind::Union(branches) => {
                let branch = self.branch(branches, c)?;
                self.skip_at(branch, c, depth + 1)
            }
            Kind::Record { fields } => fields
                .iter()
                .try_for_each(|(_, field)| self.skip_at(*field, c, depth + 1)),
            // Fixed-size kinds were skipped above.
            Kind::Null | Kind::Boolean | Kind::Float | Kind::Double | Kind::Fixed { .. } => Ok(()),
        }
    }

    /// Skips the blocks of an array or map; blocks that carry their byte size are skipped whole.
    fn skip_blocks(
        &self,
        c: &mut Cursor<'_>,
        _depth: u32,
        mut skip_item: impl FnMut(&mut Cursor<'_>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        loop {
            let block = c.block()?;
            if block.count == 0 {
                return Ok(());
            }
            if let Some(size) = block.byte_size {
                c.skip(size)?;
                continue;
            }
            for _ in 0..block.count {
                let before = c.position();
                skip_item(c)?;
                if c.position() == before {
                    // Zero-sized items (nulls): the count alone says it all; don't spin on it.
                    break;
                }
            }
        }
    }

    /// Reads a union's branch index and returns that branch's node.
    pub fn branch(&self, branches: &[NodeId], c: &mut Cursor<'_>) -> Result<NodeId, DecodeError> {
        let at = c.position();
        let index = c.long()?;
        usize::try_from(index)
            .ok()
            .and_then(|i| branches.get(i))
            .copied()
            .ok_or(DecodeError {
                offset: at,
                what: "union branch index out of range",
            })
    }
}

struct Compiler<'s> {
    nodes: Vec<Node>,
    /// Named types already compiled, by full name.
    named: HashMap<String, NodeId>,
    known: &'s HashMap<Name, &'s Schema>,
}

impl Compiler<'_> {
    fn push(&mut self, kind: Kind, logical: Logical, type_name: &str) -> NodeId {
        let fixed_size = match &kind {
            Kind::Null => Some(0),
            Kind::Boolean => Some(1),
            Kind::Float => Some(4),
            Kind::Double => Some(8),
            Kind::Fixed { size } => Some(*size),
            Kind::Record { fields } => fields.iter().try_fold(0usize, |sum, (_, f)| {
                self.nodes[*f as usize].fixed_size.map(|s| sum + s)
            }),
            _ => None,
        };
        self.nodes.push(Node {
            kind,
            logical,
            type_name: type_name.to_string(),
            fixed_size,
        });
        (self.nodes.len() - 1) as NodeId
    }

    fn compile(&mut self, schema: &Schema, ns: &Namespace) -> Result<NodeId, String> {
        use Logical as L;
        let id = match schema {
            Schema::Null => self.push(Kind::Null, L::None, "null"),
            Schema::Boolean => self.push(Kind::Boolean, L::None, "boolean"),
            Schema::Int => self.push(Kind::Int, L::None, "int"),
            Schema::Long => self.push(Kind::Long, L::None, "long"),
            Schema::Float => self.push(Kind::Float, L::None, "float"),
            Schema::Double => self.push(Kind::Double, L::None, "double"),
            Schema::Bytes => self.push(Kind::Bytes, L::None, "bytes"),
            Schema::String => self.push(Kind::String, L::None, "string"),
            Schema::Date => self.push(Kind::Int, L::Date, "int"),
            Schema::TimeMillis => self.push(Kind::Int, L::TimeMillis, "int"),
            Schema::TimeMicros => self.push(Kind::Long, L::TimeMicros, "long"),
            Schema::TimestampMillis => self.push(Kind::Long, L::TimestampMillis, "long"),
            Schema::TimestampMicros => self.push(Kind::Long, L::TimestampMicros, "long"),
            Schema::TimestampNanos => self.push(Kind::Long, L::TimestampNanos, "long"),
            Schema::LocalTimestampMillis => self.push(Kind::Long, L::LocalTimestampMillis, "long"),
            Schema::LocalTimestampMicros => self.push(Kind::Long, L::LocalTimestampMicros, "long"),
            Schema::LocalTimestampNanos => self.push(Kind::Long, L::LocalTimestampNanos, "long"),
            Schema::BigDecimal => self.push(Kind::Bytes, L::Decimal, "bytes"),
            // apache-avro reads a uuid as length-prefixed bytes whatever its declared base type.
            Schema::Uuid => self.push(Kind::String, L::Uuid, "string"),
            Schema::Duration => self.push(Kind::Fixed { size: 12 }, L::Duration, "duration"),
            Schema::Decimal(decimal) => {
                let inner = self.compile(&decimal.inner, ns)?;
                let mut node = self.nodes[inner as usize].clone();
                node.logical = L::Decimal;
                self.nodes.push(node);
                (self.nodes.len() - 1) as NodeId
            }
            Schema::Array(array) => {
                let item = self.compile(&array.items, ns)?;
                self.push(Kind::Array(item), L::None, "array")
            }
            Schema::Map(map) => {
                let value = self.compile(&map.types, ns)?;
                self.push(Kind::Map(value), L::None, "map")
            }
            Schema::Union(union) => {
                let branches = union
                    .variants()
                    .iter()
                    .map(|b| self.compile(b, ns))
                    .collect::<Result<Vec<_>, _>>()?;
                self.push(Kind::Union(branches), L::None, "union")
            }
            Schema::Enum(e) => {
                let name = e.name.fully_qualified_name(ns);
                let id = self.push(
                    Kind::Enum {
                        symbols: e.symbols.clone(),
                    },
                    L::None,
                    &name.fullname(None),
                );
                self.named.insert(name.fullname(None), id);
                id
            }
            Schema::Fixed(f) => {
                let name = f.name.fully_qualified_name(ns);
                let id = self.push(Kind::Fixed { size: f.size }, L::None, &name.fullname(None));
                self.named.insert(name.fullname(None), id);
                id
            }
            Schema::Record(record) => {
                let name = record.name.fully_qualified_name(ns);
                let full = name.fullname(None);
                // A placeholder first, so that a recursive reference finds this node.
                let id = self.push(Kind::Record { fields: Vec::new() }, L::None, &full);
                self.nodes[id as usize].fixed_size = None;
                self.named.insert(full, id);
                let inner_ns = name.namespace.clone();
                let mut fields = Vec::with_capacity(record.fields.len());
                for field in &record.fields {
                    fields.push((field.name.clone(), self.compile(&field.schema, &inner_ns)?));
                }
                let fixed_size = fields.iter().try_fold(0usize, |sum, (_, f)| {
                    self.nodes[*f as usize].fixed_size.map(|s| sum + s)
                });
                let node = &mut self.nodes[id as usize];
                node.kind = Kind::Record { fields };
                node.fixed_size = fixed_size;
                id
            }
            Schema::Ref { name } => {
                let name = name.fully_qualified_name(ns);
                let full = name.fullname(None);
                if let Some(&id) = self.named.get(&full) {
                    return Ok(id);
                }
                let schema = self
                    .known
                    .get(&name)
                    .copied()
                    .ok_or_else(|| format!("schema refers to unknown type {full}"))?;
                let inner_ns = name.namespace.clone();
                return self.compile(schema, &inner_ns);
            }
        };
        Ok(id)
    }
}
