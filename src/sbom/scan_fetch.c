/* --db-url: the one place the scanner touches the network, and only when the
 * user names a URL. libcurl is loaded on first use (util/dynload.h). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "sbom/scan.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define DB_DOWNLOAD_MAX (2ull << 30)

struct sink {
    int fd;
    unsigned long long got;
    int errnum;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t len = size * n;
    s->got += len;
    if (s->got > DB_DOWNLOAD_MAX) {
        s->errnum = EFBIG;
        return 0;
    }
    if (write_all(s->fd, data, len) < 0) {
        s->errnum = errno;
        return 0;
    }
    return len;
}

int scan_db_download(const char *url, const char *path, struct kiln_error **err)
{
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return kiln_error_set(err, KILN_E_USAGE, "--db-url %s: only http:// and https:// URLs",
                              url);
    cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_error_errno(err, errno, "create %s", path);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    if (!h)
        return kiln_error_set(err, KILN_E_NET, "%s: cannot start libcurl", url);
    struct sink s = {.fd = fd};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln-scan");
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        unlink(path);
        if (s.errnum)
            return kiln_error_errno(err, s.errnum, "download %s", url);
        return kiln_error_set(err, KILN_E_NET, "download %s: %s", url,
                              errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    if (fsync(fd) < 0)
        return kiln_error_errno(err, errno, "fsync %s", path);
    return 0;
}
