#ifndef SMTPSCOPE_CZLIB_SHIM_H
#define SMTPSCOPE_CZLIB_SHIM_H
#include <zlib.h>
#endif
