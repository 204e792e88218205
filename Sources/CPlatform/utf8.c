// UTF-8 validation (RFC 3629 §4, Unicode Table 3-7 "Well-Formed UTF-8 Byte Sequences"): no overlong forms, no
// surrogates, nothing above U+10FFFF. ASCII runs are checked 16 bytes at a time.
#include <string.h>
#include "moekit_platform.h"

int moekit_utf8_valid(const uint8_t *p, size_t n) {
    const uint8_t *end = p + n;
    while (p < end) {
        if (end - p >= 16) {
            uint64_t a, b;
            memcpy(&a, p, 8);
            memcpy(&b, p + 8, 8);
            if (((a | b) & 0x8080808080808080ull) == 0) {
                p += 16;
                continue;
            }
        }
        uint8_t c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t left = (size_t)(end - p);
        if (c >= 0xC2 && c <= 0xDF) {
            if (left < 2 || (p[1] & 0xC0) != 0x80) return 0;
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
            if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
            if (c == 0xED && p[1] > 0x9F) return 0;  // surrogates
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
            if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
            if (c == 0xF4 && p[1] > 0x8F) return 0;  // above U+10FFFF
            p += 4;
        } else {
            return 0;  // continuation byte without a lead, C0/C1 (overlong), F5–FF
        }
    }
    return 1;
}
