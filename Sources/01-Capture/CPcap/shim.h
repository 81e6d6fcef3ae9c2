#ifndef SMTPSCOPE_CPCAP_SHIM_H
#define SMTPSCOPE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#if defined(__linux__)
#include <stdio_ext.h>
#include <sys/types.h>

/* glibc's fopencookie(3), which hands libpcap a FILE whose bytes come from our own read function
   (a file, standard input, or gzip-compressed data). stdio.h declares it only under _GNU_SOURCE,
   which the Swift Glibc module is not built with: the same function and structure layout under
   names of our own, bound to the real symbol. */
typedef struct {
    ssize_t (*read)(void *cookie, char *buffer, size_t size);
    ssize_t (*write)(void *cookie, const char *buffer, size_t size);
    int (*seek)(void *cookie, long long *offset, int whence);
    int (*close)(void *cookie);
} smtpscope_cookie_io_functions;

FILE *smtpscope_fopencookie(void *cookie, const char *mode, smtpscope_cookie_io_functions functions)
    __asm__("fopencookie");
#endif
#endif
