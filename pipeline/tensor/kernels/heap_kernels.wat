;; SIMD kernels that work in place on the tfjs wasm backend's heap (its memory
;; is imported), for the passes that tfjs does in scalar code or that we did in
;; JS. Every function gives the numbers of the JS code it replaces bit for bit
;; (see heap_kernels.ts and heap_kernels_test.ts). Pointers are byte offsets;
;; float32 data; channel counts must be multiples of 4 (callers check).
;;
;; Built into heap_kernels_wasm.ts by build_heap_kernels.ts, which puts a shared
;; or an unshared memory type (the threaded and the single-threaded tfjs
;; builds) in place of the import's placeholder below.
(module
  (import "env" "memory" MEMORY_TYPE)

  ;; An inverted-dropout mask: out[i] = bits (as float32) when draw i of the
  ;; mulberry32 stream seeded by `seed` is below `threshold` (unsigned), else
  ;; +0. Draw i's state is seed + (i + 1) * 0x6d2b79f5, so four lanes step
  ;; by four increments.
  (func (export "fill_mask")
    (param $out i32) (param $count i32) (param $seed i32) (param $threshold i32) (param $bits i32)
    (local $state v128) (local $step v128) (local $z v128) (local $keep v128) (local $value v128)
    (local $i i32) (local $end4 i32) (local $s i32)
    (local.set $state
      (i32x4.add (i32x4.splat (local.get $seed))
        (i32x4.mul (v128.const i32x4 1 2 3 4) (i32x4.splat (i32.const 0x6d2b79f5)))))
    (local.set $step (i32x4.splat (i32.mul (i32.const 4) (i32.const 0x6d2b79f5))))
    (local.set $keep (i32x4.splat (local.get $threshold)))
    (local.set $value (i32x4.splat (local.get $bits)))
    (local.set $end4 (i32.and (local.get $count) (i32.const -4)))
    (block $vectors_done
      (loop $vectors
        (br_if $vectors_done (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $z
          (i32x4.mul
            (v128.xor (local.get $state) (i32x4.shr_u (local.get $state) (i32.const 15)))
            (v128.or (local.get $state) (i32x4.splat (i32.const 1)))))
        (local.set $z
          (v128.xor (local.get $z)
            (i32x4.add (local.get $z)
              (i32x4.mul
                (v128.xor (local.get $z) (i32x4.shr_u (local.get $z) (i32.const 7)))
                (v128.or (local.get $z) (i32x4.splat (i32.const 61)))))))
        (local.set $z (v128.xor (local.get $z) (i32x4.shr_u (local.get $z) (i32.const 14))))
        (v128.store
          (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (v128.and (i32x4.lt_u (local.get $z) (local.get $keep)) (local.get $value)))
        (local.set $state (i32x4.add (local.get $state) (local.get $step)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vectors)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $s
          (i32.add (local.get $seed) (i32.mul (i32.add (local.get $i) (i32.const 1)) (i32.const 0x6d2b79f5))))
        (local.set $s
          (i32.mul
            (i32.xor (local.get $s) (i32.shr_u (local.get $s) (i32.const 15)))
            (i32.or (local.get $s) (i32.const 1))))
        (local.set $s
          (i32.xor (local.get $s)
            (i32.add (local.get $s)
              (i32.mul
                (i32.xor (local.get $s) (i32.shr_u (local.get $s) (i32.const 7)))
                (i32.or (local.get $s) (i32.const 61))))))
        (local.set $s (i32.xor (local.get $s) (i32.shr_u (local.get $s) (i32.const 14))))
        (i32.store
          (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (select (local.get $bits) (i32.const 0) (i32.lt_u (local.get $s) (local.get $threshold))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; Max-pool gradient, 2 x 2 windows, stride 2, no padding, NHWC: each
  ;; window's dy (plus 0, so -0 becomes +0) goes to its last maximum in
  ;; row-major order (bottom-right, bottom-left, top-right, top-left), the
  ;; other three entries get +0; none when the maximum is NaN. Rows and
  ;; columns beyond the last full window are left as they are (the caller
  ;; zeroes them).
  (func (export "max_pool_grad_2x2")
    (param $x i32) (param $y i32) (param $dy i32) (param $dx i32)
    (param $n i32) (param $h i32) (param $w i32) (param $c i32)
    (local $ho i32) (local $wo i32) (local $row i32) (local $rows i32) (local $ow i32) (local $ch i32)
    (local $rowBytes i32) (local $cBytes i32) (local $top i32) (local $at i32) (local $yAt i32)
    (local $m v128) (local $g v128) (local $e v128) (local $taken v128)
    (local.set $ho (i32.shr_u (local.get $h) (i32.const 1)))
    (local.set $wo (i32.shr_u (local.get $w) (i32.const 1)))
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    (local.set $rowBytes (i32.mul (local.get $w) (local.get $cBytes)))
    (local.set $rows (i32.mul (local.get $n) (local.get $ho)))
    (local.set $yAt (i32.const 0))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        ;; window row `row` = (b, oh): input rows b * h + 2 oh and the next
        (local.set $top
          (i32.mul
            (i32.add
              (i32.mul (i32.div_u (local.get $row) (local.get $ho)) (local.get $h))
              (i32.shl (i32.rem_u (local.get $row) (local.get $ho)) (i32.const 1)))
            (local.get $rowBytes)))
        (local.set $ow (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $ow) (local.get $wo)))
            (local.set $at
              (i32.add (local.get $top) (i32.mul (i32.shl (local.get $ow) (i32.const 1)) (local.get $cBytes))))
            (local.set $ch (i32.const 0))
            (block $ch_done
              (loop $chans
                (br_if $ch_done (i32.ge_u (local.get $ch) (local.get $c)))
                (local.set $m (v128.load (i32.add (local.get $y) (local.get $yAt))))
                (local.set $g (f32x4.add (v128.load (i32.add (local.get $dy) (local.get $yAt))) (f32x4.splat (f32.const 0))))
                ;; bottom-right
                (local.set $taken
                  (f32x4.eq (v128.load (i32.add (i32.add (local.get $x) (local.get $at))
                    (i32.add (local.get $rowBytes) (local.get $cBytes)))) (local.get $m)))
                (v128.store (i32.add (i32.add (local.get $dx) (local.get $at)) (i32.add (local.get $rowBytes) (local.get $cBytes)))
                  (v128.and (local.get $taken) (local.get $g)))
                ;; bottom-left
                (local.set $e
                  (v128.andnot
                    (f32x4.eq (v128.load (i32.add (i32.add (local.get $x) (local.get $at)) (local.get $rowBytes))) (local.get $m))
                    (local.get $taken)))
                (v128.store (i32.add (i32.add (local.get $dx) (local.get $at)) (local.get $rowBytes))
                  (v128.and (local.get $e) (local.get $g)))
                (local.set $taken (v128.or (local.get $taken) (local.get $e)))
                ;; top-right
                (local.set $e
                  (v128.andnot
                    (f32x4.eq (v128.load (i32.add (i32.add (local.get $x) (local.get $at)) (local.get $cBytes))) (local.get $m))
                    (local.get $taken)))
                (v128.store (i32.add (i32.add (local.get $dx) (local.get $at)) (local.get $cBytes))
                  (v128.and (local.get $e) (local.get $g)))
                (local.set $taken (v128.or (local.get $taken) (local.get $e)))
                ;; top-left
                (local.set $e
                  (v128.andnot
                    (f32x4.eq (v128.load (i32.add (local.get $x) (local.get $at))) (local.get $m))
                    (local.get $taken)))
                (v128.store (i32.add (local.get $dx) (local.get $at)) (v128.and (local.get $e) (local.get $g)))
                (local.set $at (i32.add (local.get $at) (i32.const 16)))
                (local.set $yAt (i32.add (local.get $yAt) (i32.const 16)))
                (local.set $ch (i32.add (local.get $ch) (i32.const 4)))
                (br $chans)))
            (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
            (br $cols)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows_loop))))

  ;; Sum over rows: out[ch] = x[0, ch] + x[1, ch] + ... in row order, each
  ;; addition rounded to float32 (starting from +0), four channels at a time.
  (func (export "sum_rows")
    (param $x i32) (param $out i32) (param $rows i32) (param $c i32)
    (local $r i32) (local $ch i32) (local $src i32) (local $dst i32) (local $cBytes i32)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    (memory.fill (local.get $out) (i32.const 0) (local.get $cBytes))
    (local.set $src (local.get $x))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $dst (local.get $out))
        (local.set $ch (i32.const 0))
        (block $ch_done
          (loop $chans
            (br_if $ch_done (i32.ge_u (local.get $ch) (local.get $c)))
            (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
            (local.set $src (i32.add (local.get $src) (i32.const 16)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
            (local.set $ch (i32.add (local.get $ch) (i32.const 4)))
            (br $chans)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; [N, P, C] -> [P, N, C] (P pixels): each run of C values moves whole.
  (func (export "batch_to_third")
    (param $x i32) (param $out i32) (param $n i32) (param $pixels i32) (param $c i32)
    (local $b i32) (local $p i32) (local $k i32) (local $src i32) (local $dst i32) (local $run i32) (local $jump i32)
    (local.set $run (i32.shl (local.get $c) (i32.const 2)))
    ;; after a run, dst skips the other n - 1 runs of its pixel
    (local.set $jump (i32.mul (i32.sub (local.get $n) (i32.const 1)) (local.get $run)))
    (local.set $src (local.get $x))
    (block $b_done
      (loop $batch
        (br_if $b_done (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $dst (i32.add (local.get $out) (i32.mul (local.get $b) (local.get $run))))
        (local.set $p (i32.const 0))
        (block $p_done
          (loop $pixel
            (br_if $p_done (i32.ge_u (local.get $p) (local.get $pixels)))
            (local.set $k (i32.const 0))
            (block $k_done
              (loop $copy
                (br_if $k_done (i32.ge_u (local.get $k) (local.get $run)))
                (v128.store (i32.add (local.get $dst) (local.get $k)) (v128.load (i32.add (local.get $src) (local.get $k))))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $copy)))
            (local.set $src (i32.add (local.get $src) (local.get $run)))
            (local.set $dst (i32.add (local.get $dst) (i32.add (local.get $run) (local.get $jump))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pixel)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $batch))))

  ;; [N, P, C] -> [C, P, N]: at each pixel an N x C block becomes a C x N
  ;; block, 4 x 4 at a time (N and C multiples of 4).
  (func (export "swap_batch_and_channels")
    (param $x i32) (param $out i32) (param $n i32) (param $pixels i32) (param $c i32)
    (local $p i32) (local $b i32) (local $ch i32)
    (local $inRow i32) (local $outRow i32) (local $src i32) (local $dst i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    ;; bytes between batch rows of the input, and between channel rows of the output
    (local.set $inRow (i32.shl (i32.mul (local.get $pixels) (local.get $c)) (i32.const 2)))
    (local.set $outRow (i32.shl (i32.mul (local.get $pixels) (local.get $n)) (i32.const 2)))
    (block $p_done
      (loop $pixel
        (br_if $p_done (i32.ge_u (local.get $p) (local.get $pixels)))
        (local.set $b (i32.const 0))
        (block $b_done
          (loop $batch
            (br_if $b_done (i32.ge_u (local.get $b) (local.get $n)))
            (local.set $ch (i32.const 0))
            (block $ch_done
              (loop $chans
                (br_if $ch_done (i32.ge_u (local.get $ch) (local.get $c)))
                ;; x[b + i, p, ch .. ch + 3], i = 0 .. 3
                (local.set $src
                  (i32.add (local.get $x)
                    (i32.shl
                      (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $pixels)) (local.get $p)) (local.get $c))
                        (local.get $ch))
                      (i32.const 2))))
                (local.set $r0 (v128.load (local.get $src)))
                (local.set $r1 (v128.load (i32.add (local.get $src) (local.get $inRow))))
                (local.set $r2 (v128.load (i32.add (local.get $src) (i32.shl (local.get $inRow) (i32.const 1)))))
                (local.set $r3 (v128.load (i32.add (local.get $src) (i32.mul (local.get $inRow) (i32.const 3)))))
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
                ;; out[ch + k, p, b .. b + 3], k = 0 .. 3
                (local.set $dst
                  (i32.add (local.get $out)
                    (i32.shl
                      (i32.add (i32.mul (i32.add (i32.mul (local.get $ch) (local.get $pixels)) (local.get $p)) (local.get $n))
                        (local.get $b))
                      (i32.const 2))))
                (v128.store (local.get $dst)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store (i32.add (local.get $dst) (local.get $outRow))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store (i32.add (local.get $dst) (i32.shl (local.get $outRow) (i32.const 1)))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store (i32.add (local.get $dst) (i32.mul (local.get $outRow) (i32.const 3)))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $ch (i32.add (local.get $ch) (i32.const 4)))
                (br $chans)))
            (local.set $b (i32.add (local.get $b) (i32.const 4)))
            (br $batch)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pixel))))
)
