/* A read-only flattened device tree reader for the test guests (the
 * devicetree specification's format, version 17, big-endian). The blob is
 * input: the header's blocks are checked to lie inside it, and every token,
 * name and property read afterwards inside its block, so a malformed tree
 * makes a function fail, never read outside the blob.
 *
 * A node is named by the offset of its FDT_BEGIN_NODE token in the
 * structure block; functions that find a node return it, or FDT_NONE. */
#ifndef GUEST_FDT_H
#define GUEST_FDT_H

#include <stddef.h>
#include <stdint.h>

#define FDT_MAGIC 0xd00dfeedu
#define FDT_NONE  (-1)

struct fdt {
	const uint8_t *blob;
	uint32_t size;                  /* the header's totalsize */
	const uint8_t *structs;         /* the structure block */
	uint32_t structs_size;
	const char *strings;            /* the strings block */
	uint32_t strings_size;
};

/* Checks the header of the tree at blob, of which avail bytes are known
 * to be the tree's: magic, version, totalsize within avail, both blocks
 * within totalsize. NULL when t is ready, else why not. */
const char *fdt_open(struct fdt *t, const void *blob, size_t avail);

/* The tree of a bzImage boot: the SETUP_DTB entry of boot_params'
 * setup_data chain, opened with the entry's length as what is available.
 * NULL when t is ready, else why not (also when this was no bzImage
 * boot). */
const char *fdt_from_boot_params(struct fdt *t);

/* Big-endian cells, as every integer in the tree is stored. */
uint32_t fdt_be32(const void *p);

/* The root node (the first node, with an empty name). */
int fdt_root(const struct fdt *t);
/* A node's name ("cpu@0"; "" for the root), or NULL if it is malformed. */
const char *fdt_node_name(const struct fdt *t, int node);
/* A node's first child and the next child of the same parent. */
int fdt_first_child(const struct fdt *t, int node);
int fdt_next_sibling(const struct fdt *t, int node);
/* The child of parent with exactly this name. */
int fdt_subnode(const struct fdt *t, int parent, const char *name);

/* The first node after node `after` in the order of the blob (FDT_NONE:
 * from the start) whose compatible list holds compat. */
int fdt_node_by_compatible(const struct fdt *t, int after, const char *compat);
/* The node whose phandle property is phandle (0 and ~0 name no node). */
int fdt_node_by_phandle(const struct fdt *t, uint32_t phandle);

/* A property's value and its length in bytes, or NULL if node has no
 * such property. */
const void *fdt_prop(const struct fdt *t, int node, const char *name, uint32_t *len);
/* A one-cell property: 0 and *value, or -1 if absent or not one cell. */
int fdt_prop_u32(const struct fdt *t, int node, const char *name, uint32_t *value);
/* Whether a string-list property (compatible) holds s as one of its
 * strings. */
int fdt_prop_has_string(const struct fdt *t, int node, const char *name, const char *s);

#endif
