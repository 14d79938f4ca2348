/* What a failed registry request tells the user, and which failures are
 * worth another try. See client.h. */
#include "registry/client.h"

#include <jansson.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "registry/client_internal.h"
#include "util/cleanup.h"

int reg_retryable(CURLcode rc, long status)
{
    switch (rc) {
    case CURLE_OK:
        return status >= 500 || status == 429;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

void reg_backoff(int attempt)
{
    long ms = 250L << (attempt < 5 ? attempt : 5);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int reg_curl_error(struct reg_client *c, CURLcode rc, const char *errbuf, const char *what,
                   struct kiln_error **err)
{
    const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
    const char *sep = what ? ": " : "";
    what = what ? what : "";
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return kiln_error_set(err, KILN_E_NET, "%s%scannot connect to registry %s (is it running?)",
                              what, sep, c->host);
    case CURLE_COULDNT_RESOLVE_HOST:
        return kiln_error_set(err, KILN_E_NET, "%s%scannot resolve registry host %s", what, sep,
                              c->host);
    case CURLE_PEER_FAILED_VERIFICATION:
        return kiln_error_set(err, KILN_E_NET,
                              "%s%sTLS certificate of %s is not trusted (%s); pass --cert-dir "
                              "with its CA, or --tls-verify=false",
                              what, sep, c->host, detail);
    case CURLE_OPERATION_TIMEDOUT:
        return kiln_error_set(err, KILN_E_NET, "%s%sregistry %s timed out", what, sep, c->host);
    default:
        return kiln_error_set(err, KILN_E_NET, "%s%stalking to registry %s failed: %s", what, sep,
                              c->host, detail);
    }
}

/* The registry's own error code ("MANIFEST_UNKNOWN") from a JSON body. */
static char *registry_error_text(const struct reg_response *r)
{
    json_error_t je;
    json_t *j = r->body.len ? json_loadb(r->body.buf, r->body.len, 0, &je) : NULL;
    json_t *first = json_array_get(json_object_get(j, "errors"), 0);
    const char *code = json_string_value(json_object_get(first, "code"));
    const char *msg = json_string_value(json_object_get(first, "message"));
    char *out = NULL;
    if (code != NULL)
        out = xasprintf(" (%s%s%.200s)", code, msg ? ": " : "", msg ? msg : "");
    json_decref(j);
    return out ? out : xstrdup("");
}

int reg_status_error(struct reg_client *c, const struct reg_response *r, const char *what,
                     struct kiln_error **err)
{
    cleanup_free char *why = registry_error_text(r);
    switch (r->status) {
    case 401:
        if (c->user == NULL)
            return kiln_error_set(err, KILN_E_AUTH,
                                  "%s: registry %s requires authentication; run 'kiln login %s'",
                                  what, c->host, c->cred_name);
        if (c->chal.scheme == AUTH_BASIC)
            return kiln_error_set(err, KILN_E_AUTH,
                                  "%s: registry %s refused the login of %s: wrong username or "
                                  "password",
                                  what, c->host, c->user);
        return kiln_error_set(err, KILN_E_AUTH,
                              "%s: registry %s refused the access token it was given (expired or "
                              "not valid for this repository)%s",
                              what, c->host, why);
    case 403:
        return kiln_error_set(err, KILN_E_AUTH, "%s: access denied by registry %s%s", what, c->host,
                              why);
    case 404:
        return kiln_error_set(err, KILN_E_NOTFOUND, "%s: not found on registry %s%s", what, c->host,
                              why);
    default:
        return kiln_error_set(err, KILN_E_NET, "%s: registry %s answered HTTP %ld%s", what, c->host,
                              r->status, why);
    }
}
