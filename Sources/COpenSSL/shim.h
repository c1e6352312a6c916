#ifndef MAILFERRY_COPENSSL_SHIM_H
#define MAILFERRY_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/hmac.h>

// Function-like macros Swift cannot import.
static inline long mf_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline long mf_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long mf_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}
static inline int mf_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
static inline uint64_t mf_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline long mf_SSL_set_msg_callback_arg(SSL *ssl, void *arg) {
    return SSL_set_msg_callback_arg(ssl, arg);
}
// The certificate the server presented first (its own), whether or not it was verified: on the client side the peer
// chain starts with it, and it is kept even when the handshake failed verification, so the error can show its
// fingerprint. Not up-referenced: valid while the SSL lives.
static inline X509 *mf_SSL_peer_leaf(const SSL *ssl) {
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    return (chain != NULL && sk_X509_num(chain) > 0) ? sk_X509_value(chain, 0) : NULL;
}
static inline long mf_SSL_MODE_AUTO_RETRY(void) { return SSL_MODE_AUTO_RETRY; }

#endif
