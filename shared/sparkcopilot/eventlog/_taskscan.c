/*
 * Task lines of a Spark event log, parsed in C.
 *
 * scan(buf) walks a buffer of whole JSON lines. A SparkListenerTaskEnd or
 * SparkListenerTaskStart line written the way Spark writes it is parsed here; every
 * other non-blank line, and every task line this code is not sure about, is handed
 * back as a (start, stop) span for the Python reader (_chunks.py), whose per-line code
 * is the reference this module must agree with.
 *
 * Agreement is by construction: a TaskEnd line is parsed as the same "spliced"
 * document the Python fast path decodes with msgspec (the line minus
 * `,"Accumulables":[...` up to the last `,"Task Metrics":`, with a `}` closing
 * "Task Info"), by a strict JSON parser that accepts a subset of what msgspec accepts
 * and declines the rest: anything of an unexpected type, a duplicate or escaped key,
 * a non-ASCII or escaped string the row needs, a reason other than "Success", a
 * missing "Task Info" or "Task Metrics", an integer outside int64, nesting deeper than
 * MAX_DEPTH, and any JSON error. A TaskStart line is read as the Python fast path reads
 * it: the integer between the first `"Task ID":` and the next comma.
 *
 * The buffer is only read, always within [buf, buf + len); the GIL is released while
 * scanning.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef unsigned char u8;

/* ------------------------------------------------------------------------------------
 * Row layout: model.TASK_COLUMNS order (checked by _chunks.py against COLUMNS).
 */
enum {
    C_STAGE_ID, C_STAGE_ATTEMPT, C_EXECUTOR, C_LOCALITY, C_OUTCOME, C_HAS_METRICS,
    C_TASK_ID, C_INDEX, C_ATTEMPT, C_LAUNCH, C_FINISH, C_GETTING_RESULT, C_SPECULATIVE,
    C_DESER, C_DESER_CPU, C_RUN, C_CPU, C_PEAK_MEMORY, C_RESULT_SIZE, C_GC,
    C_RESULT_SER, C_MEMORY_SPILLED, C_DISK_SPILLED,
    C_SR_REMOTE_BLOCKS, C_SR_LOCAL_BLOCKS, C_SR_FETCH_WAIT, C_SR_REMOTE_BYTES,
    C_SR_REMOTE_TO_DISK, C_SR_LOCAL_BYTES, C_SR_RECORDS,
    C_SW_BYTES, C_SW_TIME, C_SW_RECORDS,
    C_IN_BYTES, C_IN_RECORDS, C_OUT_BYTES, C_OUT_RECORDS,
    N_COLUMNS
};

static const char *const COLUMN_NAMES[N_COLUMNS] = {
    "stage_id", "stage_attempt", "executor", "locality", "outcome", "has_metrics",
    "task_id", "index", "attempt", "launch_ms", "finish_ms", "getting_result_ms",
    "speculative",
    "deserialize_ms", "deserialize_cpu_ns", "run_ms", "cpu_ns", "peak_execution_memory",
    "result_size", "gc_ms", "result_serialize_ms", "memory_spilled", "disk_spilled",
    "shuffle_remote_blocks", "shuffle_local_blocks", "shuffle_fetch_wait_ms",
    "shuffle_remote_bytes", "shuffle_remote_to_disk_bytes", "shuffle_local_bytes",
    "shuffle_records_read",
    "shuffle_write_bytes", "shuffle_write_time_ns", "shuffle_write_records",
    "input_bytes", "input_records", "output_bytes", "output_records",
};

/* model.TaskLocality: a name's code is its index; any other string is UNKNOWN. */
static const char *const LOCALITY_NAMES[] = {
    "PROCESS_LOCAL", "NODE_LOCAL", "NO_PREF", "RACK_LOCAL", "ANY", "UNKNOWN",
};
#define N_LOCALITIES ((int)(sizeof(LOCALITY_NAMES) / sizeof(LOCALITY_NAMES[0])))
#define LOCALITY_UNKNOWN (N_LOCALITIES - 1)

/* Nesting allowed in a value skipped over (msgspec allows far more: deeper is declined). */
#define MAX_DEPTH 64

/* ------------------------------------------------------------------------------------
 * Byte classes.
 */
enum { S_PLAIN = 0, S_QUOTE, S_BACKSLASH, S_CONTROL, S_HIGH };
static u8 STRING_CLASS[256]; /* inside a JSON string */

static void init_tables(void) {
    for (int i = 0; i < 256; i++) {
        STRING_CLASS[i] = i < 0x20 ? S_CONTROL : i >= 0x80 ? S_HIGH : S_PLAIN;
    }
    STRING_CLASS['"'] = S_QUOTE;
    STRING_CLASS['\\'] = S_BACKSLASH;
}

static inline int is_digit(u8 ch) { return ch >= '0' && ch <= '9'; }

/* The first byte in [p, end) that is not S_PLAIN (a quote, a backslash, a control
 * character or a byte >= 0x80), or end: eight bytes at a time where that is possible. */
static inline const u8 *plain_run(const u8 *p, const u8 *end) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
        /* The lowest flagged byte is exact (borrows only flag bytes above a match). */
        uint64_t m = ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
                     ((w - ones * 0x20) & ~w) | w;
        m &= highs;
        if (m) return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    while (p < end && STRING_CLASS[*p] == S_PLAIN) p++;
    return p;
}

/* ------------------------------------------------------------------------------------
 * A cursor over one JSON document: every read is checked against end.
 */
typedef struct {
    const u8 *p;
    const u8 *end;
} Cur;

static inline int is_ws(u8 ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

static inline void skip_ws(Cur *c) {
    while (c->p < c->end && *c->p <= ' ' && is_ws(*c->p)) c->p++;
}

/* Is the next byte ch (after whitespace)? Consumes it when it is. */
static inline int eat(Cur *c, u8 ch) {
    if (c->p >= c->end || *c->p != ch) {
        skip_ws(c);
        if (c->p >= c->end || *c->p != ch) return 0;
    }
    c->p++;
    skip_ws(c);
    return 1;
}

static int hex4(const u8 *p, const u8 *end) {
    if (end - p < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        u8 ch = p[i];
        int d;
        if (ch >= '0' && ch <= '9') d = ch - '0';
        else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

/* p at a backslash: past the escape, or NULL when invalid (surrogates must pair). */
static const u8 *skip_escape(const u8 *p, const u8 *end) {
    if (end - p < 2) return NULL;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u': {
        int u = hex4(p + 2, end);
        if (u < 0) return NULL;
        p += 6;
        if (u >= 0xDC00 && u <= 0xDFFF) return NULL;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return NULL;
            int low = hex4(p + 2, end);
            if (low < 0xDC00 || low > 0xDFFF) return NULL;
            p += 6;
        }
        return p;
    }
    default:
        return NULL;
    }
}

static inline int cont(u8 ch) { return ch >= 0x80 && ch <= 0xBF; }

/* p at a byte >= 0x80: past one well-formed UTF-8 sequence, or NULL. */
static const u8 *skip_utf8(const u8 *p, const u8 *end) {
    ptrdiff_t avail = end - p;
    u8 b = p[0];
    if (b >= 0xC2 && b <= 0xDF) {
        if (avail < 2 || !cont(p[1])) return NULL;
        return p + 2;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        if (avail < 3 || !cont(p[1]) || !cont(p[2])) return NULL;
        if (b == 0xE0 && p[1] < 0xA0) return NULL; /* overlong */
        if (b == 0xED && p[1] > 0x9F) return NULL; /* surrogate */
        return p + 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (avail < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return NULL;
        if (b == 0xF0 && p[1] < 0x90) return NULL; /* overlong */
        if (b == 0xF4 && p[1] > 0x8F) return NULL; /* > U+10FFFF */
        return p + 4;
    }
    return NULL;
}

/* c->p at '"': past the string, validating escapes and UTF-8. */
static int skip_string(Cur *c) {
    const u8 *p = c->p + 1, *end = c->end;
    for (;;) {
        p = plain_run(p, end);
        if (p >= end) return 0;
        switch (STRING_CLASS[*p]) {
        case S_QUOTE:
            c->p = p + 1;
            return 1;
        case S_BACKSLASH:
            p = skip_escape(p, end);
            break;
        case S_HIGH:
            p = skip_utf8(p, end);
            break;
        default: /* a raw control character */
            return 0;
        }
        if (p == NULL) return 0;
    }
}

/* c->p at '"': a string of printable ASCII without escapes, as a span. */
static int plain_string(Cur *c, const u8 **s, size_t *n) {
    if (c->p >= c->end || *c->p != '"') return 0;
    const u8 *p = plain_run(c->p + 1, c->end);
    if (p >= c->end || *p != '"') return 0;
    *s = c->p + 1;
    *n = (size_t)(p - *s);
    c->p = p + 1;
    return 1;
}

static int skip_number(Cur *c) {
    const u8 *p = c->p, *end = c->end;
    if (p < end && *p == '-') p++;
    if (p >= end || !is_digit(*p)) return 0;
    if (*p == '0') p++;
    else while (p < end && is_digit(*p)) p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) return 0;
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !is_digit(*p)) return 0;
        while (p < end && is_digit(*p)) p++;
    }
    c->p = p;
    return 1;
}

static int literal(Cur *c, const char *word, size_t n) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return 0;
    c->p += n;
    return 1;
}

static int skip_value(Cur *c, int depth);

/* c->p at '{' or '[' */
static int skip_container(Cur *c, int depth) {
    if (depth > MAX_DEPTH) return 0;
    u8 close = *c->p == '{' ? '}' : ']';
    c->p++;
    if (eat(c, close)) return 1;
    for (;;) {
        if (close == '}') {
            if (c->p >= c->end || *c->p != '"' || !skip_string(c) || !eat(c, ':')) return 0;
        }
        if (!skip_value(c, depth)) return 0;
        skip_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == close) {
            c->p++;
            return 1;
        }
        if (*c->p != ',') return 0;
        c->p++;
        skip_ws(c);
    }
}

/* Past one JSON value at c->p (no leading whitespace), validating it. */
static int skip_value(Cur *c, int depth) {
    if (c->p >= c->end) return 0;
    switch (*c->p) {
    case '"': return skip_string(c);
    case '{': case '[': return skip_container(c, depth + 1);
    case 't': return literal(c, "true", 4);
    case 'f': return literal(c, "false", 5);
    case 'n': return literal(c, "null", 4);
    default: return skip_number(c);
    }
}

/* A JSON integer that fits int64 (no fraction, no exponent). */
static int parse_int(Cur *c, int64_t *out) {
    const u8 *p = c->p, *end = c->end;
    int neg = p < end && *p == '-';
    p += neg;
    const u8 *digits = p;
    while (p < end && is_digit(*p)) p++;
    size_t n = (size_t)(p - digits);
    /* 19 digits fit uint64; a leading zero must stand alone; a fraction is a float. */
    if (n == 0 || n > 19 || (digits[0] == '0' && n > 1)) return 0;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return 0;
    uint64_t v = 0;
    for (const u8 *d = digits; d < p; d++) v = v * 10 + (uint64_t)(*d - '0');
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return 0;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v;
    }
    c->p = p;
    return 1;
}

/* ------------------------------------------------------------------------------------
 * The typed shapes of _events.py that a row needs. Fields are listed in the order
 * JsonProtocol writes them, with a few keys Spark writes that the shapes skip (F_SKIP):
 * each key is first compared with the one expected next, which is almost always it.
 */
enum {
    F_SKIP,       /* any value, not needed (not a field of the shape) */
    F_INT,        /* int -> row[col] */
    F_BOOL,       /* bool -> row[col] */
    F_EXECUTOR,   /* str, kept */
    F_HOST,       /* str, kept */
    F_LOCALITY,   /* str, kept */
    F_REASON,     /* str, must be "Success" */
    F_OPT_STR,    /* str | None, not needed */
    F_OBJECT,     /* a nested struct (not None) */
};

struct Schema;
typedef struct {
    const char *name;
    u8 len;
    u8 kind;
    int8_t col;
    u8 required;
    const struct Schema *sub;
} Field;

typedef struct Schema {
    const Field *fields;
    int n;
} Schema;

#define FIELD(name, kind, col, sub) {name, (u8)(sizeof(name) - 1), kind, col, 0, sub}
#define REQUIRED(name, kind, col, sub) {name, (u8)(sizeof(name) - 1), kind, col, 1, sub}
#define SKIP(name) FIELD(name, F_SKIP, -1, NULL)
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const Field SHUFFLE_READ_FIELDS[] = {
    FIELD("Remote Blocks Fetched", F_INT, C_SR_REMOTE_BLOCKS, NULL),
    FIELD("Local Blocks Fetched", F_INT, C_SR_LOCAL_BLOCKS, NULL),
    FIELD("Fetch Wait Time", F_INT, C_SR_FETCH_WAIT, NULL),
    FIELD("Remote Bytes Read", F_INT, C_SR_REMOTE_BYTES, NULL),
    FIELD("Remote Bytes Read To Disk", F_INT, C_SR_REMOTE_TO_DISK, NULL),
    FIELD("Local Bytes Read", F_INT, C_SR_LOCAL_BYTES, NULL),
    FIELD("Total Records Read", F_INT, C_SR_RECORDS, NULL),
    SKIP("Remote Requests Duration"),
    SKIP("Push Based Shuffle"),
};
static const Schema SHUFFLE_READ = {SHUFFLE_READ_FIELDS, N_OF(SHUFFLE_READ_FIELDS)};

static const Field SHUFFLE_WRITE_FIELDS[] = {
    FIELD("Shuffle Bytes Written", F_INT, C_SW_BYTES, NULL),
    FIELD("Shuffle Write Time", F_INT, C_SW_TIME, NULL),
    FIELD("Shuffle Records Written", F_INT, C_SW_RECORDS, NULL),
};
static const Schema SHUFFLE_WRITE = {SHUFFLE_WRITE_FIELDS, N_OF(SHUFFLE_WRITE_FIELDS)};

static const Field INPUT_FIELDS[] = {
    FIELD("Bytes Read", F_INT, C_IN_BYTES, NULL),
    FIELD("Records Read", F_INT, C_IN_RECORDS, NULL),
};
static const Schema INPUT = {INPUT_FIELDS, N_OF(INPUT_FIELDS)};

static const Field OUTPUT_FIELDS[] = {
    FIELD("Bytes Written", F_INT, C_OUT_BYTES, NULL),
    FIELD("Records Written", F_INT, C_OUT_RECORDS, NULL),
};
static const Schema OUTPUT = {OUTPUT_FIELDS, N_OF(OUTPUT_FIELDS)};

static const Field METRICS_FIELDS[] = {
    FIELD("Executor Deserialize Time", F_INT, C_DESER, NULL),
    FIELD("Executor Deserialize CPU Time", F_INT, C_DESER_CPU, NULL),
    FIELD("Executor Run Time", F_INT, C_RUN, NULL),
    FIELD("Executor CPU Time", F_INT, C_CPU, NULL),
    FIELD("Peak Execution Memory", F_INT, C_PEAK_MEMORY, NULL),
    SKIP("Peak On Heap Execution Memory"),
    SKIP("Peak Off Heap Execution Memory"),
    FIELD("Result Size", F_INT, C_RESULT_SIZE, NULL),
    FIELD("JVM GC Time", F_INT, C_GC, NULL),
    FIELD("Result Serialization Time", F_INT, C_RESULT_SER, NULL),
    FIELD("Memory Bytes Spilled", F_INT, C_MEMORY_SPILLED, NULL),
    FIELD("Disk Bytes Spilled", F_INT, C_DISK_SPILLED, NULL),
    FIELD("Shuffle Read Metrics", F_OBJECT, -1, &SHUFFLE_READ),
    FIELD("Shuffle Write Metrics", F_OBJECT, -1, &SHUFFLE_WRITE),
    FIELD("Input Metrics", F_OBJECT, -1, &INPUT),
    FIELD("Output Metrics", F_OBJECT, -1, &OUTPUT),
    SKIP("Updated Blocks"),
};
static const Schema METRICS = {METRICS_FIELDS, N_OF(METRICS_FIELDS)};

static const Field INFO_FIELDS[] = {
    REQUIRED("Task ID", F_INT, C_TASK_ID, NULL),
    FIELD("Index", F_INT, C_INDEX, NULL),
    FIELD("Attempt", F_INT, C_ATTEMPT, NULL),
    SKIP("Partition ID"),
    FIELD("Launch Time", F_INT, C_LAUNCH, NULL),
    FIELD("Executor ID", F_EXECUTOR, -1, NULL),
    FIELD("Host", F_HOST, -1, NULL),
    FIELD("Locality", F_LOCALITY, -1, NULL),
    FIELD("Speculative", F_BOOL, C_SPECULATIVE, NULL),
    FIELD("Getting Result Time", F_INT, C_GETTING_RESULT, NULL),
    FIELD("Finish Time", F_INT, C_FINISH, NULL),
    SKIP("Failed"),
    SKIP("Killed"),
};
static const Schema INFO = {INFO_FIELDS, N_OF(INFO_FIELDS)};

static const Field REASON_FIELDS[] = {
    FIELD("Reason", F_REASON, -1, NULL),
    FIELD("Class Name", F_OPT_STR, -1, NULL),
    FIELD("Description", F_OPT_STR, -1, NULL),
    FIELD("Kill Reason", F_OPT_STR, -1, NULL),
    FIELD("Loss Reason", F_OPT_STR, -1, NULL),
    FIELD("Message", F_OPT_STR, -1, NULL),
};
static const Schema REASON = {REASON_FIELDS, N_OF(REASON_FIELDS)};

/* Stage ID is required by the shape; Task Info and Task Metrics by this module. */
static const Field TASK_END_FIELDS[] = {
    SKIP("Event"),
    REQUIRED("Stage ID", F_INT, C_STAGE_ID, NULL),
    FIELD("Stage Attempt ID", F_INT, C_STAGE_ATTEMPT, NULL),
    SKIP("Task Type"),
    FIELD("Task End Reason", F_OBJECT, -1, &REASON),
    REQUIRED("Task Info", F_OBJECT, -1, &INFO),
    REQUIRED("Task Metrics", F_OBJECT, -1, &METRICS),
};
static const Schema TASK_END = {TASK_END_FIELDS, N_OF(TASK_END_FIELDS)};

typedef struct {
    int64_t row[N_COLUMNS];
    const u8 *executor;
    size_t executor_len;
    const u8 *host;
    size_t host_len;
    const u8 *locality;
    size_t locality_len;
} Task;

static int parse_struct(Cur *c, const Schema *s, Task *t, int depth);

static int parse_field(Cur *c, const Field *f, Task *t, int depth) {
    const u8 *s;
    size_t n;
    switch (f->kind) {
    case F_SKIP:
        return skip_value(c, depth);
    case F_INT:
        return parse_int(c, &t->row[f->col]);
    case F_BOOL:
        if (literal(c, "true", 4)) t->row[f->col] = 1;
        else if (literal(c, "false", 5)) t->row[f->col] = 0;
        else return 0;
        return 1;
    case F_EXECUTOR:
        return plain_string(c, &t->executor, &t->executor_len);
    case F_HOST:
        return plain_string(c, &t->host, &t->host_len);
    case F_LOCALITY:
        return plain_string(c, &t->locality, &t->locality_len);
    case F_REASON:
        return plain_string(c, &s, &n) && n == 7 && memcmp(s, "Success", 7) == 0;
    case F_OPT_STR:
        if (c->p < c->end && *c->p == '"') return skip_string(c);
        return literal(c, "null", 4);
    case F_OBJECT:
        return parse_struct(c, f->sub, t, depth + 1);
    default:
        return 0;
    }
}

/* memcmp(a, b, n) == 0, inline: keys are short. */
static inline int same_bytes(const u8 *a, const char *b, size_t n) {
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
    }
    for (; n; a++, b++, n--) {
        if (*a != (u8)*b) return 0;
    }
    return 1;
}

/* The field a key names, or NULL; c->p at the key's opening quote, left past its
 * closing one. hint: the field expected here. */
static int read_key(Cur *c, const Schema *s, int hint, const Field **field) {
    const u8 *key = c->p + 1;
    if (hint < s->n) {
        /* A field name is printable ASCII without quotes or backslashes: when the key's
         * bytes are the name's and a quote follows, the key is that name. */
        const Field *f = &s->fields[hint];
        if (c->end - key > f->len && key[f->len] == '"' && same_bytes(key, f->name, f->len)) {
            c->p = key + f->len + 1;
            *field = f;
            return 1;
        }
    }
    /* Otherwise printable ASCII without escapes only (an escaped key could name a field). */
    const u8 *q = plain_run(key, c->end);
    if (q >= c->end || *q != '"') return 0;
    size_t len = (size_t)(q - key);
    c->p = q + 1;
    *field = NULL;
    for (int i = 0; i < s->n; i++) {
        if (s->fields[i].len == len && memcmp(s->fields[i].name, key, len) == 0) {
            *field = &s->fields[i];
            break;
        }
    }
    return 1;
}

/* One of the shapes, at c->p (no leading whitespace). */
static int parse_struct(Cur *c, const Schema *s, Task *t, int depth) {
    if (c->p >= c->end || *c->p != '{') return 0;
    c->p++;
    uint32_t seen = 0;
    int hint = 0;
    if (!eat(c, '}')) {
        for (;;) {
            const Field *f;
            if (c->p >= c->end || *c->p != '"' || !read_key(c, s, hint, &f) || !eat(c, ':')) {
                return 0;
            }
            if (f == NULL) {
                if (!skip_value(c, depth)) return 0;
            } else {
                int i = (int)(f - s->fields);
                hint = i + 1;
                if (f->kind != F_SKIP) {
                    if (seen & (1u << i)) return 0; /* msgspec keeps the last: no bet */
                    seen |= 1u << i;
                }
                if (!parse_field(c, f, t, depth)) return 0;
            }
            skip_ws(c);
            if (c->p >= c->end) return 0;
            if (*c->p == '}') {
                c->p++;
                break;
            }
            if (*c->p != ',') return 0;
            c->p++;
            skip_ws(c);
        }
    }
    for (int i = 0; i < s->n; i++) {
        if (s->fields[i].required && !(seen & (1u << i))) return 0;
    }
    return 1;
}

/* A TaskEnd document (the spliced line), whole: 1 when t holds its row. */
static int parse_task_end(const u8 *doc, size_t n, Task *t) {
    Cur c = {doc, doc + n};
    memset(t->row, 0, sizeof(t->row));
    t->executor = t->host = t->locality = doc;
    t->executor_len = t->host_len = t->locality_len = 0;
    if (!parse_struct(&c, &TASK_END, t, 1)) return 0;
    skip_ws(&c);
    return c.p == c.end;
}

static int locality_code(const u8 *s, size_t n) {
    for (int i = 0; i < N_LOCALITIES; i++) {
        if (strlen(LOCALITY_NAMES[i]) == n && memcmp(LOCALITY_NAMES[i], s, n) == 0) return i;
    }
    return LOCALITY_UNKNOWN;
}

/* ------------------------------------------------------------------------------------
 * Growable outputs and the executor table (all malloc'd: filled without the GIL).
 */
typedef struct {
    int64_t *v;
    size_t n, cap;
} Vec;

static int vec_reserve(Vec *a, size_t extra) {
    if (a->cap - a->n >= extra) return 1;
    size_t cap = a->cap ? a->cap : 4096;
    while (cap - a->n < extra) {
        if (cap > PY_SSIZE_T_MAX / 2 / sizeof(int64_t)) return 0;
        cap *= 2;
    }
    int64_t *v = PyMem_RawRealloc(a->v, cap * sizeof(int64_t));
    if (v == NULL) return 0;
    a->v = v;
    a->cap = cap;
    return 1;
}

static inline int vec_push(Vec *a, int64_t x) {
    if (a->n == a->cap && !vec_reserve(a, 1)) return 0;
    a->v[a->n++] = x;
    return 1;
}

typedef struct {
    char *id;
    size_t id_len;
    char *host;
    size_t host_len;
} Executor;

typedef struct {
    Executor *items;
    size_t n, cap;
    int32_t *slots; /* open addressing: index into items, or -1 */
    size_t n_slots; /* a power of two, > 2 * n */
} Executors;

static uint64_t hash_bytes(const u8 *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int executors_grow(Executors *e) {
    size_t n_slots = e->n_slots ? e->n_slots * 2 : 64;
    if (n_slots > (size_t)INT32_MAX) return 0;
    int32_t *slots = PyMem_RawMalloc(n_slots * sizeof(int32_t));
    if (slots == NULL) return 0;
    for (size_t i = 0; i < n_slots; i++) slots[i] = -1;
    for (size_t k = 0; k < e->n; k++) {
        size_t i = hash_bytes((const u8 *)e->items[k].id, e->items[k].id_len) & (n_slots - 1);
        while (slots[i] >= 0) i = (i + 1) & (n_slots - 1);
        slots[i] = (int32_t)k;
    }
    PyMem_RawFree(e->slots);
    e->slots = slots;
    e->n_slots = n_slots;
    return 1;
}

static char *copy_bytes(const u8 *s, size_t n) {
    char *out = PyMem_RawMalloc(n ? n : 1);
    if (out != NULL && n) memcpy(out, s, n);
    return out;
}

/* The code of the task's executor, added (with its host) when new; -1 on no memory. */
static int64_t executor_code(Executors *e, const Task *t) {
    if (2 * (e->n + 1) > e->n_slots && !executors_grow(e)) return -1;
    size_t mask = e->n_slots - 1;
    size_t i = hash_bytes(t->executor, t->executor_len) & mask;
    for (; e->slots[i] >= 0; i = (i + 1) & mask) {
        const Executor *x = &e->items[e->slots[i]];
        if (x->id_len == t->executor_len && memcmp(x->id, t->executor, x->id_len) == 0) {
            return e->slots[i];
        }
    }
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        Executor *items = PyMem_RawRealloc(e->items, cap * sizeof(Executor));
        if (items == NULL) return -1;
        e->items = items;
        e->cap = cap;
    }
    Executor *x = &e->items[e->n];
    x->id = copy_bytes(t->executor, t->executor_len);
    x->host = copy_bytes(t->host, t->host_len);
    if (x->id == NULL || x->host == NULL) {
        PyMem_RawFree(x->id);
        PyMem_RawFree(x->host);
        return -1;
    }
    x->id_len = t->executor_len;
    x->host_len = t->host_len;
    e->slots[i] = (int32_t)e->n;
    return (int64_t)e->n++;
}

static void executors_free(Executors *e) {
    for (size_t k = 0; k < e->n; k++) {
        PyMem_RawFree(e->items[k].id);
        PyMem_RawFree(e->items[k].host);
    }
    PyMem_RawFree(e->items);
    PyMem_RawFree(e->slots);
}

/* ------------------------------------------------------------------------------------
 * The scan.
 */
static const char TASK_END_HEAD[] = "{\"Event\":\"SparkListenerTaskEnd\",";
static const char TASK_START_HEAD[] = "{\"Event\":\"SparkListenerTaskStart\",";
static const char ACCUMULABLES[] = ",\"Accumulables\":[";
static const char TASK_METRICS[] = ",\"Task Metrics\":";
static const char TASK_ID[] = "\"Task ID\":";
#define LEN(s) (sizeof(s) - 1)

/* The first occurrence of needle wholly inside [lo, hi), as bytes.find: candidates are
 * found by memchr on needle[k], a byte that is rare where the needle is looked for. */
static const u8 *find(const u8 *lo, const u8 *hi, const char *needle, size_t n, size_t k) {
    if ((size_t)(hi - lo) < n) return NULL;
    const u8 *p = lo + k, *last = hi - n + k; /* needle[k] of the last possible match */
    while (p <= last) {
        p = memchr(p, (u8)needle[k], (size_t)(last - p) + 1);
        if (p == NULL) return NULL;
        if (memcmp(p - k, needle, n) == 0) return p - k;
        p++;
    }
    return NULL;
}

/* The last occurrence of needle wholly inside [lo, hi), as bytes.rfind. */
static const u8 *rfind(const u8 *lo, const u8 *hi, const char *needle, size_t n, size_t k) {
    if ((size_t)(hi - lo) < n) return NULL;
    const u8 *first = lo + k, *p = hi - n + k; /* needle[k] of the last possible match */
    while (p >= first) {
#ifdef __GLIBC__
        p = memrchr(first, (u8)needle[k], (size_t)(p - first) + 1);
        if (p == NULL) return NULL;
#else
        while (p > first && *p != (u8)needle[k]) p--;
        if (*p != (u8)needle[k]) return NULL;
#endif
        if (memcmp(p - k, needle, n) == 0) return p - k;
        if (p == first) return NULL;
        p--;
    }
    return NULL;
}

typedef struct {
    Vec rows, row_offsets, started, rest;
    Executors executors;
    u8 *scratch;
    size_t scratch_cap;
    int no_memory;
} Scan;

/* A TaskEnd line: 1 when its row was added, 0 when declined. */
static int task_end_line(Scan *sc, const u8 *line, const u8 *stop, const u8 *buf) {
    Task t;
    int ok;
    const u8 *cut = find(line, stop, ACCUMULABLES, LEN(ACCUMULABLES), 2 /* A */);
    const u8 *resume = cut ? rfind(cut, stop, TASK_METRICS, LEN(TASK_METRICS), 7 /* M */) : NULL;
    if (resume != NULL) {
        /* Python's fast path decodes line[:cut] + "}" + line[resume:]: so does this. */
        size_t head = (size_t)(cut - line), tail = (size_t)(stop - resume);
        size_t n = head + 1 + tail;
        if (n > sc->scratch_cap) {
            u8 *grown = PyMem_RawRealloc(sc->scratch, n);
            if (grown == NULL) {
                sc->no_memory = 1;
                return 0;
            }
            sc->scratch = grown;
            sc->scratch_cap = n;
        }
        memcpy(sc->scratch, line, head);
        sc->scratch[head] = '}';
        memcpy(sc->scratch + head + 1, resume, tail);
        ok = parse_task_end(sc->scratch, n, &t);
    } else {
        ok = parse_task_end(line, (size_t)(stop - line), &t);
    }
    if (!ok) return 0;
    /* Executor and host are copied into the table before the scratch is reused. */
    int64_t code = executor_code(&sc->executors, &t);
    if (code < 0 || !vec_reserve(&sc->rows, N_COLUMNS) || !vec_push(&sc->row_offsets, line - buf)) {
        sc->no_memory = 1;
        return 0;
    }
    t.row[C_EXECUTOR] = code;
    t.row[C_LOCALITY] = locality_code(t.locality, t.locality_len);
    t.row[C_OUTCOME] = 0;
    t.row[C_HAS_METRICS] = 1;
    memcpy(sc->rows.v + sc->rows.n, t.row, sizeof(t.row));
    sc->rows.n += N_COLUMNS;
    return 1;
}

/* A TaskStart line, read as Python's fast path reads it: int(line[at + 10 : comma]). */
static int task_start_line(Scan *sc, const u8 *line, const u8 *stop) {
    const u8 *at = find(line, stop, TASK_ID, LEN(TASK_ID), 1 /* T */);
    if (at == NULL) return 0;
    const u8 *p = at + LEN(TASK_ID);
    const u8 *comma = memchr(p, ',', (size_t)(stop - p));
    if (comma == NULL) return 0;
    /* Only -?[0-9]+ within int64: Python's int() agrees on those; the rest is Python's. */
    int neg = p < comma && *p == '-';
    if (neg) p++;
    if (p == comma) return 0;
    uint64_t v = 0;
    for (; p < comma; p++) {
        if (!is_digit(*p)) return 0;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    int64_t id;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return 0;
        id = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return 0;
        id = (int64_t)v;
    }
    if (!vec_push(&sc->started, id)) {
        sc->no_memory = 1;
        return 0;
    }
    return 1;
}

static int is_blank(const u8 *p, const u8 *stop) {
    /* What bytes.strip() removes (a line never holds '\n'). */
    for (; p < stop; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\x0b' && *p != '\x0c') return 0;
    }
    return 1;
}

static void scan_buffer(Scan *sc, const u8 *buf, size_t size) {
    const u8 *end = buf + size, *line = buf;
    while (line < end && !sc->no_memory) {
        const u8 *stop = memchr(line, '\n', (size_t)(end - line));
        if (stop == NULL) stop = end;
        size_t n = (size_t)(stop - line);
        int done;
        if (n > LEN(TASK_END_HEAD) && memcmp(line, TASK_END_HEAD, LEN(TASK_END_HEAD)) == 0) {
            done = task_end_line(sc, line, stop, buf);
        } else if (n > LEN(TASK_START_HEAD) &&
                   memcmp(line, TASK_START_HEAD, LEN(TASK_START_HEAD)) == 0) {
            done = task_start_line(sc, line, stop);
        } else {
            done = is_blank(line, stop);
        }
        if (!done && !sc->no_memory &&
            !(vec_push(&sc->rest, line - buf) && vec_push(&sc->rest, stop - buf))) {
            sc->no_memory = 1;
        }
        line = stop + 1;
    }
}

static PyObject *vec_bytes(const Vec *a) {
    return PyBytes_FromStringAndSize((const char *)a->v, (Py_ssize_t)(a->n * sizeof(int64_t)));
}

static PyObject *scan(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Scan sc;
    memset(&sc, 0, sizeof(sc));
    Py_BEGIN_ALLOW_THREADS
    scan_buffer(&sc, (const u8 *)view.buf, (size_t)view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);

    PyObject *result = NULL, *ids = NULL, *hosts = NULL;
    PyObject *rows = NULL, *offsets = NULL, *started = NULL, *rest = NULL;
    if (sc.no_memory) {
        PyErr_NoMemory();
        goto done;
    }
    ids = PyList_New((Py_ssize_t)sc.executors.n);
    hosts = PyList_New((Py_ssize_t)sc.executors.n);
    if (ids == NULL || hosts == NULL) goto done;
    for (size_t k = 0; k < sc.executors.n; k++) {
        const Executor *x = &sc.executors.items[k];
        PyObject *id = PyUnicode_DecodeASCII(x->id, (Py_ssize_t)x->id_len, "strict");
        if (id == NULL) goto done;
        PyList_SET_ITEM(ids, (Py_ssize_t)k, id);
        PyObject *host = PyUnicode_DecodeASCII(x->host, (Py_ssize_t)x->host_len, "strict");
        if (host == NULL) goto done;
        PyList_SET_ITEM(hosts, (Py_ssize_t)k, host);
    }
    rows = PyByteArray_FromStringAndSize(
        (const char *)sc.rows.v, (Py_ssize_t)(sc.rows.n * sizeof(int64_t)));
    offsets = vec_bytes(&sc.row_offsets);
    started = vec_bytes(&sc.started);
    rest = vec_bytes(&sc.rest);
    if (rows != NULL && offsets != NULL && started != NULL && rest != NULL) {
        result = PyTuple_Pack(6, rows, offsets, ids, hosts, started, rest);
    }
done:
    Py_XDECREF(ids);
    Py_XDECREF(hosts);
    Py_XDECREF(rows);
    Py_XDECREF(offsets);
    Py_XDECREF(started);
    Py_XDECREF(rest);
    PyMem_RawFree(sc.rows.v);
    PyMem_RawFree(sc.row_offsets.v);
    PyMem_RawFree(sc.started.v);
    PyMem_RawFree(sc.rest.v);
    PyMem_RawFree(sc.scratch);
    executors_free(&sc.executors);
    return result;
}

PyDoc_STRVAR(scan_doc,
"scan(buf, /)\n--\n\n"
"Parse the task lines of a buffer of whole event-log lines.\n\n"
"Returns (rows, row_offsets, executor_ids, executor_hosts, started, rest):\n"
"rows: bytearray of native int64, len(COLUMNS) per TaskEnd line parsed here;\n"
"row_offsets: bytes of native int64, each such line's start in buf;\n"
"executor_ids: the rows' executor codes index it (first seen first);\n"
"executor_hosts: the Host of each executor's first row;\n"
"started: bytes of native int64, the Task ID of each TaskStart line parsed here;\n"
"rest: bytes of native int64 (start, stop) pairs: every other non-blank line, in order.");

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, scan_doc},
    {NULL, NULL, 0, NULL},
};

static PyObject *names_tuple(const char *const *names, int n) {
    PyObject *t = PyTuple_New(n);
    if (t == NULL) return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static int exec_module(PyObject *module) {
    init_tables();
    PyObject *columns = names_tuple(COLUMN_NAMES, N_COLUMNS);
    if (columns == NULL || PyModule_AddObject(module, "COLUMNS", columns) < 0) {
        Py_XDECREF(columns);
        return -1;
    }
    PyObject *localities = names_tuple(LOCALITY_NAMES, N_LOCALITIES);
    if (localities == NULL || PyModule_AddObject(module, "LOCALITIES", localities) < 0) {
        Py_XDECREF(localities);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sparkcopilot.eventlog._taskscan",
    .m_doc = "Task lines of a Spark event log, parsed in C (see _chunks.parse_lines).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__taskscan(void) { return PyModuleDef_Init(&module_def); }
