/* duckdb: a small command-line front end to libduckdb for the data environment.
 * Debian does not package DuckDB and only the npm registry is reachable, so the
 * library comes from npm's @duckdb/node-bindings-linux-x64 (libduckdb.so, with the
 * Parquet and CSV readers built in) and this file provides the `duckdb` command:
 *
 *   duckdb [-csv|-json|-table] [-readonly] [-version] [-c SQL] [DATABASE] [SQL...]
 *
 * SQL comes from -c, else from the arguments after DATABASE, else from stdin.
 * Statements are split by DuckDB itself; the first error stops the run (exit 1).
 * Only the documented, stable C API is declared below (no header is shipped in the
 * npm package).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the part of DuckDB's C API used here (see DuckDB's C API reference) ---- */
typedef uint64_t idx_t;
typedef enum { DuckDBSuccess = 0, DuckDBError = 1 } duckdb_state;
typedef struct _duckdb_database {
    void *internal_ptr;
} * duckdb_database;
typedef struct _duckdb_connection {
    void *internal_ptr;
} * duckdb_connection;
typedef struct _duckdb_config {
    void *internal_ptr;
} * duckdb_config;
typedef struct _duckdb_prepared_statement {
    void *internal_ptr;
} * duckdb_prepared_statement;
typedef struct _duckdb_extracted_statements {
    void *internal_ptr;
} * duckdb_extracted_statements;
typedef struct {
    idx_t deprecated_column_count;
    idx_t deprecated_row_count;
    idx_t deprecated_rows_changed;
    void *deprecated_columns;
    char *deprecated_error_message;
    void *internal_data;
} duckdb_result;

duckdb_state duckdb_open_ext(const char *path, duckdb_database *out, duckdb_config config,
                             char **out_error);
void duckdb_close(duckdb_database *db);
duckdb_state duckdb_connect(duckdb_database db, duckdb_connection *out);
void duckdb_disconnect(duckdb_connection *con);
duckdb_state duckdb_create_config(duckdb_config *out);
duckdb_state duckdb_set_config(duckdb_config config, const char *name, const char *option);
void duckdb_destroy_config(duckdb_config *config);
const char *duckdb_library_version(void);
idx_t duckdb_extract_statements(duckdb_connection con, const char *query,
                                duckdb_extracted_statements *out);
const char *duckdb_extract_statements_error(duckdb_extracted_statements stmts);
duckdb_state duckdb_prepare_extracted_statement(duckdb_connection con,
                                                duckdb_extracted_statements stmts, idx_t index,
                                                duckdb_prepared_statement *out);
void duckdb_destroy_extracted(duckdb_extracted_statements *stmts);
const char *duckdb_prepare_error(duckdb_prepared_statement stmt);
duckdb_state duckdb_execute_prepared(duckdb_prepared_statement stmt, duckdb_result *out);
void duckdb_destroy_prepare(duckdb_prepared_statement *stmt);
const char *duckdb_result_error(duckdb_result *res);
void duckdb_destroy_result(duckdb_result *res);
idx_t duckdb_column_count(duckdb_result *res);
idx_t duckdb_row_count(duckdb_result *res);
const char *duckdb_column_name(duckdb_result *res, idx_t col);
int duckdb_column_type(duckdb_result *res, idx_t col);
char *duckdb_value_varchar(duckdb_result *res, idx_t col, idx_t row);
_Bool duckdb_value_is_null(duckdb_result *res, idx_t col, idx_t row);
void duckdb_free(void *ptr);
/* ---------------------------------------------------------------------------- */

enum mode { MODE_TABLE, MODE_CSV, MODE_JSON };

static int is_numeric(int type)
{
    /* BOOLEAN..DOUBLE, HUGEINT, DECIMAL, UHUGEINT */
    return (type >= 2 && type <= 11) || type == 16 || type == 19 || type == 32;
}

static char *cell(duckdb_result *r, idx_t c, idx_t row)
{
    if (duckdb_value_is_null(r, c, row))
        return NULL;
    return duckdb_value_varchar(r, c, row);
}

static void put_csv_field(const char *s)
{
    if (!s)
        return;
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void put_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", stdout);
        else if (ch == '\t')
            fputs("\\t", stdout);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static size_t utf8_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static void print_table(duckdb_result *r, idx_t cols, idx_t rows)
{
    size_t *w = calloc(cols, sizeof(*w));
    char **cells = calloc(cols * (rows ? rows : 1), sizeof(*cells));
    if (!w || !cells) {
        fputs("duckdb: out of memory\n", stderr);
        exit(1);
    }
    for (idx_t c = 0; c < cols; c++) {
        w[c] = utf8_width(duckdb_column_name(r, c));
        for (idx_t row = 0; row < rows; row++) {
            char *v = cell(r, c, row);
            cells[row * cols + c] = v;
            size_t len = utf8_width(v ? v : "NULL");
            if (len > w[c])
                w[c] = len;
        }
    }
    for (int line = 0; line < 2; line++) {
        for (idx_t c = 0; c < cols; c++) {
            const char *name = duckdb_column_name(r, c);
            if (line == 0)
                printf("%s%s%*s", c ? " | " : "", name, (int)(w[c] - utf8_width(name)), "");
            else
                for (size_t i = 0; i < w[c] + (c ? 3 : 0); i++)
                    putchar(c && i == 1 ? '+' : '-');
        }
        putchar('\n');
    }
    for (idx_t row = 0; row < rows; row++) {
        for (idx_t c = 0; c < cols; c++) {
            char *v = cells[row * cols + c];
            const char *s = v ? v : "NULL";
            int pad = (int)(w[c] - utf8_width(s));
            if (is_numeric(duckdb_column_type(r, c)))
                printf("%s%*s%s", c ? " | " : "", pad, "", s);
            else
                printf("%s%s%*s", c ? " | " : "", s, c + 1 < cols ? pad : 0, "");
            duckdb_free(v);
        }
        putchar('\n');
    }
    printf("(%llu row%s)\n", (unsigned long long)rows, rows == 1 ? "" : "s");
    free(cells);
    free(w);
}

static void print_result(duckdb_result *r, enum mode mode, int *json_first)
{
    idx_t cols = duckdb_column_count(r), rows = duckdb_row_count(r);
    if (cols == 0)
        return;
    if (mode == MODE_TABLE) {
        print_table(r, cols, rows);
        return;
    }
    if (mode == MODE_CSV) {
        for (idx_t c = 0; c < cols; c++) {
            if (c)
                putchar(',');
            put_csv_field(duckdb_column_name(r, c));
        }
        putchar('\n');
    }
    for (idx_t row = 0; row < rows; row++) {
        if (mode == MODE_JSON)
            fputs(*json_first ? "[{" : ",\n{", stdout);
        *json_first = 0;
        for (idx_t c = 0; c < cols; c++) {
            char *v = cell(r, c, row);
            if (mode == MODE_CSV) {
                if (c)
                    putchar(',');
                put_csv_field(v);
            } else {
                if (c)
                    putchar(',');
                put_json_string(duckdb_column_name(r, c));
                putchar(':');
                if (!v)
                    fputs("null", stdout);
                else if (duckdb_column_type(r, c) == 1 || is_numeric(duckdb_column_type(r, c)))
                    fputs(v, stdout);
                else
                    put_json_string(v);
            }
            duckdb_free(v);
        }
        fputs(mode == MODE_JSON ? "}" : "\n", stdout);
    }
}

/* Runs every statement of `sql`; returns 0, or 1 after printing the first error. */
static int run_sql(duckdb_connection con, const char *sql, enum mode mode)
{
    duckdb_extracted_statements stmts = NULL;
    idx_t n = duckdb_extract_statements(con, sql, &stmts);
    int rc = 0, json_first = 1;
    if (n == 0) {
        const char *e = stmts ? duckdb_extract_statements_error(stmts) : NULL;
        if (e) {
            fprintf(stderr, "Error: %s\n", e);
            rc = 1;
        }
    }
    for (idx_t i = 0; i < n && rc == 0; i++) {
        duckdb_prepared_statement st = NULL;
        if (duckdb_prepare_extracted_statement(con, stmts, i, &st) != DuckDBSuccess) {
            fprintf(stderr, "Error: %s\n", duckdb_prepare_error(st));
            rc = 1;
        } else {
            duckdb_result res;
            if (duckdb_execute_prepared(st, &res) != DuckDBSuccess) {
                fprintf(stderr, "Error: %s\n", duckdb_result_error(&res));
                rc = 1;
            } else {
                print_result(&res, mode, &json_first);
            }
            duckdb_destroy_result(&res);
        }
        duckdb_destroy_prepare(&st);
    }
    if (mode == MODE_JSON && !json_first)
        fputs("]\n", stdout);
    duckdb_destroy_extracted(&stmts);
    return rc;
}

static char *read_stdin(void)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + len, 1, cap - len - 1, stdin)) > 0;) {
        len += r;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    if (!buf) {
        fputs("duckdb: out of memory\n", stderr);
        exit(1);
    }
    buf[len] = '\0';
    return buf;
}

static void usage(FILE *f)
{
    fputs("usage: duckdb [-csv|-json|-table] [-readonly] [-c SQL] [DATABASE] [SQL...]\n"
          "  DATABASE   a database file (default: in memory)\n"
          "  -c SQL     run SQL and exit; without it, SQL comes from the arguments\n"
          "             after DATABASE, else from standard input\n"
          "  -csv -json -table   output format (default -table)\n"
          "  -version   print the DuckDB library version\n"
          "example: duckdb -c \"SELECT count(*) FROM 'data.csv'\"\n",
          f);
}

int main(int argc, char **argv)
{
    enum mode mode = MODE_TABLE;
    const char *sql = NULL, *path = NULL;
    int readonly = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i] + (argv[i][1] == '-' ? 2 : 1);
        if (strcmp(a, "csv") == 0)
            mode = MODE_CSV;
        else if (strcmp(a, "json") == 0)
            mode = MODE_JSON;
        else if (strcmp(a, "table") == 0 || strcmp(a, "box") == 0)
            mode = MODE_TABLE;
        else if (strcmp(a, "readonly") == 0)
            readonly = 1;
        else if (strcmp(a, "version") == 0) {
            printf("%s\n", duckdb_library_version());
            return 0;
        } else if (strcmp(a, "c") == 0 && i + 1 < argc)
            sql = argv[++i];
        else if (strcmp(a, "help") == 0 || strcmp(a, "h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (i < argc)
        path = argv[i++];

    duckdb_config cfg = NULL;
    duckdb_database db = NULL;
    duckdb_connection con = NULL;
    char *err = NULL;
    duckdb_create_config(&cfg);
    if (readonly)
        duckdb_set_config(cfg, "access_mode", "READ_ONLY");
    if (duckdb_open_ext(path, &db, cfg, &err) != DuckDBSuccess) {
        fprintf(stderr, "duckdb: cannot open %s: %s\n",
                path ? path : ":memory:", err ? err : "unknown error");
        duckdb_free(err);
        return 1;
    }
    duckdb_destroy_config(&cfg);
    if (duckdb_connect(db, &con) != DuckDBSuccess) {
        fputs("duckdb: cannot connect\n", stderr);
        return 1;
    }

    int rc = 0;
    if (sql) {
        rc = run_sql(con, sql, mode);
    } else if (i < argc) {
        for (; i < argc && rc == 0; i++)
            rc = run_sql(con, argv[i], mode);
    } else {
        char *in = read_stdin();
        rc = run_sql(con, in, mode);
        free(in);
    }
    fflush(stdout);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return rc;
}
