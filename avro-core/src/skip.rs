//! Finding where one Avro datum ends without decoding it: the one walker of the project.
//!
//! The host passes records through as bytes whenever it can, so it needs each datum's
//! boundaries but not its value; a plugin's projection skips the fields before the one it reads.
//! Both walk a [`CompiledSchema`] here. The host wants every value checked before it passes a
//! record on ([`Validate::Strict`]); a plugin reading records the host has already checked wants
//! speed ([`Validate::Fast`]). The two modes are one function compiled twice (a const
//! parameter), so the fast path carries no test of the mode.
//!
//! Walking never allocates and never panics on bad bytes. It does not decode values: readers
//! that need them use [`Cursor`] directly.

use std::cell::Cell;

use crate::binary::{Cursor, DecodeError, Malformed, INT_BYTES};
use crate::schema::{CompiledSchema, Kind, NodeId};
use crate::MAX_DEPTH;

/// The most items that take no bytes (nulls, empty records) one datum may hold, checked by the
/// strict walk. Their number is not bounded by the data's length, and a reader that makes a
/// value of each (apache-avro reserves a block's count at once) would run out of memory on a
/// few bytes declaring billions of them.
pub const MAX_EMPTY_ITEMS: u64 = 1 << 20;

/// How much a walk checks besides lengths, varints, union indexes and depth (always checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validate {
    /// Also: booleans are 0 or 1, enum indexes name a symbol, `int` varints take at most 5
    /// bytes and fit 32 bits, and the items of array and map blocks that carry their byte size
    /// are walked one by one (and must take that size) rather than jumped over. For data nothing
    /// has checked yet.
    Strict,
    /// Fixed-size values and sized blocks are jumped over at once. For data already checked.
    Fast,
}

impl CompiledSchema {
    /// The end (exclusive) of the datum of the root type that starts at `start` in `buf`.
    /// Error offsets count from the start of `buf`.
    pub fn datum_end(
        &self,
        buf: &[u8],
        start: usize,
        validate: Validate,
    ) -> Result<usize, DecodeError> {
        let mut c = Cursor::at(buf, start);
        self.skip_with(self.root(), &mut c, validate)?;
        Ok(c.position())
    }

    /// Skips one value of node `id`, as fast as the bytes allow ([`Validate::Fast`]).
    pub fn skip(&self, id: NodeId, c: &mut Cursor<'_>) -> Result<(), DecodeError> {
        self.walk::<false>(id, c, 0, &Cell::new(0))
    }

    /// Skips one value of node `id`, checking as much as `validate` says.
    pub fn skip_with(
        &self,
        id: NodeId,
        c: &mut Cursor<'_>,
        validate: Validate,
    ) -> Result<(), DecodeError> {
        let empty = Cell::new(0);
        match validate {
            Validate::Strict => self.walk::<true>(id, c, 0, &empty),
            Validate::Fast => self.walk::<false>(id, c, 0, &empty),
        }
    }

    /// Reads a union's branch index and returns that branch's node.
    pub fn branch(&self, branches: &[NodeId], c: &mut Cursor<'_>) -> Result<NodeId, DecodeError> {
        Ok(branches[c.union_index(branches.len())?])
    }

    fn walk<const STRICT: bool>(
        &self,
        id: NodeId,
        c: &mut Cursor<'_>,
        depth: u32,
        empty: &Cell<u64>,
    ) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(c.error(Malformed::TooDeep));
        }
        let node = self.node(id);
        if !STRICT {
            if let Some(size) = node.fixed_size {
                return c.skip(size);
            }
        }
        match &node.kind {
            Kind::Null => Ok(()),
            Kind::Boolean => c.boolean().map(|_| ()),
            Kind::Int if STRICT => {
                // At most 5 bytes, and in range: 5 bytes hold 35 bits (found by the avro_datum
                // fuzz target: 11,718,750,000 passed as an int, which apache-avro refuses).
                let at = c.position();
                let value = c.varint(INT_BYTES)?;
                match i32::try_from(value) {
                    Ok(_) => Ok(()),
                    Err(_) => Err(DecodeError {
                        offset: at,
                        what: Malformed::IntOutOfRange(value),
                    }),
                }
            }
            Kind::Int | Kind::Long => c.skip_varint(),
            Kind::Float => c.skip(4),
            Kind::Double => c.skip(8),
            Kind::Fixed { size } => c.skip(*size),
            Kind::Enum { symbols } if STRICT => {
                let at = c.position();
                let index = c.varint(INT_BYTES)?;
                if usize::try_from(index).map_or(true, |i| i >= symbols.len()) {
                    return Err(DecodeError {
                        offset: at,
                        what: Malformed::BadEnumIndex {
                            index,
                            symbols: symbols.len(),
                        },
                    });
                }
                Ok(())
            }
            Kind::Enum { .. } => c.skip_varint(),
            Kind::Bytes | Kind::String => {
                let n = c.length()?;
                c.skip(n)
            }
            Kind::Array(item) => self.blocks::<STRICT>(c, empty, |c| {
                self.walk::<STRICT>(*item, c, depth + 1, empty)
            }),
            Kind::Map(value) => self.blocks::<STRICT>(c, empty, |c| {
                let n = c.length()?;
                c.skip(n)?;
                self.walk::<STRICT>(*value, c, depth + 1, empty)
            }),
            Kind::Union(branches) => {
                let branch = self.branch(branches, c)?;
                self.walk::<STRICT>(branch, c, depth + 1, empty)
            }
            Kind::Record { fields } => fields
                .iter()
                .try_for_each(|(_, field)| self.walk::<STRICT>(*field, c, depth + 1, empty)),
        }
    }

    /// The blocks of an array or map, until the block of count 0. A block that carries its
    /// byte size is jumped over at once, unless the walk is strict.
    fn blocks<const STRICT: bool>(
        &self,
        c: &mut Cursor<'_>,
        empty: &Cell<u64>,
        mut item: impl FnMut(&mut Cursor<'_>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        loop {
            let block = c.block()?;
            if block.count == 0 {
                return Ok(());
            }
            if let (false, Some(size)) = (STRICT, block.byte_size) {
                c.skip(size)?;
                continue;
            }
            let start = c.position();
            for _ in 0..block.count {
                let before = c.position();
                item(c)?;
                if c.position() == before {
                    // An item that takes no bytes (null, an empty record) takes none for every
                    // item: no need to loop over a count that corrupt data may have made huge,
                    // but a strict walk counts them against the datum's bound.
                    let count = empty.get().saturating_add(block.count);
                    if STRICT && count > MAX_EMPTY_ITEMS {
                        return Err(c.error(Malformed::TooManyItems(MAX_EMPTY_ITEMS)));
                    }
                    empty.set(count);
                    break;
                }
            }
            // A strict walk holds the items to the size the block declares, which the fast walk
            // (and Java's reader) jump by: both must end the datum at the same byte.
            if let (true, Some(declared)) = (STRICT, block.byte_size) {
                let walked = c.position() - start;
                if walked != declared {
                    return Err(c.error(Malformed::BlockSizeMismatch { declared, walked }));
                }
            }
        }
    }
}
