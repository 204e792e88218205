#ifndef MOEKIT_GZIP_H
#define MOEKIT_GZIP_H
#include <stddef.h>
#include <stdint.h>

/// A streaming reader of gzip files (RFC 1952 members holding RFC 1951 DEFLATE data) that also reads files that are
/// not gzip unchanged, as zlib's gzread does. It decodes into its own buffer, which keeps the 32 KiB of history
/// DEFLATE may refer back to, so memory stays bounded (about 1.4 MiB) whatever the file's size.
///
/// Its validity rules are zlib's (inflate.c, inftrees.c of zlib 1.2.13): the same streams are accepted and the same
/// ones rejected, among them an incomplete Huffman code (except a single code of one bit), a distance farther back
/// than the data decoded so far, a wrong CRC-32 or length in a trailer and a stream cut short. Concatenated members
/// are read in turn; bytes after the last member that do not start another one are ignored, as zlib does.
typedef struct moekit_gzip_reader moekit_gzip_reader;

/// Reads from `fd` (not closed by the reader). NULL when memory cannot be had.
moekit_gzip_reader *moekit_gzip_open(int fd);

/// Frees the reader.
void moekit_gzip_close(moekit_gzip_reader *reader);

/// Decodes the next stretch of the file. Returns the number of new bytes, placed at `*data` and valid until the next
/// call; 0 at the end of the file; -1 on an error, described by `moekit_gzip_error`. Every later call repeats an
/// error.
long moekit_gzip_read(moekit_gzip_reader *reader, const uint8_t **data);

/// What went wrong, in zlib's words where zlib has a message for it; NULL before any error.
const char *moekit_gzip_error(const moekit_gzip_reader *reader);

#endif
