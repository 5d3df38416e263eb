/*
 * Guest side of the vsock checks: a static Linux program (busybox has no AF_VSOCK).
 *
 *   vsock-echo listen PORT          accept one connection on PORT, echo it back until EOF
 *   vsock-echo connect CID PORT MSG connect to CID:PORT, send MSG, print the reply
 *
 * Each prints one "VESSEL-CHECK vsock_..." line saying what happened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static int fail(const char *what, const char *step) {
    printf("VESSEL-CHECK vsock_%s=failed %s: %s\n", what, step, strerror(errno));
    fflush(stdout);
    return 1;
}

static int listen_echo(unsigned port) {
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0) return fail("listen", "socket");
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0) return fail("listen", "bind");
    if (listen(s, 1) < 0) return fail("listen", "listen");
    printf("VESSEL-CHECK vsock_listening=%u\n", port);
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0) return fail("listen", "accept");
    char buf[4096];
    long total = 0;
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n < 0) return fail("listen", "read");
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, n - off);
            if (w < 0) return fail("listen", "write");
            off += w;
        }
        total += n;
    }
    close(c);
    printf("VESSEL-CHECK vsock_echoed=%ld\n", total);
    fflush(stdout);
    return 0;
}

static int connect_send(unsigned cid, unsigned port, const char *msg) {
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0) return fail("connect", "socket");
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) return fail("connect", "connect");
    size_t len = strlen(msg);
    if (write(s, msg, len) != (ssize_t)len) return fail("connect", "write");
    shutdown(s, SHUT_WR);
    char reply[256];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(s, reply + got, sizeof reply - 1 - got);
        if (n < 0) return fail("connect", "read");
        if (n == 0 || got + n >= sizeof reply - 1) { got += n > 0 ? n : 0; break; }
        got += n;
    }
    reply[got] = 0;
    printf("VESSEL-CHECK vsock_reply=%s\n", reply);
    fflush(stdout);
    close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "listen") == 0) return listen_echo(strtoul(argv[2], NULL, 10));
    if (argc == 5 && strcmp(argv[1], "connect") == 0)
        return connect_send(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10), argv[4]);
    fprintf(stderr, "usage: vsock-echo listen PORT | connect CID PORT MESSAGE\n");
    return 2;
}
