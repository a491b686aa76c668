//! Write a creditpool model as a plain Rust function.
//!
//! ```
//! creditpool_model::model! {
//!     /// Points off for penalties and abnormal listings, points on for age.
//!     name = "linear_score", version = "1.0.0",
//!     fn linear_score(penalties_5y: f64, abnormal_listings: f64, years_established: f64) -> f64 {
//!         600.0 - 50.0 * penalties_5y - 30.0 * abnormal_listings + 5.0 * years_established
//!     }
//! }
//! assert_eq!(linear_score(1.0, 0.0, 10.0), 600.0);
//! ```
//!
//! Built for `wasm32-unknown-unknown` (`crate-type = ["cdylib", "rlib"]`), the macro adds
//! the four exports and the manifest section of model ABI v1 (`docs/model-abi.md`); a row
//! with any NULL argument gives NULL without calling the function. Built for the host,
//! it is just the function, so the same source can serve as a native DataFusion UDF.

#![allow(
    unsafe_code,
    reason = "the ABI passes raw guest-memory addresses; the unsafe code is confined to `abi` and the exports the macro writes"
)]

#[doc(hidden)]
pub mod abi;

/// A Rust type that maps to an ABI v1 column type.
pub trait AbiValue: Copy {
    /// The manifest's type name.
    const NAME: &'static str;
    /// The type id of column descriptors.
    const ID: u32;
    /// Bytes per value.
    const WIDTH: usize;
    /// Reads value `i` of a values buffer.
    ///
    /// # Safety
    /// `values` must point at at least `i + 1` values.
    #[doc(hidden)]
    unsafe fn read(values: *const u8, i: usize) -> Self;
    /// Writes value `i` of a values buffer.
    ///
    /// # Safety
    /// `values` must point at room for at least `i + 1` values.
    #[doc(hidden)]
    unsafe fn write(self, values: *mut u8, i: usize);
}

macro_rules! abi_value {
    ($t:ty, $name:literal, $id:literal) => {
        impl AbiValue for $t {
            const NAME: &'static str = $name;
            const ID: u32 = $id;
            const WIDTH: usize = std::mem::size_of::<$t>();
            unsafe fn read(values: *const u8, i: usize) -> Self {
                // SAFETY: the caller guarantees the buffer holds value i; the host
                // aligns buffers to 8 bytes but we do not rely on it.
                unsafe { (values as *const $t).add(i).read_unaligned() }
            }
            unsafe fn write(self, values: *mut u8, i: usize) {
                // SAFETY: the caller guarantees room for value i.
                unsafe { (values as *mut $t).add(i).write_unaligned(self) }
            }
        }
    };
}

abi_value!(i32, "int32", 2);
abi_value!(i64, "int64", 3);
abi_value!(f64, "float64", 4);

/// Defines a model: a documented plain function with its ABI name and version.
#[macro_export]
macro_rules! model {
    (
        $(#[doc = $doc:literal])*
        name = $name:literal, version = $version:literal,
        fn $fn_name:ident($first:ident: $first_ty:ty $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty $body:block
    ) => {
        $(#[doc = $doc])*
        pub fn $fn_name($first: $first_ty $(, $arg: $ty)*) -> $ret $body

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::abi::{self, Pieces};
            const PIECES: &[&str] = &[
                "{\"abi\":1,\"name\":\"", $name, "\",\"version\":\"", $version,
                "\",\"description\":\"", $crate::abi::first_line(concat!($($doc, "\n",)* "")),
                "\",\"inputs\":[",
                "{\"name\":\"", stringify!($first), "\",\"type\":\"", <$first_ty as $crate::AbiValue>::NAME, "\"}",
                $( ",{\"name\":\"", stringify!($arg), "\",\"type\":\"", <$ty as $crate::AbiValue>::NAME, "\"}", )*
                "],\"outputs\":[{\"name\":\"", stringify!($fn_name), "\",\"type\":\"", <$ret as $crate::AbiValue>::NAME, "\"}]}",
            ];
            const LEN: usize = Pieces(PIECES).json_len();
            #[unsafe(link_section = "creditpool-manifest")]
            #[used]
            static MANIFEST: [u8; LEN] = Pieces(PIECES).json::<LEN>();

            #[unsafe(no_mangle)]
            extern "C" fn creditpool_abi_version() -> i32 {
                1
            }

            #[unsafe(no_mangle)]
            extern "C" fn creditpool_alloc(size: i32, align: i32) -> i32 {
                abi::alloc(size, align)
            }

            #[unsafe(no_mangle)]
            extern "C" fn creditpool_dealloc(ptr: i32, size: i32, align: i32) {
                abi::dealloc(ptr, size, align)
            }

            #[unsafe(no_mangle)]
            extern "C" fn creditpool_score(input: i32) -> i32 {
                // SAFETY: the host passes a descriptor laid out as ABI v1 §3 in this
                // module's memory; `Batch` checks the counts and types it relies on.
                let batch = match unsafe { abi::Batch::read(input) } {
                    Some(b) => b,
                    None => return 0,
                };
                let ids = [<$first_ty as $crate::AbiValue>::ID $(, <$ty as $crate::AbiValue>::ID)*];
                if !batch.has_types(&ids) {
                    return 0;
                }
                let rows = batch.rows();
                let mut out = match abi::Output::new::<$ret>(rows) {
                    Some(o) => o,
                    None => return 0,
                };
                // Each argument's name first holds its column's values buffer, read
                // once per batch; inside the loops it is shadowed by the row's value.
                let $first = batch.values(0);
                let mut column = 1usize;
                $(
                    let $arg = batch.values(column);
                    column += 1;
                )*
                let _ = column;
                if batch.all_valid() {
                    for row in 0..rows {
                        // SAFETY: each column has its argument's type (checked above)
                        // and `rows` values; `out` has room for `rows` values of `$ret`.
                        unsafe {
                            let $first = <$first_ty as $crate::AbiValue>::read($first, row);
                            $( let $arg = <$ty as $crate::AbiValue>::read($arg, row); )*
                            out.set::<$ret>(row, $fn_name($first $(, $arg)*));
                        }
                    }
                } else {
                    for row in 0..rows {
                        if !batch.row_valid(row) {
                            out.set_null(row);
                            continue;
                        }
                        // SAFETY: as above.
                        unsafe {
                            let $first = <$first_ty as $crate::AbiValue>::read($first, row);
                            $( let $arg = <$ty as $crate::AbiValue>::read($arg, row); )*
                            out.set::<$ret>(row, $fn_name($first $(, $arg)*));
                        }
                    }
                }
                out.finish()
            }
        };
    };
}
