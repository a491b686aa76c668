/*
 * Example model in C, written from docs/model-abi.md and sandbox/sdk/include/
 * creditpool_model.h alone (no SDK, no libc).
 *
 *   debt_burden(judgements_unfulfilled int64, years_established float64) -> float64
 *     = 100 × judgements_unfulfilled / (1 + max(years_established, 0))
 *
 * NULL in either argument gives NULL. Memory: a bump allocator from the linker's
 * __heap_base that grows the memory as needed and never frees: each batch runs in a
 * fresh instance (ABI §1).
 */
#include "creditpool_model.h"

CP_MANIFEST({
    "abi": 1,
    "name": "debt_burden",
    "version": "1.0.0",
    "description": "Unfulfilled judgements per year of operation, in C",
    "inputs": [
        {"name": "judgements_unfulfilled", "type": "int64"},
        {"name": "years_established", "type": "float64"}
    ],
    "outputs": [{"name": "debt_burden", "type": "float64"}]
});

extern unsigned char __heap_base;
static uint32_t heap_next;

int32_t CP_EXPORT(creditpool_abi_version)(void) { return CP_ABI_VERSION; }

void *CP_EXPORT(creditpool_alloc)(int32_t size, int32_t align) {
    if (size < 0 || align <= 0 || (align & (align - 1)) != 0) return 0;
    if (heap_next == 0) heap_next = cp_offset(&__heap_base);
    uint32_t start = (heap_next + (uint32_t)align - 1) & ~((uint32_t)align - 1);
    uint32_t end = start + (uint32_t)size;
    if (end < start) return 0;
    uint32_t have = cp_memory_bytes();
    if (end > have) {
        uint32_t pages = (end - have + 0xFFFF) >> 16;
        if (cp_memory_grow(pages) < 0) return 0;
    }
    heap_next = end;
    return cp_ptr(start);
}

void CP_EXPORT(creditpool_dealloc)(void *ptr, int32_t size, int32_t align) {
    (void)ptr;
    (void)size;
    (void)align;
}

cp_batch *CP_EXPORT(creditpool_score)(const cp_batch *input) {
    if (input->magic != CP_MAGIC || input->columns != 2) return 0;
    const cp_column *judgements = &input->column[0];
    const cp_column *years = &input->column[1];
    if (judgements->type_id != CP_INT64 || years->type_id != CP_FLOAT64) return 0;
    uint32_t rows = input->rows;

    cp_batch *out = creditpool_alloc(sizeof(cp_batch) + sizeof(cp_column), 8);
    double *values = creditpool_alloc((int32_t)(rows * sizeof(double)), 8);
    uint8_t *validity = creditpool_alloc((int32_t)((rows + 7) / 8), 1);
    if (!out || !values || !validity) return 0;
    for (uint32_t i = 0; i < (rows + 7) / 8; i++) validity[i] = 0xFF;

    for (uint32_t row = 0; row < rows; row++) {
        if (!cp_present(judgements, row) || !cp_present(years, row)) {
            cp_set_null(validity, row);
            values[row] = 0.0;
            continue;
        }
        double y = cp_float64(years, row);
        values[row] = 100.0 * (double)cp_int64(judgements, row) / (1.0 + (y > 0.0 ? y : 0.0));
    }

    out->magic = CP_MAGIC;
    out->rows = rows;
    out->columns = 1;
    out->reserved = 0;
    out->column[0] = (cp_column){
        .type_id = CP_FLOAT64,
        .validity = cp_offset(validity),
        .values = cp_offset(values),
        .values_len = rows * (uint32_t)sizeof(double),
        .offsets = 0,
        .reserved = 0,
    };
    return out;
}
