/*
 * text.c — text for terminals: UTF-8 decoding, display width, making
 * daemon-supplied strings safe to print, truncation with an ellipsis and
 * aligned tables.  No locale is consulted: the CLI may run under LANG=C
 * and still must not cut a character in half or let a record's text move
 * the cursor.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/output.h"

#define MAX_COLUMNS 32

typedef struct {
    uint32_t lo, hi;
} range;

/* Marks that combine with the character before them (width 0). */
static const range zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF},
    {0x05C1, 0x05C2}, {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A},
    {0x064B, 0x065F}, {0x0670, 0x0670}, {0x06D6, 0x06DC}, {0x06DF, 0x06E4},
    {0x0900, 0x0902}, {0x093C, 0x093C}, {0x0941, 0x0948}, {0x094D, 0x094D},
    {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF},
    {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
    {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
};

/* East Asian wide and fullwidth characters, emoji (width 2). */
static const range wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F004, 0x1F004},
    {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F202},
    {0x1F210, 0x1F23B}, {0x1F240, 0x1F248}, {0x1F250, 0x1F251}, {0x1F300, 0x1F64F},
    {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F900, 0x1F9FF}, {0x1FA70, 0x1FAFF},
    {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static int in_ranges(uint32_t c, const range *r, size_t n)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid].lo)
            hi = mid;
        else if (c > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static int cp_width(uint32_t c)
{
    if (in_ranges(c, zero_width, sizeof zero_width / sizeof zero_width[0]))
        return 0;
    if (in_ranges(c, wide, sizeof wide / sizeof wide[0]))
        return 2;
    return 1;
}

/*
 * Decodes one UTF-8 character at s; returns its length (1-4), or 0 when
 * the bytes are not well-formed UTF-8 (overlong, surrogate, truncated).
 */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    size_t n;
    uint32_t c, min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0)
        n = 2, c = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        n = 3, c = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        n = 4, c = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Characters that would move the cursor or reorder text on a terminal. */
static int is_control(uint32_t c)
{
    return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069);
}

char *cli_text_clean(const char *s, int keep_newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), o = 0;
    char *out = malloc(len + 1);

    if (!out)
        return NULL;
    while (*p) {
        uint32_t c;
        size_t n = utf8_decode(p, &c);

        if (n == 0) {
            out[o++] = '?';
            p++;
        } else if (is_control(c) && !(keep_newlines && c == '\n')) {
            out[o++] = ' ';
            p += n;
        } else {
            memcpy(out + o, p, n);
            o += n;
            p += n;
        }
    }
    out[o] = '\0';
    return out;
}

size_t cli_text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;

    while (*p) {
        uint32_t c;
        size_t n = utf8_decode(p, &c);

        if (n == 0) { /* not clean text: count the byte as the '?' it becomes */
            w++;
            p++;
            continue;
        }
        w += (size_t)cp_width(c);
        p += n;
    }
    return w;
}

size_t cli_text_fit(fs_buf *out, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;

    if (max == 0 || cli_text_width(s) <= max) {
        fs_buf_adds(out, s);
        return cli_text_width(s);
    }
    /* Keep what fits in max - 1 columns, marks included, then "…". */
    while (*p) {
        uint32_t c;
        size_t n = utf8_decode(p, &c);
        int cw;

        if (n == 0)
            break;
        cw = cp_width(c);
        if (w + (size_t)cw > max - 1)
            break;
        fs_buf_add(out, p, n);
        w += (size_t)cw;
        p += n;
    }
    fs_buf_adds(out, "\xE2\x80\xA6");
    return w + 1;
}

static void put_spaces(fs_buf *b, size_t n)
{
    while (n--)
        fs_buf_add(b, " ", 1);
}

/*
 * One line of the table into b: each cell cut to its column's width
 * (widths[] already fitted), coloured when it names something that needs
 * attention, and the line cut at `room` columns (0: no limit) so that a
 * row never wraps.
 */
static void table_line(fs_buf *b, const cli_column *cols, size_t ncols, const size_t *widths,
                       const char *const *cells, int header, size_t room)
{
    size_t used = 0;

    for (size_t c = 0; c < ncols; c++) {
        const char *sgr = header ? NULL : cli_term_colour_of(cells[c]);
        size_t sep = c ? 2 : 0, width = widths[c], w;
        fs_buf cell;

        if (room && used + sep >= room)
            break;
        if (room && used + sep + width > room)
            width = room - used - sep; /* the last column that fits, cut */
        fs_buf_init(&cell, SIZE_MAX);
        w = cli_text_fit(&cell, cells[c], room || !header ? width : 0);
        put_spaces(b, sep);
        if (cols[c].flags & CLI_COL_RIGHT)
            put_spaces(b, width - w);
        if (sgr)
            fs_buf_adds(b, sgr);
        fs_buf_adds(b, fs_buf_str(&cell));
        if (sgr)
            fs_buf_adds(b, cli_term_sgr(CLI_STYLE_RESET));
        if (!(cols[c].flags & CLI_COL_RIGHT) && c + 1 < ncols)
            put_spaces(b, width - w);
        used += sep + width;
        fs_buf_release(&cell);
    }
    /* Trailing blanks of empty last cells are not data. */
    while (b->len && b->data[b->len - 1] == ' ')
        b->data[--b->len] = '\0';
    fs_buf_add(b, "\n", 1);
}

/*
 * Fits the columns into `room` terminal columns.  Free-text columns give
 * way first, the widest first, down to their header's width; then down to
 * a few characters (the header cut too); only then the other columns, down
 * to their header's width.  What still does not fit is cut at the line's
 * end by table_line.
 */
static void fit_widths(const cli_column *cols, size_t ncols, size_t *widths, size_t room)
{
    size_t total = 2 * (ncols - 1);

    for (size_t c = 0; c < ncols; c++)
        total += widths[c];
    for (int pass = 0; pass < 3 && total > room; pass++) {
        while (total > room) {
            size_t best = ncols;

            for (size_t c = 0; c < ncols; c++) {
                size_t floor = cli_text_width(cols[c].header);
                int text = (cols[c].flags & CLI_COL_TEXT) != 0;

                if (floor < 6)
                    floor = 6;
                if (pass == 1)
                    floor = 4; /* the header is cut too */
                if ((pass < 2) != text || widths[c] <= floor)
                    continue;
                if (best == ncols || widths[c] > widths[best])
                    best = c;
            }
            if (best == ncols)
                break;
            /* One column at a time from the widest: two long columns end
             * up sharing the room rather than one losing everything. */
            widths[best]--;
            total--;
        }
    }
}

int cli_table_print(FILE *fp, const cli_column *cols, size_t ncols, char *const *cells,
                    size_t nrows)
{
    const cli_term *term = cli_term_get();
    size_t widths[MAX_COLUMNS], room = term->width > 0 ? (size_t)term->width : 0;
    const char *heads[MAX_COLUMNS];
    fs_buf b;
    int rc = 0;

    if (ncols == 0 || ncols > MAX_COLUMNS)
        return -1;
    for (size_t c = 0; c < ncols; c++) {
        widths[c] = cli_text_width(cols[c].header);
        heads[c] = cols[c].header;
        for (size_t r = 0; r < nrows; r++) {
            size_t w = cli_text_width(cells[r * ncols + c]);
            /* A column's max holds on a terminal only: a pipe gets it all. */
            if (room && cols[c].max > 0 && w > (size_t)cols[c].max)
                w = (size_t)cols[c].max;
            if (w > widths[c])
                widths[c] = w;
        }
    }
    if (room)
        fit_widths(cols, ncols, widths, room);
    fs_buf_init(&b, SIZE_MAX);
    table_line(&b, cols, ncols, widths, heads, 1, room);
    for (size_t r = 0; r < nrows; r++) {
        table_line(&b, cols, ncols, widths, (const char *const *)&cells[r * ncols], 0, room);
        if (b.len > 64 * 1024) { /* flush as we go: lists can be long */
            fwrite(b.data, 1, b.len, fp);
            b.len = 0;
        }
    }
    if (fs_buf_error(&b) || !b.data)
        rc = -1;
    else
        fwrite(b.data, 1, b.len, fp);
    fs_buf_release(&b);
    return rc;
}
