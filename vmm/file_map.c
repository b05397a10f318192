#include "file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int file_map_open(struct file_map *map, const char *path, const char *what)
{
	struct stat st;
	void *p;
	int fd;

	map->data = NULL;
	map->size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("%s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		log_error("%s '%s': %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s '%s': not a regular file", what, path);
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		log_error("%s '%s': the file is empty", what, path);
		close(fd);
		return -1;
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_error("%s '%s': cannot map it: %s", what, path, strerror(errno));
		return -1;
	}
	map->data = p;
	map->size = st.st_size;
	return 0;
}

void file_map_close(struct file_map *map)
{
	if (map->data)
		munmap((void *)map->data, map->size);
	map->data = NULL;
	map->size = 0;
}
