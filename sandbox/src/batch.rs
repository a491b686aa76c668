//! Laying Arrow arrays out in guest memory (ABI v1 §3) and reading the untrusted
//! result back (§4).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array,
    StringArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{Date32Type, Float64Type, Int32Type, Int64Type};

use crate::abi::{AbiType, COLUMN_BYTES, HEADER_BYTES, MAGIC};
use crate::error::SandboxError;
use crate::manifest::ModelManifest;

/// Checks the arguments against the manifest and returns the row count.
pub(crate) fn check_inputs(
    manifest: &ModelManifest,
    inputs: &[ArrayRef],
) -> Result<usize, SandboxError> {
    if inputs.len() != manifest.inputs.len() {
        return Err(SandboxError::Call(format!(
            "model '{}' takes {} arguments ({}), got {}",
            manifest.name,
            manifest.inputs.len(),
            manifest
                .inputs
                .iter()
                .map(|c| format!("{} {}", c.name, c.column_type.name()))
                .collect::<Vec<_>>()
                .join(", "),
            inputs.len()
        )));
    }
    let rows = inputs[0].len();
    for (array, spec) in inputs.iter().zip(&manifest.inputs) {
        if array.data_type() != &spec.column_type.arrow_type() {
            return Err(SandboxError::Call(format!(
                "argument '{}' of model '{}' must be {}, got {}",
                spec.name,
                manifest.name,
                spec.column_type.name(),
                array.data_type()
            )));
        }
        if array.len() != rows {
            return Err(SandboxError::Call(
                "arguments have different lengths".into(),
            ));
        }
    }
    Ok(rows)
}

fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

struct ColumnPlacement {
    validity: Option<usize>,
    values: usize,
    values_len: usize,
    offsets: Option<usize>,
}

/// Where each input buffer goes, relative to the block's start.
pub(crate) struct InputLayout {
    /// Total bytes of the block.
    pub total: usize,
    rows: usize,
    types: Vec<AbiType>,
    columns: Vec<ColumnPlacement>,
}

fn string_bounds(a: &StringArray) -> (usize, usize) {
    let offsets = a.value_offsets();
    (offsets[0] as usize, offsets[offsets.len() - 1] as usize)
}

impl InputLayout {
    pub(crate) fn new(inputs: &[ArrayRef], rows: usize, manifest: &ModelManifest) -> InputLayout {
        let mut cursor = align8(HEADER_BYTES + COLUMN_BYTES * inputs.len());
        let mut columns = Vec::with_capacity(inputs.len());
        let types: Vec<AbiType> = manifest.inputs.iter().map(|c| c.column_type).collect();
        for (array, t) in inputs.iter().zip(&types) {
            let validity = (array.null_count() > 0).then(|| {
                let at = cursor;
                cursor = align8(cursor + rows.div_ceil(8));
                at
            });
            let values_len = match t.values_len(rows) {
                Some(n) => n,
                None => {
                    let (start, end) = string_bounds(array.as_string::<i32>());
                    end - start
                }
            };
            let values = cursor;
            cursor = align8(cursor + values_len);
            let offsets = (*t == AbiType::Utf8).then(|| {
                let at = cursor;
                cursor = align8(cursor + 4 * (rows + 1));
                at
            });
            columns.push(ColumnPlacement {
                validity,
                values,
                values_len,
                offsets,
            });
        }
        InputLayout {
            total: cursor,
            rows,
            types,
            columns,
        }
    }

    /// Writes the descriptor and every buffer straight into `block` (guest memory at
    /// guest address `base`): one copy of each value.
    pub(crate) fn write(&self, inputs: &[ArrayRef], block: &mut [u8], base: usize) {
        let put = |block: &mut [u8], at: usize, v: u32| {
            block[at..at + 4].copy_from_slice(&v.to_le_bytes())
        };
        let addr = |off: usize| (base + off) as u32;
        put(block, 0, MAGIC);
        put(block, 4, self.rows as u32);
        put(block, 8, self.columns.len() as u32);
        put(block, 12, 0);
        for (k, ((array, place), t)) in inputs
            .iter()
            .zip(&self.columns)
            .zip(&self.types)
            .enumerate()
        {
            let d = HEADER_BYTES + k * COLUMN_BYTES;
            put(block, d, t.id());
            put(block, d + 4, place.validity.map(addr).unwrap_or(0));
            put(block, d + 8, addr(place.values));
            put(block, d + 12, place.values_len as u32);
            put(block, d + 16, place.offsets.map(addr).unwrap_or(0));
            put(block, d + 20, 0);
            if let (Some(at), Some(nulls)) = (place.validity, array.nulls()) {
                let bits = nulls.inner().sliced();
                let n = self.rows.div_ceil(8);
                block[at..at + n].copy_from_slice(&bits.as_slice()[..n]);
            }
            let dst = &mut block[place.values..place.values + place.values_len];
            match t {
                AbiType::Boolean => {
                    let bits = array.as_boolean().values().sliced();
                    dst.copy_from_slice(&bits.as_slice()[..place.values_len]);
                }
                AbiType::Int32 => copy_scalars(dst, array.as_primitive::<Int32Type>().values()),
                AbiType::Date32 => copy_scalars(dst, array.as_primitive::<Date32Type>().values()),
                AbiType::Int64 => copy_scalars(dst, array.as_primitive::<Int64Type>().values()),
                AbiType::Float64 => copy_scalars(dst, array.as_primitive::<Float64Type>().values()),
                AbiType::Utf8 => {
                    let strings = array.as_string::<i32>();
                    let (start, end) = string_bounds(strings);
                    dst.copy_from_slice(&strings.value_data()[start..end]);
                    if let Some(at) = place.offsets {
                        let first = strings.value_offsets()[0];
                        for (i, o) in strings.value_offsets().iter().enumerate() {
                            put(block, at + 4 * i, (o - first) as u32);
                        }
                    }
                }
            }
        }
    }
}

fn copy_scalars<T: datafusion::arrow::datatypes::ArrowNativeType>(
    dst: &mut [u8],
    values: &ScalarBuffer<T>,
) {
    let bytes = values.inner().as_slice();
    dst.copy_from_slice(&bytes[..dst.len()]);
}

/// Why an output was refused.
pub(crate) enum OutputError {
    /// Over the output size limit; carries the size found.
    TooLarge(usize),
    /// Malformed or lying.
    Invalid(String),
}

fn u32_at(memory: &[u8], at: usize) -> Result<u32, OutputError> {
    at.checked_add(4)
        .and_then(|end| memory.get(at..end))
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| OutputError::Invalid(format!("descriptor at {at} lies outside memory")))
}

fn region<'m>(memory: &'m [u8], ptr: u32, len: usize, what: &str) -> Result<&'m [u8], OutputError> {
    let start = ptr as usize;
    start
        .checked_add(len)
        .and_then(|end| memory.get(start..end))
        .ok_or_else(|| {
            OutputError::Invalid(format!("{what} ({len} bytes at {ptr}) lies outside memory"))
        })
}

/// Reads and validates the output descriptor at `ptr`, copying the result out of guest
/// memory into a fresh Arrow array.
pub(crate) fn read_output(
    memory: &[u8],
    ptr: usize,
    rows: usize,
    expected: AbiType,
    max_bytes: usize,
) -> Result<ArrayRef, OutputError> {
    let invalid = |m: String| Err(OutputError::Invalid(m));
    if u32_at(memory, ptr)? != MAGIC {
        return invalid("the output descriptor does not start with the magic number CPB1".into());
    }
    let out_rows = u32_at(memory, ptr + 4)? as usize;
    if out_rows != rows {
        return invalid(format!("it has {out_rows} rows for an input of {rows}"));
    }
    let columns = u32_at(memory, ptr + 8)?;
    if columns != 1 {
        return invalid(format!(
            "it has {columns} columns; ABI v1 returns exactly one"
        ));
    }
    let d = ptr + HEADER_BYTES;
    let type_id = u32_at(memory, d)?;
    if type_id != expected.id() {
        return invalid(format!(
            "its column has type id {type_id}; the manifest declares {} ({})",
            expected.name(),
            expected.id()
        ));
    }
    let validity_ptr = u32_at(memory, d + 4)?;
    let values_ptr = u32_at(memory, d + 8)?;
    let values_len = u32_at(memory, d + 12)? as usize;
    let offsets_ptr = u32_at(memory, d + 16)?;
    if values_len > max_bytes {
        return Err(OutputError::TooLarge(values_len));
    }
    if let Some(n) = expected.values_len(rows)
        && n != values_len
    {
        return invalid(format!(
            "its values buffer has {values_len} bytes; {rows} {} values take {n}",
            expected.name()
        ));
    }
    let nulls = if validity_ptr == 0 {
        None
    } else {
        let bits = region(
            memory,
            validity_ptr,
            rows.div_ceil(8),
            "the validity bitmap",
        )?;
        Some(NullBuffer::new(BooleanBuffer::new(
            Buffer::from_slice_ref(bits),
            0,
            rows,
        )))
    };
    let values = region(memory, values_ptr, values_len, "the values buffer")?;
    let array: ArrayRef = match expected {
        AbiType::Boolean => Arc::new(BooleanArray::new(
            BooleanBuffer::new(Buffer::from_slice_ref(values), 0, rows),
            nulls,
        )),
        AbiType::Int32 => Arc::new(Int32Array::new(scalars(values), nulls)),
        AbiType::Date32 => Arc::new(Date32Array::new(scalars(values), nulls)),
        AbiType::Int64 => Arc::new(Int64Array::new(scalars(values), nulls)),
        AbiType::Float64 => Arc::new(Float64Array::new(scalars(values), nulls)),
        AbiType::Utf8 => {
            if offsets_ptr == 0 {
                return invalid("a utf8 column needs an offsets buffer".into());
            }
            let raw = region(memory, offsets_ptr, 4 * (rows + 1), "the offsets buffer")?;
            let offsets: Vec<i32> = raw
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if offsets[0] != 0
                || offsets.windows(2).any(|w| w[1] < w[0])
                || offsets[rows] as usize != values_len
            {
                return invalid("its utf8 offsets do not start at 0, decrease, or do not end at the values length".into());
            }
            let text = std::str::from_utf8(values)
                .map_err(|e| OutputError::Invalid(format!("its text is not valid UTF-8 ({e})")))?;
            if offsets.iter().any(|o| !text.is_char_boundary(*o as usize)) {
                return invalid("a utf8 offset splits a character".into());
            }
            Arc::new(StringArray::new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_slice_ref(values),
                nulls,
            ))
        }
    };
    Ok(array)
}

/// Copies little-endian values into an aligned Arrow buffer.
fn scalars<T: datafusion::arrow::datatypes::ArrowNativeType>(bytes: &[u8]) -> ScalarBuffer<T> {
    let buffer = Buffer::from_slice_ref(bytes);
    ScalarBuffer::new(buffer, 0, bytes.len() / std::mem::size_of::<T>())
}

/// Fuzzing the model ABI's output validation (issue 17, item 3): whatever a model leaves
/// in its memory and whatever descriptor it points at, reading its output gives a column
/// of the declared type and length or a named refusal, never a panic. A property with a
/// fixed budget; failing inputs proptest finds are kept in
/// `sandbox/proptest-regressions/batch.txt` and run first on every later run.
#[cfg(test)]
mod fuzz_output {
    use datafusion::arrow::array::Array;
    use proptest::prelude::*;

    use super::{OutputError, read_output};
    use crate::abi::{AbiType, HEADER_BYTES, MAGIC};

    const TYPES: [AbiType; 6] = [
        AbiType::Boolean,
        AbiType::Int32,
        AbiType::Int64,
        AbiType::Float64,
        AbiType::Utf8,
        AbiType::Date32,
    ];
    const MAX_BYTES: usize = 4096;

    /// A descriptor close enough to a valid one to reach every check.
    #[derive(Debug, Clone)]
    struct Descriptor {
        magic: Option<u32>,
        rows: Option<u32>,
        columns: u32,
        type_id: Option<u32>,
        validity: u32,
        values: u32,
        values_len: Option<u32>,
        offsets: u32,
        /// Offsets written at `offsets` for a utf8 column: `rows + 1` of them.
        offsets_written: Option<Vec<i32>>,
    }

    fn descriptor() -> impl Strategy<Value = Descriptor> {
        let pointer = prop_oneof![Just(0u32), 0u32..2200, any::<u32>()];
        (
            prop::option::weighted(0.1, any::<u32>()),
            prop::option::weighted(0.2, 0u32..64),
            prop_oneof![9 => Just(1u32), 1 => any::<u32>()],
            prop::option::weighted(0.3, 0u32..8),
            pointer.clone(),
            pointer.clone(),
            prop::option::weighted(0.3, prop_oneof![0u32..600, any::<u32>()]),
            pointer,
            prop::option::weighted(0.7, prop::collection::vec(-4i32..40, 0..70)),
        )
            .prop_map(
                |(
                    magic,
                    rows,
                    columns,
                    type_id,
                    validity,
                    values,
                    values_len,
                    offsets,
                    written,
                )| {
                    Descriptor {
                        magic,
                        rows,
                        columns,
                        type_id,
                        validity,
                        values,
                        values_len,
                        offsets,
                        offsets_written: written,
                    }
                },
            )
    }

    fn put(memory: &mut [u8], at: usize, value: u32) {
        if let Some(slot) = at.checked_add(4).and_then(|end| memory.get_mut(at..end)) {
            slot.copy_from_slice(&value.to_le_bytes());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 3000,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_output_is_a_column_of_the_declared_type_or_a_named_refusal(
            mut memory in prop::collection::vec(any::<u8>(), 0..2048),
            at in prop_oneof![0usize..2100, Just(usize::MAX - 2)],
            rows in 0usize..48,
            expected in prop::sample::select(TYPES.to_vec()),
            d in descriptor(),
        ) {
            // The descriptor, where it fits (the rest of memory stays arbitrary).
            let expected_len = expected.values_len(rows).unwrap_or(0) as u32;
            put(&mut memory, at, d.magic.unwrap_or(MAGIC));
            put(&mut memory, at.saturating_add(4), d.rows.unwrap_or(rows as u32));
            put(&mut memory, at.saturating_add(8), d.columns);
            let c = at.saturating_add(HEADER_BYTES);
            put(&mut memory, c, d.type_id.unwrap_or(expected.id()));
            put(&mut memory, c.saturating_add(4), d.validity);
            put(&mut memory, c.saturating_add(8), d.values);
            put(&mut memory, c.saturating_add(12), d.values_len.unwrap_or(expected_len));
            put(&mut memory, c.saturating_add(16), d.offsets);
            if let Some(offsets) = &d.offsets_written {
                for (i, o) in offsets.iter().enumerate() {
                    put(&mut memory, (d.offsets as usize).saturating_add(4 * i), *o as u32);
                }
            }
            match read_output(&memory, at, rows, expected, MAX_BYTES) {
                Ok(array) => {
                    prop_assert_eq!(array.len(), rows);
                    prop_assert_eq!(array.data_type(), &expected.arrow_type());
                }
                Err(OutputError::TooLarge(n)) => prop_assert!(n > MAX_BYTES),
                Err(OutputError::Invalid(reason)) => prop_assert!(!reason.is_empty()),
            }
        }
    }
}
