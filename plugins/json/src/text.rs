//! Appending JSON text to the output buffer: literal runs, quoted strings, ISO-8859-1 bytes.
//!
//! Written for the sandbox. There every variable-length `extend_from_slice` is a `memory.copy`,
//! which wasmtime runs as a call out of the guest's code, and every `push` reloads the vector's
//! length and capacity from linear memory. So the hot paths reserve once, then copy in 8-byte
//! words through a raw cursor, checking each word for bytes to escape as it is copied: one pass
//! over a string, no call per string.

/// Every byte's high bit.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// `0x01` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;

/// Appends `bytes` as they are (field names, punctuation, digits).
#[inline]
pub fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    // Word stores may write up to 7 bytes past the end: slack that `set_len` leaves unused.
    out.reserve(n + 8);
    let len = out.len();
    // SAFETY: `n + 8` bytes are reserved past `len`; the reads stay inside `bytes`.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        copy_words(bytes.as_ptr(), dst, n);
        out.set_len(len + n);
    }
}

/// Copies `n` bytes from `src` to `dst` in 8-byte words (the last one overlapping when `n` is
/// not a multiple of 8), or bytewise when `n < 8`.
///
/// # Safety
/// `src..src + n` must be readable and `dst..dst + n` writable, not overlapping.
#[inline(always)]
unsafe fn copy_words(src: *const u8, dst: *mut u8, n: usize) {
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            let word = src.add(i).cast::<u64>().read_unaligned();
            dst.add(i).cast::<u64>().write_unaligned(word);
            i += 8;
        }
        if i < n {
            let word = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.add(n - 8).cast::<u64>().write_unaligned(word);
        }
    } else {
        for i in 0..n {
            *dst.add(i) = *src.add(i);
        }
    }
}

/// Quotes `bytes`, escaping as Jackson does by default (only ASCII is ever escaped, and no byte
/// of a multi-byte UTF-8 sequence is ASCII); returns whether every byte was ASCII, so that only
/// strings with a non-ASCII byte need a UTF-8 check.
pub fn quote(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let mut seen = 0u64;
    out.reserve(bytes.len() + 10);
    out.push(b'"');
    let mut i = 0;
    while i < bytes.len() {
        i = copy_clean::<false>(out, bytes, i, &mut seen);
        // The word at `i` has a byte to escape, or fewer than eight bytes are left: bytewise.
        let stop = (i + 8).min(bytes.len());
        for &b in &bytes[i..stop] {
            seen |= u64::from(b);
            match ESCAPE[usize::from(b)] {
                0 => out.push(b),
                _ => escape_into(out, b),
            }
        }
        i = stop;
    }
    out.push(b'"');
    seen & HIGH_BITS == 0
}

/// Bytes as Java's JsonEncoder writes them: each byte is the character U+0000..U+00FF, so bytes
/// from 0x80 take two bytes of UTF-8.
pub fn latin1(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 10);
    out.push(b'"');
    let mut i = 0;
    let mut seen = 0u64;
    while i < bytes.len() {
        i = copy_clean::<true>(out, bytes, i, &mut seen);
        let stop = (i + 8).min(bytes.len());
        for &b in &bytes[i..stop] {
            if b >= 0x80 {
                append(out, &[0xC0 | (b >> 6), 0x80 | (b & 0x3F)]);
            } else if ESCAPE[usize::from(b)] != 0 {
                escape_into(out, b);
            } else {
                out.push(b);
            }
        }
        i = stop;
    }
    out.push(b'"');
}

/// Copies the words of `bytes` from `i` that need no escape (and, with `ASCII_ONLY`, hold no
/// byte from 0x80), OR-ing them into `seen`, then the last fewer-than-eight bytes the same way
/// when they are clean too; returns where it stopped: at the end, or at the word (or the tail)
/// that must go bytewise.
#[inline(always)]
fn copy_clean<const ASCII_ONLY: bool>(
    out: &mut Vec<u8>,
    bytes: &[u8],
    mut i: usize,
    seen: &mut u64,
) -> usize {
    let n = bytes.len();
    let stops = |word: u64| needs_escape(word) || (ASCII_ONLY && word & HIGH_BITS != 0);
    // Eight bytes of slack: the tail is stored as a whole word.
    out.reserve(n - i + 8);
    let len = out.len();
    let mut written = 0;
    // SAFETY: `n - i + 8` bytes are reserved past `len`; `written` never exceeds `n - i` before
    // a store of at most eight bytes. Every read is of eight bytes inside `bytes` (`i + 8 <= n`,
    // or the last eight when `n >= 8`), or bytewise below `n`.
    unsafe {
        let src = bytes.as_ptr();
        let dst = out.as_mut_ptr().add(len);
        while i + 8 <= n {
            let word = src.add(i).cast::<u64>().read_unaligned();
            if stops(word) {
                out.set_len(len + written);
                return i;
            }
            *seen |= word;
            dst.add(written).cast::<u64>().write_unaligned(word);
            written += 8;
            i += 8;
        }
        let tail = n - i;
        if tail > 0 {
            // The tail's bytes in the word's low end, spaces (clean) above them.
            let word = if n >= 8 {
                src.add(n - 8).cast::<u64>().read_unaligned() >> (8 * (8 - tail))
            } else {
                let mut word = 0u64;
                for k in 0..tail {
                    word |= u64::from(*src.add(i + k)) << (8 * k);
                }
                word
            };
            let padded = word | (ONES * u64::from(b' ')) << (8 * tail);
            if !stops(padded) {
                *seen |= word;
                dst.add(written).cast::<u64>().write_unaligned(word);
                written += tail;
                i = n;
            }
        }
        out.set_len(len + written);
    }
    i
}

/// One ASCII byte escaped as Jackson does by default: `"` and `\`, short escapes for
/// `\b \t \n \f \r`, `\u00XX` for other control characters.
fn escape_into(out: &mut Vec<u8>, b: u8) {
    match ESCAPE[usize::from(b)] {
        b'u' => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            append(
                out,
                &[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xF)],
                ],
            );
        }
        short => append(out, &[b'\\', short]),
    }
}

/// Whether any byte of `word` is one [`ESCAPE`] escapes: a control character (< 0x20), `"` or
/// `\`. Exact, with no false negatives: `(x - 0x01..) & !x & 0x80..` is nonzero exactly when
/// some byte of `x` is zero (the classic test), applied to the word XOR each quoted byte, and
/// `(x - 0x20..) & !x & 0x80..` when some byte is below 0x20. A false positive only sends the
/// eight bytes through the exact byte-by-byte path.
#[inline(always)]
fn needs_escape(word: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH_BITS;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS;
    (control
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

/// For each byte: 0 when written as it is, else the letter of its escape (`u` for `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};
