/*
 * Aligned tables, and the small readers of reply values that every printer uses.
 *
 * A table's cells are added left to right, row after row; once all are in, each column is as
 * wide as its widest cell. Widths count characters, not bytes: ids are ASCII, but quotes and
 * names from the policies are not.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

struct table {
	size_t	  ncols;
	char	**cells;
	size_t	  n, cap;
};

struct table *
table_new(size_t ncols)
{
	struct table *t = calloc(1, sizeof *t);

	if (t == NULL) {
		perror("consentctl");
		exit(EXIT_ERROR);
	}
	t->ncols = ncols;
	return t;
}

static void
table_push(struct table *t, char *cell)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **g = realloc(t->cells, cap * sizeof *g);

		if (g == NULL) {
			perror("consentctl");
			exit(EXIT_ERROR);
		}
		t->cells = g;
		t->cap = cap;
	}
	t->cells[t->n++] = cell;
}

void
table_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1) {
		perror("consentctl");
		exit(EXIT_ERROR);
	}
	va_end(ap);
	table_push(t, s);
}

/* A cell of the strings of a, comma-separated; none where there are none. */
void
table_list(struct table *t, json_t *a, const char *none)
{
	table_push(t, join(a, ", ", none));
}

/* Fill the rest of the row with empty cells. */
void
table_end_row(struct table *t)
{
	while (t->n % t->ncols != 0)
		table_cell(t, "%s", "");
}

/* Characters of UTF-8 text: every byte but continuation bytes. */
static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Each row after indent, columns two spaces apart; the last column and empty tails unpadded. */
void
table_print(struct table *t, FILE *f, const char *indent)
{
	size_t *w = calloc(t->ncols, sizeof *w);

	table_end_row(t);
	for (size_t i = 0; w != NULL && i < t->n; i++)
		if (width(t->cells[i]) > w[i % t->ncols])
			w[i % t->ncols] = width(t->cells[i]);
	for (size_t r = 0; w != NULL && r < t->n; r += t->ncols) {
		size_t last = t->ncols;

		while (last > 1 && t->cells[r + last - 1][0] == '\0')
			last--;
		fputs(indent, f);
		for (size_t c = 0; c < last; c++)
			fprintf(f, "%s%*s", t->cells[r + c], c + 1 < last ?
			    (int)(w[c] - width(t->cells[r + c]) + 2) : 0, "");
		fputc('\n', f);
	}
	free(w);
	table_free(t);
}

void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* The string at key of o, or "-" where it is null or absent. */
const char *
text(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

long long
number(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The unix time at key of o as ISO-8601 UTC, in buf; "-" where there is none. */
const char *
iso_time(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);
	time_t t = (time_t)json_integer_value(v);
	struct tm tm;

	if (!json_is_integer(v) || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "-";
	return buf;
}

/* The strings (or numbers) of array a joined by sep, malloc'd; a copy of none if a is empty. */
char *
join(json_t *a, const char *sep, const char *none)
{
	size_t len = 0, i;
	char *s = NULL;
	FILE *f = open_memstream(&s, &len);
	json_t *v;

	if (f == NULL) {
		perror("consentctl");
		exit(EXIT_ERROR);
	}
	if (json_array_size(a) == 0)
		fputs(none, f);
	json_array_foreach(a, i, v) {
		if (json_is_integer(v))
			fprintf(f, "%s%lld", i ? sep : "", (long long)json_integer_value(v));
		else
			fprintf(f, "%s%s", i ? sep : "", json_is_string(v) ?
			    json_string_value(v) : "?");
	}
	fclose(f);
	return s;
}

/* The strings of array a after a space, comma-separated, or " none". */
void
print_names(json_t *a)
{
	char *s = join(a, ", ", "none");

	printf(" %s", s);
	free(s);
}
