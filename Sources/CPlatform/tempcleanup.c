// Removal of temporary output paths when the process is interrupted, and the renameat2(2) variants the atomic
// directory commit needs. Everything the signal handler calls is async-signal-safe (open, getdents64, unlinkat,
// rmdir, close, sigaction, raise).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "moekit_platform.h"

#define MOEKIT_TEMP_SLOTS 256
#define MOEKIT_TEMP_PATH_MAX 4096

static char temp_paths[MOEKIT_TEMP_SLOTS][MOEKIT_TEMP_PATH_MAX];
static volatile sig_atomic_t temp_used[MOEKIT_TEMP_SLOTS];
static pthread_mutex_t temp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t temp_once = PTHREAD_ONCE_INIT;
static const int temp_signals[] = {SIGINT, SIGTERM, SIGHUP};

/// Removes a file, or a directory holding only files (other threads may still be creating files in it: retried).
static void temp_remove(const char *path) {
    if (unlink(path) == 0 || errno == ENOENT) return;
#if defined(__linux__)
    for (int attempt = 0; attempt < 16; attempt++) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return;
        char buffer[8192];
        for (;;) {
            long n = syscall(SYS_getdents64, fd, buffer, sizeof buffer);
            if (n <= 0) break;
            for (long offset = 0; offset < n;) {
                // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
                unsigned short length;
                memcpy(&length, buffer + offset + 16, sizeof length);
                const char *name = buffer + offset + 19;
                if (!(name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))) unlinkat(fd, name, 0);
                offset += length;
            }
        }
        close(fd);
        if (rmdir(path) == 0 || errno == ENOENT) return;
    }
#endif
}

static void temp_signal_handler(int signal_number) {
    for (int i = 0; i < MOEKIT_TEMP_SLOTS; i++) {
        if (__atomic_load_n(&temp_used[i], __ATOMIC_ACQUIRE)) temp_remove(temp_paths[i]);
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number, &action, NULL);
    raise(signal_number);
}

/// The signals whose handler was installed.
static sigset_t temp_handled;

static void temp_install_handlers(void) {
    sigemptyset(&temp_handled);
    for (size_t i = 0; i < sizeof temp_signals / sizeof temp_signals[0]; i++) {
        struct sigaction old;
        if (sigaction(temp_signals[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN) continue;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = temp_signal_handler;
        sigfillset(&action.sa_mask);
        sigaction(temp_signals[i], &action, NULL);
        sigaddset(&temp_handled, temp_signals[i]);
    }
}

int moekit_temp_register(const char *path) {
    size_t length = strlen(path);
    if (length >= MOEKIT_TEMP_PATH_MAX) return -1;
    pthread_once(&temp_once, temp_install_handlers);
    // A process started by a thread that blocks these signals (libdispatch workers do) inherits the blocked mask and
    // would never see them; the registering thread unblocks them so an interrupt is delivered and cleaned up.
    pthread_sigmask(SIG_UNBLOCK, &temp_handled, NULL);
    pthread_mutex_lock(&temp_lock);
    int slot = -1;
    for (int i = 0; i < MOEKIT_TEMP_SLOTS; i++) {
        if (!__atomic_load_n(&temp_used[i], __ATOMIC_ACQUIRE)) {
            memcpy(temp_paths[i], path, length + 1);
            __atomic_store_n(&temp_used[i], 1, __ATOMIC_RELEASE);
            slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&temp_lock);
    return slot;
}

void moekit_temp_unregister(int slot) {
    if (slot < 0 || slot >= MOEKIT_TEMP_SLOTS) return;
    pthread_mutex_lock(&temp_lock);
    __atomic_store_n(&temp_used[slot], 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&temp_lock);
}

static int moekit_renameat2(const char *from, const char *to, unsigned int flags) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
#else
    (void)from; (void)to; (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

int moekit_rename_noreplace(const char *from, const char *to) { return moekit_renameat2(from, to, 1 /* RENAME_NOREPLACE */); }

int moekit_rename_exchange(const char *a, const char *b) { return moekit_renameat2(a, b, 2 /* RENAME_EXCHANGE */); }
