/* Number parsing/formatting that must go through the C library exactly as
 * redis-server 7.0 does (strtod, strtold, snprintf "%.17g"/"%.17Lf"), so the
 * results match byte for byte, including x87 80-bit long double arithmetic. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis util.h: MAX_LONG_DOUBLE_CHARS. */
#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

_Static_assert(sizeof(long double) <= 16, "long double must fit the 16-byte Rust buffer");

/* Redis util.c string2d(). `s` must be NUL-terminated at s[slen]. */
int reddish_string2d(const char *s, size_t slen, double *dp) {
    char *eptr;
    errno = 0;
    double d = strtod(s, &eptr);
    if (slen == 0 || isspace((unsigned char)s[0]) || (size_t)(eptr - s) != slen ||
        (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || fpclassify(d) == FP_ZERO)) ||
        isnan(d))
        return 0;
    *dp = d;
    return 1;
}

/* Redis util.c string2ld(). `out` receives the long double's bytes. */
int reddish_string2ld(const char *s, size_t slen, unsigned char *out) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    long double value;
    char *eptr;

    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';

    errno = 0;
    value = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' || (size_t)(eptr - buf) != slen ||
        (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL || value == 0)) ||
        errno == EINVAL || isnan(value))
        return 0;
    memcpy(out, &value, sizeof(value));
    return 1;
}

/* isnan(x) || isinf(x) on a long double, as HINCRBYFLOAT checks its increment. */
int reddish_ld_is_finite(const unsigned char *a) {
    long double x;
    memcpy(&x, a, sizeof(x));
    return !(isnan(x) || isinf(x));
}

/* Redis ld2string(buf, len, value, LD_STR_HUMAN) of a finite value:
 * "%.17Lf", trailing zeros and '.' stripped, "-0" written "0". Returns the
 * length written to buf (0 when it does not fit, as ld2string does). */
static int ld_human(long double value, char *buf, size_t len) {
    int l = snprintf(buf, len, "%.17Lf", value);
    if (l < 0 || (size_t)l + 1 > len) return 0;
    /* Remove trailing zeroes after the '.', then a trailing '.'. */
    if (strchr(buf, '.') != NULL) {
        char *p = buf + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    return l;
}

/* INCRBYFLOAT core: `value += incr` in long double, then ld_human. Returns
 * -1 if the sum is NaN or infinite, otherwise ld_human's length. */
int reddish_ld_add_human(const unsigned char *a, const unsigned char *b, char *buf, size_t len) {
    long double value, incr;
    memcpy(&value, a, sizeof(value));
    memcpy(&incr, b, sizeof(incr));
    value += incr;
    if (isnan(value) || isinf(value)) return -1;
    return ld_human(value, buf, len);
}

/* Redis addReplyHumanLongDouble() of a double (GEOPOS, WITHCOORD): the
 * double widened to long double, then ld_human. */
int reddish_d_human(double d, char *buf, size_t len) {
    return ld_human((long double)d, buf, len);
}

/* The "%.17g" formatting of Redis 7.0 addReplyDouble(). */
int reddish_format_g17(double d, char *buf, size_t len) {
    return snprintf(buf, len, "%.17g", d);
}
