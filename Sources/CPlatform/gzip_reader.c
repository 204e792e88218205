// Streaming gzip/DEFLATE decoder (RFC 1951, RFC 1952).
//
// The decoding loop follows libdeflate's (lib/decompress_template.h): a 64-bit bit buffer refilled without branches
// from 8-byte loads, one refill per round of literals or per match (a match needs at most 15 + 5 + 15 + 13 = 48
// bits), Huffman tables indexed by the next 10 (literal/length) or 8 (distance) bits with second-level tables for
// longer codes, and matches copied 8 bytes at a time. Unlike libdeflate it streams: it stops between two symbols
// when its output buffer is full and goes on at the next call, and refills its input buffer from the file as it
// goes. Validity rules and messages are zlib's (inflate.c and inftrees.c, zlib 1.2.13), so it accepts and rejects
// exactly what zlib's gzread does.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "moekit_gzip.h"
#include "moekit_platform.h"

enum {
    INPUT_SIZE = 1 << 18,
    WINDOW = 1 << 15,
    OUTPUT_CHUNK = 1 << 20,
    MAX_MATCH = 258,
    // A match may write up to 7 bytes past its end (8-byte copies).
    OUTPUT_SLACK = 16,
    LITLEN_BITS = 10,
    DIST_BITS = 8,
    PRECODE_BITS = 7,
    // Main table plus the most second-level tables the symbols could need (one per symbol, each at most
    // 2^(15 - table bits) entries); real codes use a small part of this.
    LITLEN_ENTRIES = (1 << LITLEN_BITS) + 288 * (1 << (15 - LITLEN_BITS)),
    DIST_ENTRIES = (1 << DIST_BITS) + 32 * (1 << (15 - DIST_BITS)),
};

// A table entry, laid out as libdeflate's (lib/deflate_decompress.c) so the common cases cost one test and one shift:
//   bit 31: a literal (value = the byte)        bits 16-30: value (literal, length or distance base, subtable start)
//   bit 15: exceptional (subtable link, end of block, invalid)   bit 14: subtable link   bit 13: end of block
//   bits 8-11: the codeword's length (a link: its subtable's index bits)
//   bits 0-7: the bits to consume: codeword plus extra bits of a length or distance (a link: the main table's bits)
// A length or distance is value + the extra bits, which sit above the codeword in the bits before consuming.
// Symbol payloads hold value, flags and the extra-bit count in bits 0-7; `with_length` adds a codeword length.
#define LITERAL_FLAG 0x80000000u
#define EXCEPTIONAL_FLAG 0x8000u
#define SUBTABLE_FLAG 0x4000u
#define END_FLAG 0x2000u
#define ENTRY_BITS(e) ((e) & 0xFF)
#define ENTRY_CODE_LENGTH(e) (((e) >> 8) & 0xF)
#define ENTRY_VALUE(e) (((e) >> 16) & 0x7FFF)
#define INVALID_ENTRY EXCEPTIONAL_FLAG
#define LINK_ENTRY(start, index_bits, table_bits) \
    ((uint32_t)(start) << 16 | EXCEPTIONAL_FLAG | SUBTABLE_FLAG | (uint32_t)(index_bits) << 8 | (uint32_t)(table_bits))

static inline uint32_t with_length(uint32_t payload, unsigned length) { return payload + (length << 8) + length; }

static const uint16_t length_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
    99, 115, 131, 163, 195, 227, 258};
static const uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t distance_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t distance_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11,
    11, 12, 12, 13, 13};
static const uint8_t precode_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

typedef enum {
    STATE_START,         // nothing read yet
    STATE_MEMBER_HEADER, // at a gzip member header
    STATE_BLOCK_HEADER,  // at a DEFLATE block header
    STATE_STORED,        // inside a stored block
    STATE_HUFFMAN,       // inside a compressed block
    STATE_TRAILER,       // at a member's CRC-32 and length
    STATE_RAW,           // copying a file that is not gzip
    STATE_DONE,
    STATE_ERROR,
} decoder_state;

struct moekit_gzip_reader {
    int fd;
    decoder_state state;
    const char *error;
    char error_text[96];
    int final_block;
    uint32_t stored_left;

    // Input: in_buffer[in_position ..< in_end] is unread; in_eof once read(2) returned 0.
    uint8_t *in_buffer;
    size_t in_position, in_end;
    int in_eof;
    // Bits read ahead of in_position, least significant first; `phantom` counts zero bytes added past the end.
    uint64_t bit_buffer;
    unsigned bit_count;
    unsigned phantom;

    // Output: out_buffer[0 ..< out_position] holds history and new data; member_start is where the current
    // member's data begins (negative offsets are clamped), checked_position how far the CRC has been taken.
    uint8_t *out_buffer;
    size_t out_position, member_start, checked_position;
    uint32_t crc, member_length;

    // The current block's tables: the fixed ones or the dynamic ones below.
    const uint32_t *litlen, *distance;
    uint32_t litlen_table[LITLEN_ENTRIES];
    uint32_t distance_table[DIST_ENTRIES];
    uint32_t precode_table[1 << PRECODE_BITS];
};

static void fail(moekit_gzip_reader *r, const char *message) {
    if (r->state == STATE_ERROR) return;
    r->state = STATE_ERROR;
    r->error = message;
}

// MARK: Input

// Moves the unread input to the front and reads more; sets in_eof at the end of the file. 0, or -1 on a read error.
// The 8 bytes before the read position stay in front of it: the bit buffer may hand them back (`align_to_byte`).
static int fill_input(moekit_gzip_reader *r) {
    size_t keep = r->in_position < 8 ? r->in_position : 8;
    size_t from = r->in_position - keep, left = r->in_end - from;
    if (from > 0) memmove(r->in_buffer, r->in_buffer + from, left);
    r->in_position = keep;
    r->in_end = left;
    while (!r->in_eof && r->in_end < INPUT_SIZE) {
        ssize_t n = read(r->fd, r->in_buffer + r->in_end, INPUT_SIZE - r->in_end);
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(r->error_text, sizeof r->error_text, "read failed: %s", strerror(errno));
            fail(r, r->error_text);
            return -1;
        }
        if (n == 0) r->in_eof = 1;
        r->in_end += (size_t)n;
        // One read is enough to go on with unless very little is buffered.
        if (r->in_end - r->in_position >= 64) break;
    }
    return 0;
}

// Ensures `count` (≤ 64) unread bytes where the file has them; returns how many are available (≤ count when short).
static size_t want_bytes(moekit_gzip_reader *r, size_t count) {
    if (r->in_end - r->in_position < count && !r->in_eof) fill_input(r);
    size_t have = r->in_end - r->in_position;
    return have < count ? have : count;
}

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;  // x86-64 is little-endian
}

// Tops the bit buffer up to at least 56 bits, reading the file as needed; past its end adds zero bytes and counts
// them. -1 when bits past the end were consumed (the stream is cut short).
static int refill_bits(moekit_gzip_reader *r) {
    if (r->in_end - r->in_position < 8 && !r->in_eof) {
        if (fill_input(r) < 0) return -1;
    }
    if (r->in_end - r->in_position >= 8) {
        r->bit_buffer |= load_le64(r->in_buffer + r->in_position) << r->bit_count;
        r->in_position += 7 - (r->bit_count >> 3);
        r->bit_count |= 56;
        return 0;
    }
    while (r->bit_count <= 56) {
        uint64_t byte = 0;
        if (r->in_position < r->in_end) byte = r->in_buffer[r->in_position++];
        else r->phantom++;
        r->bit_buffer |= byte << r->bit_count;
        r->bit_count += 8;
    }
    return 0;
}

// Whether bits beyond the file's end have been consumed.
static inline int overran(const moekit_gzip_reader *r) { return r->phantom > 0 && 8 * r->phantom > r->bit_count; }

static inline uint32_t take_bits(moekit_gzip_reader *r, unsigned n) {
    uint32_t v = (uint32_t)(r->bit_buffer & ((1ull << n) - 1));
    r->bit_buffer >>= n;
    r->bit_count -= n;
    return v;
}

// Drops the bits up to the next byte boundary and hands whole unread bytes back to the input. -1 when the stream
// ended early.
static int align_to_byte(moekit_gzip_reader *r) {
    r->bit_buffer >>= r->bit_count & 7;
    r->bit_count &= ~7u;
    unsigned bytes = r->bit_count >> 3;
    if (r->phantom > bytes) return -1;
    r->in_position -= bytes - r->phantom;
    r->bit_buffer = 0;
    r->bit_count = 0;
    r->phantom = 0;
    return 0;
}

// MARK: Huffman tables

static inline uint32_t reverse_bits(uint32_t code, unsigned length) {
    uint32_t r = 0;
    for (unsigned i = 0; i < length; i++) {
        r = r << 1 | (code & 1);
        code >>= 1;
    }
    return r;
}

typedef enum { CODE_PRECODE, CODE_LITLEN, CODE_DISTANCE } code_kind;

// Builds a decoding table for `count` symbols of the given code lengths (canonical Huffman code, RFC 1951 §3.2.2).
// `payload[s]` is symbol s's entry without its bit count. Returns 0, or -1 for a code zlib rejects: over-subscribed,
// or incomplete unless it is a literal/length or distance code of a single one-bit code (or no codes at all).
static int build_table(uint32_t *table, unsigned table_bits, const uint8_t *lengths, unsigned count,
    const uint32_t *payload, code_kind kind)
{
    unsigned length_count[16] = {0};
    for (unsigned s = 0; s < count; s++) length_count[lengths[s]]++;
    length_count[0] = 0;
    int left = 1;
    unsigned max_length = 0;
    for (unsigned l = 1; l <= 15; l++) {
        left <<= 1;
        left -= (int)length_count[l];
        if (left < 0) return -1;
        if (length_count[l]) max_length = l;
    }
    if (left > 0 && (kind == CODE_PRECODE || max_length > 1)) return -1;

    // Symbols sorted by (length, symbol) with their canonical codewords.
    unsigned offset[17];
    offset[1] = 0;
    for (unsigned l = 1; l <= 15; l++) offset[l + 1] = offset[l] + length_count[l];
    uint16_t sorted[288];
    for (unsigned s = 0; s < count; s++) {
        if (lengths[s]) sorted[offset[lengths[s]]++] = (uint16_t)s;
    }
    unsigned total = offset[16];
    uint32_t codeword[288];
    uint32_t code = 0;
    unsigned previous = 0;
    for (unsigned i = 0; i < total; i++) {
        unsigned l = lengths[sorted[i]];
        code <<= l - previous;
        previous = l;
        codeword[i] = code++;
    }

    unsigned main_size = 1u << table_bits;
    for (unsigned i = 0; i < main_size; i++) table[i] = INVALID_ENTRY;
    unsigned next_free = main_size;
    uint32_t current_prefix = UINT32_MAX;
    unsigned sub_start = 0, sub_bits = 0;
    for (unsigned i = 0; i < total; i++) {
        unsigned l = lengths[sorted[i]];
        uint32_t entry = payload[sorted[i]];
        if (l <= table_bits) {
            for (uint32_t j = reverse_bits(codeword[i], l); j < main_size; j += 1u << l) table[j] = with_length(entry, l);
            continue;
        }
        uint32_t prefix = codeword[i] >> (l - table_bits);
        if (prefix != current_prefix) {
            // Codes sharing a prefix are consecutive in canonical order, the longest last.
            unsigned last = i;
            while (last + 1 < total) {
                unsigned nl = lengths[sorted[last + 1]];
                if ((codeword[last + 1] >> (nl - table_bits)) != prefix) break;
                last++;
            }
            current_prefix = prefix;
            sub_bits = lengths[sorted[last]] - table_bits;
            sub_start = next_free;
            next_free += 1u << sub_bits;
            for (unsigned j = 0; j < (1u << sub_bits); j++) table[sub_start + j] = INVALID_ENTRY;
            table[reverse_bits(prefix, table_bits)] = LINK_ENTRY(sub_start, sub_bits, table_bits);
        }
        unsigned rest = l - table_bits;
        uint32_t suffix = codeword[i] & ((1u << rest) - 1);
        for (uint32_t j = reverse_bits(suffix, rest); j < (1u << sub_bits); j += 1u << rest) {
            table[sub_start + j] = with_length(entry, rest);
        }
    }
    return 0;
}

static uint32_t litlen_payload[288], distance_payload[32], precode_payload[19];
static uint32_t fixed_litlen[LITLEN_ENTRIES], fixed_distance[DIST_ENTRIES];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

// The symbols' entries and the fixed block's tables (RFC 1951 §3.2.6), built once per process.
static void build_static_tables(void) {
    for (unsigned s = 0; s < 256; s++) litlen_payload[s] = LITERAL_FLAG | s << 16;
    litlen_payload[256] = EXCEPTIONAL_FLAG | END_FLAG;
    for (unsigned s = 257; s < 286; s++) litlen_payload[s] = (uint32_t)length_base[s - 257] << 16 | length_extra[s - 257];
    litlen_payload[286] = litlen_payload[287] = INVALID_ENTRY;
    for (unsigned s = 0; s < 30; s++) distance_payload[s] = (uint32_t)distance_base[s] << 16 | distance_extra[s];
    distance_payload[30] = distance_payload[31] = INVALID_ENTRY;
    for (unsigned s = 0; s < 19; s++) precode_payload[s] = s << 16;
    uint8_t lengths[288];
    for (unsigned s = 0; s < 288; s++) lengths[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    build_table(fixed_litlen, LITLEN_BITS, lengths, 288, litlen_payload, CODE_LITLEN);
    for (unsigned s = 0; s < 32; s++) lengths[s] = 5;
    build_table(fixed_distance, DIST_BITS, lengths, 32, distance_payload, CODE_DISTANCE);
}

// Reads a dynamic block's code lengths and builds its tables. 0, or -1 after `fail`.
static int read_dynamic_tables(moekit_gzip_reader *r) {
    if (refill_bits(r) < 0) return -1;
    unsigned nlen = take_bits(r, 5) + 257, ndist = take_bits(r, 5) + 1, ncode = take_bits(r, 4) + 4;
    if (nlen > 286 || ndist > 30) {
        fail(r, "too many length or distance symbols");
        return -1;
    }
    uint8_t precode_lengths[19] = {0};
    for (unsigned i = 0; i < ncode; i++) {
        if (r->bit_count < 3 && refill_bits(r) < 0) return -1;
        precode_lengths[precode_order[i]] = (uint8_t)take_bits(r, 3);
    }
    if (overran(r)) return -1;
    if (build_table(r->precode_table, PRECODE_BITS, precode_lengths, 19, precode_payload, CODE_PRECODE) < 0) {
        fail(r, "invalid code lengths set");
        return -1;
    }
    uint8_t lengths[286 + 30];
    unsigned have = 0;
    while (have < nlen + ndist) {
        if (r->bit_count < 14 && refill_bits(r) < 0) return -1;
        uint32_t e = r->precode_table[r->bit_buffer & ((1u << PRECODE_BITS) - 1)];
        if (e & EXCEPTIONAL_FLAG) {
            fail(r, "invalid code lengths set");
            return -1;
        }
        take_bits(r, ENTRY_BITS(e));
        unsigned symbol = ENTRY_VALUE(e);
        if (symbol < 16) {
            lengths[have++] = (uint8_t)symbol;
            continue;
        }
        unsigned repeat;
        uint8_t value = 0;
        if (symbol == 16) {
            if (have == 0) {
                fail(r, "invalid bit length repeat");
                return -1;
            }
            value = lengths[have - 1];
            repeat = 3 + take_bits(r, 2);
        } else if (symbol == 17) {
            repeat = 3 + take_bits(r, 3);
        } else {
            repeat = 11 + take_bits(r, 7);
        }
        if (have + repeat > nlen + ndist) {
            fail(r, "invalid bit length repeat");
            return -1;
        }
        memset(lengths + have, value, repeat);
        have += repeat;
    }
    if (overran(r)) return -1;
    if (lengths[256] == 0) {
        fail(r, "invalid code -- missing end-of-block");
        return -1;
    }
    if (build_table(r->litlen_table, LITLEN_BITS, lengths, nlen, litlen_payload, CODE_LITLEN) < 0) {
        fail(r, "invalid literal/lengths set");
        return -1;
    }
    if (build_table(r->distance_table, DIST_BITS, lengths + nlen, ndist, distance_payload, CODE_DISTANCE) < 0) {
        fail(r, "invalid distances set");
        return -1;
    }
    return 0;
}

// MARK: Blocks

static const char truncated[] = "the gzip stream is truncated";

// Reads a block header and its tables. 0, or -1 after `fail`.
static int read_block_header(moekit_gzip_reader *r) {
    if (r->bit_count < 3 && refill_bits(r) < 0) return -1;
    r->final_block = (int)take_bits(r, 1);
    unsigned type = take_bits(r, 2);
    if (overran(r)) {
        fail(r, truncated);
        return -1;
    }
    switch (type) {
    case 0: {
        if (align_to_byte(r) < 0) {
            fail(r, truncated);
            return -1;
        }
        if (want_bytes(r, 4) < 4) {
            if (r->state != STATE_ERROR) fail(r, truncated);
            return -1;
        }
        const uint8_t *p = r->in_buffer + r->in_position;
        uint32_t length = p[0] | (uint32_t)p[1] << 8, complement = p[2] | (uint32_t)p[3] << 8;
        if (length != (~complement & 0xFFFF)) {
            fail(r, "invalid stored block lengths");
            return -1;
        }
        r->in_position += 4;
        r->stored_left = length;
        r->state = STATE_STORED;
        return 0;
    }
    case 1:
        r->litlen = fixed_litlen;
        r->distance = fixed_distance;
        r->state = STATE_HUFFMAN;
        return 0;
    case 2:
        if (read_dynamic_tables(r) < 0) {
            if (r->state != STATE_ERROR) fail(r, truncated);
            return -1;
        }
        r->litlen = r->litlen_table;
        r->distance = r->distance_table;
        r->state = STATE_HUFFMAN;
        return 0;
    default:
        fail(r, "invalid block type");
        return -1;
    }
}

// Copies stored bytes until the block ends or the output buffer is full.
static void decode_stored(moekit_gzip_reader *r, size_t out_limit) {
    while (r->stored_left > 0 && r->out_position < out_limit) {
        if (r->in_position == r->in_end) {
            if (r->in_eof || fill_input(r) < 0 || r->in_position == r->in_end) {
                fail(r, truncated);
                return;
            }
        }
        size_t n = r->in_end - r->in_position;
        if (n > r->stored_left) n = r->stored_left;
        if (n > out_limit - r->out_position) n = out_limit - r->out_position;
        memcpy(r->out_buffer + r->out_position, r->in_buffer + r->in_position, n);
        r->in_position += n;
        r->out_position += n;
        r->stored_left -= (uint32_t)n;
    }
    if (r->stored_left == 0) r->state = r->final_block ? STATE_TRAILER : STATE_BLOCK_HEADER;
}

// Decodes symbols until the block ends or fewer than MAX_MATCH bytes of output room are left.
//
// Each round refills the bit buffer to at least 56 bits and looks up the next literal/length entry before anything
// else, so the table load overlaps the previous round's copy. A round decodes either a match (at most 48 bits), up
// to four literals found in the main table (at most 10 bits each), or one symbol from a second-level table.
static void decode_huffman(moekit_gzip_reader *r, size_t out_limit) {
    uint8_t *const out_begin = r->out_buffer;
    uint8_t *out = out_begin + r->out_position;
    uint8_t *const out_stop = out_begin + out_limit - MAX_MATCH;
    const uint8_t *const history = out_begin + r->member_start;
    const uint32_t *const litlen = r->litlen, *const distance = r->distance;
    uint64_t bits = r->bit_buffer;
    unsigned count = r->bit_count;
    const uint8_t *in = r->in_buffer + r->in_position;
    const uint8_t *in_end = r->in_buffer + r->in_end;
    const uint64_t litlen_mask = (1u << LITLEN_BITS) - 1;

#define SAVE()                                            \
    do {                                                  \
        r->bit_buffer = bits;                             \
        r->bit_count = count;                             \
        r->in_position = (size_t)(in - r->in_buffer);     \
        r->out_position = (size_t)(out - out_begin);      \
    } while (0)
#define REFILL()                                          \
    do {                                                  \
        if (in_end - in >= 8) {                           \
            bits |= load_le64(in) << count;               \
            in += 7 - (count >> 3);                       \
            count |= 56;                                  \
        } else {                                          \
            SAVE();                                       \
            if (refill_bits(r) < 0) return;               \
            if (overran(r)) {                             \
                fail(r, truncated);                       \
                return;                                   \
            }                                             \
            bits = r->bit_buffer;                         \
            count = r->bit_count;                         \
            in = r->in_buffer + r->in_position;           \
            in_end = r->in_buffer + r->in_end;            \
        }                                                 \
    } while (0)
#define CONSUME(n)                                        \
    do {                                                  \
        bits >>= (n);                                     \
        count -= (n);                                     \
    } while (0)
#define PUT_LITERAL(e)                                    \
    do {                                                  \
        CONSUME(ENTRY_BITS(e));                           \
        *out++ = (uint8_t)((e) >> 16);                    \
    } while (0)

    REFILL();
    uint32_t e = litlen[bits & litlen_mask];
    while (out <= out_stop) {
        // Every round starts with at least 56 bits and e looked up from the main table.
        if (e & LITERAL_FLAG) {
            // Up to four literals from the main table (at most 10 bits each).
            PUT_LITERAL(e);
            e = litlen[bits & litlen_mask];
            if (e & LITERAL_FLAG) {
                PUT_LITERAL(e);
                e = litlen[bits & litlen_mask];
                if (e & LITERAL_FLAG) {
                    PUT_LITERAL(e);
                    e = litlen[bits & litlen_mask];
                    if (e & LITERAL_FLAG) PUT_LITERAL(e);
                }
            }
            REFILL();
            e = litlen[bits & litlen_mask];
            continue;
        }
        if (e & EXCEPTIONAL_FLAG) {
            if (e & SUBTABLE_FLAG) {
                CONSUME(ENTRY_BITS(e));
                e = litlen[ENTRY_VALUE(e) + (bits & ((1u << ENTRY_CODE_LENGTH(e)) - 1))];
                if (e & LITERAL_FLAG) {
                    PUT_LITERAL(e);
                    REFILL();
                    e = litlen[bits & litlen_mask];
                    continue;
                }
            }
            if (e & EXCEPTIONAL_FLAG) {
                CONSUME(ENTRY_BITS(e));
                SAVE();
                if (e & END_FLAG) r->state = r->final_block ? STATE_TRAILER : STATE_BLOCK_HEADER;
                else fail(r, "invalid literal/length code");
                return;
            }
        }
        // A length: its codeword and extra bits go in one shift; the extra bits are read from the bits before it.
        uint64_t saved = bits;
        CONSUME(ENTRY_BITS(e));
        uint32_t length = ENTRY_VALUE(e) + (uint32_t)((saved & ((1ull << ENTRY_BITS(e)) - 1)) >> ENTRY_CODE_LENGTH(e));
        e = distance[bits & ((1u << DIST_BITS) - 1)];
        if (e & EXCEPTIONAL_FLAG) {
            if (e & SUBTABLE_FLAG) {
                CONSUME(ENTRY_BITS(e));
                e = distance[ENTRY_VALUE(e) + (bits & ((1u << ENTRY_CODE_LENGTH(e)) - 1))];
            }
            if (e & EXCEPTIONAL_FLAG) {
                SAVE();
                fail(r, "invalid distance code");
                return;
            }
        }
        saved = bits;
        CONSUME(ENTRY_BITS(e));
        uint32_t dist = ENTRY_VALUE(e) + (uint32_t)((saved & ((1ull << ENTRY_BITS(e)) - 1)) >> ENTRY_CODE_LENGTH(e));
        if (dist > (size_t)(out - history)) {
            SAVE();
            fail(r, "invalid distance too far back");
            return;
        }
        REFILL();
        e = litlen[bits & litlen_mask];
        const uint8_t *src = out - dist;
        uint8_t *end = out + length;
        if (dist >= 8) {
            memcpy(out, src, 8);
            memcpy(out + 8, src + 8, 8);
            if (length > 16) {
                out += 16;
                src += 16;
                do {
                    memcpy(out, src, 8);
                    out += 8;
                    src += 8;
                } while (out < end);
            }
        } else if (dist == 1) {
            uint64_t pattern = 0x0101010101010101ull * *src;
            do {
                memcpy(out, &pattern, 8);
                out += 8;
            } while (out < end);
        } else {
            do *out++ = *src++;
            while (out < end);
        }
        out = end;
    }
    SAVE();
#undef SAVE
#undef REFILL
#undef CONSUME
#undef PUT_LITERAL
}

// MARK: Members

static uint32_t read_le32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

// Parses a gzip member header at the input position. 0, or -1 after `fail`.
static int read_member_header(moekit_gzip_reader *r) {
    if (want_bytes(r, 10) < 10) {
        if (r->state != STATE_ERROR) fail(r, truncated);
        return -1;
    }
    const uint8_t *p = r->in_buffer + r->in_position;
    if (p[2] != 8) {
        fail(r, "unknown compression method");
        return -1;
    }
    unsigned flags = p[3];
    if (flags & 0xE0) {
        fail(r, "unknown header flags set");
        return -1;
    }
    uint32_t header_crc = moekit_crc32(0, p, 10);
    r->in_position += 10;
    if (flags & 4) {  // FEXTRA
        if (want_bytes(r, 2) < 2) goto cut;
        p = r->in_buffer + r->in_position;
        size_t extra = p[0] | (size_t)p[1] << 8;
        header_crc = moekit_crc32(header_crc, p, 2);
        r->in_position += 2;
        while (extra > 0) {
            size_t n = want_bytes(r, extra < 64 ? extra : 64);
            if (n == 0) goto cut;
            header_crc = moekit_crc32(header_crc, r->in_buffer + r->in_position, n);
            r->in_position += n;
            extra -= n;
        }
    }
    for (unsigned bit = 8; bit <= 16; bit <<= 1) {  // FNAME, FCOMMENT: zero-terminated
        if (!(flags & bit)) continue;
        for (;;) {
            if (want_bytes(r, 1) == 0) goto cut;
            uint8_t c = r->in_buffer[r->in_position++];
            header_crc = moekit_crc32(header_crc, &c, 1);
            if (c == 0) break;
        }
    }
    if (flags & 2) {  // FHCRC
        if (want_bytes(r, 2) < 2) goto cut;
        p = r->in_buffer + r->in_position;
        if ((p[0] | (uint32_t)p[1] << 8) != (header_crc & 0xFFFF)) {
            fail(r, "header crc mismatch");
            return -1;
        }
        r->in_position += 2;
    }
    r->crc = 0;
    r->member_length = 0;
    r->member_start = r->out_position;
    r->checked_position = r->out_position;
    r->state = STATE_BLOCK_HEADER;
    return 0;
cut:
    if (r->state != STATE_ERROR) fail(r, truncated);
    return -1;
}

// Takes the CRC-32 and length of the output decoded since the last check.
static void check_output(moekit_gzip_reader *r) {
    size_t n = r->out_position - r->checked_position;
    if (n == 0) return;
    r->crc = moekit_crc32(r->crc, r->out_buffer + r->checked_position, n);
    r->member_length += (uint32_t)n;
    r->checked_position = r->out_position;
}

// Checks a member's trailer and looks for another member. 0, or -1 after `fail`.
static int read_trailer(moekit_gzip_reader *r) {
    if (align_to_byte(r) < 0 || want_bytes(r, 8) < 8) {
        if (r->state != STATE_ERROR) fail(r, truncated);
        return -1;
    }
    check_output(r);
    const uint8_t *p = r->in_buffer + r->in_position;
    if (read_le32(p) != r->crc) {
        fail(r, "incorrect data check");
        return -1;
    }
    if (read_le32(p + 4) != r->member_length) {
        fail(r, "incorrect length check");
        return -1;
    }
    r->in_position += 8;
    // zlib's gz_look: another member when the next two bytes are the gzip magic; anything else is ignored.
    if (want_bytes(r, 2) == 2 && r->in_buffer[r->in_position] == 0x1F && r->in_buffer[r->in_position + 1] == 0x8B) {
        r->state = STATE_MEMBER_HEADER;
    } else {
        r->state = STATE_DONE;
    }
    return 0;
}

// MARK: Public API

moekit_gzip_reader *moekit_gzip_open(int fd) {
    pthread_once(&tables_once, build_static_tables);
    moekit_gzip_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->in_buffer = malloc(INPUT_SIZE);
    r->out_buffer = malloc(WINDOW + OUTPUT_CHUNK + OUTPUT_SLACK);
    if (!r->in_buffer || !r->out_buffer) {
        moekit_gzip_close(r);
        return NULL;
    }
    r->fd = fd;
    r->state = STATE_START;
    return r;
}

void moekit_gzip_close(moekit_gzip_reader *r) {
    if (!r) return;
    free(r->in_buffer);
    free(r->out_buffer);
    free(r);
}

const char *moekit_gzip_error(const moekit_gzip_reader *r) { return r->state == STATE_ERROR ? r->error : NULL; }

long moekit_gzip_read(moekit_gzip_reader *r, const uint8_t **data) {
    if (r->state == STATE_ERROR) return -1;
    if (r->state == STATE_START) {
        size_t have = want_bytes(r, 2);
        if (r->state == STATE_ERROR) return -1;
        int gzip = have == 2 && r->in_buffer[r->in_position] == 0x1F && r->in_buffer[r->in_position + 1] == 0x8B;
        r->state = gzip ? STATE_MEMBER_HEADER : STATE_RAW;
    }
    if (r->state == STATE_RAW) {
        if (r->in_position == r->in_end) {
            if (r->in_eof) {
                r->state = STATE_DONE;
                return 0;
            }
            r->in_position = r->in_end = 0;
            if (fill_input(r) < 0) return -1;
            if (r->in_end == 0) {
                r->state = STATE_DONE;
                return 0;
            }
        }
        *data = r->in_buffer + r->in_position;
        long n = (long)(r->in_end - r->in_position);
        r->in_position = r->in_end;
        return n;
    }
    // Keep the last WINDOW bytes as history and decode after them.
    if (r->out_position > WINDOW) {
        size_t drop = r->out_position - WINDOW;
        memmove(r->out_buffer, r->out_buffer + drop, WINDOW);
        r->out_position = WINDOW;
        r->member_start = r->member_start > drop ? r->member_start - drop : 0;
        r->checked_position -= drop;
    }
    size_t start = r->out_position, limit = WINDOW + OUTPUT_CHUNK;
    while (r->state != STATE_DONE && r->state != STATE_ERROR) {
        if (r->state == STATE_MEMBER_HEADER) {
            read_member_header(r);
        } else if (r->state == STATE_BLOCK_HEADER) {
            read_block_header(r);
        } else if (r->state == STATE_STORED) {
            if (r->out_position >= limit) break;
            decode_stored(r, limit);
        } else if (r->state == STATE_HUFFMAN) {
            if (r->out_position + MAX_MATCH > limit) break;
            decode_huffman(r, limit);
        } else if (r->state == STATE_TRAILER) {
            read_trailer(r);
        }
    }
    if (r->state == STATE_ERROR) return -1;
    check_output(r);
    *data = r->out_buffer + start;
    return (long)(r->out_position - start);
}
