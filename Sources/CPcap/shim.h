#ifndef SMTPSCOPE_CPCAP_SHIM_H
#define SMTPSCOPE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#if defined(__linux__)
#include <stdio_ext.h>
#endif
#endif
