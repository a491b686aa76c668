;; A complete ABI v1 model written by hand, from docs/model-abi.md alone.
;;
;; score = 600 - 50 * penalties_5y - 30 * abnormal_listings + 5 * years_established
;;
;; Three float64 inputs, one float64 output, no imports. Memory is a bump allocator
;; that grows as needed and never frees (each batch gets a fresh instance).
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))

  (func (export "creditpool_abi_version") (result i32) (i32.const 1))

  (func $alloc (export "creditpool_alloc") (param $size i32) (param $align i32) (result i32)
    (local $p i32) (local $end i32) (local $pages i32)
    ;; p = heap rounded up to align
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $p) (local.get $size)))
    (local.set $pages (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $p))

  (func (export "creditpool_dealloc") (param i32 i32 i32))

  (func (export "creditpool_score") (param $in i32) (result i32)
    (local $rows i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $out i32) (local $vals i32) (local $i i32) (local $at i32)
    (local.set $rows (i32.load offset=4 (local.get $in)))
    ;; values pointer of column k is at in + 16 + 24k + 8
    (local.set $x1 (i32.load offset=24 (local.get $in)))
    (local.set $x2 (i32.load offset=48 (local.get $in)))
    (local.set $x3 (i32.load offset=72 (local.get $in)))
    (local.set $out (call $alloc (i32.const 40) (i32.const 8)))
    (local.set $vals (call $alloc (i32.shl (local.get $rows) (i32.const 3)) (i32.const 8)))
    (if (i32.or (i32.eqz (local.get $out)) (i32.eqz (local.get $vals)))
      (then (return (i32.const 0))))
    (i32.store (local.get $out) (i32.const 0x31425043))          ;; "CPB1"
    (i32.store offset=4 (local.get $out) (local.get $rows))
    (i32.store offset=8 (local.get $out) (i32.const 1))
    (i32.store offset=12 (local.get $out) (i32.const 0))
    (i32.store offset=16 (local.get $out) (i32.const 4))          ;; float64
    (i32.store offset=20 (local.get $out) (i32.const 0))          ;; every row present
    (i32.store offset=24 (local.get $out) (local.get $vals))
    (i32.store offset=28 (local.get $out) (i32.shl (local.get $rows) (i32.const 3)))
    (i32.store offset=32 (local.get $out) (i32.const 0))
    (i32.store offset=36 (local.get $out) (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $at (i32.shl (local.get $i) (i32.const 3)))
        (f64.store (i32.add (local.get $vals) (local.get $at))
          (f64.add
            (f64.add (f64.const 600)
              (f64.mul (f64.const -50) (f64.load (i32.add (local.get $x1) (local.get $at)))))
            (f64.add
              (f64.mul (f64.const -30) (f64.load (i32.add (local.get $x2) (local.get $at))))
              (f64.mul (f64.const 5) (f64.load (i32.add (local.get $x3) (local.get $at)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $out))

  (@custom "creditpool-manifest" "{\"abi\":1,\"name\":\"linear_score\",\"version\":\"1.0.0\",\"description\":\"Hand-written linear score\",\"inputs\":[{\"name\":\"penalties_5y\",\"type\":\"float64\"},{\"name\":\"abnormal_listings\",\"type\":\"float64\"},{\"name\":\"years_established\",\"type\":\"float64\"}],\"outputs\":[{\"name\":\"score\",\"type\":\"float64\"}]}")
)
