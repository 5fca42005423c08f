//! An Avro schema compiled once into a flat table of nodes, so that walking a datum never looks
//! at JSON, names or `apache_avro::Schema` again. Named references become node ids (recursive
//! types included); runs of fixed-size values are known in advance and skipped at once.
//!
//! This is the writer's view of the bytes: the binary shape of each value and its logical type.
//! It holds no defaults or aliases, which only schema resolution (the host's transcoder) needs.

use std::collections::HashMap;

use apache_avro::schema::{Name, Namespace, ResolvedSchema};
use apache_avro::Schema;

/// Index of a node in a [`CompiledSchema`].
pub type NodeId = u32;

/// The binary shape of a schema node, with what walking it needs.
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

/// A [`Kind`] without its contents: what kind of value a schema encodes at its first level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed,
    Enum,
    Array,
    Map,
    Union,
    Record,
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

impl Shape {
    /// The binary shape and logical type of `schema`'s first level; `None` for a named
    /// reference, which must be followed first. This is the one place that says how each
    /// apache-avro schema variant is encoded.
    pub fn of(schema: &Schema) -> Option<(Shape, Logical)> {
        use Logical as L;
        Some(match schema {
            Schema::Null => (Shape::Null, L::None),
            Schema::Boolean => (Shape::Boolean, L::None),
            Schema::Int => (Shape::Int, L::None),
            Schema::Long => (Shape::Long, L::None),
            Schema::Float => (Shape::Float, L::None),
            Schema::Double => (Shape::Double, L::None),
            Schema::Bytes => (Shape::Bytes, L::None),
            Schema::String => (Shape::String, L::None),
            Schema::Date => (Shape::Int, L::Date),
            Schema::TimeMillis => (Shape::Int, L::TimeMillis),
            Schema::TimeMicros => (Shape::Long, L::TimeMicros),
            Schema::TimestampMillis => (Shape::Long, L::TimestampMillis),
            Schema::TimestampMicros => (Shape::Long, L::TimestampMicros),
            Schema::TimestampNanos => (Shape::Long, L::TimestampNanos),
            Schema::LocalTimestampMillis => (Shape::Long, L::LocalTimestampMillis),
            Schema::LocalTimestampMicros => (Shape::Long, L::LocalTimestampMicros),
            Schema::LocalTimestampNanos => (Shape::Long, L::LocalTimestampNanos),
            Schema::BigDecimal => (Shape::Bytes, L::Decimal),
            // apache-avro reads a uuid as length-prefixed bytes whatever its declared base type.
            Schema::Uuid => (Shape::String, L::Uuid),
            Schema::Duration => (Shape::Fixed, L::Duration),
            Schema::Decimal(decimal) => (Shape::of(&decimal.inner)?.0, L::Decimal),
            Schema::Fixed(_) => (Shape::Fixed, L::None),
            Schema::Enum(_) => (Shape::Enum, L::None),
            Schema::Array(_) => (Shape::Array, L::None),
            Schema::Map(_) => (Shape::Map, L::None),
            Schema::Union(_) => (Shape::Union, L::None),
            Schema::Record(_) => (Shape::Record, L::None),
            Schema::Ref { .. } => return None,
        })
    }
}

impl Kind {
    pub fn shape(&self) -> Shape {
        match self {
            Kind::Null => Shape::Null,
            Kind::Boolean => Shape::Boolean,
            Kind::Int => Shape::Int,
            Kind::Long => Shape::Long,
            Kind::Float => Shape::Float,
            Kind::Double => Shape::Double,
            Kind::Bytes => Shape::Bytes,
            Kind::String => Shape::String,
            Kind::Fixed { .. } => Shape::Fixed,
            Kind::Enum { .. } => Shape::Enum,
            Kind::Array(_) => Shape::Array,
            Kind::Map(_) => Shape::Map,
            Kind::Union(_) => Shape::Union,
            Kind::Record { .. } => Shape::Record,
        }
    }
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

/// Why a schema could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(String);

/// A schema compiled into a node table; node 0 is not necessarily the root, see [`Self::root`].
#[derive(Debug, Clone)]
pub struct CompiledSchema {
    nodes: Vec<Node>,
    root: NodeId,
}

impl CompiledSchema {
    /// Compiles a parsed schema.
    pub fn compile(schema: &Schema) -> Result<Self, SchemaError> {
        let resolved = ResolvedSchema::try_from(schema).map_err(|e| SchemaError(e.to_string()))?;
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

    /// The node `id`. Ids come from this schema's own nodes; another schema's id may panic.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
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

    fn compile(&mut self, schema: &Schema, ns: &Namespace) -> Result<NodeId, SchemaError> {
        let id = match schema {
            Schema::Duration => self.push(Kind::Fixed { size: 12 }, Logical::Duration, "duration"),
            Schema::Decimal(decimal) => {
                let inner = self.compile(&decimal.inner, ns)?;
                let mut node = self.nodes[inner as usize].clone();
                node.logical = Logical::Decimal;
                self.nodes.push(node);
                (self.nodes.len() - 1) as NodeId
            }
            Schema::Array(array) => {
                let item = self.compile(&array.items, ns)?;
                self.push(Kind::Array(item), Logical::None, "array")
            }
            Schema::Map(map) => {
                let value = self.compile(&map.types, ns)?;
                self.push(Kind::Map(value), Logical::None, "map")
            }
            Schema::Union(union) => {
                let branches = union
                    .variants()
                    .iter()
                    .map(|b| self.compile(b, ns))
                    .collect::<Result<Vec<_>, _>>()?;
                self.push(Kind::Union(branches), Logical::None, "union")
            }
            Schema::Enum(e) => {
                let full = e.name.fully_qualified_name(ns).fullname(None);
                let kind = Kind::Enum {
                    symbols: e.symbols.clone(),
                };
                let id = self.push(kind, Logical::None, &full);
                self.named.insert(full, id);
                id
            }
            Schema::Fixed(f) => {
                let full = f.name.fully_qualified_name(ns).fullname(None);
                let id = self.push(Kind::Fixed { size: f.size }, Logical::None, &full);
                self.named.insert(full, id);
                id
            }
            Schema::Record(record) => {
                let name = record.name.fully_qualified_name(ns);
                let full = name.fullname(None);
                // A placeholder first, so that a recursive reference finds this node.
                let id = self.push(Kind::Record { fields: Vec::new() }, Logical::None, &full);
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
                let schema = self.known.get(&name).copied().ok_or_else(|| {
                    SchemaError(format!("schema refers to the unknown named type `{full}`"))
                })?;
                let inner_ns = name.namespace.clone();
                return self.compile(schema, &inner_ns);
            }
            // The remaining variants are leaves: their shape and logical type say it all.
            leaf => {
                let Some((shape, logical)) = Shape::of(leaf) else {
                    return Err(SchemaError(format!("{leaf:?} is not a leaf type")));
                };
                let (kind, type_name) = match shape {
                    Shape::Null => (Kind::Null, "null"),
                    Shape::Boolean => (Kind::Boolean, "boolean"),
                    Shape::Int => (Kind::Int, "int"),
                    Shape::Long => (Kind::Long, "long"),
                    Shape::Float => (Kind::Float, "float"),
                    Shape::Double => (Kind::Double, "double"),
                    Shape::Bytes => (Kind::Bytes, "bytes"),
                    Shape::String => (Kind::String, "string"),
                    other => {
                        return Err(SchemaError(format!("{other:?} is not a leaf shape")));
                    }
                };
                self.push(kind, logical, type_name)
            }
        };
        Ok(id)
    }
}
