/*
 * creditpool model ABI v1 for C (docs/model-abi.md is the contract; this header only
 * spells it out). Freestanding: no libc is needed or linked.
 *
 * Build a model (clang with the wasm32 target and wasm-ld, e.g. Debian's clang + lld):
 *
 *   clang --target=wasm32 -O2 -ffreestanding -nostdlib -Wl,--no-entry \
 *         -I sandbox/sdk/include -o model.wasm model.c
 *
 * A model defines the four exports below with CP_EXPORT, its manifest with CP_MANIFEST,
 * and exports its memory (wasm-ld does by default). See samples/models/c/debt_burden.c.
 */
#ifndef CREDITPOOL_MODEL_H
#define CREDITPOOL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__wasm32__)
#error "creditpool models are built for wasm32 (clang --target=wasm32)"
#endif

#define CP_ABI_VERSION 1
/* "CPB1" as bytes 'C','P','B','1', read as a little-endian u32. */
#define CP_MAGIC 0x31425043u

/* Column type ids (ABI §2). */
enum cp_type {
    CP_BOOLEAN = 1, /* bit-packed, LSB first, ceil(rows / 8) bytes */
    CP_INT32 = 2,   /* rows × 4 bytes */
    CP_INT64 = 3,   /* rows × 8 bytes */
    CP_FLOAT64 = 4, /* rows × 8 bytes */
    CP_UTF8 = 5,    /* bytes, plus rows + 1 int32 offsets */
    CP_DATE32 = 6,  /* days since 1970-01-01, rows × 4 bytes */
};

/* A column descriptor (ABI §3). Pointers are offsets into the module's memory, which on
 * wasm32 are plain pointers: use cp_ptr() to turn one into a C pointer. */
typedef struct cp_column {
    uint32_t type_id;
    uint32_t validity;   /* bitmap, bit i set = row i present; 0 = every row present */
    uint32_t values;     /* values buffer */
    uint32_t values_len; /* its length in bytes */
    uint32_t offsets;    /* utf8: rows + 1 int32 offsets into values; otherwise 0 */
    uint32_t reserved;   /* 0 */
} cp_column;

/* A batch descriptor: 16 bytes, then `columns` column descriptors. */
typedef struct cp_batch {
    uint32_t magic;   /* CP_MAGIC */
    uint32_t rows;    /* rows of every column */
    uint32_t columns; /* column descriptors that follow */
    uint32_t reserved;
    cp_column column[];
} cp_batch;

_Static_assert(sizeof(cp_column) == 24, "ABI v1 column descriptors are 24 bytes");
_Static_assert(offsetof(cp_batch, column) == 16, "ABI v1 batch headers are 16 bytes");

static inline void *cp_ptr(uint32_t offset) { return (void *)(uintptr_t)offset; }
static inline uint32_t cp_offset(const void *p) { return (uint32_t)(uintptr_t)p; }

/* Whether `row` of `c` has a value. */
static inline int cp_present(const cp_column *c, uint32_t row) {
    if (c->validity == 0) return 1;
    return (((const uint8_t *)cp_ptr(c->validity))[row >> 3] >> (row & 7)) & 1;
}

static inline double cp_float64(const cp_column *c, uint32_t row) {
    return ((const double *)cp_ptr(c->values))[row];
}
static inline int64_t cp_int64(const cp_column *c, uint32_t row) {
    return ((const int64_t *)cp_ptr(c->values))[row];
}
static inline int32_t cp_int32(const cp_column *c, uint32_t row) {
    return ((const int32_t *)cp_ptr(c->values))[row];
}
static inline int32_t cp_date32(const cp_column *c, uint32_t row) { return cp_int32(c, row); }
static inline int cp_boolean(const cp_column *c, uint32_t row) {
    return (((const uint8_t *)cp_ptr(c->values))[row >> 3] >> (row & 7)) & 1;
}
/* The UTF-8 bytes of a utf8 value (not NUL-terminated); their count goes to *len. */
static inline const char *cp_utf8(const cp_column *c, uint32_t row, uint32_t *len) {
    const int32_t *offsets = (const int32_t *)cp_ptr(c->offsets);
    *len = (uint32_t)(offsets[row + 1] - offsets[row]);
    return (const char *)cp_ptr(c->values) + offsets[row];
}

/* Marks `row` of a validity bitmap NULL. */
static inline void cp_set_null(uint8_t *validity, uint32_t row) {
    validity[row >> 3] &= (uint8_t)~(1u << (row & 7));
}

/* Exports with the ABI's names. */
#define CP_EXPORT(name) __attribute__((export_name(#name))) name

/* Declares the manifest (ABI §2) as the module's creditpool-manifest custom section.
 * Write the JSON as it is, unquoted:
 *   CP_MANIFEST({"abi": 1, "name": "debt_burden", ...});
 * (Backslash escapes inside JSON strings are kept as written.) */
#define CP_STRINGIFY_(x) #x
#define CP_STRINGIFY_TWICE_(...) CP_STRINGIFY_(#__VA_ARGS__)
#define CP_MANIFEST(...)                                                    \
    __asm__(".section \".custom_section.creditpool-manifest\",\"\",@\n"    \
            ".ascii " CP_STRINGIFY_TWICE_(__VA_ARGS__) "\n"                 \
            ".text\n")

/* The four exports every model defines (ABI §1). */
int32_t creditpool_abi_version(void);
void *creditpool_alloc(int32_t size, int32_t align);
void creditpool_dealloc(void *ptr, int32_t size, int32_t align);
cp_batch *creditpool_score(const cp_batch *input);

/* The linear memory's size in bytes and growth by whole 64 KiB pages (-1 on failure). */
static inline uint32_t cp_memory_bytes(void) {
    return (uint32_t)__builtin_wasm_memory_size(0) << 16;
}
static inline int32_t cp_memory_grow(uint32_t pages) {
    return (int32_t)__builtin_wasm_memory_grow(0, pages);
}

#endif /* CREDITPOOL_MODEL_H */
