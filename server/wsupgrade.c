/*
 * wsupgrade.c - takes WebSocket connections from ulfius at the 101 (see wsupgrade.h).
 */
#include "wsupgrade.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "log.h"

/* Exported by libulfius 2.7 for its own use (declared in its private u_private.h): they undo
 * what its dispatcher set up for a WebSocket whose upgrade we take over. */
int ulfius_instance_remove_websocket_active(struct _u_instance *instance,
                                            struct _websocket *websocket);
int ulfius_clear_websocket(struct _websocket *websocket);

typedef struct MHD_Response *(*create_fn_t)(MHD_UpgradeHandler, void *);
typedef int (*active_fn_t)(struct _u_instance *, struct _websocket *);

/* libulfius 2.7.13 appends to its instance's array of active WebSockets
 * (ulfius_instance_add_websocket_active, called by its dispatcher on the connection thread of a
 * new upgrade) with a realloc and without the lock that the removal holds: two sessions opening
 * and closing at once could lose an entry or keep a freed one, and ulfius_stop_framework() then
 * crashed on it (seen once at shutdown after 40 clients churned). Both calls go through
 * libulfius' PLT, so the definitions below replace them for the library too and run the real
 * ones one at a time. */
static pthread_mutex_t active_mu = PTHREAD_MUTEX_INITIALIZER;
static active_fn_t real_add, real_remove;
static pthread_once_t real_active_once = PTHREAD_ONCE_INIT;

static void find_real_active(void)
{
    void *add = dlsym(RTLD_NEXT, "ulfius_instance_add_websocket_active");
    void *rem = dlsym(RTLD_NEXT, "ulfius_instance_remove_websocket_active");

    memcpy(&real_add, &add, sizeof real_add);
    memcpy(&real_remove, &rem, sizeof real_remove);
}

static int active_call(bool add, struct _u_instance *instance, struct _websocket *websocket)
{
    int rc;

    pthread_once(&real_active_once, find_real_active);
    active_fn_t fn = add ? real_add : real_remove;
    if (!fn)
        return U_ERROR;
    pthread_mutex_lock(&active_mu);
    rc = fn(instance, websocket);
    pthread_mutex_unlock(&active_mu);
    return rc;
}

int ulfius_instance_add_websocket_active(struct _u_instance *instance,
                                         struct _websocket *websocket);
int ulfius_instance_add_websocket_active(struct _u_instance *instance, struct _websocket *websocket)
{
    return active_call(true, instance, websocket);
}

int ulfius_instance_remove_websocket_active(struct _u_instance *instance,
                                            struct _websocket *websocket)
{
    return active_call(false, instance, websocket);
}

static wsupgrade_fn handler;
static create_fn_t real_create;
static pthread_once_t real_create_once = PTHREAD_ONCE_INIT;

/* The manager callback of our 101 responses. It marks them for the wrapper below, and runs only
 * if the wrapper was bypassed: ulfius' reader then owns the socket, and returning closes it. */
static void marker(const struct _u_request *req, struct _websocket_manager *wsm, void *arg)
{
    (void)req;
    (void)wsm;
    (void)arg;
    log_msg(LOG_ERROR, "wsupgrade: an upgrade was not taken over from ulfius; closing it");
}

static void upgrade_close(void *urh)
{
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static void upgraded(void *cls, struct MHD_Connection *connection, void *con_cls,
                     const char *extra_in, size_t extra_in_size, MHD_socket sock,
                     struct MHD_UpgradeResponseHandle *urh)
{
    struct _websocket *ws = cls;
    void *arg = ws->websocket_manager_user_data;
    const char *auth =
        ws->request ? u_map_get_case(ws->request->map_header, "Authorization") : NULL;
    char *bearer = NULL;

    (void)connection;
    (void)con_cls;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        auth += 7;
        while (*auth == ' ')
            auth++;
        bearer = strdup(auth);
    }
    /* Undo what ulfius set up for its own reader thread, which never starts. Until this is
     * done ulfius_stop_framework() would wait for the connection. */
    ulfius_instance_remove_websocket_active(ws->instance, ws);
    ws->instance = NULL;
    ulfius_clear_websocket(ws);
    handler(arg, sock, extra_in, extra_in_size, bearer, upgrade_close, urh);
    free(bearer);
}

static void find_real_create(void)
{
    void *sym = dlsym(RTLD_NEXT, "MHD_create_response_for_upgrade");

    memcpy(&real_create, &sym, sizeof real_create);
}

/* Wraps libmicrohttpd's function for libulfius, its only caller in this process (so cls is a
 * struct _websocket). */
struct MHD_Response *MHD_create_response_for_upgrade(MHD_UpgradeHandler upgrade_handler,
                                                     void *upgrade_handler_cls)
{
    const struct _websocket *ws = upgrade_handler_cls;

    pthread_once(&real_create_once, find_real_create);
    if (!real_create)
        return NULL;
    if (handler && ws && ws->websocket_manager_callback == marker)
        upgrade_handler = upgraded;
    return real_create(upgrade_handler, upgrade_handler_cls);
}

int wsupgrade_init(wsupgrade_fn fn)
{
    void *bound = dlsym(RTLD_DEFAULT, "MHD_create_response_for_upgrade"), *ours;
    create_fn_t self = MHD_create_response_for_upgrade;

    memcpy(&ours, &self, sizeof ours);
    if (bound != ours) {
        log_msg(LOG_ERROR, "wsupgrade: MHD_create_response_for_upgrade is not this file's "
                           "(static link?): WebSocket connections are refused");
        return -1;
    }
    handler = fn;
    return 0;
}

int wsupgrade_respond(struct _u_response *resp, void *arg)
{
    if (ulfius_set_websocket_response(resp, NULL, NULL, marker, arg, NULL, NULL, NULL, NULL) !=
        U_OK)
        return U_CALLBACK_ERROR;
    return U_CALLBACK_COMPLETE;
}
