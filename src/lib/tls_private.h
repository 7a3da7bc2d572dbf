/* tls_private.h - helpers shared by tls.c and tls_cert.c, not part of the
 * TLS module's interface.
 */
#ifndef POSTERN_TLS_PRIVATE_H
#define POSTERN_TLS_PRIVATE_H

#include "lib/common.h"

/* Format the module's error message (see tls.h, "Errors"), store it in
 * *error_r when error_r is not NULL, and return it. */
const char *tls_error_set(const char **error_r, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* The most telling text for the last error on OpenSSL's queue ("no PEM data
 * found", "key values mismatch", an errno text), then clear the queue. */
void tls_openssl_reason(char *out, size_t size);

/* pem_password_cb that refuses to decrypt, so that an encrypted key fails
 * instead of prompting on the terminal. userdata, when not NULL, is a bool
 * set to true when a passphrase was asked for. */
int tls_no_password_cb(char *buf, int size, int rwflag, void *userdata);

/* True for an IPv4 or IPv6 address literal (no brackets). */
bool tls_is_ip_literal(const char *s);

#endif
