/*
 * env.c - airi_environment(): a ready `environment` section describing
 * this machine by its stable properties only (nothing that changes from
 * run to run: no free memory, no uptime, no clock), so that equal machines
 * give equal environment digests: OS and kernel, C library, CPU model,
 * core count and the instruction-set features that change numerics, total
 * memory, GPUs through NVML loaded at run time (no build-time dependency),
 * and an allowlist of environment variables. Variables whose names look
 * like secrets are refused even when asked for. (docs/spec.md, appendix A)
 */
#define _GNU_SOURCE
#include "internal.h"

#include <ctype.h>
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* variables that change numerics or placement, recorded when set */
static const char *const allow[] = {
	"CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG", "NVIDIA_TF32_OVERRIDE",
	"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
	"MKL_CBWR", "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS",
	"PYTORCH_CUDA_ALLOC_CONF", "CUDA_LAUNCH_BLOCKING", "GGML_CUDA_NO_PINNED",
	"LLAMA_ARG_THREADS", NULL};

/* CPU flags that change numerical results (vector widths, FMA, reduced
 * precision formats, matrix engines) */
static const char *const numeric_flags[] = {
	"sse2", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f",
	"avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16",
	"avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
	/* aarch64 */
	"asimd", "asimdhp", "asimddp", "sve", "sve2", "bf16", "i8mm", "fphp",
	NULL};

int airi__secret_name(const char *name)
{
	static const char *const bad[] = {"KEY", "TOKEN", "SECRET", "PASSWORD",
					  "PASSWD", "CREDENTIAL", "AUTH",
					  "COOKIE", "SESSION", NULL};
	char up[256];
	size_t n = strlen(name);
	if (n >= sizeof(up))
		return 1;
	for (size_t i = 0; i <= n; i++)
		up[i] = (char)toupper((unsigned char)name[i]);
	for (int i = 0; bad[i]; i++)
		if (strstr(up, bad[i]))
			return 1;
	return 0;
}

static char *first_line_value(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	size_t kl = strlen(key);
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl))
			continue;
		char *v = line + kl;
		while (*v == ' ' || *v == '\t' || *v == ':' || *v == '=')
			v++;
		v[strcspn(v, "\n")] = 0;
		if (*v == '"') { /* os-release quoting */
			v++;
			v[strcspn(v, "\"")] = 0;
		}
		fclose(f);
		return strdup(v);
	}
	fclose(f);
	return NULL;
}

static void kstr(airi__jw *w, const char *k, const char *v)
{
	airi__jw_key(w, k);
	if (v)
		airi__jw_str(w, v);
	else
		airi__jw_null(w);
}

/* ---- NVML, loaded at run time -------------------------------------------- */

typedef int (*nvml_fn0)(void);
typedef int (*nvml_str)(char *, unsigned);
typedef int (*nvml_int)(int *);
typedef int (*nvml_uint)(unsigned *);
typedef int (*nvml_handle)(unsigned, void **);
typedef int (*nvml_name)(void *, char *, unsigned);
typedef int (*nvml_cc)(void *, int *, int *);
typedef int (*nvml_mig)(void *, unsigned *, unsigned *);
struct nvml_mem {
	unsigned long long total, free, used;
};
typedef int (*nvml_memf)(void *, struct nvml_mem *);

static void gpus(airi__jw *w)
{
	void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		airi__jw_key(w, "gpus");
		airi__jw_arr(w);
		airi__jw_end_arr(w);
		kstr(w, "gpus_probe", "libnvidia-ml.so.1 not found");
		return;
	}
	nvml_fn0 init = (nvml_fn0)dlsym(h, "nvmlInit_v2");
	nvml_fn0 shutdown = (nvml_fn0)dlsym(h, "nvmlShutdown");
	nvml_str driver = (nvml_str)dlsym(h, "nvmlSystemGetDriverVersion");
	nvml_int cuda = (nvml_int)dlsym(h, "nvmlSystemGetCudaDriverVersion_v2");
	nvml_uint count = (nvml_uint)dlsym(h, "nvmlDeviceGetCount_v2");
	nvml_handle by_index = (nvml_handle)dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
	nvml_name name = (nvml_name)dlsym(h, "nvmlDeviceGetName");
	nvml_cc cc = (nvml_cc)dlsym(h, "nvmlDeviceGetCudaComputeCapability");
	nvml_memf mem = (nvml_memf)dlsym(h, "nvmlDeviceGetMemoryInfo");
	nvml_mig mig = (nvml_mig)dlsym(h, "nvmlDeviceGetMigMode");
	unsigned n = 0;
	if (!init || init() != 0 || !count || count(&n) != 0) {
		airi__jw_key(w, "gpus");
		airi__jw_arr(w);
		airi__jw_end_arr(w);
		kstr(w, "gpus_probe", "NVML present but not usable (no driver?)");
		dlclose(h);
		return;
	}
	char buf[96];
	if (driver && driver(buf, sizeof(buf)) == 0)
		kstr(w, "gpu_driver", buf);
	int cv = 0;
	if (cuda && cuda(&cv) == 0) {
		snprintf(buf, sizeof(buf), "%d.%d", cv / 1000, (cv % 1000) / 10);
		kstr(w, "cuda_driver", buf);
	}
	airi__jw_key(w, "gpus");
	airi__jw_arr(w);
	for (unsigned i = 0; i < n; i++) {
		void *dev = NULL;
		if (!by_index || by_index(i, &dev) != 0)
			continue;
		airi__jw_obj(w);
		int ma = 0, mi = 0;
		if (cc && cc(dev, &ma, &mi) == 0) {
			snprintf(buf, sizeof(buf), "%d.%d", ma, mi);
			kstr(w, "compute_capability", buf);
		}
		struct nvml_mem m;
		if (mem && mem(dev, &m) == 0) {
			airi__jw_key(w, "memory_mib");
			airi__jw_int(w, (long long)(m.total >> 20));
		}
		unsigned cur = 0, pend = 0;
		if (mig && mig(dev, &cur, &pend) == 0)
			kstr(w, "mig", cur ? "enabled" : "disabled");
		if (name && name(dev, buf, sizeof(buf)) == 0)
			kstr(w, "name", buf);
		airi__jw_end_obj(w);
	}
	airi__jw_end_arr(w);
	if (shutdown)
		shutdown();
	dlclose(h);
}

int airi_environment(const char *vars, char **out, size_t *len,
		     airi_error *err)
{
	airi__jw w;
	struct utsname u;
	const char *extra[64];
	int nextra = 0;
	/* vars adds variables to the allowlist, never secrets */
	char *copy = vars ? strdup(vars) : NULL;
	char *save = NULL;
	if (vars && !copy)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	for (char *p = copy ? strtok_r(copy, ",", &save) : NULL; p;
	     p = strtok_r(NULL, ",", &save)) {
		if (airi__secret_name(p)) {
			int rc = airi__err(err, AIRI_EINVAL,
					   "refusing to record %s: it looks like a "
					   "secret",
					   p);
			free(copy);
			return rc;
		}
		if (nextra == 16) {
			free(copy);
			return airi__err(err, AIRI_EINVAL,
					 "more than 16 extra variables");
		}
		extra[nextra++] = p;
	}
	uname(&u);
	char *os = first_line_value("/etc/os-release", "PRETTY_NAME");
	char *cpu = first_line_value("/proc/cpuinfo", "model name");
	if (!cpu)
		cpu = first_line_value("/proc/cpuinfo", "Model");
	char *vendor = first_line_value("/proc/cpuinfo", "vendor_id");
	char *flags = first_line_value("/proc/cpuinfo", "flags");
	if (!flags)
		flags = first_line_value("/proc/cpuinfo", "Features");
	char *mem = first_line_value("/proc/meminfo", "MemTotal");

	airi__jw_init(&w);
	airi__jw_obj(&w);
	kstr(&w, "arch", u.machine);
	airi__jw_key(&w, "cpu");
	airi__jw_obj(&w);
	airi__jw_key(&w, "cores");
	airi__jw_int(&w, sysconf(_SC_NPROCESSORS_ONLN));
	airi__jw_key(&w, "features");
	airi__jw_arr(&w);
	for (int i = 0; numeric_flags[i]; i++) {
		/* whole-word match in the flags line */
		const char *f = numeric_flags[i];
		size_t fl = strlen(f);
		for (const char *p = flags; p && (p = strstr(p, f)); p += fl)
			if ((p == flags || p[-1] == ' ') &&
			    (p[fl] == ' ' || p[fl] == 0)) {
				airi__jw_str(&w, f);
				break;
			}
	}
	airi__jw_end_arr(&w);
	kstr(&w, "model", cpu);
	kstr(&w, "vendor", vendor);
	airi__jw_end_obj(&w);
	/* environment variables: allowlisted and set */
	airi__jw_key(&w, "env");
	airi__jw_obj(&w);
	{
		const char *names[64];
		int nn = 0;
		for (int i = 0; allow[i] && nn < 48; i++)
			if (getenv(allow[i]))
				names[nn++] = allow[i];
		for (int i = 0; i < nextra && nn < 64; i++)
			if (getenv(extra[i]))
				names[nn++] = extra[i];
		/* sorted, once each (canonical order of the keys) */
		for (int i = 1; i < nn; i++)
			for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
				const char *t = names[j];
				names[j] = names[j - 1];
				names[j - 1] = t;
			}
		for (int i = 0; i < nn; i++)
			if (!i || strcmp(names[i], names[i - 1]))
				kstr(&w, names[i], getenv(names[i]));
	}
	airi__jw_end_obj(&w);
	gpus(&w); /* gpu_driver, cuda_driver, gpus, gpus_probe */
	kstr(&w, "kernel", u.release);
	airi__jw_end_obj(&w);
	size_t n;
	char *text = airi__jw_finish(&w, &n);
	/* the remaining members are appended as text and the whole is
	 * canonicalized through the parser (the writer does not sort) */
	airi__buf b;
	airi__buf_init(&b);
	if (text && n > 1) {
		airi__buf_add(&b, text, n - 1); /* without the closing brace */
		char lv[64];
		snprintf(lv, sizeof(lv), "glibc %s", gnu_get_libc_version());
		airi__buf_adds(&b, ",\"libc_version\":");
		airi__canon_string(&b, lv, strlen(lv));
		if (mem) { /* whole GiB: kernel reservations vary a little */
			long long kb = atoll(mem);
			airi__buf_printf(&b, ",\"memory_gib\":%lld",
					 (kb + 512 * 1024) / (1024 * 1024));
		}
		airi__buf_adds(&b, ",\"os\":");
		if (os)
			airi__canon_string(&b, os, strlen(os));
		else
			airi__buf_adds(&b, "null");
		airi__buf_adds(&b, ",\"system\":");
		airi__canon_string(&b, u.sysname, strlen(u.sysname));
		airi__buf_addc(&b, '}');
	}
	free(text);
	airi_json *doc = NULL;
	int rc = 0;
	if (!b.p || airi_json_parse(b.p, b.n, &doc, NULL) ||
	    airi_canon(airi_json_root(doc), out, len))
		rc = airi__err(err, AIRI_ENOMEM, "out of memory");
	airi_json_free(doc);
	airi__buf_release(&b);
	free(os);
	free(cpu);
	free(vendor);
	free(flags);
	free(mem);
	free(copy);
	return rc;
}
