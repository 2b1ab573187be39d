/* json.c: the parser and printer of weir_json.h. Recursive descent bounded by
 * WEIR_JSON_MAX_DEPTH; every read is checked against the end of the input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir_json.h"

#define NONE ((size_t)-1)

struct weir_json_node {
  weir_json_type_t type;
  bool boolean;
  bool is_integer; /* a number written without fraction or exponent that fits 64 bits */
  double number;
  size_t text, text_len;   /* string text or number literal, in `strings` */
  size_t key, key_len;     /* member name, in `strings` (objects' members only) */
  size_t count;            /* items or members */
  size_t first, last;      /* first and last child */
  size_t next;             /* next sibling */
};

typedef struct parser {
  weir_json_t *doc;
  const char *p, *end;
  const char *what;
  bool failed;
} parser_t;

static void fail(parser_t *ps, const char *what) {
  if (ps->failed) return;
  ps->failed = true;
  ps->what = what;
}

static size_t new_node(parser_t *ps, weir_json_type_t type) {
  weir_json_t *doc = ps->doc;
  if (doc->len == doc->cap) {
    size_t cap = doc->cap ? doc->cap * 2 : 16;
    struct weir_json_node *nodes = realloc(doc->nodes, cap * sizeof *nodes);
    if (!nodes) abort();
    doc->nodes = nodes;
    doc->cap = cap;
  }
  struct weir_json_node *node = &doc->nodes[doc->len];
  memset(node, 0, sizeof *node);
  node->type = type;
  node->first = node->last = node->next = NONE;
  return doc->len++;
}

static void skip_ws(parser_t *ps) {
  while (ps->p < ps->end &&
         (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
    ps->p++;
  }
}

static int hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return -1;
  }
  return v;
}

static void put_utf8(weir_buf_t *out, uint32_t cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) b[0] = (char)cp, n = 1;
  else if (cp < 0x800) b[0] = (char)(0xC0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
  else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
  } else {
    b[0] = (char)(0xF0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
  }
  weir_buf_append(out, b, n);
}

/* Parses a string at ps->p (on the opening quote) into `strings`; sets *at and *len. */
static void parse_string(parser_t *ps, size_t *at, size_t *len) {
  weir_buf_t *s = &ps->doc->strings;
  ps->p++; /* the quote */
  size_t start = s->len;
  const char *run = ps->p;
  for (;;) {
    if (ps->p >= ps->end) return fail(ps, "unterminated string");
    unsigned char c = (unsigned char)*ps->p;
    if (c == '"' || c == '\\') {
      weir_buf_append(s, run, (size_t)(ps->p - run));
      if (c == '"') {
        ps->p++;
        break;
      }
      if (ps->end - ps->p < 2) return fail(ps, "unterminated escape");
      char e = ps->p[1];
      ps->p += 2;
      switch (e) {
        case '"': weir_buf_append_char(s, '"'); break;
        case '\\': weir_buf_append_char(s, '\\'); break;
        case '/': weir_buf_append_char(s, '/'); break;
        case 'b': weir_buf_append_char(s, '\b'); break;
        case 'f': weir_buf_append_char(s, '\f'); break;
        case 'n': weir_buf_append_char(s, '\n'); break;
        case 'r': weir_buf_append_char(s, '\r'); break;
        case 't': weir_buf_append_char(s, '\t'); break;
        case 'u': {
          if (ps->end - ps->p < 4) return fail(ps, "short \\u escape");
          int cp = hex4(ps->p);
          if (cp < 0) return fail(ps, "bad \\u escape");
          ps->p += 4;
          if (cp >= 0xDC00 && cp < 0xE000) return fail(ps, "lone trailing surrogate");
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
              return fail(ps, "lone leading surrogate");
            }
            int low = hex4(ps->p + 2);
            if (low < 0xDC00 || low >= 0xE000) return fail(ps, "lone leading surrogate");
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          put_utf8(s, (uint32_t)cp);
          break;
        }
        default: return fail(ps, "bad escape");
      }
      run = ps->p;
    } else if (c < 0x20) {
      return fail(ps, "control character in string");
    } else {
      ps->p++;
    }
  }
  /* The text must be UTF-8 (escapes always are). */
  if (!weir_utf8_valid((const uint8_t *)s->ptr + start, s->len - start)) {
    return fail(ps, "string is not UTF-8");
  }
  *at = start;
  *len = s->len - start;
  weir_buf_append_char(s, '\0'); /* each string is NUL-terminated in the arena */
}

static void parse_number(parser_t *ps, size_t node) {
  const char *start = ps->p;
  bool integer = true;
  if (ps->p < ps->end && *ps->p == '-') ps->p++;
  if (ps->p >= ps->end) return fail(ps, "bad number");
  if (*ps->p == '0') {
    ps->p++;
  } else if (*ps->p >= '1' && *ps->p <= '9') {
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  } else {
    return fail(ps, "bad number");
  }
  if (ps->p < ps->end && *ps->p == '.') {
    integer = false;
    ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "bad number");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    integer = false;
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "bad number");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  weir_buf_t *s = &ps->doc->strings;
  size_t at = s->len, len = (size_t)(ps->p - start);
  weir_buf_append(s, start, len);
  weir_buf_append_char(s, '\0');
  const char *text = s->ptr + at;
  double number = strtod(text, NULL);
  if (isinf(number)) return fail(ps, "number out of range");
  if (integer) {
    /* Within u64 (non-negative) or i64 (negative), as serde_json keeps integers. */
    size_t digits = len - (text[0] == '-');
    const char *d = text + (text[0] == '-');
    const char *limit = text[0] == '-' ? "9223372036854775808" : "18446744073709551615";
    if (digits > 19 + (text[0] != '-') ||
        (digits == strlen(limit) && strcmp(d, limit) > 0)) {
      integer = false;
    }
  }
  struct weir_json_node *n = &ps->doc->nodes[node];
  n->number = number;
  n->is_integer = integer;
  n->text = at;
  n->text_len = len;
}

static size_t parse_value(parser_t *ps, int depth);

static void add_child(parser_t *ps, size_t parent, size_t child) {
  struct weir_json_node *nodes = ps->doc->nodes;
  if (nodes[parent].last == NONE) nodes[parent].first = child;
  else nodes[nodes[parent].last].next = child;
  nodes[parent].last = child;
  nodes[parent].count++;
}

static size_t parse_value(parser_t *ps, int depth) {
  skip_ws(ps);
  if (ps->p >= ps->end) {
    fail(ps, "unexpected end of input");
    return NONE;
  }
  char c = *ps->p;
  size_t node;
  if (c == '{' || c == '[') {
    if (depth >= WEIR_JSON_MAX_DEPTH) {
      fail(ps, "nested too deeply");
      return NONE;
    }
    bool object = c == '{';
    char close = object ? '}' : ']';
    node = new_node(ps, object ? WEIR_JSON_OBJECT : WEIR_JSON_ARRAY);
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
      ps->p++;
      return node;
    }
    for (;;) {
      size_t key = 0, key_len = 0;
      if (object) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
          fail(ps, "expected a member name");
          return NONE;
        }
        parse_string(ps, &key, &key_len);
        if (ps->failed) return NONE;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
          fail(ps, "expected ':'");
          return NONE;
        }
        ps->p++;
      }
      size_t child = parse_value(ps, depth + 1);
      if (ps->failed) return NONE;
      ps->doc->nodes[child].key = key;
      ps->doc->nodes[child].key_len = key_len;
      add_child(ps, node, child);
      skip_ws(ps);
      if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        continue;
      }
      if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return node;
      }
      fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
      return NONE;
    }
  }
  if (c == '"') {
    node = new_node(ps, WEIR_JSON_STRING);
    size_t at = 0, len = 0;
    parse_string(ps, &at, &len);
    ps->doc->nodes[node].text = at;
    ps->doc->nodes[node].text_len = len;
    return node;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    node = new_node(ps, WEIR_JSON_NUMBER);
    parse_number(ps, node);
    return node;
  }
  static const struct {
    const char *word;
    weir_json_type_t type;
    bool value;
  } words[] = {{"null", WEIR_JSON_NULL, false},
               {"true", WEIR_JSON_BOOL, true},
               {"false", WEIR_JSON_BOOL, false}};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(words[i].word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i].word, n) == 0) {
      ps->p += n;
      node = new_node(ps, words[i].type);
      ps->doc->nodes[node].boolean = words[i].value;
      return node;
    }
  }
  fail(ps, "expected a value");
  return NONE;
}

bool weir_json_parse(weir_json_t *doc, const char *text, size_t len, weir_buf_t *error) {
  memset(doc, 0, sizeof *doc);
  parser_t ps = {doc, text, text + len, NULL, false};
  /* Offsets into `strings` start past 0 so that an empty key has a valid address. */
  weir_buf_append_char(&doc->strings, '\0');
  parse_value(&ps, 0);
  if (!ps.failed) {
    skip_ws(&ps);
    if (ps.p != ps.end) fail(&ps, "trailing characters");
  }
  if (ps.failed) {
    if (error) {
      weir_buf_clear(error);
      weir_buf_printf(error, "%s at byte %zu", ps.what, (size_t)(ps.p - text));
    }
    weir_json_free(doc);
    return false;
  }
  return true;
}

void weir_json_free(weir_json_t *doc) {
  free(doc->nodes);
  weir_buf_free(&doc->strings);
  memset(doc, 0, sizeof *doc);
}

static const struct weir_json_node *node_of(weir_json_value_t v) { return &v.doc->nodes[v.index]; }

weir_json_value_t weir_json_root(const weir_json_t *doc) {
  weir_json_value_t v = {doc, 0};
  return v;
}

weir_json_type_t weir_json_type(weir_json_value_t value) { return node_of(value)->type; }

size_t weir_json_len(weir_json_value_t value) { return node_of(value)->count; }

static size_t child_index(weir_json_value_t value, size_t i) {
  const struct weir_json_node *n = node_of(value);
  if (i >= n->count) return NONE;
  size_t at = n->first;
  while (i-- > 0) at = value.doc->nodes[at].next;
  return at;
}

bool weir_json_at(weir_json_value_t value, size_t i, weir_json_value_t *out) {
  size_t at = child_index(value, i);
  if (at == NONE) return false;
  out->doc = value.doc;
  out->index = at;
  return true;
}

weir_str_t weir_json_key_at(weir_json_value_t value, size_t i) {
  size_t at = child_index(value, i);
  if (at == NONE || node_of(value)->type != WEIR_JSON_OBJECT) return weir_str(NULL);
  const struct weir_json_node *n = &value.doc->nodes[at];
  weir_str_t s = {value.doc->strings.ptr + n->key, n->key_len};
  return s;
}

bool weir_json_get(weir_json_value_t value, const char *name, size_t name_len,
                   weir_json_value_t *out) {
  const struct weir_json_node *n = node_of(value);
  if (n->type != WEIR_JSON_OBJECT) return false;
  bool found = false;
  for (size_t at = n->first; at != NONE; at = value.doc->nodes[at].next) {
    const struct weir_json_node *m = &value.doc->nodes[at];
    if (m->key_len == name_len && memcmp(value.doc->strings.ptr + m->key, name, name_len) == 0) {
      out->doc = value.doc;
      out->index = at;
      found = true;
    }
  }
  return found;
}

static bool same_key(const weir_json_t *doc, size_t a, size_t b) {
  const struct weir_json_node *x = &doc->nodes[a], *y = &doc->nodes[b];
  return x->key_len == y->key_len &&
         memcmp(doc->strings.ptr + x->key, doc->strings.ptr + y->key, x->key_len) == 0;
}

bool weir_json_has_duplicates(weir_json_value_t value) {
  const struct weir_json_node *n = node_of(value);
  if (n->type != WEIR_JSON_OBJECT) return false;
  for (size_t a = n->first; a != NONE; a = value.doc->nodes[a].next) {
    for (size_t b = value.doc->nodes[a].next; b != NONE; b = value.doc->nodes[b].next) {
      if (same_key(value.doc, a, b)) return true;
    }
  }
  return false;
}

weir_str_t weir_json_string(weir_json_value_t value) {
  const struct weir_json_node *n = node_of(value);
  if (n->type != WEIR_JSON_STRING) return weir_str(NULL);
  weir_str_t s = {value.doc->strings.ptr + n->text, n->text_len};
  return s;
}

bool weir_json_bool(weir_json_value_t value) { return node_of(value)->boolean; }

bool weir_json_u64(weir_json_value_t value, uint64_t *out) {
  const struct weir_json_node *n = node_of(value);
  if (n->type != WEIR_JSON_NUMBER || !n->is_integer) return false;
  const char *text = value.doc->strings.ptr + n->text;
  if (text[0] == '-') return false;
  *out = strtoull(text, NULL, 10);
  return true;
}

double weir_json_double(weir_json_value_t value) { return node_of(value)->number; }

static void write_string(const char *s, size_t len, weir_buf_t *out) {
  static const char hex[] = "0123456789abcdef";
  weir_buf_append_char(out, '"');
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *escape = NULL;
    char u[6];
    switch (c) {
      case '"': escape = "\\\""; break;
      case '\\': escape = "\\\\"; break;
      case '\b': escape = "\\b"; break;
      case '\f': escape = "\\f"; break;
      case '\n': escape = "\\n"; break;
      case '\r': escape = "\\r"; break;
      case '\t': escape = "\\t"; break;
      default:
        if (c < 0x20) {
          u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
        }
    }
    if (escape || c < 0x20) {
      weir_buf_append(out, s + run, i - run);
      if (escape) weir_buf_append_str(out, escape);
      else weir_buf_append(out, u, 6);
      run = i + 1;
    }
  }
  weir_buf_append(out, s + run, len - run);
  weir_buf_append_char(out, '"');
}

/* A finite double as serde_json (ryu) prints it: shortest round-trip digits. */
static void write_double(double d, weir_buf_t *out) {
  if (d == 0) {
    weir_buf_append_str(out, signbit(d) ? "-0.0" : "0.0");
    return;
  }
  char text[40];
  int precision = 1;
  for (; precision <= 17; precision++) {
    snprintf(text, sizeof text, "%.*e", precision - 1, d);
    if (strtod(text, NULL) == d) break;
  }
  /* text is [-]D[.DDD]e[+-]XX: collect the digits and the exponent. */
  char digits[20];
  int olength = 0;
  const char *p = text;
  if (*p == '-') {
    weir_buf_append_char(out, '-');
    p++;
  }
  for (; *p && *p != 'e'; p++) {
    if (*p != '.') digits[olength++] = *p;
  }
  while (olength > 1 && digits[olength - 1] == '0') olength--;
  int exp10 = atoi(p + 1);          /* value = D.DDD x 10^exp10 */
  int kk = exp10 + 1;               /* where the decimal point goes */
  int k = kk - olength;             /* value = digits x 10^k */
  if (k >= 0 && kk <= 16) {
    weir_buf_append(out, digits, (size_t)olength);
    for (int i = 0; i < k; i++) weir_buf_append_char(out, '0');
    weir_buf_append_str(out, ".0");
  } else if (kk > 0 && kk <= 16) {
    weir_buf_append(out, digits, (size_t)kk);
    weir_buf_append_char(out, '.');
    weir_buf_append(out, digits + kk, (size_t)(olength - kk));
  } else if (kk > -5 && kk <= 0) {
    weir_buf_append_str(out, "0.");
    for (int i = 0; i < -kk; i++) weir_buf_append_char(out, '0');
    weir_buf_append(out, digits, (size_t)olength);
  } else {
    weir_buf_append_char(out, digits[0]);
    if (olength > 1) {
      weir_buf_append_char(out, '.');
      weir_buf_append(out, digits + 1, (size_t)(olength - 1));
    }
    weir_buf_printf(out, "e%d", kk - 1);
  }
}

static int compare_members(const weir_json_t *doc, size_t a, size_t b) {
  const struct weir_json_node *x = &doc->nodes[a], *y = &doc->nodes[b];
  size_t len = x->key_len < y->key_len ? x->key_len : y->key_len;
  int c = memcmp(doc->strings.ptr + x->key, doc->strings.ptr + y->key, len);
  if (c) return c;
  return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* The document qsort compares members of (one thread: an instance runs one call). */
static const weir_json_t *sorting;

/* By name, then by position, so the last of equal names comes last. */
static int compare_for_sort(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  int c = compare_members(sorting, x, y);
  return c ? c : (x > y) - (x < y);
}

static void write_value(const weir_json_t *doc, size_t index, weir_buf_t *out, int depth) {
  const struct weir_json_node *n = &doc->nodes[index];
  switch (n->type) {
    case WEIR_JSON_NULL: weir_buf_append_str(out, "null"); return;
    case WEIR_JSON_BOOL: weir_buf_append_str(out, n->boolean ? "true" : "false"); return;
    case WEIR_JSON_NUMBER:
      if (n->is_integer) {
        const char *text = doc->strings.ptr + n->text;
        weir_buf_append_str(out, strcmp(text, "-0") == 0 ? "0" : text);
      } else {
        write_double(n->number, out);
      }
      return;
    case WEIR_JSON_STRING: write_string(doc->strings.ptr + n->text, n->text_len, out); return;
    case WEIR_JSON_ARRAY: {
      weir_buf_append_char(out, '[');
      for (size_t at = n->first; at != NONE; at = doc->nodes[at].next) {
        if (at != n->first) weir_buf_append_char(out, ',');
        write_value(doc, at, out, depth + 1);
      }
      weir_buf_append_char(out, ']');
      return;
    }
    case WEIR_JSON_OBJECT: {
      /* Members sorted by name, each name once (its last value, as serde_json's map). */
      size_t *order = malloc((n->count ? n->count : 1) * sizeof *order);
      if (!order) abort();
      size_t count = 0;
      for (size_t at = n->first; at != NONE; at = doc->nodes[at].next) order[count++] = at;
      sorting = doc;
      qsort(order, count, sizeof *order, compare_for_sort);
      weir_buf_append_char(out, '{');
      bool first = true;
      for (size_t i = 0; i < count; i++) {
        if (i + 1 < count && compare_members(doc, order[i], order[i + 1]) == 0) continue;
        if (!first) weir_buf_append_char(out, ',');
        first = false;
        const struct weir_json_node *m = &doc->nodes[order[i]];
        write_string(doc->strings.ptr + m->key, m->key_len, out);
        weir_buf_append_char(out, ':');
        write_value(doc, order[i], out, depth + 1);
      }
      weir_buf_append_char(out, '}');
      free(order);
      return;
    }
  }
}

void weir_json_write(weir_json_value_t value, weir_buf_t *out) {
  write_value(value.doc, value.index, out, 0);
}
