/* TLS client for the registry client, over OpenSSL loaded with dlopen on first use.
 *
 * Why not link OpenSSL (or Foundation's URLSession, which pulls libcurl and ~30 shared
 * libraries): every berth process — each container start re-executes berth — would pay
 * for loading them (measured: 1.6 ms → 8.5 ms per start with FoundationNetworking). Only
 * an HTTPS pull loads libssl.so.3 here. The few OpenSSL symbols used have been stable
 * since 1.1.1; the constants below are part of its ABI. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include "CBerthSys.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_method_st SSL_METHOD;
typedef struct X509_VERIFY_PARAM_st X509_VERIFY_PARAM;

#define SSL_VERIFY_NONE 0
#define SSL_VERIFY_PEER 1
#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define TLSEXT_NAMETYPE_host_name 0
#define SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define TLS1_2_VERSION 0x0303
#define SSL_FILETYPE_PEM 1
#define SSL_ERROR_SSL 1
#define SSL_ERROR_WANT_READ 2
#define SSL_ERROR_WANT_WRITE 3
#define SSL_ERROR_SYSCALL 5
#define SSL_ERROR_ZERO_RETURN 6

static struct {
    void *lib;
    const SSL_METHOD *(*TLS_client_method)(void);
    SSL_CTX *(*SSL_CTX_new)(const SSL_METHOD *);
    void (*SSL_CTX_free)(SSL_CTX *);
    int (*SSL_CTX_set_default_verify_paths)(SSL_CTX *);
    int (*SSL_CTX_load_verify_locations)(SSL_CTX *, const char *, const char *);
    void (*SSL_CTX_set_verify)(SSL_CTX *, int, void *);
    long (*SSL_CTX_ctrl)(SSL_CTX *, int, long, void *);
    int (*SSL_CTX_use_certificate_chain_file)(SSL_CTX *, const char *);
    int (*SSL_CTX_use_PrivateKey_file)(SSL_CTX *, const char *, int);
    SSL *(*SSL_new)(SSL_CTX *);
    void (*SSL_free)(SSL *);
    int (*SSL_set_fd)(SSL *, int);
    long (*SSL_ctrl)(SSL *, int, long, void *);
    int (*SSL_set1_host)(SSL *, const char *);
    X509_VERIFY_PARAM *(*SSL_get0_param)(SSL *);
    int (*X509_VERIFY_PARAM_set1_ip_asc)(X509_VERIFY_PARAM *, const char *);
    int (*SSL_connect)(SSL *);
    int (*SSL_read)(SSL *, void *, int);
    int (*SSL_write)(SSL *, const void *, int);
    int (*SSL_get_error)(const SSL *, int);
    int (*SSL_shutdown)(SSL *);
    long (*SSL_get_verify_result)(const SSL *);
    const char *(*X509_verify_cert_error_string)(long);
    unsigned long (*ERR_get_error)(void);
    void (*ERR_error_string_n)(unsigned long, char *, size_t);
    void (*ERR_clear_error)(void);
} ossl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];

#define SYM(lib, name)                                                                   \
    do {                                                                                 \
        *(void **)(&ossl.name) = dlsym(lib, #name);                                      \
        if (!ossl.name) {                                                                \
            snprintf(load_error, sizeof load_error, "%s is missing from OpenSSL", #name); \
            return;                                                                      \
        }                                                                                \
    } while (0)

static void load(void) {
    void *ssl = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!ssl) ssl = dlopen("libssl.so.1.1", RTLD_NOW | RTLD_LOCAL);
    if (!ssl) {
        snprintf(load_error, sizeof load_error,
                 "HTTPS needs OpenSSL's libssl.so.3, which could not be loaded (install libssl3)");
        return;
    }
    SYM(ssl, TLS_client_method);
    SYM(ssl, SSL_CTX_new);
    SYM(ssl, SSL_CTX_free);
    SYM(ssl, SSL_CTX_set_default_verify_paths);
    SYM(ssl, SSL_CTX_load_verify_locations);
    SYM(ssl, SSL_CTX_set_verify);
    SYM(ssl, SSL_CTX_ctrl);
    SYM(ssl, SSL_CTX_use_certificate_chain_file);
    SYM(ssl, SSL_CTX_use_PrivateKey_file);
    SYM(ssl, SSL_new);
    SYM(ssl, SSL_free);
    SYM(ssl, SSL_set_fd);
    SYM(ssl, SSL_ctrl);
    SYM(ssl, SSL_set1_host);
    SYM(ssl, SSL_get0_param);
    SYM(ssl, SSL_connect);
    SYM(ssl, SSL_read);
    SYM(ssl, SSL_write);
    SYM(ssl, SSL_get_error);
    SYM(ssl, SSL_shutdown);
    SYM(ssl, SSL_get_verify_result);
    /* libcrypto's symbols are reachable through libssl's dependencies. */
    SYM(ssl, X509_VERIFY_PARAM_set1_ip_asc);
    SYM(ssl, X509_verify_cert_error_string);
    SYM(ssl, ERR_get_error);
    SYM(ssl, ERR_error_string_n);
    SYM(ssl, ERR_clear_error);
    ossl.lib = ssl;
}

struct berth_tls {
    SSL_CTX *ctx;
    SSL *ssl;
};

static void describe(const char *what, char *err, size_t errlen) {
    unsigned long code = ossl.ERR_get_error ? ossl.ERR_get_error() : 0;
    if (code) {
        char text[200];
        ossl.ERR_error_string_n(code, text, sizeof text);
        snprintf(err, errlen, "%s: %s", what, text);
    } else if (errno) {
        snprintf(err, errlen, "%s: %s", what, strerror(errno));
    } else {
        snprintf(err, errlen, "%s: connection closed by the server", what);
    }
    if (ossl.ERR_clear_error) ossl.ERR_clear_error();
}

int berth_tls_available(char *err, size_t errlen) {
    pthread_once(&load_once, load);
    if (ossl.lib) return 1;
    snprintf(err, errlen, "%s", load_error);
    return 0;
}

/* SSL_write and SSL_shutdown on a reset connection must not kill the process with
 * SIGPIPE: block it in this thread and drop a pending one afterwards. */
#define WITHOUT_SIGPIPE(body)                                                   \
    do {                                                                        \
        sigset_t pipe_set, old_set;                                             \
        sigemptyset(&pipe_set);                                                 \
        sigaddset(&pipe_set, SIGPIPE);                                          \
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);                        \
        body;                                                                   \
        struct timespec zero = {0, 0};                                          \
        int saved = errno;                                                      \
        while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {}                     \
        errno = saved;                                                          \
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);                           \
    } while (0)

struct berth_tls *berth_tls_connect(int fd, const char *host, const char *ca_file, const char *cert_file,
                                    const char *key_file, int verify, char *err, size_t errlen) {
    if (!berth_tls_available(err, errlen)) return NULL;
    ossl.ERR_clear_error();
    errno = 0;
    struct berth_tls *tls = calloc(1, sizeof *tls);
    if (!tls) { snprintf(err, errlen, "out of memory"); return NULL; }
    tls->ctx = ossl.SSL_CTX_new(ossl.TLS_client_method());
    if (!tls->ctx) { describe("TLS set-up", err, errlen); free(tls); return NULL; }
    ossl.SSL_CTX_ctrl(tls->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    if (verify) {
        ossl.SSL_CTX_set_default_verify_paths(tls->ctx);
        if (ca_file && ossl.SSL_CTX_load_verify_locations(tls->ctx, ca_file, NULL) != 1) {
            describe(ca_file, err, errlen);
            goto fail;
        }
    }
    ossl.SSL_CTX_set_verify(tls->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (cert_file && key_file) {
        if (ossl.SSL_CTX_use_certificate_chain_file(tls->ctx, cert_file) != 1) { describe(cert_file, err, errlen); goto fail; }
        if (ossl.SSL_CTX_use_PrivateKey_file(tls->ctx, key_file, SSL_FILETYPE_PEM) != 1) { describe(key_file, err, errlen); goto fail; }
    }
    tls->ssl = ossl.SSL_new(tls->ctx);
    if (!tls->ssl) { describe("TLS set-up", err, errlen); goto fail; }
    ossl.SSL_set_fd(tls->ssl, fd);
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (is_ip) {
        if (verify) ossl.X509_VERIFY_PARAM_set1_ip_asc(ossl.SSL_get0_param(tls->ssl), host);
    } else {
        ossl.SSL_ctrl(tls->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)host);
        if (verify) ossl.SSL_set1_host(tls->ssl, host);
    }
    int r;
    WITHOUT_SIGPIPE(r = ossl.SSL_connect(tls->ssl));
    if (r != 1) {
        long result = ossl.SSL_get_verify_result(tls->ssl);
        if (verify && result != 0) {
            snprintf(err, errlen, "certificate verification failed: %s", ossl.X509_verify_cert_error_string(result));
            ossl.ERR_clear_error();
        } else {
            describe("TLS handshake", err, errlen);
        }
        goto fail;
    }
    return tls;
fail:
    if (tls->ssl) ossl.SSL_free(tls->ssl);
    ossl.SSL_CTX_free(tls->ctx);
    free(tls);
    return NULL;
}

long berth_tls_read(struct berth_tls *tls, void *buffer, size_t len, char *err, size_t errlen) {
    if (len > 0x7fffffff) len = 0x7fffffff;
    errno = 0;
    int n = ossl.SSL_read(tls->ssl, buffer, (int)len);
    if (n > 0) return n;
    int code = ossl.SSL_get_error(tls->ssl, n);
    if (code == SSL_ERROR_ZERO_RETURN) return 0;
    if (code == SSL_ERROR_SYSCALL && errno == 0 && ossl.ERR_get_error() == 0) return 0; /* EOF without close_notify */
    describe("TLS read", err, errlen);
    return -1;
}

long berth_tls_write(struct berth_tls *tls, const void *buffer, size_t len, char *err, size_t errlen) {
    if (len > 0x7fffffff) len = 0x7fffffff;
    errno = 0;
    int n;
    WITHOUT_SIGPIPE(n = ossl.SSL_write(tls->ssl, buffer, (int)len));
    if (n > 0) return n;
    describe("TLS write", err, errlen);
    return -1;
}

void berth_tls_close(struct berth_tls *tls) {
    if (!tls) return;
    WITHOUT_SIGPIPE(ossl.SSL_shutdown(tls->ssl));
    ossl.ERR_clear_error();
    ossl.SSL_free(tls->ssl);
    ossl.SSL_CTX_free(tls->ctx);
    free(tls);
}
