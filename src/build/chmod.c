/* Symbolic and octal --chmod values, parsed into a list of bit commands
 * applied in order (the shape of BSD's setmode, written afresh). */
#include "build/chmod.h"

#include <string.h>
#include <sys/stat.h>

#define STD_BITS   06777 /* set-id bits and rwx for all; the sticky bit needs 't' */
#define UMASK_BITS 022

static int add(struct chmod_spec *s, char op, unsigned char to, mode_t bits)
{
    if (s->n >= CHMOD_MAX_CMDS)
        return -1;
    s->cmds[s->n++] = (struct chmod_cmd){.op = op, .to = to, .bits = bits};
    return 0;
}

/* op applied with who (0: none written) to perm. */
static int add_perm(struct chmod_spec *s, char op, mode_t who, mode_t perm)
{
    mode_t allowed = who ? who : (mode_t)(~UMASK_BITS & 07777);
    if (op == '=') {
        if (add(s, '-', 0, who ? who : STD_BITS) < 0)
            return -1;
        op = '+';
    }
    return add(s, op, 0, allowed & perm);
}

static int add_copy(struct chmod_spec *s, char op, mode_t who, char from)
{
    unsigned char to = 0;
    if (who == 0 || (who & S_IRUSR))
        to |= 4;
    if (who == 0 || (who & S_IRGRP))
        to |= 2;
    if (who == 0 || (who & S_IROTH))
        to |= 1;
    to |= op == '+' ? 8 : op == '-' ? 16 : 8 | 16;
    return add(s, from, to, who ? (mode_t)07777 : (mode_t)(~UMASK_BITS & 07777));
}

static int parse_octal(const char *s, struct chmod_spec *out)
{
    mode_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '7')
            return -1;
        v = v * 8 + (mode_t)(*p - '0');
        if (v > 07777)
            return -1;
    }
    out->absolute = 1;
    out->mode = v;
    return 0;
}

int chmod_parse(const char *s, struct chmod_spec *out)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || *s == '\0')
        return -1;
    if (*s >= '0' && *s <= '9')
        return parse_octal(s, out);
    for (;;) {
        mode_t who = 0;
        for (;; s++) {
            if (*s == 'u')
                who |= S_ISUID | S_IRWXU;
            else if (*s == 'g')
                who |= S_ISGID | S_IRWXG;
            else if (*s == 'o')
                who |= S_IRWXO;
            else if (*s == 'a')
                who |= STD_BITS;
            else
                break;
        }
        if (*s != '+' && *s != '-' && *s != '=')
            return -1;
        while (*s == '+' || *s == '-' || *s == '=') {
            char op = *s++;
            mode_t w = who & ~(mode_t)S_ISVTX, perm = 0, permx = 0;
            int wrote = 0;
            for (;; s++) {
                if (*s == 'r')
                    perm |= 0444;
                else if (*s == 'w')
                    perm |= 0222;
                else if (*s == 'x')
                    perm |= 0111;
                else if (*s == 'X')
                    permx = op == '+' ? 0111 : permx;
                else if (*s == 's') {
                    if (w == 0 || (w & ~(mode_t)S_IRWXO))
                        perm |= S_ISUID | S_ISGID;
                } else if (*s == 't') {
                    if (w == 0 || (w & ~(mode_t)S_IRWXO)) {
                        w |= S_ISVTX;
                        perm |= S_ISVTX;
                    }
                } else if (*s == 'u' || *s == 'g' || *s == 'o') {
                    if (perm && add_perm(out, op, w, perm) < 0)
                        return -1;
                    perm = 0;
                    wrote = 1;
                    if (add_copy(out, op, w, *s) < 0)
                        return -1;
                } else {
                    break;
                }
            }
            if ((perm || (op == '=' && !wrote)) && add_perm(out, op, w, perm) < 0)
                return -1;
            if (permx && add(out, 'X', 0, (w ? w : (mode_t)(~UMASK_BITS & 07777)) & permx) < 0)
                return -1;
        }
        if (*s == '\0')
            return 0;
        if (*s != ',')
            return -1;
        s++;
    }
}

mode_t chmod_apply(const struct chmod_spec *s, mode_t mode)
{
    if (s->absolute)
        return s->mode & 07777;
    mode_t orig = mode & 07777, m = orig;
    for (size_t i = 0; i < s->n; i++) {
        const struct chmod_cmd *c = &s->cmds[i];
        switch (c->op) {
        case '+':
            m |= c->bits;
            break;
        case '-':
            m &= ~c->bits;
            break;
        case 'X':
            if ((orig & 0111) || S_ISDIR(mode))
                m |= c->bits;
            break;
        default: {
            int shift = c->op == 'u' ? 6 : c->op == 'g' ? 3 : 0;
            mode_t v = (m >> shift) & 7;
            for (int k = 0; k < 3; k++) {
                if (!(c->to & (1 << k)))
                    continue;
                int sh = 3 * k; /* bit 0 = o, 1 = g, 2 = u */
                if (c->to & 16)
                    m &= ~(((c->to & 8) ? (mode_t)7 : v) << sh & c->bits);
                if (c->to & 8)
                    m |= (v << sh) & c->bits;
            }
        }
        }
    }
    return m & 07777;
}
