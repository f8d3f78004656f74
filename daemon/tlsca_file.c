/* SPDX-License-Identifier: MIT */
/* The TLS directory's files for tlsca (tlsca_file.h): PEM keys and
 * certificates read whole into memory (a key's bytes are wiped after
 * parsing; stdio would leave copies in its buffers) and written atomically. */
#include "tlsca_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "log.h"
#include "sb_err.h"

/* Far larger than any key or chain of ours; a bigger file is not one. */
#define PEM_FILE_MAX (1024 * 1024)

void tlsca__err(char *err, size_t errlen, const char *fmt, ...)
		{
		va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The newest OpenSSL error's text, for a message. Public functions clear the
 * queue before returning, so it never shows up later in an unrelated lws TLS
 * error. */
const char *tlsca__ssl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r ? r : "no reason given";
}

void tlsca__join(char *out, const char *dir, const char *name)
{
	/* cannot be cut: tlsca_open checked that dir leaves TLSCA_NAME_ROOM */
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		out[0] = '\0';
}

static void unslurp(char *buf, size_t len)
{
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
}

static int read_all(int fd, char *buf, size_t size, size_t *len)
{
	*len = 0;
	while (*len < size) {
		ssize_t n = read(fd, buf + *len, size - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return 0;
}

/* Reads a whole small file into malloc'd memory, so that a key's bytes can
 * be wiped afterwards (stdio would leave copies in its buffer). Returns 0 or
 * an errno value. Release with unslurp. */
static int slurp(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	int e = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return errno;
	if (fstat(fd, &st))
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	else if (st.st_size > PEM_FILE_MAX)
		e = EFBIG;
	else if (!(*buf = malloc((size_t)st.st_size + 1)))
		e = ENOMEM;
	else
		e = read_all(fd, *buf, (size_t)st.st_size, len);
	close(fd);
	if (e) {
		unslurp(*buf, *len);
		*buf = NULL;
		*len = 0;
	}
	return e;
}

/* Refuse an encrypted key instead of asking for its passphrase on the
 * terminal (OpenSSL's default when no callback is given). */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* The private key in the PEM file at path, or NULL with why (a short reason). */
EVP_PKEY *tlsca__key_read(const char *path, char *why, size_t whylen)
{
	char *buf;
	size_t len;
	BIO *bio;
	EVP_PKEY *key = NULL;
	int e = slurp(path, &buf, &len);

	if (e) {
		tlsca__err(why, whylen, "%s", strerror(e));
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)))
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, NULL);
	if (!key)
		tlsca__err(why, whylen, "no usable PEM private key in it (corrupt, or encrypted?): %s",
			   tlsca__ssl_reason());
	BIO_free(bio);
	unslurp(buf, len);
	return key;
}

/* Up to max certificates from the PEM file at path into out; returns how
 * many, 0 with why set when there is none. */
int tlsca__certs_read(const char *path, X509 **out, int max, char *why, size_t whylen)
{
	char *buf;
	size_t len;
	BIO *bio;
	int n = 0, e = slurp(path, &buf, &len);

	if (e) {
		tlsca__err(why, whylen, "%s", strerror(e));
		return 0;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)))
		while (n < max && (out[n] = PEM_read_bio_X509(bio, NULL, no_passphrase_cb, NULL)))
			n++;
	if (!n)
		tlsca__err(why, whylen, "no PEM certificate in it (corrupt?): %s", tlsca__ssl_reason());
	BIO_free(bio);
	unslurp(buf, len);
	return n;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* dir/name := data, via dir/.name.tmp: written, synced, renamed, and the
 * rename synced (the directory), so a power cut leaves old or new. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len,
			mode_t mode, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, e;

	tlsca__join(path, dir, name);
	if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int)sizeof tmp)
		tmp[0] = '\0';
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
	/* fchmod: a tmp file left by a crash keeps its mode through O_CREAT */
	if (fd < 0 || fchmod(fd, mode) || write_all(fd, data, len) || fsync(fd))
		goto bad;
	e = close(fd);
	fd = -1;
	if (e || rename(tmp, path) || fsync_dir(dir))
		goto bad;
	return 0;
bad:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	tlsca__err(err, errlen, "cannot write %s: %s", path, strerror(e));
	return e == ENOSPC || e == EDQUOT ? SB_EFULL : SB_EIO;
}

int tlsca__write_key(const char *dir, const char *name, EVP_PKEY *key, char *err, size_t errlen)
{
	/* secure memory BIO: its buffer is wiped when it grows and when freed */
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long len;
	int rc;

	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		tlsca__err(err, errlen, "cannot encode a key: %s", tlsca__ssl_reason());
		BIO_free(bio);
		return SB_ENOMEM;
	}
	rc = write_atomic(dir, name, data, (size_t)len, 0600, err, errlen);
	BIO_free(bio);
	return rc;
}

/* first, then second when not NULL, as PEM. */
int tlsca__write_certs(const char *dir, const char *name, X509 *first, X509 *second, char *err,
		       size_t errlen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc;

	if (!bio || !PEM_write_bio_X509(bio, first) || (second && !PEM_write_bio_X509(bio, second)) ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		tlsca__err(err, errlen, "cannot encode a certificate: %s", tlsca__ssl_reason());
		BIO_free(bio);
		return SB_ENOMEM;
	}
	rc = write_atomic(dir, name, data, (size_t)len, 0644, err, errlen);
	BIO_free(bio);
	return rc;
}

/* 1 when path exists, 0 when it does not, SB_EIO when that cannot be told. */
int tlsca__file_exists(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (!lstat(path, &st))
		return 1;
	if (errno == ENOENT)
		return 0;
	tlsca__err(err, errlen, "cannot look at %s: %s", path, strerror(errno));
	return SB_EIO;
}

int tlsca__dir_check(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		tlsca__err(err, errlen, "cannot create the TLS dir %s: %s", dir, strerror(errno));
		return SB_EIO;
	}
	if (stat(dir, &st)) {
		tlsca__err(err, errlen, "cannot use the TLS dir %s: %s", dir, strerror(errno));
		return SB_EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		tlsca__err(err, errlen, "the TLS dir %s is not a directory", dir);
		return SB_ECONFIG;
	}
	/* whoever can write it can swap the CA key phones trust */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		tlsca__err(err, errlen, "the TLS dir %s is writable by group or others (mode %04o); "
			   "chmod 700 it", dir, (unsigned)(st.st_mode & 07777));
		return SB_ECONFIG;
	}
	return 0;
}

/* A key file open to group or others (copied in by hand) is made private. */
void tlsca__key_tighten(const char *path)
{
	struct stat st;

	if (lstat(path, &st) || !S_ISREG(st.st_mode) || !(st.st_mode & 077))
		return;
	if (chmod(path, 0600))
		log_warn("the CA key is readable by group or others and cannot be made private",
			 "path=\"%s\" err=\"%s\"", path, strerror(errno));
	else
		log_warn("the CA key was readable by group or others; made it 0600", "path=\"%s\"",
			 path);
}

