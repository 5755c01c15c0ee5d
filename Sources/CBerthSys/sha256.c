/* SHA-256 for content digests: the x86 SHA extensions when the CPU has them (a pull hashes
 * every byte twice — compressed and uncompressed — so this is on the hot path of image
 * pulls), a portable implementation otherwise. */
#include <string.h>
#include "CBerthSys.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void blocks_portable(uint32_t *state, const uint8_t *data, size_t count) {
    uint32_t w[64];
    while (count--) {
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)data[i * 4] << 24 | (uint32_t)data[i * 4 + 1] << 16 | (uint32_t)data[i * 4 + 2] << 8 | data[i * 4 + 3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        data += 64;
    }
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

/* Four rounds with the message words `m` (already scheduled). */
#define ROUNDS4(m, i)                                                             \
    do {                                                                          \
        __m128i t = _mm_add_epi32((m), _mm_loadu_si128((const __m128i *)&K[4 * (i)])); \
        s1 = _mm_sha256rnds2_epu32(s1, s0, t);                                    \
        t = _mm_shuffle_epi32(t, 0x0E);                                           \
        s0 = _mm_sha256rnds2_epu32(s0, s1, t);                                    \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_shani(uint32_t *state, const uint8_t *data, size_t count) {
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);        /* CDAB */
    s1 = _mm_shuffle_epi32(s1, 0x1B);          /* EFGH */
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);  /* ABEF */
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);       /* CDGH */
    while (count--) {
        __m128i save0 = s0, save1 = s1;
        __m128i w[4];
        for (int i = 0; i < 4; i++) {
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), mask);
            ROUNDS4(w[i], i);
        }
        for (int i = 4; i < 16; i++) {
            /* W[i] = msg2(msg1(W[i-4], W[i-3]) + W[t-7..t-4], W[i-1]) */
            __m128i next = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
            next = _mm_add_epi32(next, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
            next = _mm_sha256msg2_epu32(next, w[(i + 3) & 3]);
            w[i & 3] = next;
            ROUNDS4(next, i);
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
        data += 64;
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);         /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);          /* DCHG */
    s0 = _mm_blend_epi16(tmp, s1, 0xF0);       /* DCBA */
    s1 = _mm_alignr_epi8(s1, tmp, 8);          /* HGFE */
    _mm_storeu_si128((__m128i *)&state[0], s0);
    _mm_storeu_si128((__m128i *)&state[4], s1);
}

static int has_shani(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a, b, c, d;
        int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
        int sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) && (c & (1u << 9));
        cached = sha && sse41;
    }
    return cached;
}
#endif

static void blocks(uint32_t *state, const uint8_t *data, size_t count, int portable) {
#if defined(__x86_64__)
    if (!portable && has_shani()) { blocks_shani(state, data, count); return; }
#endif
    (void)portable;
    blocks_portable(state, data, count);
}

void berth_sha256_init(struct berth_sha256 *ctx) {
    static const uint32_t initial[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(ctx->state, initial, sizeof initial);
    ctx->length = 0;
    ctx->used = 0;
    ctx->portable = 0;
}

void berth_sha256_update(struct berth_sha256 *ctx, const void *bytes, size_t len) {
    const uint8_t *p = bytes;
    ctx->length += len;
    if (ctx->used) {
        size_t take = 64 - ctx->used < len ? 64 - ctx->used : len;
        memcpy(ctx->buffer + ctx->used, p, take);
        ctx->used += take; p += take; len -= take;
        if (ctx->used < 64) return;
        blocks(ctx->state, ctx->buffer, 1, ctx->portable);
        ctx->used = 0;
    }
    if (len >= 64) {
        blocks(ctx->state, p, len / 64, ctx->portable);
        p += len / 64 * 64;
        len %= 64;
    }
    memcpy(ctx->buffer, p, len);
    ctx->used = len;
}

void berth_sha256_final(struct berth_sha256 *ctx, uint8_t out[32]) {
    uint64_t bits = ctx->length * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (ctx->used < 56 ? 56 : 120) - ctx->used;
    for (int i = 0; i < 8; i++) pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    uint64_t keep = ctx->length;
    berth_sha256_update(ctx, pad, padlen + 8);
    ctx->length = keep;
    for (int i = 0; i < 8; i++) {
        out[i * 4] = (uint8_t)(ctx->state[i] >> 24);
        out[i * 4 + 1] = (uint8_t)(ctx->state[i] >> 16);
        out[i * 4 + 2] = (uint8_t)(ctx->state[i] >> 8);
        out[i * 4 + 3] = (uint8_t)ctx->state[i];
    }
}

int berth_sha256_accelerated(void) {
#if defined(__x86_64__)
    return has_shani();
#else
    return 0;
#endif
}
