;; A hand-written ABI v1 model with a text result: a score in, a risk band out.
;;
;; band = 低风险 (score >= 600), 中风险 (450 <= score < 600), 高风险 (score < 450);
;; a NULL score gives a NULL band (the input's validity bitmap is copied).
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  ;; The three bands, nine UTF-8 bytes each, at 256, 265 and 274.
  (data (i32.const 256) "低风险中风险高风险")

  (func (export "creditpool_abi_version") (result i32) (i32.const 1))

  (func $alloc (export "creditpool_alloc") (param $size i32) (param $align i32) (result i32)
    (local $p i32) (local $end i32) (local $pages i32)
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
    (local $rows i32) (local $scores i32) (local $valid i32) (local $bitmap_len i32)
    (local $out i32) (local $text i32) (local $offsets i32) (local $out_valid i32)
    (local $i i32) (local $pos i32) (local $x f64) (local $band i32)
    (local.set $rows (i32.load offset=4 (local.get $in)))
    (local.set $valid (i32.load offset=20 (local.get $in)))
    (local.set $scores (i32.load offset=24 (local.get $in)))
    (local.set $bitmap_len (i32.shr_u (i32.add (local.get $rows) (i32.const 7)) (i32.const 3)))
    (local.set $out (call $alloc (i32.const 40) (i32.const 8)))
    (local.set $text (call $alloc (i32.mul (local.get $rows) (i32.const 9)) (i32.const 1)))
    (local.set $offsets (call $alloc (i32.shl (i32.add (local.get $rows) (i32.const 1)) (i32.const 2)) (i32.const 4)))
    (if (i32.or (i32.eqz (local.get $out)) (i32.or (i32.eqz (local.get $text)) (i32.eqz (local.get $offsets))))
      (then (return (i32.const 0))))
    (if (local.get $valid)
      (then
        (local.set $out_valid (call $alloc (local.get $bitmap_len) (i32.const 1)))
        (if (i32.eqz (local.get $out_valid)) (then (return (i32.const 0))))
        (memory.copy (local.get $out_valid) (local.get $valid) (local.get $bitmap_len))))
    (i32.store (local.get $offsets) (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $x (f64.load (i32.add (local.get $scores) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $band
          (if (result i32) (f64.ge (local.get $x) (f64.const 600))
            (then (i32.const 256))
            (else (if (result i32) (f64.ge (local.get $x) (f64.const 450))
              (then (i32.const 265))
              (else (i32.const 274))))))
        (memory.copy (i32.add (local.get $text) (local.get $pos)) (local.get $band) (i32.const 9))
        (local.set $pos (i32.add (local.get $pos) (i32.const 9)))
        (i32.store (i32.add (local.get $offsets) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2))) (local.get $pos))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store (local.get $out) (i32.const 0x31425043))          ;; "CPB1"
    (i32.store offset=4 (local.get $out) (local.get $rows))
    (i32.store offset=8 (local.get $out) (i32.const 1))
    (i32.store offset=12 (local.get $out) (i32.const 0))
    (i32.store offset=16 (local.get $out) (i32.const 5))          ;; utf8
    (i32.store offset=20 (local.get $out) (local.get $out_valid))
    (i32.store offset=24 (local.get $out) (local.get $text))
    (i32.store offset=28 (local.get $out) (local.get $pos))
    (i32.store offset=32 (local.get $out) (local.get $offsets))
    (i32.store offset=36 (local.get $out) (i32.const 0))
    (local.get $out))

  (@custom "creditpool-manifest" "{\"abi\":1,\"name\":\"risk_band\",\"version\":\"1.0.0\",\"description\":\"Risk band of a score\",\"inputs\":[{\"name\":\"score\",\"type\":\"float64\"}],\"outputs\":[{\"name\":\"band\",\"type\":\"utf8\"}]}")
)
