/*
 * replay.c - runs a libFuzzer harness over files, without libFuzzer, so
 * that `make check` builds every harness with the project's warnings and
 * replays the project's own inputs, and every prefix of them, through it.
 * Arguments are files or directories (their regular files, not
 * recursively); with none, the directories in REPLAY_CORPUS (set per
 * program in Makefile.am, relative to $TOP_SRCDIR).  Exit 0 when every
 * input was replayed; a harness that finds a bug aborts.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#ifndef REPLAY_CORPUS
#define REPLAY_CORPUS ""
#endif

/* Replays one file; returns 0, or -1 when it cannot be read. */
static int
replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (fp == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, len);
	/* Every prefix of a small input, the way a fuzzer would cut it. */
	for (n = 0; len <= 4096 && n < len; n += 1 + len / 64)
		LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

/* Replays a file, or the regular files of a directory; counts them. */
static int
replay_path(const char *p, int *count)
{
	struct stat sb;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		(*count)++;
		return replay_file(p);
	}
	if ((d = opendir(p)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", p, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];

		snprintf(path, sizeof path, "%s/%s", p, de->d_name);
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		rc |= replay_file(path);
		(*count)++;
	}
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("TOP_SRCDIR");
	char corpus[] = REPLAY_CORPUS, *tok, *save = NULL, path[4096];
	int i, count = 0, rc = 0;

	for (i = 1; i < argc; i++)
		rc |= replay_path(argv[i], &count);
	if (argc == 1) {
		for (tok = strtok_r(corpus, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save)) {
			snprintf(path, sizeof path, "%s/%s", top ? top : ".",
			    tok);
			rc |= replay_path(path, &count);
		}
	}
	printf("replayed %d inputs\n", count);
	return rc == 0 && count > 0 ? 0 : 1;
}
