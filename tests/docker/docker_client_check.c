/*
 * docker_client_check.c - the Docker client (server/docker_*.c) and tar_context against a real
 * Docker daemon.
 *
 * Not a unit test: it needs a running dockerd and the base image (scripts/install-docker.sh,
 * scripts/base-image.sh). Build and run from the repository root:
 *
 *   make build/docker_client_check && build/docker_client_check [base-image]
 *
 * It builds a tiny image (one failing build, one good), makes an internal network, runs hardened
 * containers on it, checks what the container sees (capabilities, no_new_privs, read-only root,
 * exec on the tmpfs), watches the event stream, and removes everything it made (all names start
 * with "cgcheck-<pid>"). Ends with "N passed, N failed"; exit status 1 when anything failed.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "docker_container.h"
#include "docker_image.h"
#include "docker_network.h"
#include "docker_system.h"
#include "tar_context.h"

static int passed, failed;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    ok ? passed++ : failed++;
}

static void show_err(int rc, const docker_err_t *err)
{
    if (rc)
        printf("      -> %s (HTTP %ld) %s\n", docker_error_str(rc), err->http_status, err->msg);
}

static char prefix[64], label[96], base_image[128];

static int build_image(docker_client_t *dc, const char *dockerfile, const char *tag,
                       docker_err_t *err, char id[DOCKER_ID_LEN])
{
    tar_context_t *tc = tar_context_new();
    int rc = tar_context_add_data(tc, "Dockerfile", dockerfile, strlen(dockerfile), 0644);
    rc = rc ? rc : tar_context_finish(tc);
    if (rc) {
        tar_context_free(tc);
        return rc;
    }
    size_t len;
    const void *data = tar_context_data(tc, &len);
    char buildargs[192], labels[160];
    snprintf(buildargs, sizeof buildargs, "{\"BASE\":\"%s\"}", base_image);
    snprintf(labels, sizeof labels, "{\"cgcheck\":\"%s\"}", prefix);
    docker_image_build_opts_t o = {
        .tag = tag, .buildargs_json = buildargs, .labels_json = labels, .timeout_ms = 300000};
    rc = docker_image_build(dc, data, len, &o, id, err);
    tar_context_free(tc);
    return rc;
}

static void check_build(docker_client_t *dc, char *tag, size_t taglen)
{
    docker_err_t err;
    char id[DOCKER_ID_LEN];
    snprintf(tag, taglen, "%s-img:fail", prefix);
    int rc =
        build_image(dc, "ARG BASE\nFROM ${BASE}\nRUN echo preparing\nRUN echo oops >&2; exit 3\n",
                    tag, &err, id);
    check(rc == DOCKER_EBUILD, "failing RUN -> DOCKER_EBUILD (rc %d)", rc);
    /* 5 steps: the labels of the build request become a LABEL instruction at the end. */
    check(strcmp(err.step, "Step 4/5 : RUN echo oops >&2; exit 3") == 0, "step: '%s'", err.step);
    check(strstr(err.msg, "returned a non-zero code: 3") != NULL, "message: '%s'", err.msg);
    check(strstr(err.tail, "oops") != NULL, "tail holds the output before the error");

    snprintf(tag, taglen, "%s-img:ok", prefix);
    rc = build_image(dc, "ARG BASE\nFROM ${BASE}\nRUN echo built > /built\n", tag, &err, id);
    show_err(rc, &err);
    check(rc == 0 && strncmp(id, "sha256:", 7) == 0, "good build -> id %s", id);
    char id2[DOCKER_ID_LEN];
    rc = docker_image_inspect(dc, tag, id2, &err);
    check(rc == 0 && strcmp(id, id2) == 0, "image inspect finds the new tag");
}

static void check_network(docker_client_t *dc, char *net, size_t netlen)
{
    docker_err_t err;
    char id[DOCKER_ID_LEN];
    const docker_kv_t labels[] = {{"cgcheck", prefix}, {NULL, NULL}};
    snprintf(net, netlen, "%s-net", prefix);
    int rc = docker_network_create(dc, net, true, labels, id, &err);
    show_err(rc, &err);
    check(rc == 0 && id[0], "network create (internal)");
    rc = docker_network_create(dc, net, true, labels, NULL, &err);
    check(rc == DOCKER_ECONFLICT, "network create again -> DOCKER_ECONFLICT (rc %d: %s)", rc,
          err.msg);
    const docker_kv_t filters[] = {{"label", label}, {NULL, NULL}};
    docker_network_t *nets = NULL;
    int n = docker_network_list(dc, filters, &nets, &err);
    check(n == 1 && strcmp(nets[0].name, net) == 0 && nets[0].internal,
          "network list by label finds exactly it (n=%d)", n);
    free(nets);
}

static cJSON *hardened(const char *image, const char *net, const char *script)
{
    const char *cmd[] = {"/bin/sh", "-c", script, NULL};
    const docker_kv_t labels[] = {{"cgcheck", prefix}, {NULL, NULL}};
    const docker_kv_t tmpfs[] = {{"/work", "rw,exec,nosuid,nodev,size=16m,mode=0711"},
                                 {NULL, NULL}};
    const char *drop[] = {"ALL", NULL};
    const char *add[] = {"SETUID", "SETGID", "KILL", NULL};
    const char *sec[] = {"no-new-privileges", NULL};
    docker_container_spec_t s = {
        .image = image,
        .cmd = cmd,
        .labels = labels,
        .memory = 256 << 20,
        .memory_swap = 256 << 20,
        .nano_cpus = 500000000,
        .pids_limit = 64,
        .network_mode = net,
        .readonly_rootfs = true,
        .tmpfs = tmpfs,
        .cap_drop = drop,
        .cap_add = add,
        .security_opt = sec,
        .init = true,
        .ulimit_nofile = 256,
    };
    return docker_json_container_spec(&s);
}

typedef struct {
    docker_client_t *dc;
    atomic_bool stop;
    atomic_int dies;
    int rc;
} watch_t;

static int on_event(void *arg, const cJSON *ev)
{
    watch_t *w = arg;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(ev, "Action");
    if (cJSON_IsString(a) && strcmp(a->valuestring, "die") == 0)
        atomic_fetch_add(&w->dies, 1);
    return 0;
}

static void *watch_main(void *arg)
{
    watch_t *w = arg;
    const docker_kv_t filters[] = {{"type", "container"}, {"label", label}, {NULL, NULL}};
    w->rc = docker_system_events(w->dc, filters, on_event, w, &w->stop, NULL);
    return NULL;
}

static void check_container(docker_client_t *dc, const char *image, const char *net)
{
    docker_err_t err;
    char name[96], cid[DOCKER_ID_LEN], cid2[DOCKER_ID_LEN], logs[4096] = "";
    snprintf(name, sizeof name, "%s-c1", prefix);
    const char *script = "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
                         "touch /x 2>/dev/null && echo rootfs=rw || echo rootfs=ro; "
                         "cp /bin/true /work/t && /work/t && echo tmpfs=exec; "
                         "cat /built; echo started; exec sleep 60";
    cJSON *body = hardened(image, net, script);
    int rc = docker_container_create(dc, name, body, cid, &err);
    show_err(rc, &err);
    check(rc == 0, "container create %s", name);
    rc = docker_container_create(dc, name, body, cid2, &err);
    check(rc == DOCKER_ECONFLICT, "create with the same name -> DOCKER_ECONFLICT (%s)", err.msg);
    cJSON_Delete(body);
    docker_container_info_t info;
    rc = docker_container_start(dc, cid, &err);
    show_err(rc, &err);
    check(rc == 0, "start");
    check(docker_container_start(dc, name, &err) == 0, "start again (304) -> 0");
    rc = docker_container_inspect(dc, name, net, &info, &err);
    check(rc == 0 && info.running && strcmp(info.status, "running") == 0, "inspect: running");
    check(info.ip[0] != '\0', "inspect: IP on %s = %s", net, info.ip);
    for (int i = 0; i < 50 && !strstr(logs, "started"); i++) {
        docker_container_logs(dc, name, 50, logs, sizeof logs, &err);
        usleep(100000);
    }
    printf("      logs: %s", logs);
    check(strstr(logs, "CapEff:\t00000000000000e0") != NULL, "caps = SETUID SETGID KILL only");
    check(strstr(logs, "NoNewPrivs:\t1") != NULL, "no_new_privs set");
    check(strstr(logs, "rootfs=ro") != NULL, "root file system read-only");
    check(strstr(logs, "tmpfs=exec") != NULL, "exec allowed on the /work tmpfs");
    check(strstr(logs, "built") != NULL, "image content from the build");

    const docker_kv_t filters[] = {{"label", label}, {NULL, NULL}};
    docker_container_summary_t *list = NULL;
    int n = docker_container_list(dc, filters, &list, &err);
    check(n == 1 && strcmp(list[0].name, name) == 0 && strcmp(list[0].state, "running") == 0,
          "list by label finds it (n=%d)", n);
    free(list);

    watch_t w = {.dc = dc};
    pthread_t th;
    pthread_create(&th, NULL, watch_main, &w);
    usleep(300000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = docker_container_stop(dc, name, 1, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    show_err(rc, &err);
    check(rc == 0, "stop t=1 (%ld ms)",
          (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    check(docker_container_stop(dc, name, 1, &err) == 0, "stop again (304) -> 0");
    int code = -1;
    rc = docker_container_wait(dc, name, 10000, &code, &err);
    check(rc == 0 && (code == 137 || code == 143), "wait -> exit code %d", code);
    rc = docker_container_kill(dc, name, NULL, &err);
    check(rc == DOCKER_ECONFLICT, "kill a stopped container -> DOCKER_ECONFLICT (%s)", err.msg);
    rc = docker_container_inspect(dc, name, net, &info, &err);
    check(rc == 0 && !info.running && info.exit_code == code, "inspect: exited %d", info.exit_code);
    for (int i = 0; i < 30 && atomic_load(&w.dies) == 0; i++)
        usleep(100000);
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    check(atomic_load(&w.dies) == 1 && w.rc == DOCKER_ECANCELED,
          "events: one die seen, stream ended by the stop flag (rc %d)", w.rc);

    check(docker_container_remove(dc, name, true, &err) == 0, "remove");
    check(docker_container_inspect(dc, name, net, &info, &err) == DOCKER_ENOTFOUND,
          "inspect after remove -> DOCKER_ENOTFOUND");
    check(docker_container_remove(dc, name, true, &err) == DOCKER_ENOTFOUND,
          "remove again -> DOCKER_ENOTFOUND");
}

int main(int argc, char **argv)
{
    snprintf(base_image, sizeof base_image, "%s", argc > 1 ? argv[1] : "debian:bookworm-slim");
    snprintf(prefix, sizeof prefix, "cgcheck-%d", (int)getpid());
    snprintf(label, sizeof label, "cgcheck=%s", prefix);
    docker_client_t *dc = docker_client_new(getenv("DOCKER_SOCKET"), 30000);
    docker_err_t err;
    char api[16] = "", server[64] = "", tag[128] = "", net[96] = "";

    int rc = docker_system_ping(dc, 5000, &err);
    check(rc == 0, "ping %s", docker_client_socket(dc));
    if (rc) {
        show_err(rc, &err);
        goto out;
    }
    rc = docker_system_version(dc, api, sizeof api, server, sizeof server, &err);
    check(rc == 0 && api[0], "version: engine %s, API %s", server, api);
    check(docker_image_inspect(dc, base_image, NULL, &err) == 0, "base image %s exists",
          base_image);
    check(docker_image_inspect(dc, "cgcheck-no-such:image", NULL, &err) == DOCKER_ENOTFOUND,
          "missing image -> DOCKER_ENOTFOUND (%s)", err.msg);

    check_build(dc, tag, sizeof tag);
    check_network(dc, net, sizeof net);
    check_container(dc, tag, net);

out:
    /* Clean up whatever is left, whatever failed above. */
    if (net[0]) {
        const docker_kv_t filters[] = {{"label", label}, {NULL, NULL}};
        docker_container_summary_t *list = NULL;
        int n = docker_container_list(dc, filters, &list, NULL);
        for (int i = 0; i < n; i++)
            docker_container_remove(dc, list[i].id, true, NULL);
        free(list);
        check(docker_network_remove(dc, net, &err) == 0, "network remove");
        check(docker_network_remove(dc, net, &err) == DOCKER_ENOTFOUND,
              "network remove again -> DOCKER_ENOTFOUND");
    }
    if (tag[0]) {
        /* The client has no image removal (the gateway never removes images): use the CLI. */
        char cmd[256];
        snprintf(cmd, sizeof cmd, "docker rmi -f %s-img:ok >/dev/null 2>&1", prefix);
        check(system(cmd) == 0, "image removed (docker rmi)");
    }
    docker_client_free(dc);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
