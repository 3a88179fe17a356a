/*
 * Every decoder layer of a decode step in one foreign call: RMSNorm, the stacked q/k/v int8 matmul,
 * the rotary embedding, the key/value store and decode attention, the output projection and its
 * residual, RMSNorm, the stacked gate/up matmul, SiLU gating, the down projection and its residual.
 *
 * A 135M model's decode step at one to a few sequences is ~20 small ops per layer; from Python
 * each costs more than its arithmetic (measured: 42 ms per step at one sequence, 22 ms of it the
 * int8 matmuls). This file adds no arithmetic of its own beyond the glue: the matmuls are
 * int8_matmul.c's and the attention is decode_attention.c's, compiled into the same library, so
 * every layer computes what the per-op path computes (up to float rounding of the glue).
 *
 * With two threads (`threads` = 2) a helper thread started here takes half of the output channels
 * of each matmul and half of the sequences' attention; the two meet at a barrier after each phase
 * (spinning briefly, then sleeping, so a busy machine does not burn a core waiting).
 *
 * Built and loaded by bot/engine/fused_decode.py (gcc -O3 -march=native -pthread). Plain C.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode_attention.c"
#undef LANES
#include "int8_matmul.c"
#undef LANES


/*
 * The int8 x int8 path (AVX-512 VNNI), for `precise` = 0: each input row is rounded to int8 twice over,
 * q1 = round(x / s) and q2 = round((x - s * q1) / (s / 256)) with s = max|x| / 127, so x = s * (q1 + q2 / 256)
 * to within max|x| / 65,000 (about 15 bits; one level alone, as llama.cpp's Q8 activations, is 7 bits and
 * was measured to change the top token at 14-20% of positions of long prompts). vpdpbusd multiplies
 * unsigned by signed bytes, so q + 128 is fed and 128 * sum(w) taken off again (`wsum`, per output).
 */
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define HAVE_VNNI 1
#define VNNI_LANES 64
static void quantize_rows(int64_t rows, int64_t in, const float *x, uint8_t *q /* [rows][2][padded] */, float *scales) {
    const int64_t padded = (in + VNNI_LANES - 1) / VNNI_LANES * VNNI_LANES;
    for (int64_t r = 0; r < rows; ++r) {
        const float *row = x + r * in;
        uint8_t *first = q + r * 2 * padded, *second = first + padded;
        float highest = 0.0f;
        for (int64_t i = 0; i < in; ++i) highest = fabsf(row[i]) > highest ? fabsf(row[i]) : highest;
        const float step = highest > 0.0f ? highest / 127.0f : 1.0f;
        const float inverse = 1.0f / step, fine_inverse = 256.0f / step;
        scales[r] = step;
        for (int64_t i = 0; i < in; ++i) {
            float coarse = nearbyintf(row[i] * inverse);
            coarse = coarse > 127.0f ? 127.0f : (coarse < -127.0f ? -127.0f : coarse);
            float fine = nearbyintf((row[i] - coarse * step) * fine_inverse);
            fine = fine > 127.0f ? 127.0f : (fine < -127.0f ? -127.0f : fine);
            first[i] = (uint8_t)((int)coarse + 128);
            second[i] = (uint8_t)((int)fine + 128);
        }
        for (int64_t i = in; i < padded; ++i) first[i] = second[i] = 0;
    }
}

static inline int32_t hsum_epi32(__m512i v) { return _mm512_reduce_add_epi32(v); }

/* y[r, o] = scale[o] * s_r * ((A1 - 128 wsum) + (A2 - 128 wsum) / 256) for o in [o_begin, o_end). */
static void vnni_linear(int64_t rows, int64_t in, int64_t out, const uint8_t *q, const float *row_scales,
                        const int8_t *w, const float *scale, const int32_t *wsum, float *y, int64_t o_begin,
                        int64_t o_end) {
    const int64_t padded = (in + VNNI_LANES - 1) / VNNI_LANES * VNNI_LANES;
    const int64_t full = in / VNNI_LANES * VNNI_LANES;
    const __mmask64 tail = in == full ? 0 : (__mmask64)((~0ULL) >> (64 - (in - full)));
    int64_t o = o_begin;
    for (; o + 4 <= o_end; o += 4) {
        const int8_t *w0 = w + o * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
        for (int64_t r = 0; r < rows; ++r) {
            const uint8_t *first = q + r * 2 * padded, *second = first + padded;
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            int64_t i = 0;
            for (; i < full; i += VNNI_LANES) {
                __m512i u = _mm512_loadu_si512(first + i), v = _mm512_loadu_si512(second + i);
                __m512i x0 = _mm512_loadu_si512(w0 + i), x1 = _mm512_loadu_si512(w1 + i);
                __m512i x2 = _mm512_loadu_si512(w2 + i), x3 = _mm512_loadu_si512(w3 + i);
                a0 = _mm512_dpbusd_epi32(a0, u, x0), b0 = _mm512_dpbusd_epi32(b0, v, x0);
                a1 = _mm512_dpbusd_epi32(a1, u, x1), b1 = _mm512_dpbusd_epi32(b1, v, x1);
                a2 = _mm512_dpbusd_epi32(a2, u, x2), b2 = _mm512_dpbusd_epi32(b2, v, x2);
                a3 = _mm512_dpbusd_epi32(a3, u, x3), b3 = _mm512_dpbusd_epi32(b3, v, x3);
            }
            if (tail) {
                __m512i u = _mm512_loadu_si512(first + i), v = _mm512_loadu_si512(second + i);
                __m512i x0 = _mm512_maskz_loadu_epi8(tail, w0 + i), x1 = _mm512_maskz_loadu_epi8(tail, w1 + i);
                __m512i x2 = _mm512_maskz_loadu_epi8(tail, w2 + i), x3 = _mm512_maskz_loadu_epi8(tail, w3 + i);
                a0 = _mm512_dpbusd_epi32(a0, u, x0), b0 = _mm512_dpbusd_epi32(b0, v, x0);
                a1 = _mm512_dpbusd_epi32(a1, u, x1), b1 = _mm512_dpbusd_epi32(b1, v, x1);
                a2 = _mm512_dpbusd_epi32(a2, u, x2), b2 = _mm512_dpbusd_epi32(b2, v, x2);
                a3 = _mm512_dpbusd_epi32(a3, u, x3), b3 = _mm512_dpbusd_epi32(b3, v, x3);
            }
            const int32_t sa[4] = {hsum_epi32(a0), hsum_epi32(a1), hsum_epi32(a2), hsum_epi32(a3)};
            const int32_t sb[4] = {hsum_epi32(b0), hsum_epi32(b1), hsum_epi32(b2), hsum_epi32(b3)};
            for (int k = 0; k < 4; ++k) {
                const int32_t offset = 128 * wsum[o + k];
                y[r * out + o + k] = scale[o + k] * row_scales[r] *
                                     ((float)(sa[k] - offset) + (float)(sb[k] - offset) * (1.0f / 256.0f));
            }
        }
    }
    for (; o < o_end; ++o) {
        const int8_t *w0 = w + o * in;
        for (int64_t r = 0; r < rows; ++r) {
            const uint8_t *first = q + r * 2 * padded, *second = first + padded;
            __m512i a0 = _mm512_setzero_si512(), b0 = a0;
            int64_t i = 0;
            for (; i < full; i += VNNI_LANES) {
                __m512i x0 = _mm512_loadu_si512(w0 + i);
                a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(first + i), x0);
                b0 = _mm512_dpbusd_epi32(b0, _mm512_loadu_si512(second + i), x0);
            }
            if (tail) {
                __m512i x0 = _mm512_maskz_loadu_epi8(tail, w0 + i);
                a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(first + i), x0);
                b0 = _mm512_dpbusd_epi32(b0, _mm512_loadu_si512(second + i), x0);
            }
            const int32_t offset = 128 * wsum[o];
            y[r * out + o] = scale[o] * row_scales[r] *
                             ((float)(hsum_epi32(a0) - offset) + (float)(hsum_epi32(b0) - offset) * (1.0f / 256.0f));
        }
    }
}
#endif

/* One matmul of the step: the VNNI path when built and asked for, else int8_matmul.c's float-activation path. */
typedef struct {
    uint8_t *q;
    float *row_scales;
} quantized_input;

static void step_linear(int precise, quantized_input *buffer, int64_t rows, int64_t in, int64_t out, const float *x,
                        const int8_t *w, const float *scale, const int32_t *wsum, float *y, int64_t o_begin,
                        int64_t o_end) {
#ifdef HAVE_VNNI
    if (!precise) {
        quantize_rows(rows, in, x, buffer->q, buffer->row_scales);
        vnni_linear(rows, in, out, buffer->q, buffer->row_scales, w, scale, wsum, y, o_begin, o_end);
        return;
    }
#endif
    (void)buffer, (void)wsum;
    socialbot_int8_linear(rows, in, out, x, w, scale, NULL, y, o_begin, o_end);
}

int socialbot_fused_has_vnni(void) {
#ifdef HAVE_VNNI
    return 1;
#else
    return 0;
#endif
}

/* Per layer, in this order: input norm weight, qkv int8, qkv scale, o int8, o scale, post-attention
 * norm weight, gate_up int8, gate_up scale, down int8, down scale, then the int32 row sums of the
 * qkv, o, gate_up and down weights (for the VNNI path). */
#define POINTERS_PER_LAYER 14
#define MAX_TOKENS 64

typedef struct {
    int64_t layers, tokens, hidden, heads, kv_heads, head_dim, inter;
    float eps;
    void *const *weights;
    float *h;
    const float *cos, *sin;
    int32_t is_bf16;
    void *const *buffers;
    const int64_t *capacities, *pasts;
    /* work buffers */
    float *xn, *qkv, *queries, *new_kv, *attended, *gate_up, *act, *proj;
    float *scratch[2];
    int64_t rows[MAX_TOKENS];
    int64_t split; /* sequences [0, split) on thread 0, [split, tokens) on thread 1 */
    int threads;
    int precise;
    quantized_input quantized[2];
    int status[2];
} step_args;

/* A two-party barrier: a generation counter, spun on briefly, then slept on with a condition variable. */
typedef struct {
    atomic_int arrived;
    atomic_int generation;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} barrier2;

static void barrier_wait(barrier2 *b) {
    int generation = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == 1) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        pthread_mutex_lock(&b->lock);
        atomic_store_explicit(&b->generation, generation + 1, memory_order_release);
        pthread_cond_broadcast(&b->wake);
        pthread_mutex_unlock(&b->lock);
        return;
    }
    for (int spin = 0; spin < 4000; ++spin) {
        if (atomic_load_explicit(&b->generation, memory_order_acquire) != generation) return;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&b->lock);
    while (atomic_load_explicit(&b->generation, memory_order_acquire) == generation) pthread_cond_wait(&b->wake, &b->lock);
    pthread_mutex_unlock(&b->lock);
}

static void rms_norm(const float *x, const float *weight, int64_t size, float eps, float *out) {
    float lanes[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= size; i += 16)
        for (int l = 0; l < 16; ++l) lanes[l] += x[i + l] * x[i + l];
    float sum = 0.0f;
    for (int l = 0; l < 16; ++l) sum += lanes[l];
    for (; i < size; ++i) sum += x[i] * x[i];
    const float inverse = 1.0f / sqrtf(sum / (float)size + eps);
    for (i = 0; i < size; ++i) out[i] = x[i] * inverse * weight[i];
}

/* Outputs [begin, end) of one matmul: this thread's half when two threads share it. */
static void half_range(int64_t out, int part, int parts, int64_t *begin, int64_t *end) {
    if (parts == 1) {
        *begin = 0, *end = out;
        return;
    }
    int64_t middle = (out / 2 + 7) / 8 * 8; /* a multiple of eight: the one-row path takes eight outputs at a time */
    if (middle > out) middle = out;
    *begin = part == 0 ? 0 : middle;
    *end = part == 0 ? middle : out;
}

static void run_layers(step_args *a, int part, barrier2 *barrier) {
    const int parts = a->threads;
    const int64_t T = a->tokens, D = a->hidden, hd = a->head_dim, half = hd / 2;
    const int64_t q_width = a->heads * hd, kv_width = a->kv_heads * hd, qkv_width = q_width + 2 * kv_width;
    const int64_t group = a->heads / a->kv_heads;
    const float scaling = 1.0f / sqrtf((float)hd);
    quantized_input *q = &a->quantized[part];
    int64_t b, e;
    for (int64_t layer = 0; layer < a->layers; ++layer) {
        void *const *w = a->weights + layer * POINTERS_PER_LAYER;
        if (part == 0)
            for (int64_t t = 0; t < T; ++t) rms_norm(a->h + t * D, (const float *)w[0], D, a->eps, a->xn + t * D);
        if (parts > 1) barrier_wait(barrier);
        half_range(qkv_width, part, parts, &b, &e);
        step_linear(a->precise, q, T, D, qkv_width, a->xn, (const int8_t *)w[1], (const float *)w[2], (const int32_t *)w[10],
                    a->qkv, b, e);
        if (parts > 1) barrier_wait(barrier);
        /* Rotary embedding of this thread's sequences; queries pre-scaled, new keys/values laid out
         * [2, kv_heads, tokens, head_dim] for the attention kernel. */
        const int64_t t_begin = part == 0 ? 0 : a->split, t_end = parts == 1 || part == 1 ? T : a->split;
        for (int64_t t = t_begin; t < t_end; ++t) {
            const float *row = a->qkv + t * qkv_width, *c = a->cos + t * hd, *s = a->sin + t * hd;
            for (int64_t head = 0; head < a->heads + a->kv_heads; ++head) {
                const float *x = row + head * hd;
                float rotated[MAX_HEAD_DIM];
                for (int64_t i = 0; i < half; ++i) rotated[i] = x[i] * c[i] + (-x[i + half]) * s[i];
                for (int64_t i = half; i < hd; ++i) rotated[i] = x[i] * c[i] + x[i - half] * s[i];
                float *target = head < a->heads ? a->queries + (t * a->heads + head) * hd
                                                : a->new_kv + ((head - a->heads) * T + t) * hd;
                if (head < a->heads)
                    for (int64_t i = 0; i < hd; ++i) target[i] = rotated[i] * scaling;
                else
                    memcpy(target, rotated, (size_t)hd * sizeof(float));
            }
            for (int64_t head = 0; head < a->kv_heads; ++head)
                memcpy(a->new_kv + ((a->kv_heads + head) * T + t) * hd, row + q_width + kv_width + head * hd,
                       (size_t)hd * sizeof(float));
        }
        if (t_end > t_begin) {
            int status = socialbot_decode_attention(a->is_bf16, t_end - t_begin, a->buffers + t_begin,
                                                    a->capacities + t_begin, a->pasts + t_begin, a->rows + t_begin,
                                                    layer, a->kv_heads, group, hd, T, a->queries, a->new_kv,
                                                    a->attended, a->scratch[part]);
            if (status != 0) a->status[part] = status;
        }
        if (parts > 1) barrier_wait(barrier);
        half_range(D, part, parts, &b, &e);
        step_linear(a->precise, q, T, q_width, D, a->attended, (const int8_t *)w[3], (const float *)w[4],
                    (const int32_t *)w[11], a->proj, b, e);
        if (parts > 1) barrier_wait(barrier);
        if (part == 0)
            for (int64_t t = 0; t < T; ++t) {
                for (int64_t i = 0; i < D; ++i) a->h[t * D + i] += a->proj[t * D + i];
                rms_norm(a->h + t * D, (const float *)w[5], D, a->eps, a->xn + t * D);
            }
        if (parts > 1) barrier_wait(barrier);
        /* gate and up are stacked: each thread takes the same half of both, so it can gate its own outputs. */
        {
            int64_t gb, ge;
            half_range(a->inter, part, parts, &gb, &ge);
            step_linear(a->precise, q, T, D, 2 * a->inter, a->xn, (const int8_t *)w[6], (const float *)w[7],
                        (const int32_t *)w[12], a->gate_up, gb, ge);
            step_linear(a->precise, q, T, D, 2 * a->inter, a->xn, (const int8_t *)w[6], (const float *)w[7],
                        (const int32_t *)w[12], a->gate_up, a->inter + gb, a->inter + ge);
            for (int64_t t = 0; t < T; ++t) {
                const float *gate = a->gate_up + t * 2 * a->inter, *up = gate + a->inter;
                float *act = a->act + t * a->inter;
                for (int64_t i = gb; i < ge; ++i) act[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
            }
        }
        if (parts > 1) barrier_wait(barrier);
        half_range(D, part, parts, &b, &e);
        step_linear(a->precise, q, T, a->inter, D, a->act, (const int8_t *)w[8], (const float *)w[9], (const int32_t *)w[13],
                    a->proj, b, e);
        if (parts > 1) barrier_wait(barrier);
        if (part == 0)
            for (int64_t t = 0; t < T; ++t)
                for (int64_t i = 0; i < D; ++i) a->h[t * D + i] += a->proj[t * D + i];
    }
}

/* The helper thread: started on the first two-thread call, then waits for each step. */
static pthread_t helper_thread;
static int helper_started = 0;
static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static barrier2 step_barrier = {0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
static barrier2 phase_barrier = {0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
static step_args *volatile pending_step = NULL;
/* One two-thread step at a time (there is one helper). */
static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;

static void *helper_main(void *unused) {
    (void)unused;
    for (;;) {
        barrier_wait(&step_barrier); /* a step begins */
        step_args *a = pending_step;
        run_layers(a, 1, &phase_barrier);
        barrier_wait(&step_barrier); /* and ends */
    }
    return NULL;
}

/*
 * Run every layer over `tokens` decoding sequences, one token each, updating `h` [tokens, hidden]
 * in place (the caller applies the final norm and lm_head).
 *
 * weights:    layers * POINTERS_PER_LAYER pointers (see above); matmul weights [out, in] int8,
 *             per-output-channel float scales, stacked q|k|v and gate|up.
 * cos, sin:   [tokens, head_dim] rotary tables for each sequence's position.
 * buffers[i]: sequence i's contiguous cache [layers, 2, kv_heads, capacities[i], head_dim], float32
 *             or bfloat16 (`is_bf16`); its new key/value goes to position pasts[i].
 * threads:    1, or 2 to share each matmul and the attention with a helper thread.
 * precise:    1: float activations (int8_matmul.c, as the per-op path); 0: the two-level int8 activations
 *             of the VNNI path where it was built (else as 1).
 * Returns 0; 1 for arguments it does not support (nothing is written then); the attention kernel's
 * status otherwise.
 */
int socialbot_decode_layers(int64_t layers, void *const *weights, int64_t tokens, int64_t hidden, int64_t heads,
                            int64_t kv_heads, int64_t head_dim, int64_t inter, float eps, float *h,
                            const float *cos, const float *sin, int32_t is_bf16, void *const *buffers,
                            const int64_t *capacities, const int64_t *pasts, int32_t threads, int32_t precise) {
    if (tokens < 1 || tokens > MAX_TOKENS || head_dim > MAX_HEAD_DIM || head_dim % 2 || kv_heads < 1 ||
        heads % kv_heads || heads / kv_heads > MAX_GROUP || (threads != 1 && threads != 2))
        return 1;
    step_args a;
    memset(&a, 0, sizeof a);
    a.layers = layers, a.tokens = tokens, a.hidden = hidden, a.heads = heads, a.kv_heads = kv_heads;
    a.head_dim = head_dim, a.inter = inter, a.eps = eps, a.weights = weights, a.h = h, a.cos = cos, a.sin = sin;
    a.is_bf16 = is_bf16, a.buffers = buffers, a.capacities = capacities, a.pasts = pasts;
    a.threads = threads;
    const int64_t qkv_width = (heads + 2 * kv_heads) * head_dim;
    int64_t longest = 0, work = 0, total_work = 0;
    for (int64_t t = 0; t < tokens; ++t) {
        a.rows[t] = t;
        longest = pasts[t] > longest ? pasts[t] : longest;
        total_work += pasts[t] + 1;
    }
    /* Sequences split so each thread attends over about half of the cached tokens. */
    a.split = tokens;
    if (threads == 2) {
        a.split = 0;
        while (a.split < tokens && 2 * (work + pasts[a.split] + 1) <= total_work + pasts[a.split] + 1)
            work += pasts[a.split++] + 1;
        if (tokens > 1 && a.split == tokens) a.split = tokens - 1;
    }
    const int64_t scratch_floats = (heads / kv_heads) * (longest + 1);
    const int64_t floats = tokens * (hidden + qkv_width + heads * head_dim + 2 * kv_heads * head_dim +
                                     heads * head_dim + 2 * inter + inter + hidden) +
                           2 * scratch_floats;
    int64_t widest = hidden > inter ? hidden : inter;
    widest = widest > heads * head_dim ? widest : heads * head_dim;
    const int64_t quantized_bytes = tokens * 2 * ((widest + 63) / 64 * 64);
    const int64_t quantized_floats = (quantized_bytes + 3) / 4 + tokens;
    float *block = malloc((size_t)(floats + 2 * quantized_floats) * sizeof(float));
    if (!block) return 1;
    a.precise = precise;
    float *p = block;
    a.xn = p, p += tokens * hidden;
    a.qkv = p, p += tokens * qkv_width;
    a.queries = p, p += tokens * heads * head_dim;
    a.new_kv = p, p += tokens * 2 * kv_heads * head_dim;
    a.attended = p, p += tokens * heads * head_dim;
    a.gate_up = p, p += tokens * 2 * inter;
    a.act = p, p += tokens * inter;
    a.proj = p, p += tokens * hidden;
    a.scratch[0] = p, p += scratch_floats;
    a.scratch[1] = p, p += scratch_floats;
    for (int part = 0; part < 2; ++part) {
        a.quantized[part].row_scales = p, p += tokens;
        a.quantized[part].q = (uint8_t *)p, p += (quantized_bytes + 3) / 4;
    }
    if (threads == 2) {
        pthread_mutex_lock(&helper_lock);
        if (!helper_started) {
            if (pthread_create(&helper_thread, NULL, helper_main, NULL) == 0) {
                pthread_detach(helper_thread);
                helper_started = 1;
            }
        }
        pthread_mutex_unlock(&helper_lock);
        if (!helper_started) a.threads = threads = 1;
    }
    if (threads == 2) {
        pthread_mutex_lock(&step_lock);
        pending_step = &a;
        barrier_wait(&step_barrier);
        run_layers(&a, 0, &phase_barrier);
        barrier_wait(&step_barrier);
        pthread_mutex_unlock(&step_lock);
    } else {
        run_layers(&a, 0, NULL);
    }
    free(block);
    return a.status[0] ? a.status[0] : a.status[1];
}

int socialbot_fused_simd_width(void) { return socialbot_int8_simd_width(); }

/*
 * One int8 matmul outside the layers (lm_head after a fused step): y [rows, out] = x [rows, in] through
 * w [out, in] with per-output `scale`, on the VNNI path unless `precise` (then as int8_matmul.c).
 * Returns 0, or 1 when it cannot allocate its buffer.
 */
int socialbot_fused_linear(int64_t rows, int64_t in, int64_t out, const float *x, const int8_t *w, const float *scale,
                           const int32_t *wsum, float *y, int32_t precise) {
    if (rows < 1 || in < 1 || out < 1) return 1;
    const int64_t padded = (in + 63) / 64 * 64;
    void *block = malloc((size_t)(rows * 2 * padded) + (size_t)rows * sizeof(float));
    if (!block) return 1;
    quantized_input buffer = {(uint8_t *)block + rows * sizeof(float), (float *)block};
    step_linear(precise, &buffer, rows, in, out, x, w, scale, wsum, y, 0, out);
    free(block);
    return 0;
}
