//! The guest side of ABI v1, used by the `model!` macro. Not a public API.

#![allow(
    unsafe_code,
    reason = "the guest side of the ABI reads and writes raw guest memory"
)]

use std::alloc::Layout;

const MAGIC: u32 = u32::from_le_bytes(*b"CPB1");
const HEADER: usize = 16;
const COLUMN: usize = 24;

/// Manifest text assembled at compile time from string pieces.
pub struct Pieces(pub &'static [&'static str]);

impl Pieces {
    /// Total length of the pieces.
    pub const fn json_len(&self) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.0.len() {
            n += self.0[i].len();
            i += 1;
        }
        n
    }

    /// The pieces concatenated; `N` must be `json_len()`.
    pub const fn json<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        let mut at = 0;
        let mut i = 0;
        while i < self.0.len() {
            let bytes = self.0[i].as_bytes();
            let mut j = 0;
            while j < bytes.len() {
                out[at] = bytes[j];
                at += 1;
                j += 1;
            }
            i += 1;
        }
        out
    }
}

/// The first line of a doc comment, trimmed, or "" if it would need JSON escaping.
pub const fn first_line(doc: &'static str) -> &'static str {
    let bytes = doc.as_bytes();
    let mut start = 0;
    while start < bytes.len() && bytes[start] == b' ' {
        start += 1;
    }
    let mut end = start;
    while end < bytes.len() && bytes[end] != b'\n' {
        if bytes[end] == b'"' || bytes[end] == b'\\' || bytes[end] < 0x20 {
            return "";
        }
        end += 1;
    }
    let (head, _) = bytes.split_at(end);
    let (_, line) = head.split_at(start);
    match std::str::from_utf8(line) {
        Ok(s) => s,
        Err(_) => "",
    }
}

/// Bytes of the per-instance bump arena. A batch's input and output come from it, so
/// typical batches (8,192 rows of up to 25 float64 columns) need no `memory.grow`: the
/// arena lies in the module's zero-initialised data, part of its initial memory, which
/// the platform maps copy-on-write and keeps resident between instances (ABI v1 §1:
/// each batch may get a fresh instance, so a bump allocator never needs to free).
const ARENA_BYTES: usize = 2 << 20;

#[repr(C, align(16))]
struct Arena(std::cell::UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: wasm32-unknown-unknown modules are single-threaded; the arena is only
// reached through `alloc`, which hands out disjoint ranges.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(std::cell::UnsafeCell::new([0; ARENA_BYTES]));
/// Bytes of the arena handed out so far.
static USED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn arena_range() -> std::ops::Range<usize> {
    let start = ARENA.0.get() as usize;
    start..start + ARENA_BYTES
}

/// `creditpool_alloc`: from the arena while it lasts, then from the heap.
pub fn alloc(size: i32, align: i32) -> i32 {
    use std::sync::atomic::Ordering::Relaxed;
    let (Ok(size), Ok(align)) = (usize::try_from(size), usize::try_from(align)) else {
        return 0;
    };
    let Ok(layout) = Layout::from_size_align(size.max(1), align.max(1)) else {
        return 0;
    };
    let arena = arena_range();
    let start = (arena.start + USED.load(Relaxed)).next_multiple_of(layout.align());
    if let Some(end) = start.checked_add(layout.size())
        && end <= arena.end
    {
        USED.store(end - arena.start, Relaxed);
        return start as i32;
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc(layout) };
    ptr as usize as i32
}

/// `creditpool_dealloc`: arena memory is released with the instance.
pub fn dealloc(ptr: i32, size: i32, align: i32) {
    let (Ok(size), Ok(align)) = (usize::try_from(size), usize::try_from(align)) else {
        return;
    };
    if ptr == 0 || arena_range().contains(&(ptr as usize)) {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(size.max(1), align.max(1)) {
        // SAFETY: the host passes back exactly what `alloc` returned with its layout.
        unsafe { std::alloc::dealloc(ptr as usize as *mut u8, layout) }
    }
}

fn u32_at(at: usize) -> u32 {
    // SAFETY: callers only read inside the descriptor the host wrote.
    unsafe { (at as *const u32).read_unaligned() }
}

/// An input batch as the host laid it out.
pub struct Batch {
    base: usize,
    rows: usize,
    columns: usize,
    /// Validity bitmaps of the columns that have one.
    validity: Vec<usize>,
}

impl Batch {
    /// Reads the header at `input`.
    ///
    /// # Safety
    /// `input` must point at a batch descriptor written by the host.
    pub unsafe fn read(input: i32) -> Option<Batch> {
        let base = usize::try_from(input).ok()?;
        if base == 0 || u32_at(base) != MAGIC {
            return None;
        }
        let columns = u32_at(base + 8) as usize;
        let validity = (0..columns)
            .map(|k| u32_at(base + HEADER + k * COLUMN + 4) as usize)
            .filter(|&v| v != 0)
            .collect();
        Some(Batch {
            base,
            rows: u32_at(base + 4) as usize,
            columns,
            validity,
        })
    }

    /// Rows in the batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn column(&self, k: usize) -> usize {
        self.base + HEADER + k * COLUMN
    }

    /// Whether the columns have exactly these type ids.
    pub fn has_types(&self, ids: &[u32]) -> bool {
        self.columns == ids.len()
            && ids
                .iter()
                .enumerate()
                .all(|(k, id)| u32_at(self.column(k)) == *id)
    }

    /// Whether no column has a validity bitmap, i.e. every row of every column has a
    /// value.
    pub fn all_valid(&self) -> bool {
        self.validity.is_empty()
    }

    /// Whether every column has a value in `row`.
    pub fn row_valid(&self, row: usize) -> bool {
        self.validity.iter().all(|&bitmap| {
            // SAFETY: a non-zero validity pointer addresses ceil(rows / 8) bytes.
            let byte = unsafe { ((bitmap + row / 8) as *const u8).read() };
            byte & (1 << (row % 8)) != 0
        })
    }

    /// The values buffer of column `k`, for [`crate::AbiValue::read`].
    pub fn values(&self, k: usize) -> *const u8 {
        u32_at(self.column(k) + 8) as usize as *const u8
    }
}

/// An output column being filled.
pub struct Output {
    descriptor: usize,
    values: usize,
    validity: usize,
    rows: usize,
    id: u32,
    width: usize,
}

impl Output {
    /// Allocates the descriptor and buffers for `rows` values of `T`, all present.
    pub fn new<T: crate::AbiValue>(rows: usize) -> Option<Output> {
        let bytes = |n: usize| i32::try_from(n).ok();
        let descriptor = alloc(bytes(HEADER + COLUMN)?, 8);
        let values = alloc(bytes(rows * T::WIDTH)?, 8);
        let validity = alloc(bytes(rows.div_ceil(8))?, 1);
        if descriptor == 0 || values == 0 || validity == 0 {
            return None;
        }
        let validity = validity as usize;
        // SAFETY: freshly allocated, ceil(rows / 8) bytes.
        unsafe { std::ptr::write_bytes(validity as *mut u8, 0xFF, rows.div_ceil(8)) };
        Some(Output {
            descriptor: descriptor as usize,
            values: values as usize,
            validity,
            rows,
            id: T::ID,
            width: T::WIDTH,
        })
    }

    /// Marks `row` NULL.
    pub fn set_null(&mut self, row: usize) {
        // SAFETY: row < rows, inside the bitmap.
        unsafe {
            let byte = (self.validity + row / 8) as *mut u8;
            byte.write(byte.read() & !(1 << (row % 8)));
        }
    }

    /// Sets value `row`.
    ///
    /// # Safety
    /// `T` must be the type the output was created with and `row < rows`.
    pub unsafe fn set<T: crate::AbiValue>(&mut self, row: usize, value: T) {
        // SAFETY: guaranteed by the caller.
        unsafe { value.write(self.values as *mut u8, row) }
    }

    /// Writes the descriptor and returns its address for `creditpool_score`.
    pub fn finish(self) -> i32 {
        let fields: [u32; 10] = [
            MAGIC,
            self.rows as u32,
            1,
            0,
            self.id,
            self.validity as u32,
            self.values as u32,
            (self.rows * self.width) as u32,
            0,
            0,
        ];
        for (i, f) in fields.iter().enumerate() {
            // SAFETY: the descriptor holds 40 bytes.
            unsafe { ((self.descriptor + 4 * i) as *mut u32).write_unaligned(*f) }
        }
        self.descriptor as i32
    }
}
