/*
 * all-MiniLM-L6-v2's transformer layers in one foreign call: int8 weights times int8 activations (AVX-512 VNNI).
 *
 * The numpy forward (bot/minilm_numpy.py) spends a short message's time in float32 matrix products too small for
 * OpenBLAS to run at speed, plus one pass over memory per elementwise op. Here each layer's four products are
 * int8 dot products (vpdpbusd: 64 multiply-adds per instruction) on the message's real tokens only (sequences are
 * packed end to end, so a batch pays for no padding), and the glue (bias, residual, GELU, LayerNorm, softmax)
 * runs on the results while they are in cache.
 *
 * Precision: weights are rounded per output channel to int8; each activation row is rounded twice over,
 * q1 = round(x / s) and q2 = round((x - s q1) / (s / 256)) with s = max|x| / 127, so x = s (q1 + q2 / 256) to about
 * 15 bits (the engine's fused decode step does the same; one level alone is 7 bits). vpdpbusd multiplies unsigned
 * by signed bytes, so q + 128 is fed and 128 * sum(w) taken off again per output. Attention, softmax, GELU and
 * LayerNorm are float32. Python tests hold the pooled vectors to the float forward's within a stated tolerance.
 *
 * Weight layout: a linear layer's int8 weights are packed as [out / 64][in / 4][64][4] (four consecutive inputs of
 * one output side by side), so one broadcast group of four activation bytes meets sixteen outputs in one register
 * and no horizontal sums are needed, and a 64-output tile's weights are one contiguous stream (1.3x on a single
 * message against rows of all outputs, where each step of a tile touched another page). A tile holds at most four
 * activation rows' sums for 64 outputs in registers (sixteen accumulators, four weight registers, one broadcast).
 *
 * Built and loaded by bot/minilm_int8.py (gcc -O3 -march=native); without AVX-512 VNNI,
 * socialbot_minilm_available() returns 0 and Python keeps the float forward. Plain C, single-threaded.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define HAVE_VNNI 1
#include <immintrin.h>
#endif

/* Pointers of one layer's parameters, in this order (see bot/minilm_int8.py: LAYER_PARAMETERS). */
/* Each product has weights, scale, sums, bias, then its optional fine weights, scale and sums (NULL: none), then
 * its activations' levels (an int32: 1 or 2; NULL: 2). */
enum { W, SCALE, WSUM, BIAS, FINE_W, FINE_SCALE, FINE_WSUM, LEVELS_OF, PER_LINEAR };
enum {
    QKV = 0,
    AO = PER_LINEAR, LN1_W = 2 * PER_LINEAR, LN1_B,
    FF1, FF2 = FF1 + PER_LINEAR, LN2_W = FF2 + PER_LINEAR, LN2_B,
    PARAMETERS_PER_LAYER
};

int socialbot_minilm_parameters_per_layer(void) { return PARAMETERS_PER_LAYER; }

#ifndef HAVE_VNNI
int socialbot_minilm_available(void) { return 0; }

int socialbot_minilm_forward(int64_t n_seq, const int64_t *offsets, int64_t hidden, int64_t heads, int64_t inter,
                             float eps, int64_t layers, const void *const *params, float *x) {
    (void)n_seq, (void)offsets, (void)hidden, (void)heads, (void)inter, (void)eps, (void)layers, (void)params, (void)x;
    return 2;
}
#else
int socialbot_minilm_available(void) { return 1; }

#define TILE_OUT 64 /* four registers of sixteen int32 sums */

/* Each row of x [rows][in] as two levels of unsigned bytes, q[2 r] and q[2 r + 1], each `in` long; s[r] its step. */
static void quantize_rows(int64_t rows, int64_t in, const float *x, uint8_t *q, float *s) {
    const __m512 sign_off = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512 top = _mm512_set1_ps(127.0f), bottom = _mm512_set1_ps(-127.0f);
    const __m128i flip = _mm_set1_epi8((char)0x80);
    for (int64_t r = 0; r < rows; ++r) {
        const float *row = x + r * in;
        __m512 highest = _mm512_setzero_ps();
        for (int64_t i = 0; i < in; i += 16) highest = _mm512_max_ps(highest, _mm512_and_ps(_mm512_loadu_ps(row + i), sign_off));
        const float most = _mm512_reduce_max_ps(highest);
        const float step = most > 0.0f ? most / 127.0f : 1.0f;
        s[r] = step;
        const __m512 inverse = _mm512_set1_ps(1.0f / step), fine_inverse = _mm512_set1_ps(256.0f / step);
        const __m512 step_v = _mm512_set1_ps(step);
        uint8_t *first = q + 2 * r * in, *second = first + in;
        for (int64_t i = 0; i < in; i += 16) {
            const __m512 v = _mm512_loadu_ps(row + i);
            __m512 coarse = _mm512_roundscale_ps(_mm512_mul_ps(v, inverse), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            coarse = _mm512_min_ps(_mm512_max_ps(coarse, bottom), top);
            __m512 fine = _mm512_mul_ps(_mm512_fnmadd_ps(coarse, step_v, v), fine_inverse);
            fine = _mm512_roundscale_ps(fine, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            fine = _mm512_min_ps(_mm512_max_ps(fine, bottom), top);
            const __m128i c8 = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(coarse));
            const __m128i f8 = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(fine));
            _mm_storeu_si128((__m128i *)(first + i), _mm_xor_si128(c8, flip));
            _mm_storeu_si128((__m128i *)(second + i), _mm_xor_si128(f8, flip));
        }
    }
}

/* acc += b (unsigned bytes) . w (signed bytes), written as an asm statement: with the intrinsic, GCC 12 copies
 * the accumulators between registers and spills some to the stack every step (measured: 1.6-1.8x slower). */
#define DPBUSD(ACC, B, W) __asm__("vpdpbusd %2, %1, %0" : "+v"(ACC) : "v"(B), "v"(W))

/* Row E's four activation bytes at step k against the four weight registers, into that row's accumulators. */
#define ACCUMULATE(E)                                                                                               \
    {                                                                                                                \
        int32_t group;                                                                                               \
        memcpy(&group, r##E + 4 * k, 4);                                                                             \
        const __m512i b = _mm512_set1_epi32(group);                                                                  \
        DPBUSD(a##E##0, b, w0);                                                                                      \
        DPBUSD(a##E##1, b, w1);                                                                                      \
        DPBUSD(a##E##2, b, w2);                                                                                      \
        DPBUSD(a##E##3, b, w3);                                                                                      \
    }

/* Sixteen outputs [o, o + 16) of one token from their int32 sums (`coarse`, and with two levels `fine`, the fine
 * activation level's): with `bias`, the product's value (plus `residual_row`); without, added to y (the fine
 * weights' pass). */
static inline __attribute__((always_inline)) void finish_outputs(int levels, float row_step, int64_t o, __m512i coarse,
                                                                 __m512i fine, const float *scale, const int32_t *wsum,
                                                                 const float *bias, const float *residual_row,
                                                                 float *y_row) {
    const __m512i offset = _mm512_slli_epi32(_mm512_loadu_si512(wsum + o), 7);
    __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(coarse, offset));
    if (levels == 2)
        v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(fine, offset)), _mm512_set1_ps(1.0f / 256.0f), v);
    v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_loadu_ps(scale + o), _mm512_set1_ps(row_step)));
    if (bias) {
        v = _mm512_add_ps(v, _mm512_loadu_ps(bias + o));
        if (residual_row) v = _mm512_add_ps(v, _mm512_loadu_ps(residual_row + o));
    } else {
        v = _mm512_add_ps(v, _mm512_loadu_ps(y_row + o));
    }
    _mm512_storeu_ps(y_row + o, v);
}

/* Token T's 64 outputs from accumulators a<C>0..3 (coarse level) and a<F>0..3 (fine level); inside DEFINE_TILE. */
#define FINISH(T, C, F)                                                                                              \
    {                                                                                                                \
        const float *residual_row = residual ? residual + (T) * out : NULL;                                         \
        float *y_row = y + (T) * out;                                                                                \
        finish_outputs(LEVEL_COUNT, s[T], o0, a##C##0, a##F##0, scale, wsum, bias, residual_row, y_row);                 \
        finish_outputs(LEVEL_COUNT, s[T], o0 + 16, a##C##1, a##F##1, scale, wsum, bias, residual_row, y_row);            \
        finish_outputs(LEVEL_COUNT, s[T], o0 + 32, a##C##2, a##F##2, scale, wsum, bias, residual_row, y_row);            \
        finish_outputs(LEVEL_COUNT, s[T], o0 + 48, a##C##3, a##F##3, scale, wsum, bias, residual_row, y_row);            \
    }

/* Sums of NT tokens' LEVELS activation levels (rows q[2 t + level]) against outputs [o0, o0 + 64), then scaled
 * and stored: with `bias`, as the product's value (plus `residual`); without, added to y (the fine pass). At most
 * four rows of accumulators (NT * LEVELS <= 4): sixteen sums, four weight registers and the broadcast fit the 32
 * registers with room, where six rows made GCC spill. */
#define DEFINE_TILE(NT, LEVELS)                                                                                     \
    static void tile_##NT##_##LEVELS(int64_t in, int64_t out, const uint8_t *q, const float *s, const int8_t *w,    \
                                     const float *scale, const int32_t *wsum, const float *bias,                    \
                                     const float *residual, float *y, int64_t o0) {                                 \
        enum { ROWS = NT * LEVELS, LEVEL_COUNT = LEVELS };                                                                               \
        _Static_assert(ROWS <= 4, "at most four rows of accumulators");                                              \
        const __m512i zero = _mm512_setzero_si512();                                                                 \
        __m512i a00 = zero, a01 = zero, a02 = zero, a03 = zero, a10 = zero, a11 = zero, a12 = zero, a13 = zero;      \
        __m512i a20 = zero, a21 = zero, a22 = zero, a23 = zero, a30 = zero, a31 = zero, a32 = zero, a33 = zero;      \
        /* Row e is token e / LEVELS's level e % LEVELS. */                                                          \
        const uint8_t *r0 = q, *r1 = q + (2 * (1 / LEVELS) + 1 % LEVELS) * in;                                       \
        const uint8_t *r2 = q + (2 * (2 / LEVELS) + 2 % LEVELS) * in, *r3 = q + (2 * (3 / LEVELS) + 3 % LEVELS) * in; \
        for (int64_t k = 0; k < in / 4; ++k) {                                                                       \
            const int8_t *wk = w + o0 * in + 256 * k; /* tile o0 / 64's weights are contiguous */                      \
            __m512i w0 = _mm512_loadu_si512(wk), w1 = _mm512_loadu_si512(wk + 64);                                  \
            __m512i w2 = _mm512_loadu_si512(wk + 128), w3 = _mm512_loadu_si512(wk + 192);                           \
            /* In registers: GCC would otherwise fold each weight load into every product. */                        \
            __asm__("" : "+v"(w0), "+v"(w1), "+v"(w2), "+v"(w3));                                                    \
            ACCUMULATE(0)                                                                                            \
            if (ROWS > 1) ACCUMULATE(1)                                                                              \
            if (ROWS > 2) ACCUMULATE(2)                                                                              \
            if (ROWS > 3) ACCUMULATE(3)                                                                              \
        }                                                                                                            \
        if (LEVELS == 2) {                                                                                           \
            FINISH(0, 0, 1)                                                                                          \
            if (NT > 1) FINISH(1, 2, 3)                                                                              \
        } else {                                                                                                     \
            FINISH(0, 0, 0)                                                                                          \
            if (NT > 1) FINISH(1, 1, 1)                                                                              \
            if (NT > 2) FINISH(2, 2, 2)                                                                              \
            if (NT > 3) FINISH(3, 3, 3)                                                                              \
        }                                                                                                            \
    }
DEFINE_TILE(2, 2)
DEFINE_TILE(1, 2)
DEFINE_TILE(4, 1)
DEFINE_TILE(1, 1)

/* y [rows][out] = x [rows][in] @ W + bias (+ residual), W as packed int8 weights times a per-output scale, plus
 * (when p[FINE_W] is set) the weights' rounding error as a second int8 matrix, met by the coarse activation level
 * only: its products are 1/254 of the first's, so 7 bits of activation are plenty there. A product whose
 * p[LEVELS_OF] is 1 meets its weights with the coarse level alone too (half the multiply-adds, 7-bit activations). */
static void linear(int64_t rows, int64_t in, int64_t out, const float *x, const void *const *p,
                   const float *residual, float *y, uint8_t *q, float *s) {
    const int8_t *w = p[W], *fine_w = p[FINE_W];
    const float *scale = p[SCALE], *bias = p[BIAS], *fine_scale = p[FINE_SCALE];
    const int32_t *wsum = p[WSUM], *fine_wsum = p[FINE_WSUM], *levels = p[LEVELS_OF];
    quantize_rows(rows, in, x, q, s);
    for (int64_t o0 = 0; o0 < out; o0 += TILE_OUT) {
        int64_t r = 0;
        if (levels && *levels == 1) {
            for (; r + 4 <= rows; r += 4)
                tile_4_1(in, out, q + 2 * r * in, s + r, w, scale, wsum, bias, residual ? residual + r * out : NULL, y + r * out, o0);
            for (; r < rows; ++r)
                tile_1_1(in, out, q + 2 * r * in, s + r, w, scale, wsum, bias, residual ? residual + r * out : NULL, y + r * out, o0);
        }
        for (; r + 2 <= rows; r += 2)
            tile_2_2(in, out, q + 2 * r * in, s + r, w, scale, wsum, bias, residual ? residual + r * out : NULL, y + r * out, o0);
        if (rows - r == 1)
            tile_1_2(in, out, q + 2 * r * in, s + r, w, scale, wsum, bias, residual ? residual + r * out : NULL, y + r * out, o0);
        if (!fine_w) continue;
        for (r = 0; r + 4 <= rows; r += 4)
            tile_4_1(in, out, q + 2 * r * in, s + r, fine_w, fine_scale, fine_wsum, NULL, NULL, y + r * out, o0);
        for (; r < rows; ++r)
            tile_1_1(in, out, q + 2 * r * in, s + r, fine_w, fine_scale, fine_wsum, NULL, NULL, y + r * out, o0);
    }
}

/* exp for x <= 0 (softmax after its maximum is taken off), Cephes' expf polynomial: a few float32 ulps. */
static inline __m512 exp_nonpositive(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* erf as a rational function on [-4, 4] (Eigen's float erf; |error| < 1e-7, erf is +-1 in float32 beyond). */
static inline __m512 erf_ps(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-4.0f)), _mm512_set1_ps(4.0f));
    const __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-2.72614225801306e-10f);
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.77068142495902e-08f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-2.10102402082508e-06f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-5.69250639462346e-05f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-7.34990630326855e-04f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-2.95459980854025e-03f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.60960333262415e-02f));
    p = _mm512_mul_ps(p, x);
    __m512 d = _mm512_set1_ps(-1.45660718464996e-05f);
    d = _mm512_fmadd_ps(d, x2, _mm512_set1_ps(-2.13374055278905e-04f));
    d = _mm512_fmadd_ps(d, x2, _mm512_set1_ps(-1.68282697438203e-03f));
    d = _mm512_fmadd_ps(d, x2, _mm512_set1_ps(-7.37332916720468e-03f));
    d = _mm512_fmadd_ps(d, x2, _mm512_set1_ps(-1.42647390514189e-02f));
    return _mm512_div_ps(p, d);
}

static void gelu(int64_t count, float *x) {
    const __m512 inverse_root2 = _mm512_set1_ps(0.70710678118654752f), half = _mm512_set1_ps(0.5f);
    for (int64_t i = 0; i < count; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        const __m512 cdf = _mm512_fmadd_ps(erf_ps(_mm512_mul_ps(v, inverse_root2)), half, half);
        _mm512_storeu_ps(x + i, _mm512_mul_ps(v, cdf));
    }
}

/* LayerNorm over each row of x [rows][width] in place (biased variance, as torch). width % 16 == 0. */
static void layer_norm(int64_t rows, int64_t width, float *x, const float *weight, const float *bias, float eps) {
    for (int64_t r = 0; r < rows; ++r) {
        float *row = x + r * width;
        __m512 sum = _mm512_setzero_ps();
        for (int64_t i = 0; i < width; i += 16) sum = _mm512_add_ps(sum, _mm512_loadu_ps(row + i));
        const __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(sum) / (float)width);
        __m512 squares = _mm512_setzero_ps();
        for (int64_t i = 0; i < width; i += 16) {
            const __m512 centred = _mm512_sub_ps(_mm512_loadu_ps(row + i), mean);
            squares = _mm512_fmadd_ps(centred, centred, squares);
        }
        const __m512 inverse = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(squares) / (float)width + eps));
        for (int64_t i = 0; i < width; i += 16) {
            const __m512 centred = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(row + i), mean), inverse);
            _mm512_storeu_ps(row + i, _mm512_fmadd_ps(centred, _mm512_loadu_ps(weight + i), _mm512_loadu_ps(bias + i)));
        }
    }
}

/* Each sequence's tokens attend to that sequence's tokens only; qkv [tokens][3 hidden] -> context [tokens][hidden]. */
static void attention(int64_t n_seq, const int64_t *offsets, int64_t hidden, int64_t heads, const float *qkv,
                      float *context, float *scores) {
    const int64_t dim = hidden / heads, chunks = dim / 16, stride = 3 * hidden;
    const float scale = 1.0f / sqrtf((float)dim);
    for (int64_t n = 0; n < n_seq; ++n) {
        const int64_t begin = offsets[n], length = offsets[n + 1] - offsets[n];
        const __mmask16 tail = (__mmask16)((1u << (length % 16)) - 1u);
        for (int64_t h = 0; h < heads; ++h) {
            for (int64_t i = 0; i < length; ++i) {
                const float *query = qkv + (begin + i) * stride + h * dim;
                __m512 qv[16];
                for (int64_t c = 0; c < chunks; ++c) qv[c] = _mm512_mul_ps(_mm512_loadu_ps(query + 16 * c), _mm512_set1_ps(scale));
                float highest = -INFINITY;
                for (int64_t j = 0; j < length; ++j) {
                    const float *key = qkv + (begin + j) * stride + hidden + h * dim;
                    __m512 dot = _mm512_mul_ps(qv[0], _mm512_loadu_ps(key));
                    for (int64_t c = 1; c < chunks; ++c) dot = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(key + 16 * c), dot);
                    scores[j] = _mm512_reduce_add_ps(dot);
                    highest = scores[j] > highest ? scores[j] : highest;
                }
                const __m512 top = _mm512_set1_ps(highest);
                __m512 total = _mm512_setzero_ps();
                int64_t j = 0;
                for (; j + 16 <= length; j += 16) {
                    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(scores + j), top));
                    _mm512_storeu_ps(scores + j, e);
                    total = _mm512_add_ps(total, e);
                }
                if (tail) {
                    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, scores + j), top));
                    _mm512_mask_storeu_ps(scores + j, tail, e);
                    total = _mm512_add_ps(total, _mm512_maskz_mov_ps(tail, e));
                }
                const float inverse = 1.0f / _mm512_reduce_add_ps(total);
                __m512 acc[16];
                for (int64_t c = 0; c < chunks; ++c) acc[c] = _mm512_setzero_ps();
                for (j = 0; j < length; ++j) {
                    const float *value = qkv + (begin + j) * stride + 2 * hidden + h * dim;
                    const __m512 weight = _mm512_set1_ps(scores[j]);
                    for (int64_t c = 0; c < chunks; ++c) acc[c] = _mm512_fmadd_ps(weight, _mm512_loadu_ps(value + 16 * c), acc[c]);
                }
                float *out = context + (begin + i) * hidden + h * dim;
                for (int64_t c = 0; c < chunks; ++c) _mm512_storeu_ps(out + 16 * c, _mm512_mul_ps(acc[c], _mm512_set1_ps(inverse)));
            }
        }
    }
}

static void *scratch(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

/* x [tokens][hidden] (sequences packed end to end, offsets [n_seq + 1]) through `layers` layers, in place.
 * 0 on success; 1 for a shape this kernel does not take; 3 when out of memory. */
int socialbot_minilm_forward(int64_t n_seq, const int64_t *offsets, int64_t hidden, int64_t heads, int64_t inter,
                             float eps, int64_t layers, const void *const *params, float *x) {
    if (n_seq < 0 || hidden <= 0 || heads <= 0 || hidden % heads || hidden % TILE_OUT || inter % TILE_OUT) return 1;
    const int64_t dim = hidden / heads;
    if (dim % 16 || dim > 256) return 1;
    int64_t longest = 0;
    for (int64_t n = 0; n < n_seq; ++n) {
        if (offsets[n + 1] < offsets[n] || offsets[0] != 0) return 1;
        longest = offsets[n + 1] - offsets[n] > longest ? offsets[n + 1] - offsets[n] : longest;
    }
    const int64_t tokens = n_seq ? offsets[n_seq] : 0;
    if (tokens == 0) return 0;
    float *qkv = scratch(sizeof(float) * tokens * 3 * hidden);
    float *context = scratch(sizeof(float) * tokens * hidden);
    float *attended = scratch(sizeof(float) * tokens * hidden);
    float *expanded = scratch(sizeof(float) * tokens * inter);
    uint8_t *q = scratch((size_t)2 * tokens * inter);
    float *steps = scratch(sizeof(float) * tokens);
    float *scores = scratch(sizeof(float) * (longest + 16));
    int status = 0;
    if (!qkv || !context || !attended || !expanded || !q || !steps || !scores) {
        status = 3;
        goto done;
    }
    for (int64_t l = 0; l < layers; ++l) {
        const void *const *p = params + l * PARAMETERS_PER_LAYER;
        linear(tokens, hidden, 3 * hidden, x, p + QKV, NULL, qkv, q, steps);
        attention(n_seq, offsets, hidden, heads, qkv, context, scores);
        linear(tokens, hidden, hidden, context, p + AO, x, attended, q, steps);
        layer_norm(tokens, hidden, attended, p[LN1_W], p[LN1_B], eps);
        linear(tokens, hidden, inter, attended, p + FF1, NULL, expanded, q, steps);
        gelu(tokens * inter, expanded);
        linear(tokens, inter, hidden, expanded, p + FF2, attended, x, q, steps);
        layer_norm(tokens, hidden, x, p[LN2_W], p[LN2_B], eps);
    }
done:
    free(qkv), free(context), free(attended), free(expanded), free(q), free(steps), free(scores);
    return status;
}
#endif
