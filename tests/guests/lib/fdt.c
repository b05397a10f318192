/* The test guests' read-only device tree reader (see fdt.h). Every read
 * goes through read_token(), which checks that the token, the name it
 * carries and a property's value lie inside their blocks; a walk moves
 * forward by at least one token each step, so it ends on any blob. */
#include "fdt.h"
#include "bootinfo.h"
#include "guest.h"

/* Structure block tokens. */
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE   2
#define FDT_PROP       3
#define FDT_NOP        4
#define FDT_END        9

/* Header fields (cells of the version 17 header). */
#define FDT_H_MAGIC          0
#define FDT_H_TOTALSIZE      4
#define FDT_H_OFF_STRUCT     8
#define FDT_H_OFF_STRINGS    12
#define FDT_H_VERSION        20
#define FDT_H_LAST_COMP      24
#define FDT_H_SIZE_STRINGS   32
#define FDT_H_SIZE_STRUCT    36
#define FDT_HEADER_SIZE      40
#define FDT_VERSION          17   /* the first with size_dt_struct */

/* Far above any tree wisp writes (it has 64 KiB for one); keeps every
 * offset in an int and a walk short. */
#define FDT_MAX_SIZE (1u << 20)

/* Entries followed before the chain is taken for a loop. */
#define SETUP_DATA_MAX_ENTRIES 32
/* What the runtime maps (identity, 2 MiB pages). */
#define IDENTITY_MAP_END       (1ull << 32)

uint32_t fdt_be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The length of s, looking at no more than max bytes: max when there is
 * no NUL among them. */
static uint32_t bounded_strlen(const char *s, uint32_t max)
{
	uint32_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

static int block_inside(uint32_t off, uint32_t len, uint32_t total)
{
	return off <= total && len <= total - off;
}

/* ---- the header and where the tree is ------------------------------------------ */
const char *fdt_open(struct fdt *t, const void *blob, size_t avail)
{
	const uint8_t *h = blob;
	uint32_t size, off_struct, size_struct, off_strings, size_strings;

	if (avail < FDT_HEADER_SIZE)
		return "shorter than an FDT header";
	if (fdt_be32(h + FDT_H_MAGIC) != FDT_MAGIC)
		return "no FDT magic (0xd00dfeed)";
	if (fdt_be32(h + FDT_H_VERSION) < FDT_VERSION || fdt_be32(h + FDT_H_LAST_COMP) > FDT_VERSION)
		return "not readable as version 17";
	size = fdt_be32(h + FDT_H_TOTALSIZE);
	if (size < FDT_HEADER_SIZE || size > avail)
		return "totalsize does not fit the bytes it came in";
	if (size > FDT_MAX_SIZE)
		return "totalsize above 1 MiB";
	off_struct = fdt_be32(h + FDT_H_OFF_STRUCT);
	size_struct = fdt_be32(h + FDT_H_SIZE_STRUCT);
	off_strings = fdt_be32(h + FDT_H_OFF_STRINGS);
	size_strings = fdt_be32(h + FDT_H_SIZE_STRINGS);
	if (off_struct % 4 || !block_inside(off_struct, size_struct, size))
		return "structure block outside totalsize or misaligned";
	if (!block_inside(off_strings, size_strings, size))
		return "strings block outside totalsize";
	*t = (struct fdt){
		.blob = h,
		.size = size,
		.structs = h + off_struct,
		.structs_size = size_struct,
		.strings = (const char *)h + off_strings,
		.strings_size = size_strings,
	};
	return 0;
}

const char *fdt_from_boot_params(struct fdt *t)
{
	const uint8_t *bp = (const uint8_t *)boot_info_addr;
	uint64_t addr;

	if (boot_kind != BOOT_BZIMAGE || !bp)
		return "not a bzImage boot: no boot_params";
	addr = le64(bp + BP_SETUP_DATA);
	for (unsigned n = 0; addr; n++) {
		const uint8_t *entry;
		uint32_t len;

		if (n == SETUP_DATA_MAX_ENTRIES)
			return "setup_data chain too long (a loop?)";
		if (addr > IDENTITY_MAP_END - SETUP_DATA_HEADER)
			return "setup_data entry above 4 GiB";
		entry = phys(addr);
		len = le32(entry + SETUP_DATA_LEN);
		if (le32(entry + SETUP_DATA_TYPE) == SETUP_DTB) {
			if (len > IDENTITY_MAP_END - SETUP_DATA_HEADER - addr)
				return "SETUP_DTB entry runs past 4 GiB";
			return fdt_open(t, entry + SETUP_DATA_HEADER, len);
		}
		addr = le64(entry);
	}
	return "no SETUP_DTB entry in setup_data";
}

/* ---- tokens ---------------------------------------------------------------------- */
struct token {
	uint32_t tag;
	uint32_t next;           /* offset of the following token */
	const char *name;        /* BEGIN_NODE: the node's; PROP: the property's */
	const uint8_t *value;    /* PROP */
	uint32_t len;
};

/* Tokens are 4-byte aligned: the next one follows n bytes from off,
 * rounded up; it must start inside the block (FDT_END comes last). */
static int advance(const struct fdt *t, uint32_t off, uint32_t n, struct token *tok)
{
	uint64_t next = ((uint64_t)off + n + 3) & ~3ull;

	if (next > t->structs_size)
		return -1;
	tok->next = (uint32_t)next;
	return 0;
}

static int read_begin_node(const struct fdt *t, uint32_t off, uint32_t room, struct token *tok)
{
	const char *name = (const char *)t->structs + off + 4;
	uint32_t n = bounded_strlen(name, room);

	if (n == room)
		return -1;
	tok->name = name;
	return advance(t, off, 4 + n + 1, tok);
}

/* FDT_PROP: u32 len, u32 offset of the name in the strings block, then
 * len bytes of value. */
static int read_prop(const struct fdt *t, uint32_t off, uint32_t room, struct token *tok)
{
	uint32_t len, nameoff;

	if (room < 8)
		return -1;
	len = fdt_be32(t->structs + off + 4);
	nameoff = fdt_be32(t->structs + off + 8);
	if (len > room - 8 || nameoff >= t->strings_size ||
	    bounded_strlen(t->strings + nameoff, t->strings_size - nameoff) ==
		    t->strings_size - nameoff)
		return -1;
	tok->name = t->strings + nameoff;
	tok->value = t->structs + off + 12;
	tok->len = len;
	return advance(t, off, 12 + len, tok);
}

/* The token at off: 0, or -1 when it or anything it carries leaves its
 * block, or it is no token at all. */
static int read_token(const struct fdt *t, uint32_t off, struct token *tok)
{
	uint32_t room;

	if (off % 4 || off > t->structs_size || t->structs_size - off < 4)
		return -1;
	room = t->structs_size - off - 4;       /* bytes after the tag */
	tok->tag = fdt_be32(t->structs + off);
	switch (tok->tag) {
	case FDT_BEGIN_NODE:
		return read_begin_node(t, off, room, tok);
	case FDT_PROP:
		return read_prop(t, off, room, tok);
	case FDT_END_NODE:
	case FDT_NOP:
	case FDT_END:
		return advance(t, off, 4, tok);
	}
	return -1;
}

static int read_node(const struct fdt *t, int node, struct token *tok)
{
	if (node < 0 || read_token(t, (uint32_t)node, tok) || tok->tag != FDT_BEGIN_NODE)
		return -1;
	return 0;
}

/* The first token at or after off that is not a NOP, in *tok, and its
 * offset; -1 if the walk leaves the block. */
static int skip_nops(const struct fdt *t, uint32_t off, struct token *tok, uint32_t *at)
{
	while (read_token(t, off, tok) == 0) {
		if (tok->tag != FDT_NOP) {
			*at = off;
			return 0;
		}
		off = tok->next;
	}
	return -1;
}

/* The first token after node's properties (a child's BEGIN_NODE or the
 * node's END_NODE), in *tok, and its offset. */
static int skip_props(const struct fdt *t, int node, struct token *tok, uint32_t *at)
{
	uint32_t off;

	if (read_node(t, node, tok))
		return -1;
	off = tok->next;
	while (skip_nops(t, off, tok, &off) == 0) {
		if (tok->tag != FDT_PROP) {
			*at = off;
			return 0;
		}
		off = tok->next;
	}
	return -1;
}

/* The offset just after node's END_NODE, its subnodes skipped; -1 if
 * the blob ends first. */
static int64_t end_of_node(const struct fdt *t, int node)
{
	struct token tok;
	uint32_t off, depth = 1;

	if (read_node(t, node, &tok))
		return -1;
	off = tok.next;
	while (read_token(t, off, &tok) == 0 && tok.tag != FDT_END) {
		if (tok.tag == FDT_BEGIN_NODE)
			depth++;
		else if (tok.tag == FDT_END_NODE && --depth == 0)
			return tok.next;
		off = tok.next;
	}
	return -1;
}

/* The first node after node `after` in blob order (FDT_NONE: the first). */
static int next_node(const struct fdt *t, int after)
{
	struct token tok;
	uint32_t off = 0;

	if (after != FDT_NONE) {
		if (read_node(t, after, &tok))
			return FDT_NONE;
		off = tok.next;
	}
	while (read_token(t, off, &tok) == 0 && tok.tag != FDT_END) {
		if (tok.tag == FDT_BEGIN_NODE)
			return (int)off;
		off = tok.next;
	}
	return FDT_NONE;
}

/* ---- nodes ----------------------------------------------------------------------- */
int fdt_root(const struct fdt *t)
{
	struct token tok;
	uint32_t at;

	if (skip_nops(t, 0, &tok, &at) || tok.tag != FDT_BEGIN_NODE || tok.name[0])
		return FDT_NONE;
	return (int)at;
}

const char *fdt_node_name(const struct fdt *t, int node)
{
	struct token tok;

	return read_node(t, node, &tok) ? 0 : tok.name;
}

int fdt_first_child(const struct fdt *t, int node)
{
	struct token tok;
	uint32_t at;

	if (skip_props(t, node, &tok, &at) || tok.tag != FDT_BEGIN_NODE)
		return FDT_NONE;
	return (int)at;
}

int fdt_next_sibling(const struct fdt *t, int node)
{
	struct token tok;
	int64_t end = end_of_node(t, node);
	uint32_t at;

	if (end < 0 || skip_nops(t, (uint32_t)end, &tok, &at) || tok.tag != FDT_BEGIN_NODE)
		return FDT_NONE;
	return (int)at;
}

int fdt_subnode(const struct fdt *t, int parent, const char *name)
{
	for (int child = fdt_first_child(t, parent); child != FDT_NONE;
	     child = fdt_next_sibling(t, child)) {
		const char *n = fdt_node_name(t, child);

		if (n && !strcmp(n, name))
			return child;
	}
	return FDT_NONE;
}

int fdt_node_by_compatible(const struct fdt *t, int after, const char *compat)
{
	for (int node = next_node(t, after); node != FDT_NONE; node = next_node(t, node))
		if (fdt_prop_has_string(t, node, "compatible", compat))
			return node;
	return FDT_NONE;
}

int fdt_node_by_phandle(const struct fdt *t, uint32_t phandle)
{
	uint32_t value;

	if (phandle == 0 || phandle == ~0u)
		return FDT_NONE;
	for (int node = next_node(t, FDT_NONE); node != FDT_NONE; node = next_node(t, node))
		if (fdt_prop_u32(t, node, "phandle", &value) == 0 && value == phandle)
			return node;
	return FDT_NONE;
}

/* ---- properties ------------------------------------------------------------------ */
const void *fdt_prop(const struct fdt *t, int node, const char *name, uint32_t *len)
{
	struct token tok;
	uint32_t off;

	if (read_node(t, node, &tok))
		return 0;
	off = tok.next;
	while (skip_nops(t, off, &tok, &off) == 0 && tok.tag == FDT_PROP) {
		if (!strcmp(tok.name, name)) {
			*len = tok.len;
			return tok.value;
		}
		off = tok.next;
	}
	return 0;
}

int fdt_prop_u32(const struct fdt *t, int node, const char *name, uint32_t *value)
{
	uint32_t len;
	const void *p = fdt_prop(t, node, name, &len);

	if (!p || len != 4)
		return -1;
	*value = fdt_be32(p);
	return 0;
}

/* A string list is strings one after the other, each with its NUL; one
 * running past the value ends the list unmatched. */
int fdt_prop_has_string(const struct fdt *t, int node, const char *name, const char *s)
{
	uint32_t len, i = 0;
	const char *list = fdt_prop(t, node, name, &len);
	size_t want = strlen(s);

	while (list && i < len) {
		uint32_t n = bounded_strlen(list + i, len - i);

		if (n == len - i)
			return 0;
		if (n == want && !memcmp(list + i, s, want))
			return 1;
		i += n + 1;
	}
	return 0;
}
