/* tls_cert.c - the self-signed certificate postern generates for itself when
 * no certificate is configured: checked and reused when still good, otherwise
 * made with the OpenSSL 3 API and written crash-safely.
 *
 * Files (DATA_DIR/tls, mode 0700):
 *   selfsigned.key      ECDSA P-256 private key, PKCS#8 PEM, mode 0600
 *   selfsigned.crt      the certificate, PEM, mode 0644
 *   selfsigned.*.tmp    being written; left only by a crash, replaced
 * Both files are written to .tmp and fsync'd, then the key and then the
 * certificate are renamed into place and the directory is fsync'd. A crash
 * between the two renames leaves a key that does not match the certificate,
 * which the next start detects and repairs by generating a new pair.
 */
#include "lib/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/tls.h"
#include "lib/tls_private.h"
#include "lib/xalloc.h"

/* X.520 upper bound for a common name. */
#define CN_MAX 64
#define HOSTNAME_MAX 253
#define LABEL_MAX 63

/* A DNS name: labels of letters, digits, '-' and '_', 1..63 bytes each,
 * 253 bytes at most, no leading, trailing or doubled dot. */
static bool
is_dns_name(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > LABEL_MAX)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* ---- checking existing files ---- */

/* Why the existing pair cannot be reused, in reason[]; returns 0 when it can,
 * 1 when neither file exists, -1 with reason otherwise. */
static int
check_existing(const char *cert_path, const char *key_path, const char *hostname, char *reason,
	       size_t size)
{
	struct stat st_cert, st_key;
	char why[256];
	X509 *x = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	int ret = -1;

	bool have_cert = stat(cert_path, &st_cert) == 0;
	int cert_errno = errno;
	bool have_key = stat(key_path, &st_key) == 0;
	int key_errno = errno;

	if (!have_cert && !have_key && cert_errno == ENOENT && key_errno == ENOENT)
		return 1;
	if (!have_cert) {
		(void)snprintf(reason, size, "%s: %s", cert_path, strerror(cert_errno));
		return -1;
	}
	if (!have_key) {
		(void)snprintf(reason, size, "%s: %s", key_path, strerror(key_errno));
		return -1;
	}

	ERR_clear_error();
	if ((bio = BIO_new_file(cert_path, "r")) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, tls_no_password_cb, NULL)) == NULL) {
		tls_openssl_reason(why, sizeof(why));
		(void)snprintf(reason, size, "%s is unreadable: %s", cert_path, why);
		BIO_free(bio);
		goto out;
	}
	BIO_free(bio);
	if ((bio = BIO_new_file(key_path, "r")) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(bio, NULL, tls_no_password_cb, NULL)) == NULL) {
		tls_openssl_reason(why, sizeof(why));
		(void)snprintf(reason, size, "%s is unreadable: %s", key_path, why);
		BIO_free(bio);
		goto out;
	}
	BIO_free(bio);

	time_t renew = time(NULL) + TLS_SELFSIGNED_RENEW_MARGIN;
	if (X509_check_private_key(x, pkey) != 1) {
		(void)snprintf(reason, size, "%s does not match the key in %s", cert_path,
			       key_path);
	} else if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		(void)snprintf(reason, size, "%s has expired", cert_path);
	} else if (X509_cmp_time(X509_get0_notAfter(x), &renew) <= 0) {
		(void)snprintf(reason, size, "%s expires within a day", cert_path);
	} else if ((tls_is_ip_literal(hostname) ? X509_check_ip_asc(x, hostname, 0)
						: X509_check_host(x, hostname, 0, 0, NULL)) != 1) {
		(void)snprintf(reason, size, "%s is not valid for %s", cert_path, hostname);
	} else {
		ret = 0;
		if ((st_key.st_mode & 077) != 0) {
			if (chmod(key_path, 0600) < 0)
				log_warning("cannot chmod 0600 %s: %s", key_path, strerror(errno));
			else
				log_notice("%s was readable by others; made it mode 0600",
					   key_path);
		}
	}
out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}

/* ---- generation ---- */

/* Add name to gens unless it is already there. Takes ownership of g. */
static int
gens_add(GENERAL_NAMES *gens, GENERAL_NAME *g)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(gens, i), g) == 0) {
			GENERAL_NAME_free(g);
			return 0;
		}
	}
	if (sk_GENERAL_NAME_push(gens, g) <= 0) {
		GENERAL_NAME_free(g);
		return -1;
	}
	return 0;
}

static int
gens_add_dns(GENERAL_NAMES *gens, const char *name)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	if (g == NULL || s == NULL || ASN1_STRING_set(s, name, -1) != 1) {
		GENERAL_NAME_free(g);
		ASN1_IA5STRING_free(s);
		return -1;
	}
	GENERAL_NAME_set0_value(g, GEN_DNS, s);
	return gens_add(gens, g);
}

static int
gens_add_ip(GENERAL_NAMES *gens, const char *ip)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_OCTET_STRING *s = a2i_IPADDRESS(ip);

	if (g == NULL || s == NULL) {
		GENERAL_NAME_free(g);
		ASN1_OCTET_STRING_free(s);
		return -1;
	}
	GENERAL_NAME_set0_value(g, GEN_IPADD, s);
	return gens_add(gens, g);
}

/* subjectAltName: hostname, localhost, 127.0.0.1, ::1. Built from
 * GENERAL_NAMEs, not a config string, so no hostname can inject entries. */
static int
add_san(X509 *x, const char *hostname)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int ret = -1;

	if (gens == NULL)
		return -1;
	if ((tls_is_ip_literal(hostname) ? gens_add_ip(gens, hostname)
					 : gens_add_dns(gens, hostname)) < 0 ||
	    gens_add_dns(gens, "localhost") < 0 || gens_add_ip(gens, "127.0.0.1") < 0 ||
	    gens_add_ip(gens, "::1") < 0)
		goto out;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	ret = 0;
out:
	GENERAL_NAMES_free(gens);
	return ret;
}

static int
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int ok;

	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* A positive, non-zero 127-bit serial (RFC 5280: at most 20 octets). */
static int
set_random_serial(X509 *x)
{
	unsigned char rnd[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	rnd[0] = (unsigned char)((rnd[0] & 0x7f) | 0x01);
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (bn == NULL)
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

static int
generate(const char *hostname, EVP_PKEY **pkey_r, X509 **x_r, const char **error_r)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	X509V3_CTX v3;
	char reason[256];
	/* The CN is a courtesy for old clients; SANs are what is checked. */
	const char *cn = strlen(hostname) <= CN_MAX ? hostname : "postern self-signed";

	ERR_clear_error();
	if ((pkey = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x) < 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_SELFSIGNED_DAYS, -3600, NULL) == NULL ||
	    X509_set_pubkey(x, pkey) != 1 || (name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
				       0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto fail;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, &v3, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, &v3, NID_subject_key_identifier, "hash") < 0 || add_san(x, hostname) < 0)
		goto fail;
	if (X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto fail;
	*pkey_r = pkey;
	*x_r = x;
	return 0;
fail:
	tls_openssl_reason(reason, sizeof(reason));
	tls_error_set(error_r, "cannot generate a self-signed certificate for %s: %s", hostname,
		      reason);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return -1;
}

/* ---- writing ---- */

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write the PEM in bio to tmp_path with mode, and fsync it. */
static int
write_tmp(const char *tmp_path, BIO *bio, mode_t mode, const char **error_r)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	int fd;

	if (len <= 0) {
		tls_error_set(error_r, "%s: nothing to write", tmp_path);
		return -1;
	}
	if (unlink(tmp_path) < 0 && errno != ENOENT) {
		tls_error_set(error_r, "cannot remove %s: %s", tmp_path, strerror(errno));
		return -1;
	}
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		tls_error_set(error_r, "cannot create %s: %s", tmp_path, strerror(errno));
		return -1;
	}
	/* The umask only removes bits, but be explicit. */
	if (fchmod(fd, mode) < 0 || write_all(fd, data, (size_t)len) < 0 || fsync(fd) < 0) {
		tls_error_set(error_r, "cannot write %s: %s", tmp_path, strerror(errno));
		close(fd);
		unlink(tmp_path);
		return -1;
	}
	if (close(fd) < 0) {
		tls_error_set(error_r, "cannot write %s: %s", tmp_path, strerror(errno));
		unlink(tmp_path);
		return -1;
	}
	return 0;
}

static int
fsync_dir(const char *dir, const char **error_r)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		tls_error_set(error_r, "cannot sync directory %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* DATA_DIR/tls with mode 0700 (created, or tightened when looser). */
static int
ensure_dir(const char *dir, const char **error_r)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		tls_error_set(error_r, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) < 0) {
		tls_error_set(error_r, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		tls_error_set(error_r, "%s exists and is not a directory", dir);
		return -1;
	}
	if ((st.st_mode & 07777) != 0700) {
		if (chmod(dir, 0700) < 0) {
			tls_error_set(error_r, "cannot chmod 0700 %s: %s", dir, strerror(errno));
			return -1;
		}
		log_notice("%s had mode %04o; made it 0700", dir, (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

static int
write_pair(const char *dir, const char *cert_path, const char *key_path, EVP_PKEY *pkey, X509 *x,
	   const char **error_r)
{
	char *cert_tmp = xasprintf("%s.tmp", cert_path);
	char *key_tmp = xasprintf("%s.tmp", key_path);
	/* Secure-heap memory BIO: the key's PEM is wiped when freed. */
	BIO *key_pem = BIO_new(BIO_s_secmem());
	BIO *cert_pem = BIO_new(BIO_s_mem());
	int ret = -1;

	if (key_pem == NULL || cert_pem == NULL ||
	    PEM_write_bio_PrivateKey(key_pem, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cert_pem, x) != 1) {
		char reason[256];

		tls_openssl_reason(reason, sizeof(reason));
		tls_error_set(error_r, "cannot encode the self-signed certificate: %s", reason);
		goto out;
	}
	if (write_tmp(key_tmp, key_pem, 0600, error_r) < 0)
		goto out;
	if (write_tmp(cert_tmp, cert_pem, 0644, error_r) < 0) {
		unlink(key_tmp);
		goto out;
	}
	if (rename(key_tmp, key_path) < 0) {
		tls_error_set(error_r, "cannot rename %s to %s: %s", key_tmp, key_path,
			      strerror(errno));
		unlink(key_tmp);
		unlink(cert_tmp);
		goto out;
	}
	if (rename(cert_tmp, cert_path) < 0) {
		tls_error_set(error_r, "cannot rename %s to %s: %s", cert_tmp, cert_path,
			      strerror(errno));
		unlink(cert_tmp);
		goto out;
	}
	ret = fsync_dir(dir, error_r);
out:
	BIO_free(key_pem);
	BIO_free(cert_pem);
	free(cert_tmp);
	free(key_tmp);
	return ret;
}

int
tls_selfsigned_ensure(const char *data_dir, const char *hostname, char **cert_r, char **key_r,
		      const char **error_r)
{
	char reason[512], until[64];
	char *dir = NULL, *cert_path = NULL, *key_path = NULL, *host = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int ret = -1, state;

	if (!is_dns_name(hostname) && !tls_is_ip_literal(hostname)) {
		tls_error_set(error_r,
			      "cannot make a certificate for '%s': not a host name or IP address",
			      hostname);
		return -1;
	}
	/* DNS names compare without case; keep one spelling in the cert. */
	host = xstrdup(hostname);
	for (char *p = host; *p != '\0'; p++)
		*p = (char)ascii_tolower((unsigned char)*p);

	dir = xasprintf("%s/%s", data_dir, TLS_SELFSIGNED_DIR);
	cert_path = xasprintf("%s/%s", dir, TLS_SELFSIGNED_CERT);
	key_path = xasprintf("%s/%s", dir, TLS_SELFSIGNED_KEY);
	if (ensure_dir(dir, error_r) < 0)
		goto out;

	state = check_existing(cert_path, key_path, host, reason, sizeof(reason));
	if (state == 0) {
		ret = 0;
		goto done;
	}
	if (state < 0)
		log_warning("self-signed certificate: %s; generating a new one", reason);
	if (generate(host, &pkey, &x, error_r) < 0 ||
	    write_pair(dir, cert_path, key_path, pkey, x, error_r) < 0)
		goto out;
	struct tm tm;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1 ||
	    strftime(until, sizeof(until), "%Y-%m-%d", &tm) == 0)
		(void)snprintf(until, sizeof(until), "?");
	log_notice("generated a self-signed certificate for %s in %s (valid until %s)", host,
		   cert_path, until);
	ret = 1;
done:
	*cert_r = cert_path;
	*key_r = key_path;
	cert_path = key_path = NULL;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	free(cert_path);
	free(key_path);
	free(dir);
	free(host);
	return ret;
}
