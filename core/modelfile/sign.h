/* sign.h: Ed25519 model signing (libsodium): a key pair in two text files, and a detached
 * signature over a file's exact bytes in FILE.sig, the blog's "model signing" mitigation.
 *
 * Files (one line each, lowercase hex):
 *   KEY       "husky-ed25519-secret-key HEX128\n"   mode 0600 (libsodium's 64-byte secret key)
 *   KEY.pub   "husky-ed25519-public-key HEX64\n"
 *   FILE.sig  "husky-ed25519-signature HEX128\n"    over every byte of FILE */
#ifndef HK_SIGN_H
#define HK_SIGN_H

#include <stddef.h>

#include "status.h"

#define HK_SIGN_MAX_KEY_FILE 4096 /* bytes of a key or signature file */

/* Make a new key pair: key_path (secret, created with mode 0600, never over an existing file)
 * and key_path.pub (public). HK_EINVAL when key_path exists, HK_EIO when a file cannot be
 * written (then neither is left behind). */
enum hk_status hk_sign_keygen(const char *key_path, struct hk_error *err);

/* Sign the bytes of path with the secret key in key_path; write path.sig atomically. sig_path
 * (may be NULL, cap bytes) receives the signature file's name. */
enum hk_status hk_sign_file(const char *path, const char *key_path, char *sig_path, size_t cap,
                            struct hk_error *err);

/* HK_OK when the signature in sig_path over bytes[0..n) verifies with the public key in
 * pub_path; HK_EFORMAT when it does not ("signature does not verify"), or a key or signature
 * file is malformed; HK_EIO when one cannot be read. */
enum hk_status hk_sign_verify(const unsigned char *bytes, size_t n, const char *sig_path, const char *pub_path,
                              struct hk_error *err);

/* Read a whole regular file of at most max bytes. On success *bytes (owned: free) holds *n bytes
 * and a NUL after them. HK_ENOMEM over max, HK_EIO when it cannot be read. */
enum hk_status hk_sign_read_file(const char *path, size_t max, unsigned char **bytes, size_t *n,
                                 struct hk_error *err);

#endif
