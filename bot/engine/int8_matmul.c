/*
 * Int8-weight linear layers for socialbot: y[r, o] = scale[o] * sum_i x[r, i] * w[o, i] + bias[o].
 *
 * Weights stay int8 in memory (one byte per weight, a quarter of float32) and are widened to float
 * in registers as they are read, so a batch-1 decode step reads a quarter of the bytes; activations
 * stay float32, so nothing but the weight rounding differs from the float model. Rows are taken four
 * at a time so each widened weight vector feeds four multiply-adds (decode of many sequences and
 * prefill chunks).
 *
 * Built and loaded by bot/engine/int8_linear.py (gcc -O3 -march=native): an AVX-512 path, an
 * AVX2 + FMA path, and portable loops. Plain C, no torch headers.
 */
#include <stdint.h>
#include <stddef.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#define ROW_BLOCK 4

int socialbot_int8_simd_width(void) {
#if defined(__AVX512F__)
    return 16;
#elif defined(__AVX2__) && defined(__FMA__)
    return 8;
#else
    return 0;
#endif
}

static inline float scalar_dot(const float *x, const int8_t *w, int64_t from, int64_t to) {
    float acc = 0.0f;
    for (int64_t i = from; i < to; ++i) acc += x[i] * (float)w[i];
    return acc;
}

#if defined(__AVX512F__)
#define LANES 16
static inline void dot_block(const float *x, int64_t in, int64_t nr, const int8_t *w, float *sums) {
    __m512 acc[ROW_BLOCK] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + LANES <= in; i += LANES) {
        __m512 wv = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(w + i))));
        for (int64_t r = 0; r < nr; ++r) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * in + i), wv, acc[r]);
    }
    for (int64_t r = 0; r < nr; ++r) sums[r] = _mm512_reduce_add_ps(acc[r]) + scalar_dot(x + r * in, w, i, in);
}
#define OUT_BLOCK 4
#define HAVE_TILE 1
#define WIDE_BLOCK 8
#define HAVE_WIDE 1
/* One row by eight outputs: eight independent multiply-add chains (batch-1 decode). Each output's
 * sum is formed in the same order as dot_block's, so the results are the same bit for bit. */
static inline void dot_wide(const float *x, int64_t in, const int8_t *w, float *sums /* [8] */) {
    __m512 acc[WIDE_BLOCK];
    for (int o = 0; o < WIDE_BLOCK; ++o) acc[o] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + LANES <= in; i += LANES) {
        __m512 xv = _mm512_loadu_ps(x + i);
        for (int o = 0; o < WIDE_BLOCK; ++o) {
            __m512 wv = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(w + o * in + i))));
            acc[o] = _mm512_fmadd_ps(xv, wv, acc[o]);
        }
    }
    for (int o = 0; o < WIDE_BLOCK; ++o) sums[o] = _mm512_reduce_add_ps(acc[o]) + scalar_dot(x, w + o * in, i, in);
}
/* Four rows by four outputs: each widened weight vector feeds four rows, each loaded x vector four
 * outputs (16 accumulators in registers), for batched decode and prefill. */
static inline void dot_tile(const float *x, int64_t in, const int8_t *w, float *sums /* [4][4] */) {
    __m512 acc[ROW_BLOCK][OUT_BLOCK];
    for (int r = 0; r < ROW_BLOCK; ++r)
        for (int o = 0; o < OUT_BLOCK; ++o) acc[r][o] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + LANES <= in; i += LANES) {
        __m512 xv[ROW_BLOCK];
        for (int r = 0; r < ROW_BLOCK; ++r) xv[r] = _mm512_loadu_ps(x + r * in + i);
        for (int o = 0; o < OUT_BLOCK; ++o) {
            __m512 wv = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(w + o * in + i))));
            for (int r = 0; r < ROW_BLOCK; ++r) acc[r][o] = _mm512_fmadd_ps(xv[r], wv, acc[r][o]);
        }
    }
    for (int r = 0; r < ROW_BLOCK; ++r)
        for (int o = 0; o < OUT_BLOCK; ++o)
            sums[r * OUT_BLOCK + o] = _mm512_reduce_add_ps(acc[r][o]) + scalar_dot(x + r * in, w + o * in, i, in);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define LANES 8
static inline float hsum256(__m256 v) {
    __m128 low = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    low = _mm_add_ps(low, _mm_movehl_ps(low, low));
    low = _mm_add_ss(low, _mm_shuffle_ps(low, low, 1));
    return _mm_cvtss_f32(low);
}
static inline void dot_block(const float *x, int64_t in, int64_t nr, const int8_t *w, float *sums) {
    __m256 acc[ROW_BLOCK] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + LANES <= in; i += LANES) {
        __m256 wv = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w + i))));
        for (int64_t r = 0; r < nr; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * in + i), wv, acc[r]);
    }
    for (int64_t r = 0; r < nr; ++r) sums[r] = hsum256(acc[r]) + scalar_dot(x + r * in, w, i, in);
}
#else
static inline void dot_block(const float *x, int64_t in, int64_t nr, const int8_t *w, float *sums) {
    for (int64_t r = 0; r < nr; ++r) sums[r] = scalar_dot(x + r * in, w, 0, in);
}
#endif

/* x: [rows, in] float32; w: [out, in] int8; scale: [out]; bias: [out] or NULL; y: [rows, out].
 * Computes outputs [o_begin, o_end) only, so two threads can split one call. */
int socialbot_int8_linear(int64_t rows, int64_t in, int64_t out, const float *x, const int8_t *w,
                          const float *scale, const float *bias, float *y, int64_t o_begin, int64_t o_end) {
    if (rows < 0 || in <= 0 || out <= 0 || o_begin < 0 || o_end > out || o_begin > o_end) return 1;
    float sums[ROW_BLOCK];
    for (int64_t r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
        int64_t nr = rows - r0 < ROW_BLOCK ? rows - r0 : ROW_BLOCK;
        const float *xb = x + r0 * in;
        int64_t o = o_begin;
#ifdef HAVE_TILE
        if (nr == ROW_BLOCK) {
            float tile[ROW_BLOCK * OUT_BLOCK];
            for (; o + OUT_BLOCK <= o_end; o += OUT_BLOCK) {
                dot_tile(xb, in, w + o * in, tile);
                for (int r = 0; r < ROW_BLOCK; ++r)
                    for (int k = 0; k < OUT_BLOCK; ++k)
                        y[(r0 + r) * out + o + k] = tile[r * OUT_BLOCK + k] * scale[o + k] + (bias ? bias[o + k] : 0.0f);
            }
        }
#endif
#ifdef HAVE_WIDE
        if (nr == 1) {
            float wide[WIDE_BLOCK];
            for (; o + WIDE_BLOCK <= o_end; o += WIDE_BLOCK) {
                dot_wide(xb, in, w + o * in, wide);
                for (int k = 0; k < WIDE_BLOCK; ++k) y[r0 * out + o + k] = wide[k] * scale[o + k] + (bias ? bias[o + k] : 0.0f);
            }
        }
#endif
        for (; o < o_end; ++o) {
            dot_block(xb, in, nr, w + o * in, sums);
            float b = bias ? bias[o] : 0.0f;
            for (int64_t r = 0; r < nr; ++r) y[(r0 + r) * out + o] = sums[r] * scale[o] + b;
        }
    }
    return 0;
}

