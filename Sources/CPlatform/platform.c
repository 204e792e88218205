#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include "moekit_platform.h"

ssize_t moekit_copy_file_range(int fd_in, off_t *off_in, int fd_out, off_t *off_out, size_t len) {
#if defined(__linux__)
    return copy_file_range(fd_in, off_in, fd_out, off_out, len, 0);
#else
    (void)fd_in; (void)off_in; (void)fd_out; (void)off_out; (void)len;
    errno = ENOSYS;
    return -1;
#endif
}

int moekit_syncfs(int fd) {
#if defined(__linux__)
    return syncfs(fd);
#else
    return fsync(fd);
#endif
}

int moekit_start_writeback(int fd, off_t offset, off_t count) {
#if defined(__linux__)
    return sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)count;
    return 0;
#endif
}
