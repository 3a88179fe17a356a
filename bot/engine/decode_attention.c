/*
 * Decode attention for socialbot's packed batches: one new token per sequence, attending over that
 * sequence's own key/value cache.
 *
 * torch answers each sequence with several small ops (store, two batched matmuls, softmax); with
 * three query heads per key/value head and ~1,000 cached tokens those ops run far below the CPU's
 * speed and dominate a 16-sequence decode step. This kernel stores the new key/value and reads each
 * cached key and value once for all query heads that share it, in one call per layer.
 *
 * Built and loaded by bot/engine/native_attention.py (gcc -O3 -march=native); plain C, no torch
 * headers. Caches are float32 or bfloat16; queries, new keys/values and outputs are float32.
 */
#include <stdint.h>
#include <string.h>
#include <math.h>

#define MAX_GROUP 16
#define MAX_HEAD_DIM 256
#define LANES 16

static inline float bf16_to_float(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float result;
    memcpy(&result, &bits, sizeof result);
    return result;
}

/* Round to nearest even, as torch's float -> bfloat16 conversion does (so a decoded token's stored
 * key/value is bit-identical to one stored by a prefill chunk). */
static inline uint16_t float_to_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return 0x7fc0;
    }
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

/* exp(x) for x <= 0, Cephes' expf reduction and polynomial; written so gcc vectorizes the loop. */
static void exp_in_place(float *values, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        float x = values[i];
        x = x < -87.0f ? -87.0f : x;
        float n = floorf(x * 1.44269504088896341f + 0.5f);
        float r = x - n * 0.693359375f + n * 2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        float y = p * r * r + r + 1.0f;
        union { uint32_t bits; float value; } scale;
        scale.bits = (uint32_t)((int32_t)n + 127) << 23;
        values[i] = y * scale.value;
    }
}

static inline float dot(const float *a, const float *b, int64_t length) {
    float lanes[LANES] = {0};
    int64_t x = 0;
    for (; x + LANES <= length; x += LANES) {
        for (int l = 0; l < LANES; ++l) {
            lanes[l] += a[x + l] * b[x + l];
        }
    }
    float sum = 0.0f;
    for (int l = 0; l < LANES; ++l) {
        sum += lanes[l];
    }
    for (; x < length; ++x) {
        sum += a[x] * b[x];
    }
    return sum;
}

static inline void load_row(const void *plane, int is_bf16, int64_t index, int64_t head_dim, float *row) {
    if (is_bf16) {
        const uint16_t *source = (const uint16_t *)plane + index * head_dim;
        for (int64_t x = 0; x < head_dim; ++x) {
            row[x] = bf16_to_float(source[x]);
        }
    } else {
        memcpy(row, (const float *)plane + index * head_dim, (size_t)head_dim * sizeof(float));
    }
}

static inline void store_row(void *plane, int is_bf16, int64_t index, int64_t head_dim, const float *source,
                             int64_t source_stride) {
    if (is_bf16) {
        uint16_t *target = (uint16_t *)plane + index * head_dim;
        for (int64_t x = 0; x < head_dim; ++x) {
            target[x] = float_to_bf16(source[x * source_stride]);
        }
    } else {
        float *target = (float *)plane + index * head_dim;
        for (int64_t x = 0; x < head_dim; ++x) {
            target[x] = source[x * source_stride];
        }
    }
}

#if defined(__AVX512F__)
#include <immintrin.h>
#define HAVE_AVX512 1

static inline __m512 load16(const void *plane, int is_bf16, int64_t offset) {
    if (is_bf16) {
        __m256i half = _mm256_loadu_si256((const __m256i *)((const uint16_t *)plane + offset));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
    }
    return _mm512_loadu_ps((const float *)plane + offset);
}

/* exp(x) for x <= 0 on 16 lanes: the same reduction and polynomial as exp_in_place. */
static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
                                    _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
}

/* Sixteen horizontal sums at once: lane i of the result is the sum of the lanes of a[i]. */
static inline __m512 sum16(const __m512 *a) {
    __m512 b[8], c[4];
    for (int k = 0; k < 8; ++k) {
        b[k] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * k], a[2 * k + 1]), _mm512_unpackhi_ps(a[2 * k], a[2 * k + 1]));
    }
    for (int k = 0; k < 4; ++k) {
        __m512d low = _mm512_unpacklo_pd(_mm512_castps_pd(b[2 * k]), _mm512_castps_pd(b[2 * k + 1]));
        __m512d high = _mm512_unpackhi_pd(_mm512_castps_pd(b[2 * k]), _mm512_castps_pd(b[2 * k + 1]));
        c[k] = _mm512_add_ps(_mm512_castpd_ps(low), _mm512_castpd_ps(high));
    }
    __m512 e01 = _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], 0x88), _mm512_shuffle_f32x4(c[0], c[1], 0xDD));
    __m512 e23 = _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], 0x88), _mm512_shuffle_f32x4(c[2], c[3], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(e01, e23, 0x88), _mm512_shuffle_f32x4(e01, e23, 0xDD));
}

/* One sequence, one key/value head, head_dim a multiple of 16: scores, softmax, weighted values. */
static void attend_head_avx512(const void *keys, const void *values, int is_bf16, int64_t total, int64_t group,
                               int64_t head_dim, const float *query, float *scores, float *output) {
    const int64_t chunks = head_dim / 16;
    __m512 q[MAX_GROUP * (MAX_HEAD_DIM / 16)];
    for (int64_t g = 0; g < group; ++g) {
        for (int64_t c = 0; c < chunks; ++c) {
            q[g * chunks + c] = _mm512_loadu_ps(query + g * head_dim + c * 16);
        }
    }
    __m512 row[MAX_HEAD_DIM / 16];
    /* Keys sixteen at a time: widened once into `block`, then each query head's sixteen dot products
     * are summed together (sum16) instead of one horizontal sum per key. */
    float block[16 * MAX_HEAD_DIM];
    int64_t first_single = 0;
    for (; first_single + 16 <= total; first_single += 16) {
        for (int64_t k = 0; k < 16; ++k) {
            for (int64_t c = 0; c < chunks; ++c) {
                _mm512_storeu_ps(block + k * head_dim + c * 16,
                                 load16(keys, is_bf16, (first_single + k) * head_dim + c * 16));
            }
        }
        for (int64_t g = 0; g < group; ++g) {
            __m512 sums[16];
            for (int64_t k = 0; k < 16; ++k) {
                const float *key = block + k * head_dim;
                __m512 sum = _mm512_mul_ps(q[g * chunks], _mm512_loadu_ps(key));
                for (int64_t c = 1; c < chunks; ++c) {
                    sum = _mm512_fmadd_ps(q[g * chunks + c], _mm512_loadu_ps(key + c * 16), sum);
                }
                sums[k] = sum;
            }
            _mm512_storeu_ps(scores + g * total + first_single, sum16(sums));
        }
    }
    for (int64_t j = first_single; j < total; ++j) {
        for (int64_t c = 0; c < chunks; ++c) {
            row[c] = load16(keys, is_bf16, j * head_dim + c * 16);
        }
        for (int64_t g = 0; g < group; ++g) {
            __m512 sum = _mm512_mul_ps(q[g * chunks], row[0]);
            for (int64_t c = 1; c < chunks; ++c) {
                sum = _mm512_fmadd_ps(q[g * chunks + c], row[c], sum);
            }
            scores[g * total + j] = _mm512_reduce_add_ps(sum);
        }
    }
    float inverse[MAX_GROUP];
    const int64_t full = total & ~(int64_t)15;
    const __mmask16 tail = (__mmask16)((1u << (total - full)) - 1u);
    for (int64_t g = 0; g < group; ++g) {
        float *s = scores + g * total;
        __m512 highest = _mm512_set1_ps(-INFINITY);
        for (int64_t j = 0; j < full; j += 16) {
            highest = _mm512_max_ps(highest, _mm512_loadu_ps(s + j));
        }
        highest = _mm512_mask_max_ps(highest, tail, highest, _mm512_maskz_loadu_ps(tail, s + full));
        const __m512 shift = _mm512_set1_ps(_mm512_reduce_max_ps(highest));
        __m512 sum = _mm512_setzero_ps();
        for (int64_t j = 0; j < full; j += 16) {
            __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), shift));
            _mm512_storeu_ps(s + j, e);
            sum = _mm512_add_ps(sum, e);
        }
        if (tail) {
            __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, s + full), shift));
            _mm512_mask_storeu_ps(s + full, tail, e);
            sum = _mm512_mask_add_ps(sum, tail, sum, e);
        }
        inverse[g] = 1.0f / _mm512_reduce_add_ps(sum);
    }
    __m512 accumulated[MAX_GROUP * (MAX_HEAD_DIM / 16)];
    for (int64_t k = 0; k < group * chunks; ++k) {
        accumulated[k] = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < total; ++j) {
        for (int64_t c = 0; c < chunks; ++c) {
            row[c] = load16(values, is_bf16, j * head_dim + c * 16);
        }
        for (int64_t g = 0; g < group; ++g) {
            const __m512 weight = _mm512_set1_ps(scores[g * total + j]);
            for (int64_t c = 0; c < chunks; ++c) {
                accumulated[g * chunks + c] = _mm512_fmadd_ps(weight, row[c], accumulated[g * chunks + c]);
            }
        }
    }
    for (int64_t g = 0; g < group; ++g) {
        const __m512 scale = _mm512_set1_ps(inverse[g]);
        for (int64_t c = 0; c < chunks; ++c) {
            _mm512_storeu_ps(output + g * head_dim + c * 16, _mm512_mul_ps(accumulated[g * chunks + c], scale));
        }
    }
}
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define HAVE_AVX2 1

static inline __m256 load8(const void *plane, int is_bf16, int64_t offset) {
    if (is_bf16) {
        __m128i half = _mm_loadu_si128((const __m128i *)((const uint16_t *)plane + offset));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
    }
    return _mm256_loadu_ps((const float *)plane + offset);
}

/* exp(x) for x <= 0 on 8 lanes: the same reduction and polynomial as exp_in_place. */
static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)),
                               _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
    __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(exponent));
}

/* Eight horizontal sums at once: lane i of the result is the sum of the lanes of a[i]. */
static inline __m256 sum8(const __m256 *a) {
    __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

static inline float hsum8(__m256 v) {
    float lanes[8];
    _mm256_storeu_ps(lanes, v);
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/* One sequence, one key/value head, head_dim a multiple of 8 (AVX2 + FMA): as attend_head_avx512. */
static void attend_head_avx2(const void *keys, const void *values, int is_bf16, int64_t total, int64_t group,
                             int64_t head_dim, const float *query, float *scores, float *output) {
    const int64_t chunks = head_dim / 8;
    float block[8 * MAX_HEAD_DIM];
    int64_t first_single = 0;
    for (; first_single + 8 <= total; first_single += 8) {
        for (int64_t k = 0; k < 8; ++k) {
            for (int64_t c = 0; c < chunks; ++c) {
                _mm256_storeu_ps(block + k * head_dim + c * 8, load8(keys, is_bf16, (first_single + k) * head_dim + c * 8));
            }
        }
        for (int64_t g = 0; g < group; ++g) {
            const float *q = query + g * head_dim;
            __m256 sums[8];
            for (int64_t k = 0; k < 8; ++k) {
                const float *key = block + k * head_dim;
                __m256 sum = _mm256_mul_ps(_mm256_loadu_ps(q), _mm256_loadu_ps(key));
                for (int64_t c = 1; c < chunks; ++c) {
                    sum = _mm256_fmadd_ps(_mm256_loadu_ps(q + c * 8), _mm256_loadu_ps(key + c * 8), sum);
                }
                sums[k] = sum;
            }
            _mm256_storeu_ps(scores + g * total + first_single, sum8(sums));
        }
    }
    for (int64_t j = first_single; j < total; ++j) {
        for (int64_t g = 0; g < group; ++g) {
            const float *q = query + g * head_dim;
            __m256 sum = _mm256_setzero_ps();
            for (int64_t c = 0; c < chunks; ++c) {
                sum = _mm256_fmadd_ps(_mm256_loadu_ps(q + c * 8), load8(keys, is_bf16, j * head_dim + c * 8), sum);
            }
            scores[g * total + j] = hsum8(sum);
        }
    }
    float inverse[MAX_GROUP];
    const int64_t full = total & ~(int64_t)7;
    for (int64_t g = 0; g < group; ++g) {
        float *s = scores + g * total;
        float highest = s[0];
        for (int64_t j = 1; j < total; ++j) {
            highest = s[j] > highest ? s[j] : highest;
        }
        const __m256 shift = _mm256_set1_ps(highest);
        __m256 sum = _mm256_setzero_ps();
        for (int64_t j = 0; j < full; j += 8) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), shift));
            _mm256_storeu_ps(s + j, e);
            sum = _mm256_add_ps(sum, e);
        }
        float total_sum = hsum8(sum);
        for (int64_t j = full; j < total; ++j) {
            s[j] -= highest;
        }
        exp_in_place(s + full, total - full);
        for (int64_t j = full; j < total; ++j) {
            total_sum += s[j];
        }
        inverse[g] = 1.0f / total_sum;
    }
    __m256 accumulated[MAX_GROUP * (MAX_HEAD_DIM / 8)];
    for (int64_t k = 0; k < group * chunks; ++k) {
        accumulated[k] = _mm256_setzero_ps();
    }
    for (int64_t j = 0; j < total; ++j) {
        for (int64_t c = 0; c < chunks; ++c) {
            const __m256 row = load8(values, is_bf16, j * head_dim + c * 8);
            for (int64_t g = 0; g < group; ++g) {
                accumulated[g * chunks + c] =
                    _mm256_fmadd_ps(_mm256_set1_ps(scores[g * total + j]), row, accumulated[g * chunks + c]);
            }
        }
    }
    for (int64_t g = 0; g < group; ++g) {
        const __m256 scale = _mm256_set1_ps(inverse[g]);
        for (int64_t c = 0; c < chunks; ++c) {
            _mm256_storeu_ps(output + g * head_dim + c * 8, _mm256_mul_ps(accumulated[g * chunks + c], scale));
        }
    }
}
#endif

/*
 * For each of `count` sequences: store its new key/value at position pasts[i] of layer `layer`, then
 * attend with its query heads over positions 0..pasts[i].
 *
 * buffers[i]: a contiguous cache [layers, 2, kv_heads, capacities[i], head_dim].
 * queries:    [tokens, kv_heads, group, head_dim], already scaled; row rows[i] is sequence i's.
 * new_kv:     [2, kv_heads, tokens, head_dim] (keys, then values) for all tokens of the batch.
 * out:        [tokens, kv_heads, group, head_dim].
 * scratch:    at least group * (max(pasts) + 1) floats.
 * Returns 0, or -1 when group or head_dim exceed what the kernel supports (nothing is written then).
 */
int socialbot_decode_attention(int32_t is_bf16, int64_t count, void *const *buffers, const int64_t *capacities,
                               const int64_t *pasts, const int64_t *rows, int64_t layer, int64_t kv_heads,
                               int64_t group, int64_t head_dim, int64_t tokens, const float *queries,
                               const float *new_kv, float *out, float *scratch) {
    if (group < 1 || group > MAX_GROUP || head_dim < 1 || head_dim > MAX_HEAD_DIM) {
        return -1;
    }
    const size_t element = is_bf16 ? sizeof(uint16_t) : sizeof(float);
    float row[MAX_HEAD_DIM];
    float accumulated[MAX_GROUP][MAX_HEAD_DIM];
    for (int64_t i = 0; i < count; ++i) {
        const int64_t past = pasts[i], total = past + 1, token = rows[i];
        const int64_t plane_elements = capacities[i] * head_dim;
        for (int64_t head = 0; head < kv_heads; ++head) {
            char *base = (char *)buffers[i];
            void *keys = base + (size_t)(((layer * 2 + 0) * kv_heads + head) * plane_elements) * element;
            void *values = base + (size_t)(((layer * 2 + 1) * kv_heads + head) * plane_elements) * element;
            const float *new_key = new_kv + (head * tokens + token) * head_dim;
            const float *new_value = new_kv + ((kv_heads + head) * tokens + token) * head_dim;
            store_row(keys, is_bf16, past, head_dim, new_key, 1);
            store_row(values, is_bf16, past, head_dim, new_value, 1);

            const float *query = queries + (token * kv_heads + head) * group * head_dim;
            float *output = out + (token * kv_heads + head) * group * head_dim;
#ifdef HAVE_AVX512
            if (head_dim % 16 == 0) {
                attend_head_avx512(keys, values, is_bf16, total, group, head_dim, query, scratch, output);
                continue;
            }
#elif defined(HAVE_AVX2)
            if (head_dim % 8 == 0) {
                attend_head_avx2(keys, values, is_bf16, total, group, head_dim, query, scratch, output);
                continue;
            }
#endif
            for (int64_t j = 0; j < total; ++j) {
                load_row(keys, is_bf16, j, head_dim, row);
                for (int64_t g = 0; g < group; ++g) {
                    scratch[g * total + j] = dot(query + g * head_dim, row, head_dim);
                }
            }
            float sums[MAX_GROUP];
            for (int64_t g = 0; g < group; ++g) {
                float *scores = scratch + g * total;
                float highest = scores[0];
                for (int64_t j = 1; j < total; ++j) {
                    highest = scores[j] > highest ? scores[j] : highest;
                }
                for (int64_t j = 0; j < total; ++j) {
                    scores[j] -= highest;
                }
                exp_in_place(scores, total);
                float lanes[LANES] = {0};
                int64_t j = 0;
                for (; j + LANES <= total; j += LANES) {
                    for (int l = 0; l < LANES; ++l) {
                        lanes[l] += scores[j + l];
                    }
                }
                float sum = 0.0f;
                for (int l = 0; l < LANES; ++l) {
                    sum += lanes[l];
                }
                for (; j < total; ++j) {
                    sum += scores[j];
                }
                sums[g] = sum;
                memset(accumulated[g], 0, (size_t)head_dim * sizeof(float));
            }
            for (int64_t j = 0; j < total; ++j) {
                load_row(values, is_bf16, j, head_dim, row);
                for (int64_t g = 0; g < group; ++g) {
                    const float weight = scratch[g * total + j];
                    float *target = accumulated[g];
                    for (int64_t x = 0; x < head_dim; ++x) {
                        target[x] += weight * row[x];
                    }
                }
            }
            for (int64_t g = 0; g < group; ++g) {
                const float inverse = 1.0f / sums[g];
                for (int64_t x = 0; x < head_dim; ++x) {
                    output[g * head_dim + x] = accumulated[g][x] * inverse;
                }
            }
        }
    }
    return 0;
}

/* 16 (AVX-512) or 8 (AVX2 + FMA) when a vectorized path was compiled in, else 0: the portable loops are slower than
 * torch's own attention, so the engine uses the kernel only when this is non-zero. */
int socialbot_decode_attention_simd_width(void) {
#if defined(HAVE_AVX512)
    return 16;
#elif defined(HAVE_AVX2)
    return 8;
#else
    return 0;
#endif
}
