/* A main for the fuzz targets without libFuzzer: runs the target on each
 * file named, or on every file in each directory named. The saved inputs
 * (seeds and every crash ever found) are replayed this way by every build,
 * with whatever compiler and sanitizers it has. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || !(buf = malloc(len ? (size_t)len : 1)) ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		if (f)
			fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	/* Named first: a crash ends the process. */
	printf("replay: %s\n", path);
	fflush(stdout);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned inputs = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *dir;
		struct dirent *e;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: not found\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) != 0)
				return 1;
			inputs++;
			continue;
		}
		dir = opendir(argv[i]);
		if (!dir) {
			fprintf(stderr, "replay: %s: cannot open\n", argv[i]);
			return 1;
		}
		while ((e = readdir(dir))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (run_file(path) != 0) {
				closedir(dir);
				return 1;
			}
			inputs++;
		}
		closedir(dir);
	}
	printf("replay: %u inputs, none crashed\n", inputs);
	return 0;
}
