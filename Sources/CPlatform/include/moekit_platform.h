#ifndef MOEKIT_PLATFORM_H
#define MOEKIT_PLATFORM_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// copy_file_range(2) (glibc declares it only with _GNU_SOURCE, which Swift's Glibc module does not set).
/// Returns the bytes copied, or -1 with errno set (ENOSYS where the call does not exist).
ssize_t moekit_copy_file_range(int fd_in, off_t *off_in, int fd_out, off_t *off_out, size_t len);

/// Starts write-back of `count` bytes at `offset` without waiting (sync_file_range with SYNC_FILE_RANGE_WRITE), so
/// a long sequential write keeps the disk busy instead of leaving everything to the final fsync. 0 on success.
int moekit_start_writeback(int fd, off_t offset, off_t count);

/// syncfs(2): flushes every file of the filesystem holding `fd` in one call (one barrier for a directory of many
/// files instead of one fsync each). Falls back to fsync(fd) where syncfs does not exist. 0 on success.
int moekit_syncfs(int fd);

/// SHA-256 compression of `blocks` 64-byte blocks into `state` (8 words, FIPS 180-4). Uses the x86 SHA extensions
/// when the CPU has them and `allow_hardware` is nonzero, portable C otherwise; both give identical results.
void moekit_sha256_blocks(uint32_t *state, const uint8_t *data, size_t blocks, int allow_hardware);

/// Whether this CPU has the x86 SHA extensions (and SSSE3/SSE4.1).
int moekit_sha256_hardware(void);

/// CRC-32 as zlib's `crc32_z` computes it (gzip's polynomial; pass 0 to start), with PCLMULQDQ folding on CPUs that
/// have it (`moekit-bench gzip` compares it with zlib).
uint32_t moekit_crc32(uint32_t crc, const uint8_t *bytes, size_t n);

/// XXH64 of `length` bytes with `seed` (xxHash's 64-bit hash: not cryptographic; `moekit-bench gzip` measures it).
uint64_t moekit_xxh64(const void *data, size_t length, uint64_t seed);

/// Whether `n` bytes are well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF). 1 or 0.
int moekit_utf8_valid(const uint8_t *bytes, size_t n);

/// Registers `path`, a temporary file or a flat temporary directory (files only), to be removed when the process is
/// interrupted (SIGINT, SIGTERM, SIGHUP); the handlers are installed on first use (a signal the process ignores stays
/// ignored) and, after removing every registered path, re-raise the signal with its default action. Returns the slot
/// to pass to `moekit_temp_unregister`, or -1 when every slot is taken or the path is too long.
int moekit_temp_register(const char *path);

/// Forgets a slot returned by `moekit_temp_register` (the path is kept, or was already removed or renamed).
void moekit_temp_unregister(int slot);

/// rename(2) that fails with EEXIST instead of replacing an existing `to` (renameat2 RENAME_NOREPLACE).
/// -1 with errno EINVAL or ENOSYS where the file system or kernel cannot do that.
int moekit_rename_noreplace(const char *from, const char *to);

/// Atomically exchanges two existing paths (renameat2 RENAME_EXCHANGE): after the call `a` names what `b` named and
/// the other way round. -1 with errno EINVAL or ENOSYS where the file system or kernel cannot do that.
int moekit_rename_exchange(const char *a, const char *b);

#endif
