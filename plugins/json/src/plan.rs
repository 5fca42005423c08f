//! A schema compiled once into the steps that write its datums as JSON.
//!
//! Walking the schema's node tree for every record cost a dispatch per node and a table look-up
//! per field name. A plan is flat instead: a record's braces, commas and quoted field names are
//! merged into one literal run between values (`,"server":` or `},"url":`), nested records are
//! inlined, and only what repeats or branches (unions, arrays, maps, recursive records) is a body
//! of its own that the writer calls.

use std::collections::HashMap;

use c2k_plugin_sdk::avro::{CompiledSchema, Kind, NodeId};

use crate::text;

/// Index of a body in [`Plan::bodies`].
pub type BodyId = u32;

/// One step of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `Plan::text[start..end]` as it is.
    Text {
        start: u32,
        end: u32,
    },
    Boolean,
    Int,
    Long,
    Float,
    Double,
    /// A UTF-8 string, quoted.
    String,
    /// Length-prefixed bytes, as ISO-8859-1 characters.
    Bytes,
    /// `size` bytes, as ISO-8859-1 characters.
    Fixed {
        size: u32,
    },
    /// An enum symbol, from `Plan::enums[table]` (quoted once).
    Enum {
        table: u32,
    },
    /// A union: the branch index picks a body from `Plan::unions[table]`.
    Union {
        table: u32,
    },
    /// Array items, each written by `item`, comma-separated in brackets.
    Array {
        item: BodyId,
    },
    /// Map entries: a quoted key, a colon and the value written by `value`, in braces.
    Map {
        value: BodyId,
    },
    /// A record written by a body of its own (a recursive type, which cannot be inlined).
    Call {
        body: BodyId,
    },
}

/// The steps that write one schema's datums.
#[derive(Debug, Default)]
pub struct Plan {
    /// Every literal run, back to back.
    pub text: Vec<u8>,
    pub ops: Vec<Op>,
    /// Each body's range of `ops`.
    pub bodies: Vec<(u32, u32)>,
    /// Each union's branch bodies, by branch index.
    pub unions: Vec<Box<[BodyId]>>,
    /// Each enum's symbols, quoted.
    pub enums: Vec<Box<[Box<[u8]>]>>,
    /// The body that writes a whole datum.
    pub root: BodyId,
}

impl Plan {
    /// The plan of `schema`; `tagged_unions` selects Avro's JSON encoding (a non-null union
    /// value as `{"<branch type name>": value}`) over plain JSON (the value alone).
    pub fn compile(schema: &CompiledSchema, tagged_unions: bool) -> Plan {
        let mut compiler = Compiler {
            schema,
            tagged_unions,
            plan: Plan::default(),
            record_bodies: HashMap::new(),
            inlining: Vec::new(),
        };
        let root = compiler.body(|c, ops| c.node(schema.root(), ops));
        compiler.plan.root = root;
        compiler.plan
    }

    /// The ops of body `id`.
    #[inline(always)]
    pub fn body(&self, id: BodyId) -> &[Op] {
        let (start, end) = self.bodies[id as usize];
        &self.ops[start as usize..end as usize]
    }
}

struct Compiler<'s> {
    schema: &'s CompiledSchema,
    tagged_unions: bool,
    plan: Plan,
    /// Bodies of records that are called rather than inlined, by node.
    record_bodies: HashMap<NodeId, BodyId>,
    /// The records being inlined, outermost first: meeting one again is recursion.
    inlining: Vec<NodeId>,
}

impl Compiler<'_> {
    /// A new body, its ops built by `build`. Bodies are built into a scratch list and appended
    /// whole, so that one body's ops stay contiguous while it builds the bodies it calls.
    fn body(&mut self, build: impl FnOnce(&mut Self, &mut Vec<Op>)) -> BodyId {
        let id = self.plan.bodies.len() as BodyId;
        self.plan.bodies.push((0, 0));
        let mut ops = Vec::new();
        build(self, &mut ops);
        let start = self.plan.ops.len() as u32;
        self.plan.ops.extend(ops);
        self.plan.bodies[id as usize] = (start, self.plan.ops.len() as u32);
        id
    }

    /// Appends literal text, merged into the previous op when that is text too.
    fn text(&mut self, ops: &mut Vec<Op>, bytes: &[u8]) {
        let start = self.plan.text.len() as u32;
        self.plan.text.extend_from_slice(bytes);
        let end = self.plan.text.len() as u32;
        match ops.last_mut() {
            Some(Op::Text { end: last, .. }) if *last == start => *last = end,
            _ => ops.push(Op::Text { start, end }),
        }
    }

    fn node(&mut self, id: NodeId, ops: &mut Vec<Op>) {
        let schema = self.schema;
        let node = schema.node(id);
        match &node.kind {
            Kind::Null => self.text(ops, b"null"),
            Kind::Boolean => ops.push(Op::Boolean),
            Kind::Int => ops.push(Op::Int),
            Kind::Long => ops.push(Op::Long),
            Kind::Float => ops.push(Op::Float),
            Kind::Double => ops.push(Op::Double),
            Kind::Bytes => ops.push(Op::Bytes),
            Kind::String => ops.push(Op::String),
            Kind::Fixed { size } => ops.push(Op::Fixed {
                size: u32::try_from(*size).unwrap_or(u32::MAX),
            }),
            Kind::Enum { symbols } => {
                let table = self.plan.enums.len() as u32;
                let quoted = symbols
                    .iter()
                    .map(|symbol| {
                        let mut out = Vec::new();
                        text::quote(&mut out, symbol.as_bytes());
                        out.into_boxed_slice()
                    })
                    .collect();
                self.plan.enums.push(quoted);
                ops.push(Op::Enum { table });
            }
            Kind::Array(item) => {
                let item = self.body(|c, ops| c.node(*item, ops));
                ops.push(Op::Array { item });
            }
            Kind::Map(value) => {
                let value = self.body(|c, ops| c.node(*value, ops));
                ops.push(Op::Map { value });
            }
            Kind::Union(branches) => {
                let bodies: Box<[BodyId]> = branches
                    .iter()
                    .map(|&branch| self.body(|c, ops| c.branch(branch, ops)))
                    .collect();
                let table = self.plan.unions.len() as u32;
                self.plan.unions.push(bodies);
                ops.push(Op::Union { table });
            }
            Kind::Record { fields } => {
                if let Some(&body) = self.record_bodies.get(&id) {
                    ops.push(Op::Call { body });
                } else if self.inlining.contains(&id) {
                    // Recursion: this record gets a body of its own, called from here. Its
                    // outer occurrence stays inlined; both write the same text.
                    let body = self.plan.bodies.len() as BodyId;
                    self.record_bodies.insert(id, body);
                    self.body(|c, ops| c.record(fields, ops));
                    ops.push(Op::Call { body });
                } else {
                    self.inlining.push(id);
                    self.record(fields, ops);
                    self.inlining.pop();
                }
            }
        }
    }

    fn record(&mut self, fields: &[(String, NodeId)], ops: &mut Vec<Op>) {
        self.text(ops, b"{");
        for (i, (name, field)) in fields.iter().enumerate() {
            let mut quoted = Vec::with_capacity(name.len() + 4);
            if i > 0 {
                quoted.push(b',');
            }
            text::quote(&mut quoted, name.as_bytes());
            quoted.push(b':');
            self.text(ops, &quoted);
            self.node(*field, ops);
        }
        self.text(ops, b"}");
    }

    /// One union branch: null as `null` in both encodings, other values wrapped in
    /// `{"<type name>": ...}` in Avro's.
    fn branch(&mut self, branch: NodeId, ops: &mut Vec<Op>) {
        let node = self.schema.node(branch);
        if !self.tagged_unions || matches!(node.kind, Kind::Null) {
            return self.node(branch, ops);
        }
        let mut open = b"{".to_vec();
        text::quote(&mut open, node.type_name.as_bytes());
        open.push(b':');
        self.text(ops, &open);
        self.node(branch, ops);
        self.text(ops, b"}");
    }
}
