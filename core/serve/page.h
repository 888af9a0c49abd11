/* page.h: the upload page served at GET / (core/serve/page.html, embedded at build time by
 * embed_page.py into page.c). */
#ifndef HK_PAGE_H
#define HK_PAGE_H

#include <stddef.h>

extern const char hk_serve_page[];   /* the HTML, hk_serve_page_len bytes and a NUL */
extern const size_t hk_serve_page_len;

#endif
