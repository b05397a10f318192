/* Read-only mappings of the files the user names (kernel, initrd). */
#ifndef WISP_FILE_MAP_H
#define WISP_FILE_MAP_H

#include <stddef.h>
#include <stdint.h>

struct file_map {
	const uint8_t *data;
	size_t size;
};

/* 0, or -1 after one message "<what> '<path>': <reason>". */
int file_map_open(struct file_map *map, const char *path, const char *what);
void file_map_close(struct file_map *map);

#endif
