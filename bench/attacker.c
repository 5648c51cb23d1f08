/* The attacker's solver for `python -m bench --only attack`: the chat's puzzles with x86 SHA extensions.
 *
 * As fast as we could make one core go (docs/performance.md, attack): PBKDF2-HMAC-SHA256 with the HMAC pads
 * hashed once, four independent attempts interleaved so that the SHA rounds' latency is hidden, and no
 * per-attempt call from Python. A browser runs one attempt per WebCrypto call (BoringSSL, one chain at a
 * time). Built by bench/attack.py with gcc at run time; never part of the service.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* One compression of a 64-byte block into state (big-endian words, as in FIPS 180-4). */
__attribute__((target("sha,sse4.1"))) static void compress(uint32_t state[8], const uint8_t block[64]) {
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
  __m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  const __m128i abef0 = abef, cdgh0 = cdgh;
  __m128i w[16];
  for (int i = 0; i < 16; i++) {
    if (i < 4) {
      w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), swap);
    } else {
      __m128i t = _mm_sha256msg1_epu32(w[i - 4], w[i - 3]);
      t = _mm_add_epi32(t, _mm_alignr_epi8(w[i - 1], w[i - 2], 4));
      w[i] = _mm_sha256msg2_epu32(t, w[i - 1]);
    }
    __m128i m = _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)&K256[4 * i]));
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
    m = _mm_shuffle_epi32(m, 0x0E);
    abef = _mm_sha256rnds2_epu32(abef, cdgh, m);
  }
  abef = _mm_add_epi32(abef, abef0);
  cdgh = _mm_add_epi32(cdgh, cdgh0);
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  hgfe = _mm_alignr_epi8(dchg, feba, 8);
  _mm_storeu_si128((__m128i *)&state[0], dcba);
  _mm_storeu_si128((__m128i *)&state[4], hgfe);
}

static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/* The second half of an HMAC from a saved state: 32 bytes of message after a 64-byte key block. */
static void finish32(const uint32_t start[8], const uint8_t msg[32], uint8_t out[32]) {
  uint8_t block[64] = {0};
  uint32_t st[8];
  memcpy(block, msg, 32);
  block[32] = 0x80;
  put_be32(block + 60, (64 + 32) * 8);
  memcpy(st, start, sizeof st);
  compress(st, block);
  for (int i = 0; i < 8; i++) put_be32(out + 4 * i, st[i]);
}

/* PBKDF2-HMAC-SHA256, dkLen 32; password at most 64 bytes, salt at most 51 bytes. */
int pbkdf2_sha256_32(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t saltlen, uint32_t iterations,
                     uint8_t out[32]) {
  if (pwlen > 64 || saltlen > 51 || iterations == 0) return -1;
  uint8_t ipad[64], opad[64];
  memset(ipad, 0x36, 64);
  memset(opad, 0x5c, 64);
  for (size_t i = 0; i < pwlen; i++) { ipad[i] ^= pw[i]; opad[i] ^= pw[i]; }
  uint32_t istate[8], ostate[8];
  memcpy(istate, IV, 32); compress(istate, ipad);
  memcpy(ostate, IV, 32); compress(ostate, opad);
  /* U1 = HMAC(pw, salt || INT(1)) */
  uint8_t block[64] = {0};
  memcpy(block, salt, saltlen);
  put_be32(block + saltlen, 1);
  block[saltlen + 4] = 0x80;
  put_be32(block + 60, (uint32_t)(64 + saltlen + 4) * 8);
  uint32_t st[8];
  memcpy(st, istate, 32);
  compress(st, block);
  uint8_t inner[32], u[32], t[32];
  for (int i = 0; i < 8; i++) put_be32(inner + 4 * i, st[i]);
  finish32(ostate, inner, u);
  memcpy(t, u, 32);
  for (uint32_t j = 1; j < iterations; j++) {
    finish32(istate, u, inner);
    finish32(ostate, inner, u);
    for (int i = 0; i < 32; i++) t[i] ^= u[i];
  }
  memcpy(out, t, 32);
  return 0;
}

/* LANES independent chains at once (different salts, one password): SHA-NI's rounds have latency to hide. */
#define LANES 4
__attribute__((target("sha,sse4.1"))) static void compress_lanes(__m128i abef[LANES], __m128i cdgh[LANES],
                                                                  __m128i w0[LANES][4]) {
  __m128i a0[LANES], c0[LANES], w[LANES][16];
  for (int l = 0; l < LANES; l++) { a0[l] = abef[l]; c0[l] = cdgh[l]; for (int i = 0; i < 4; i++) w[l][i] = w0[l][i]; }
  for (int i = 0; i < 16; i++) {
    for (int l = 0; l < LANES; l++) {
      if (i >= 4) {
        __m128i t = _mm_sha256msg1_epu32(w[l][i - 4], w[l][i - 3]);
        t = _mm_add_epi32(t, _mm_alignr_epi8(w[l][i - 1], w[l][i - 2], 4));
        w[l][i] = _mm_sha256msg2_epu32(t, w[l][i - 1]);
      }
      __m128i m = _mm_add_epi32(w[l][i], _mm_loadu_si128((const __m128i *)&K256[4 * i]));
      cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], m);
      m = _mm_shuffle_epi32(m, 0x0E);
      abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], m);
    }
  }
  for (int l = 0; l < LANES; l++) { abef[l] = _mm_add_epi32(abef[l], a0[l]); cdgh[l] = _mm_add_epi32(cdgh[l], c0[l]); }
}

/* state (abef, cdgh) -> message words of a 32-byte digest block (W0..W7) + fixed padding words W8..W15. */
__attribute__((target("sha,sse4.1"))) static void digest_words(__m128i abef, __m128i cdgh, __m128i w[4]) {
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  w[0] = _mm_blend_epi16(feba, dchg, 0xF0);   /* a b c d as words W0..W3 (little-endian lanes = word order) */
  w[1] = _mm_alignr_epi8(dchg, feba, 8);      /* e f g h */
  w[2] = _mm_set_epi32(0, 0, 0, (int)0x80000000);
  w[3] = _mm_set_epi32((64 + 32) * 8, 0, 0, 0);
}

__attribute__((target("sha,sse4.1"))) static void to_abef(const uint32_t s[8], __m128i *abef, __m128i *cdgh) {
  __m128i dcba = _mm_loadu_si128((const __m128i *)&s[0]);
  __m128i hgfe = _mm_loadu_si128((const __m128i *)&s[4]);
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  *abef = _mm_alignr_epi8(cdab, efgh, 8);
  *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

/* PBKDF2 for LANES salts of saltlen bytes each (salts: LANES*saltlen bytes); out: LANES*32 bytes. */
__attribute__((target("sha,sse4.1"))) int pbkdf2_sha256_32_lanes(const uint8_t *pw, size_t pwlen, const uint8_t *salts,
                                                                 size_t saltlen, uint32_t iterations, uint8_t *out) {
  if (pwlen > 64 || saltlen > 51 || iterations == 0) return -1;
  uint8_t ipad[64], opad[64];
  memset(ipad, 0x36, 64); memset(opad, 0x5c, 64);
  for (size_t i = 0; i < pwlen; i++) { ipad[i] ^= pw[i]; opad[i] ^= pw[i]; }
  uint32_t istate[8], ostate[8];
  memcpy(istate, IV, 32); compress(istate, ipad);
  memcpy(ostate, IV, 32); compress(ostate, opad);
  __m128i ia, ic, oa, oc;
  to_abef(istate, &ia, &ic); to_abef(ostate, &oa, &oc);
  __m128i ua[LANES], uc[LANES], w[LANES][4], t[LANES][2];
  for (int l = 0; l < LANES; l++) {
    uint8_t u1[32];
    uint8_t block[64] = {0};
    memcpy(block, salts + l * saltlen, saltlen);
    put_be32(block + saltlen, 1);
    block[saltlen + 4] = 0x80;
    put_be32(block + 60, (uint32_t)(64 + saltlen + 4) * 8);
    uint32_t st[8]; uint8_t inner[32];
    memcpy(st, istate, 32); compress(st, block);
    for (int i = 0; i < 8; i++) put_be32(inner + 4 * i, st[i]);
    finish32(ostate, inner, u1);
    uint32_t s[8];
    for (int i = 0; i < 8; i++) s[i] = (uint32_t)u1[4*i] << 24 | u1[4*i+1] << 16 | u1[4*i+2] << 8 | u1[4*i+3];
    to_abef(s, &ua[l], &uc[l]);
    digest_words(ua[l], uc[l], w[l]);
    t[l][0] = w[l][0]; t[l][1] = w[l][1];
  }
  for (uint32_t j = 1; j < iterations; j++) {
    __m128i a[LANES], c[LANES];
    for (int l = 0; l < LANES; l++) { a[l] = ia; c[l] = ic; }
    compress_lanes(a, c, w);
    for (int l = 0; l < LANES; l++) { digest_words(a[l], c[l], w[l]); a[l] = oa; c[l] = oc; }
    compress_lanes(a, c, w);
    for (int l = 0; l < LANES; l++) {
      digest_words(a[l], c[l], w[l]);
      t[l][0] = _mm_xor_si128(t[l][0], w[l][0]); t[l][1] = _mm_xor_si128(t[l][1], w[l][1]);
    }
  }
  for (int l = 0; l < LANES; l++) {
    uint32_t words[8];
    _mm_storeu_si128((__m128i *)&words[0], t[l][0]); _mm_storeu_si128((__m128i *)&words[4], t[l][1]);
    for (int i = 0; i < 8; i++) put_be32(out + 32 * l + 4 * i, words[i]);
  }
  return LANES;
}

static int leading_zero_bits(const uint8_t *digest) {
  int count = 0;
  for (int i = 0; i < 32; i++) {
    if (digest[i] == 0) { count += 8; continue; }
    return count + __builtin_clz((unsigned)digest[i]) - 24;
  }
  return count;
}

/* The smallest counter in [start, start + limit) whose 8-byte big-endian nonce solves the PBKDF2 puzzle, or -1. */
int64_t work_search(const uint8_t *pw, size_t pwlen, uint32_t iterations, int bits, uint64_t start, uint64_t limit) {
  uint8_t salts[LANES * 8], out[LANES * 32];
  for (uint64_t base = start; base < start + limit; base += LANES) {
    for (int l = 0; l < LANES; l++) {
      uint64_t counter = base + (uint64_t)l;
      for (int b = 0; b < 8; b++) salts[8 * l + b] = (uint8_t)(counter >> (56 - 8 * b));
    }
    if (pbkdf2_sha256_32_lanes(pw, pwlen, salts, 8, iterations, out) != LANES) return -2;
    for (int l = 0; l < LANES; l++) {
      if (leading_zero_bits(out + 32 * l) >= bits) return (int64_t)(base + (uint64_t)l);
    }
  }
  return -1;
}

/* The same for the SHA-256 puzzle (SHA-256(challenge || nonce), challenge at most 47 bytes): one compression
 * per attempt, four at a time. */
__attribute__((target("sha,sse4.1"))) int64_t sha256_search(const uint8_t *challenge, size_t clen, int bits,
                                                             uint64_t start, uint64_t limit) {
  if (clen > 47) return -2;
  uint8_t block[LANES][64];
  for (int l = 0; l < LANES; l++) {
    memset(block[l], 0, 64);
    memcpy(block[l], challenge, clen);
    block[l][clen + 8] = 0x80;
    put_be32(block[l] + 60, (uint32_t)(clen + 8) * 8);
  }
  __m128i ia, ic;
  to_abef(IV, &ia, &ic);
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  for (uint64_t base = start; base < start + limit; base += LANES) {
    __m128i a[LANES], c[LANES], w[LANES][4];
    for (int l = 0; l < LANES; l++) {
      uint64_t counter = base + (uint64_t)l;
      for (int b = 0; b < 8; b++) block[l][clen + b] = (uint8_t)(counter >> (56 - 8 * b));
      for (int i = 0; i < 4; i++) w[l][i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block[l] + 16 * i)), swap);
      a[l] = ia; c[l] = ic;
    }
    compress_lanes(a, c, w);
    for (int l = 0; l < LANES; l++) {
      __m128i d[4];
      uint32_t words[8];
      uint8_t digest[32];
      digest_words(a[l], c[l], d);
      _mm_storeu_si128((__m128i *)&words[0], d[0]);
      _mm_storeu_si128((__m128i *)&words[4], d[1]);
      for (int i = 0; i < 8; i++) put_be32(digest + 4 * i, words[i]);
      if (leading_zero_bits(digest) >= bits) return (int64_t)(base + (uint64_t)l);
    }
  }
  return -1;
}
