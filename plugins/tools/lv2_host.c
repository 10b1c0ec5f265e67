/*
 * lv2_host: a small offline LV2 host for tests.
 *
 * Loads one plugin from one bundle directory (nothing else from LV2_PATH), instantiates it at
 * the input file's sample rate, restores file-path (and string) states through the plugin's
 * LV2_State_Interface, runs the whole input file through it in blocks and writes the audio
 * outputs as a float32 WAV with exactly the input's length (no tail).
 *
 * Usage:
 *   lv2_host --bundle DIR --uri URI --in in.wav --out out.wav
 *            [--state KEY=PATH]... [--state-string KEY=TEXT]... [--patch-set [FRAME:]KEY=PATH]...
 *            [--control SYMBOL=VALUE]... [--block N] [--atom-size BYTES] [--verbose]
 *
 * KEY is a state key URI (for a DPF plugin: "<plugin URI>#<state key>"); a KEY without ':' is
 * taken as "<plugin URI>#KEY". --state hands the plugin an atom:Path (made absolute against the
 * current directory, not resolved, so a missing file stays a missing file); --state-string an
 * atom:String. Every given key must be asked for by the plugin's restore(), else it is an error.
 * --patch-set instead sends a patch:Set {patch:property KEY, patch:value PATH (atom:Path)} event
 * to the first atom input port, in the block that holds FRAME (default 0), at its offset in the
 * block: how a host sets a patch:writable file parameter while running (DPF plugins hand it to
 * the worker). FRAME must lie inside the input.
 *
 * Features provided: urid:map, urid:unmap, worker:schedule (work() runs synchronously inside
 * schedule_work(); responses are delivered with work_response() after run()), options:options
 * (bufSize:minBlockLength, maxBlockLength, nominalBlockLength, sequenceSize as atom:Int,
 * param:sampleRate as atom:Float), bufSize:boundedBlockLength, log:log, state:freePath, and
 * state:mapPath/freePath to restore(). A plugin that requires bufSize:fixedBlockLength or
 * powerOf2BlockLength gets it: the last block is then padded with zeros (the output is still
 * cut to the input's length).
 *
 * Audio input: a file with as many channels as the plugin has audio inputs, or a mono file,
 * which is fed to every input. After processing, every control output port is printed to
 * stdout as "SYMBOL=VALUE", one a line.
 *
 * Exit status: 0 on success, 1 on any failure, 2 for bad arguments; the reason goes to stderr.
 *
 * Build:
 *   gcc -O2 -Wall -Wextra -o build/plugins/lv2_host plugins/tools/lv2_host.c \
 *       $(pkg-config --cflags --libs lilv-0 sndfile)
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lilv/lilv.h>
#include <lv2/atom/atom.h>
#include <lv2/atom/forge.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/core/lv2.h>
#include <lv2/log/log.h>
#include <lv2/options/options.h>
#include <lv2/patch/patch.h>
#include <lv2/parameters/parameters.h>
#include <lv2/resize-port/resize-port.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>
#include <sndfile.h>

#define PROG "lv2_host"
#define DEFAULT_BLOCK 256
#define MAX_BLOCK (1 << 20)
#define DEFAULT_ATOM_SIZE (64 * 1024)
#define MAX_ATOM_SIZE (256 * 1024 * 1024)
/* extra bytes behind every atom buffer, so a plugin that miscounts its capacity by a header
 * does not write past our allocation */
#define ATOM_SLACK 256
#define MAX_WORKER_ROUNDS 1000

/* ------------------------------------------------------------------------------------------ */
/* messages */

static void vmsg(const char* prefix, const char* fmt, va_list ap)
{
  fputs(prefix, stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

static void fail_msg(const char* fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg(PROG ": error: ", fmt, ap);
  va_end(ap);
}

static bool g_verbose = false;

static void info_msg(const char* fmt, ...)
{
  if (!g_verbose) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vmsg(PROG ": ", fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------------------------------------ */
/* URID map */

typedef struct {
  char**   uris;
  uint32_t count;
  uint32_t capacity;
} UridTable;

static LV2_URID urid_map(LV2_URID_Map_Handle handle, const char* uri)
{
  UridTable* t = (UridTable*)handle;
  if (uri == NULL) {
    return 0;
  }
  for (uint32_t i = 0; i < t->count; ++i) {
    if (strcmp(t->uris[i], uri) == 0) {
      return i + 1;
    }
  }
  if (t->count == t->capacity) {
    uint32_t cap = t->capacity ? t->capacity * 2 : 64;
    char** n = (char**)realloc(t->uris, cap * sizeof(char*));
    if (n == NULL) {
      return 0;
    }
    t->uris = n;
    t->capacity = cap;
  }
  char* copy = strdup(uri);
  if (copy == NULL) {
    return 0;
  }
  t->uris[t->count++] = copy;
  return t->count;
}

static const char* urid_unmap(LV2_URID_Unmap_Handle handle, LV2_URID urid)
{
  UridTable* t = (UridTable*)handle;
  if (urid == 0 || urid > t->count) {
    return NULL;
  }
  return t->uris[urid - 1];
}

static void urid_table_free(UridTable* t)
{
  for (uint32_t i = 0; i < t->count; ++i) {
    free(t->uris[i]);
  }
  free(t->uris);
  t->uris = NULL;
  t->count = t->capacity = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* host state */

typedef enum { PORT_AUDIO, PORT_CONTROL, PORT_ATOM, PORT_CV, PORT_NONE } PortKind;

typedef struct {
  PortKind    kind;
  bool        is_input;
  const char* symbol; /* owned by lilv */
  float       control;
  float*      audio;   /* audio and CV: one block */
  uint64_t*   atom;    /* 8-byte aligned atom buffer */
  uint32_t    atom_capacity; /* bytes usable by the atom (header included) */
} Port;

typedef struct {
  char*    key_uri;
  char*    value;
  LV2_URID key;
  LV2_URID type;
  bool     via_patch; /* sent as a patch:Set event at `frame`, not restored */
  uint64_t frame;
  bool     sent;
  bool     requested;
} StateArg;

typedef struct {
  uint32_t size;
  void*    data;
} WorkResponse;

typedef struct {
  UridTable  urids;
  LV2_URID_Map   map;
  LV2_URID_Unmap unmap;

  LilvInstance*               instance;
  const LV2_Worker_Interface* worker;
  bool                        worker_missing_reported;

  WorkResponse* responses;
  uint32_t      n_responses;
  uint32_t      cap_responses;
  uint32_t      n_work_calls;
  bool          oom;

  StateArg* states;
  uint32_t  n_states;
  LV2_URID* requested_keys;
  uint32_t  n_requested_keys;

  char* cwd;

  LV2_URID atom_Path;
  LV2_URID atom_String;
  LV2_URID atom_Sequence;
  LV2_URID atom_Chunk;
  LV2_URID atom_Int;
  LV2_URID atom_Float;
  LV2_URID log_Error;
  LV2_URID log_Warning;
  LV2_URID log_Note;
  LV2_URID log_Trace;
} Host;

/* ------------------------------------------------------------------------------------------ */
/* log:log */

static int log_vprintf(LV2_Log_Handle handle, LV2_URID type, const char* fmt, va_list ap)
{
  Host*       host = (Host*)handle;
  const char* what = "log";
  if (type == host->log_Error) {
    what = "error";
  } else if (type == host->log_Warning) {
    what = "warning";
  } else if (type == host->log_Note) {
    what = "note";
  } else if (type == host->log_Trace) {
    if (!g_verbose) {
      return 0;
    }
    what = "trace";
  }
  int n = fprintf(stderr, PROG ": plugin %s: ", what);
  n += vfprintf(stderr, fmt, ap);
  return n;
}

static int log_printf(LV2_Log_Handle handle, LV2_URID type, const char* fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = log_vprintf(handle, type, fmt, ap);
  va_end(ap);
  return n;
}

/* ------------------------------------------------------------------------------------------ */
/* worker:schedule, run synchronously */

static LV2_Worker_Status worker_respond(LV2_Worker_Respond_Handle handle, uint32_t size,
                                        const void* data)
{
  Host* host = (Host*)handle;
  if (host->n_responses == host->cap_responses) {
    uint32_t      cap = host->cap_responses ? host->cap_responses * 2 : 16;
    WorkResponse* n = (WorkResponse*)realloc(host->responses, cap * sizeof(WorkResponse));
    if (n == NULL) {
      host->oom = true;
      return LV2_WORKER_ERR_NO_SPACE;
    }
    host->responses = n;
    host->cap_responses = cap;
  }
  void* copy = malloc(size ? size : 1);
  if (copy == NULL) {
    host->oom = true;
    return LV2_WORKER_ERR_NO_SPACE;
  }
  if (size) {
    memcpy(copy, data, size);
  }
  host->responses[host->n_responses].size = size;
  host->responses[host->n_responses].data = copy;
  host->n_responses++;
  return LV2_WORKER_SUCCESS;
}

static LV2_Worker_Status worker_schedule(LV2_Worker_Schedule_Handle handle, uint32_t size,
                                         const void* data)
{
  Host* host = (Host*)handle;
  if (host->instance == NULL || host->worker == NULL || host->worker->work == NULL) {
    if (!host->worker_missing_reported) {
      fail_msg("plugin called worker schedule_work() but has no usable %s extension",
               LV2_WORKER__interface);
      host->worker_missing_reported = true;
    }
    return LV2_WORKER_ERR_UNKNOWN;
  }
  host->n_work_calls++;
  return host->worker->work(lilv_instance_get_handle(host->instance), worker_respond, host, size,
                            data);
}

/* work_response() for every queued response (and for responses queued by those), then
 * end_run(). */
static void worker_deliver(Host* host)
{
  if (host->worker == NULL) {
    return;
  }
  LV2_Handle handle = lilv_instance_get_handle(host->instance);
  for (uint32_t round = 0; host->n_responses > 0 && round < MAX_WORKER_ROUNDS; ++round) {
    uint32_t      n = host->n_responses;
    WorkResponse* batch = host->responses;
    host->responses = NULL;
    host->n_responses = host->cap_responses = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (host->worker->work_response != NULL) {
        host->worker->work_response(handle, batch[i].size, batch[i].data);
      }
      free(batch[i].data);
    }
    free(batch);
  }
  if (host->worker->end_run != NULL) {
    host->worker->end_run(handle);
  }
}

static void worker_clear(Host* host)
{
  for (uint32_t i = 0; i < host->n_responses; ++i) {
    free(host->responses[i].data);
  }
  free(host->responses);
  host->responses = NULL;
  host->n_responses = host->cap_responses = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* state */

static char* path_join_cwd(const char* cwd, const char* path)
{
  if (path[0] == '/' || cwd == NULL) {
    return strdup(path);
  }
  size_t a = strlen(cwd), b = strlen(path);
  char*  out = (char*)malloc(a + b + 2);
  if (out == NULL) {
    return NULL;
  }
  memcpy(out, cwd, a);
  out[a] = '/';
  memcpy(out + a + 1, path, b + 1);
  return out;
}

static char* map_abstract_path(LV2_State_Map_Path_Handle handle, const char* absolute_path)
{
  (void)handle;
  return absolute_path ? strdup(absolute_path) : NULL;
}

static char* map_absolute_path(LV2_State_Map_Path_Handle handle, const char* abstract_path)
{
  Host* host = (Host*)handle;
  return abstract_path ? path_join_cwd(host->cwd, abstract_path) : NULL;
}

static void free_path(LV2_State_Free_Path_Handle handle, char* path)
{
  (void)handle;
  free(path);
}

static const void* state_retrieve(LV2_State_Handle handle, uint32_t key, size_t* size,
                                  uint32_t* type, uint32_t* flags)
{
  Host* host = (Host*)handle;

  bool seen = false;
  for (uint32_t i = 0; i < host->n_requested_keys; ++i) {
    if (host->requested_keys[i] == key) {
      seen = true;
      break;
    }
  }
  if (!seen) {
    LV2_URID* n = (LV2_URID*)realloc(host->requested_keys,
                                     (host->n_requested_keys + 1) * sizeof(LV2_URID));
    if (n != NULL) {
      host->requested_keys = n;
      host->requested_keys[host->n_requested_keys++] = key;
    }
  }

  for (uint32_t i = 0; i < host->n_states; ++i) {
    StateArg* s = &host->states[i];
    if (s->key == key && !s->via_patch) {
      s->requested = true;
      if (size) {
        *size = strlen(s->value) + 1;
      }
      if (type) {
        *type = s->type;
      }
      if (flags) {
        *flags = LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE;
      }
      info_msg("restore: %s = %s", s->key_uri, s->value);
      return s->value;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* arguments */

enum { STATE_PATH, STATE_STRING, STATE_PATCH };

typedef struct {
  const char* bundle;
  const char* uri;
  const char* in_path;
  const char* out_path;
  uint32_t    block;
  uint32_t    atom_size;
  /* "KEY=VALUE" strings, pointing into argv */
  const char** states;
  int*         state_kind; /* STATE_PATH, STATE_STRING or STATE_PATCH */
  uint32_t     n_states;
  const char** controls;
  uint32_t     n_controls;
} Args;

static void usage(FILE* f)
{
  fprintf(f,
          "usage: " PROG " --bundle DIR --uri URI --in IN.wav --out OUT.wav\n"
          "               [--state KEY_URI=PATH]... [--state-string KEY_URI=TEXT]...\n"
          "               [--patch-set [FRAME:]KEY_URI=PATH]...\n"
          "               [--control SYMBOL=VALUE]... [--block N] [--atom-size BYTES]"
          " [--verbose]\n"
          "\n"
          "Runs IN.wav through the LV2 plugin URI found in the bundle DIR (only there) and\n"
          "writes its audio outputs to OUT.wav (float32, same length and rate as IN.wav).\n"
          "  --state KEY=PATH         restore state KEY as an atom:Path (KEY without ':'\n"
          "                           means <URI>#KEY, the DPF convention)\n"
          "  --state-string KEY=TEXT  restore state KEY as an atom:String\n"
          "  --patch-set [FRAME:]KEY=PATH\n"
          "                           send a patch:Set of KEY to an atom:Path at input frame\n"
          "                           FRAME (default 0) to the event input (the worker path of\n"
          "                           DPF plugins)\n"
          "  --control SYMBOL=VALUE   set a control input port (default: its lv2:default)\n"
          "  --block N                frames per run() call (default %d; the last may be\n"
          "                           shorter)\n"
          "  --atom-size BYTES        atom port buffer size (default %d, at least the\n"
          "                           port's rsz:minimumSize)\n"
          "  --verbose                describe what is done on stderr\n"
          "Control output ports are printed to stdout as SYMBOL=VALUE after the run.\n",
          DEFAULT_BLOCK, DEFAULT_ATOM_SIZE);
}

static bool parse_u32(const char* s, uint32_t lo, uint32_t hi, uint32_t* out)
{
  char* end = NULL;
  errno = 0;
  if (s == NULL || *s == '\0' || *s == '-') {
    return false;
  }
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
    return false;
  }
  *out = (uint32_t)v;
  return true;
}

/* 0 ok, 1 --help, 2 bad args */
static int parse_args(int argc, char** argv, Args* a)
{
  memset(a, 0, sizeof(*a));
  a->block = DEFAULT_BLOCK;
  a->atom_size = DEFAULT_ATOM_SIZE;
  a->states = (const char**)calloc((size_t)argc, sizeof(char*));
  a->state_kind = (int*)calloc((size_t)argc, sizeof(int));
  a->controls = (const char**)calloc((size_t)argc, sizeof(char*));
  if (a->states == NULL || a->state_kind == NULL || a->controls == NULL) {
    fail_msg("out of memory");
    return 2;
  }

  for (int i = 1; i < argc; ++i) {
    const char* opt = argv[i];
    if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
      return 1;
    }
    if (strcmp(opt, "--verbose") == 0 || strcmp(opt, "-v") == 0) {
      g_verbose = true;
      continue;
    }
    static const char* const with_value[] = {"--bundle",    "--uri",     "--in",
                                             "--out",       "--state",   "--state-string",
                                             "--patch-set", "--control", "--block",
                                             "--atom-size"};
    bool known = false;
    for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); ++k) {
      if (strcmp(opt, with_value[k]) == 0) {
        known = true;
      }
    }
    if (!known) {
      fail_msg("unknown argument '%s' (see --help)", opt);
      return 2;
    }
    if (i + 1 >= argc) {
      fail_msg("%s needs a value", opt);
      return 2;
    }
    const char* val = argv[++i];
    if (strcmp(opt, "--bundle") == 0) {
      a->bundle = val;
    } else if (strcmp(opt, "--uri") == 0) {
      a->uri = val;
    } else if (strcmp(opt, "--in") == 0) {
      a->in_path = val;
    } else if (strcmp(opt, "--out") == 0) {
      a->out_path = val;
    } else if (strcmp(opt, "--state") == 0 || strcmp(opt, "--state-string") == 0 ||
               strcmp(opt, "--patch-set") == 0) {
      const char* eq = strchr(val, '=');
      if (eq == NULL || eq == val) {
        fail_msg("%s wants KEY=VALUE, got '%s'", opt, val);
        return 2;
      }
      if (strcmp(opt, "--state-string") != 0 && eq[1] == '\0') {
        fail_msg("%s '%s': empty path", opt, val);
        return 2;
      }
      a->state_kind[a->n_states] = strcmp(opt, "--state") == 0          ? STATE_PATH
                                   : strcmp(opt, "--state-string") == 0 ? STATE_STRING
                                                                        : STATE_PATCH;
      a->states[a->n_states++] = val;
    } else if (strcmp(opt, "--control") == 0) {
      const char* eq = strchr(val, '=');
      if (eq == NULL || eq == val || eq[1] == '\0') {
        fail_msg("--control wants SYMBOL=VALUE, got '%s'", val);
        return 2;
      }
      a->controls[a->n_controls++] = val;
    } else if (strcmp(opt, "--block") == 0) {
      if (!parse_u32(val, 1, MAX_BLOCK, &a->block)) {
        fail_msg("--block wants an integer in 1..%d, got '%s'", MAX_BLOCK, val);
        return 2;
      }
    } else if (strcmp(opt, "--atom-size") == 0) {
      if (!parse_u32(val, 1024, MAX_ATOM_SIZE, &a->atom_size)) {
        fail_msg("--atom-size wants an integer in 1024..%d, got '%s'", MAX_ATOM_SIZE, val);
        return 2;
      }
    }
  }

  const char* missing = !a->bundle ? "--bundle"
                        : !a->uri ? "--uri"
                        : !a->in_path ? "--in"
                        : !a->out_path ? "--out"
                        : NULL;
  if (missing) {
    fail_msg("%s is required (see --help)", missing);
    return 2;
  }
  return 0;
}

static void args_free(Args* a)
{
  free((void*)a->states);
  free(a->state_kind);
  free((void*)a->controls);
}

/* ------------------------------------------------------------------------------------------ */
/* helpers */

static bool is_power_of_2(uint32_t v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

static void atom_in_reset(Host* host, Port* p)
{
  LV2_Atom_Sequence* seq = (LV2_Atom_Sequence*)p->atom;
  seq->atom.size = sizeof(LV2_Atom_Sequence_Body);
  seq->atom.type = host->atom_Sequence;
  seq->body.unit = 0;
  seq->body.pad = 0;
}

static void atom_out_reset(Host* host, Port* p)
{
  LV2_Atom* atom = (LV2_Atom*)p->atom;
  atom->size = p->atom_capacity - (uint32_t)sizeof(LV2_Atom);
  atom->type = host->atom_Chunk;
}

/* the --patch-set events of frames [start, start + n), into the first atom input port (already
 * reset to an empty sequence), in time order */
static bool send_patch_sets(Host* host, Port* ports, uint32_t n_ports, uint64_t start, uint32_t n)
{
  uint32_t todo = 0;
  for (uint32_t i = 0; i < host->n_states; ++i) {
    const StateArg* s = &host->states[i];
    if (s->via_patch && !s->sent && s->frame >= start && s->frame < start + n) {
      todo++;
    }
  }
  if (todo == 0) {
    return true;
  }
  Port* p = NULL;
  for (uint32_t i = 0; i < n_ports; ++i) {
    if (ports[i].kind == PORT_ATOM && ports[i].is_input) {
      p = &ports[i];
      break;
    }
  }
  if (p == NULL) {
    fail_msg("--patch-set: the plugin has no atom input port");
    return false;
  }
  LV2_URID patch_Set = urid_map(&host->urids, LV2_PATCH__Set);
  LV2_URID patch_property = urid_map(&host->urids, LV2_PATCH__property);
  LV2_URID patch_value = urid_map(&host->urids, LV2_PATCH__value);

  LV2_Atom_Forge forge;
  lv2_atom_forge_init(&forge, &host->map);
  lv2_atom_forge_set_buffer(&forge, (uint8_t*)p->atom, p->atom_capacity);
  LV2_Atom_Forge_Frame seq_frame;
  bool                 ok = lv2_atom_forge_sequence_head(&forge, &seq_frame, 0) != 0;
  while (ok && todo > 0) {
    /* the earliest unsent event of this block (stable: the first given wins a tie) */
    StateArg* s = NULL;
    for (uint32_t i = 0; i < host->n_states; ++i) {
      StateArg* c = &host->states[i];
      if (c->via_patch && !c->sent && c->frame >= start && c->frame < start + n &&
          (s == NULL || c->frame < s->frame)) {
        s = c;
      }
    }
    s->sent = true;
    todo--;
    LV2_Atom_Forge_Frame obj_frame;
    ok = lv2_atom_forge_frame_time(&forge, (int64_t)(s->frame - start)) != 0 &&
         lv2_atom_forge_object(&forge, &obj_frame, 0, patch_Set) != 0 &&
         lv2_atom_forge_key(&forge, patch_property) != 0 &&
         lv2_atom_forge_urid(&forge, s->key) != 0 &&
         lv2_atom_forge_key(&forge, patch_value) != 0 &&
         lv2_atom_forge_path(&forge, s->value, (uint32_t)strlen(s->value) + 1) != 0;
    if (ok) {
      lv2_atom_forge_pop(&forge, &obj_frame);
      info_msg("frame %llu: patch:Set %s = %s", (unsigned long long)s->frame, s->key_uri,
               s->value);
    }
  }
  if (!ok) {
    fail_msg("--patch-set: the events do not fit in the %u-byte atom buffer (see --atom-size)",
             p->atom_capacity);
    return false;
  }
  lv2_atom_forge_pop(&forge, &seq_frame);
  return true;
}

/* ------------------------------------------------------------------------------------------ */

int main(int argc, char** argv)
{
  Args a;
  int  rc = parse_args(argc, argv, &a);
  if (rc == 1) {
    usage(stdout);
    args_free(&a);
    return 0;
  }
  if (rc != 0) {
    args_free(&a);
    return 2;
  }
  rc = 1; /* from here on: any failure is 1 */

  Host host;
  memset(&host, 0, sizeof(host));
  host.map.handle = &host.urids;
  host.map.map = urid_map;
  host.unmap.handle = &host.urids;
  host.unmap.unmap = urid_unmap;

  LilvWorld*  world = NULL;
  LilvNode*   bundle_node = NULL;
  LilvNode*   uri_node = NULL;
  LilvNodes*  required = NULL;
  const LilvPlugin* plugin = NULL;
  Port*       ports = NULL;
  uint32_t    n_ports = 0;
  SNDFILE*    in_file = NULL;
  SNDFILE*    out_file = NULL;
  float*      in_buf = NULL;
  float*      out_buf = NULL;
  char*       bundle_dir = NULL;
  char*       out_abs = NULL;
  bool        activated = false;
  uint32_t*   audio_in_idx = NULL;
  uint32_t*   audio_out_idx = NULL;
  uint32_t    n_audio_in = 0, n_audio_out = 0;

  LilvNode* n_input = NULL;
  LilvNode* n_output = NULL;
  LilvNode* n_audio = NULL;
  LilvNode* n_control = NULL;
  LilvNode* n_cv = NULL;
  LilvNode* n_atom = NULL;
  LilvNode* n_optional = NULL;
  LilvNode* n_min_size = NULL;

  host.cwd = getcwd(NULL, 0);

  /* the bundle directory, as a file URI with a trailing slash */
  {
    char* real = realpath(a.bundle, NULL);
    if (real == NULL) {
      fail_msg("bundle directory '%s' not found: %s", a.bundle, strerror(errno));
      goto done;
    }
    size_t len = strlen(real);
    bundle_dir = (char*)malloc(len + 2);
    if (bundle_dir == NULL) {
      free(real);
      fail_msg("out of memory");
      goto done;
    }
    memcpy(bundle_dir, real, len + 1);
    free(real);
    if (len == 0 || bundle_dir[len - 1] != '/') {
      bundle_dir[len] = '/';
      bundle_dir[len + 1] = '\0';
    }
    char manifest[PATH_MAX + 16];
    snprintf(manifest, sizeof(manifest), "%smanifest.ttl", bundle_dir);
    if (access(manifest, R_OK) != 0) {
      fail_msg("'%s' is not an LV2 bundle: no readable manifest.ttl in it", a.bundle);
      goto done;
    }
  }

  world = lilv_world_new();
  if (world == NULL) {
    fail_msg("lilv_world_new failed");
    goto done;
  }
  bundle_node = lilv_new_file_uri(world, NULL, bundle_dir);
  if (bundle_node == NULL) {
    fail_msg("cannot make a URI of '%s'", bundle_dir);
    goto done;
  }
  lilv_world_load_bundle(world, bundle_node);

  uri_node = lilv_new_uri(world, a.uri);
  plugin = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(world), uri_node);
  if (plugin == NULL) {
    fail_msg("plugin <%s> not found in bundle '%s'", a.uri, bundle_dir);
    const LilvPlugins* all = lilv_world_get_all_plugins(world);
    if (lilv_plugins_size(all) == 0) {
      fprintf(stderr, PROG ": the bundle declares no plugin\n");
    }
    LILV_FOREACH (plugins, it, all) {
      fprintf(stderr, PROG ": the bundle has <%s>\n",
              lilv_node_as_uri(lilv_plugin_get_uri(lilv_plugins_get(all, it))));
    }
    goto done;
  }
  if (!lilv_plugin_verify(plugin)) {
    fail_msg("plugin <%s>: its data is invalid (lilv_plugin_verify failed)", a.uri);
    goto done;
  }

  /* input file */
  SF_INFO in_info;
  memset(&in_info, 0, sizeof(in_info));
  in_file = sf_open(a.in_path, SFM_READ, &in_info);
  if (in_file == NULL) {
    fail_msg("cannot read input '%s': %s", a.in_path, sf_strerror(NULL));
    goto done;
  }
  if (in_info.samplerate <= 0 || in_info.channels <= 0) {
    fail_msg("input '%s': bad sample rate %d or channel count %d", a.in_path,
             in_info.samplerate, in_info.channels);
    goto done;
  }
  const double sample_rate = (double)in_info.samplerate;

  /* URIDs the host uses */
  host.atom_Path = urid_map(&host.urids, LV2_ATOM__Path);
  host.atom_String = urid_map(&host.urids, LV2_ATOM__String);
  host.atom_Sequence = urid_map(&host.urids, LV2_ATOM__Sequence);
  host.atom_Chunk = urid_map(&host.urids, LV2_ATOM__Chunk);
  host.atom_Int = urid_map(&host.urids, LV2_ATOM__Int);
  host.atom_Float = urid_map(&host.urids, LV2_ATOM__Float);
  host.log_Error = urid_map(&host.urids, LV2_LOG__Error);
  host.log_Warning = urid_map(&host.urids, LV2_LOG__Warning);
  host.log_Note = urid_map(&host.urids, LV2_LOG__Note);
  host.log_Trace = urid_map(&host.urids, LV2_LOG__Trace);

  /* state arguments */
  if (a.n_states > 0) {
    host.states = (StateArg*)calloc(a.n_states, sizeof(StateArg));
    if (host.states == NULL) {
      fail_msg("out of memory");
      goto done;
    }
    for (uint32_t i = 0; i < a.n_states; ++i) {
      const char* arg = a.states[i];
      uint64_t    frame = 0;
      if (a.state_kind[i] == STATE_PATCH) {
        /* an optional FRAME: prefix (a key URI cannot start with a digit) */
        const char* q = arg;
        while (*q >= '0' && *q <= '9') {
          ++q;
        }
        if (q != arg && *q == ':') {
          char* end = NULL;
          errno = 0;
          unsigned long long v = strtoull(arg, &end, 10);
          if (errno != 0 || end != q) {
            fail_msg("--patch-set %s: bad frame", arg);
            goto done;
          }
          frame = (uint64_t)v;
          arg = q + 1;
        }
      }
      const char* eq = strchr(arg, '=');
      if (eq == NULL || eq == arg) {
        fail_msg("--patch-set wants [FRAME:]KEY=PATH, got '%s'", a.states[i]);
        goto done;
      }
      size_t      klen = (size_t)(eq - arg);
      StateArg*   s = &host.states[host.n_states++];
      bool        bare = memchr(arg, ':', klen) == NULL;
      size_t      ulen = strlen(a.uri);
      s->key_uri = (char*)malloc(klen + ulen + 2);
      if (s->key_uri == NULL) {
        fail_msg("out of memory");
        goto done;
      }
      if (bare) {
        memcpy(s->key_uri, a.uri, ulen);
        s->key_uri[ulen] = '#';
        memcpy(s->key_uri + ulen + 1, arg, klen);
        s->key_uri[ulen + 1 + klen] = '\0';
      } else {
        memcpy(s->key_uri, arg, klen);
        s->key_uri[klen] = '\0';
      }
      s->via_patch = a.state_kind[i] == STATE_PATCH;
      s->frame = frame;
      if (a.state_kind[i] == STATE_STRING) {
        s->value = strdup(eq + 1);
        s->type = host.atom_String;
      } else {
        s->value = path_join_cwd(host.cwd, eq + 1);
        s->type = host.atom_Path;
      }
      if (s->value == NULL) {
        fail_msg("out of memory");
        goto done;
      }
      s->key = urid_map(&host.urids, s->key_uri);
      for (uint32_t j = 0; j + 1 < host.n_states; ++j) {
        if (!s->via_patch && !host.states[j].via_patch && host.states[j].key == s->key) {
          fail_msg("state key <%s> given twice", s->key_uri);
          goto done;
        }
      }
    }
  }

  /* ports */
  n_input = lilv_new_uri(world, LV2_CORE__InputPort);
  n_output = lilv_new_uri(world, LV2_CORE__OutputPort);
  n_audio = lilv_new_uri(world, LV2_CORE__AudioPort);
  n_control = lilv_new_uri(world, LV2_CORE__ControlPort);
  n_cv = lilv_new_uri(world, LV2_CORE__CVPort);
  n_atom = lilv_new_uri(world, LV2_ATOM__AtomPort);
  n_optional = lilv_new_uri(world, LV2_CORE__connectionOptional);
  n_min_size = lilv_new_uri(world, LV2_RESIZE_PORT__minimumSize);

  n_ports = lilv_plugin_get_num_ports(plugin);
  ports = (Port*)calloc(n_ports ? n_ports : 1, sizeof(Port));
  float* mins = (float*)calloc(n_ports ? n_ports : 1, sizeof(float));
  float* maxs = (float*)calloc(n_ports ? n_ports : 1, sizeof(float));
  float* defs = (float*)calloc(n_ports ? n_ports : 1, sizeof(float));
  audio_in_idx = (uint32_t*)calloc(n_ports ? n_ports : 1, sizeof(uint32_t));
  audio_out_idx = (uint32_t*)calloc(n_ports ? n_ports : 1, sizeof(uint32_t));
  if (!ports || !mins || !maxs || !defs || !audio_in_idx || !audio_out_idx) {
    free(mins);
    free(maxs);
    free(defs);
    fail_msg("out of memory");
    goto done;
  }
  lilv_plugin_get_port_ranges_float(plugin, mins, maxs, defs);

  bool ports_ok = true;
  for (uint32_t i = 0; i < n_ports; ++i) {
    const LilvPort* lp = lilv_plugin_get_port_by_index(plugin, i);
    Port*           p = &ports[i];
    p->symbol = lilv_node_as_string(lilv_port_get_symbol(plugin, lp));
    bool in = lilv_port_is_a(plugin, lp, n_input);
    bool out = lilv_port_is_a(plugin, lp, n_output);
    if (in == out) {
      fail_msg("port %u '%s' is %s", i, p->symbol,
               in ? "both an input and an output" : "neither an input nor an output");
      ports_ok = false;
      continue;
    }
    p->is_input = in;
    if (lilv_port_is_a(plugin, lp, n_audio)) {
      p->kind = PORT_AUDIO;
      if (in) {
        audio_in_idx[n_audio_in++] = i;
      } else {
        audio_out_idx[n_audio_out++] = i;
      }
    } else if (lilv_port_is_a(plugin, lp, n_control)) {
      p->kind = PORT_CONTROL;
      if (in) {
        float v = defs[i];
        if (isnan(v)) {
          v = isnan(mins[i]) ? 0.0f : mins[i];
        }
        p->control = v;
      }
    } else if (lilv_port_is_a(plugin, lp, n_cv)) {
      p->kind = PORT_CV;
    } else if (lilv_port_is_a(plugin, lp, n_atom)) {
      p->kind = PORT_ATOM;
      uint32_t   size = a.atom_size;
      LilvNodes* ms = lilv_port_get_value(plugin, lp, n_min_size);
      if (ms != NULL) {
        const LilvNode* v = lilv_nodes_get_first(ms);
        if (v != NULL && lilv_node_is_int(v)) {
          int req = lilv_node_as_int(v);
          if (req > (int)MAX_ATOM_SIZE) {
            fail_msg("atom port '%s' wants rsz:minimumSize %d, more than %d", p->symbol, req,
                     MAX_ATOM_SIZE);
            ports_ok = false;
          } else if (req > 0 && (uint32_t)req > size) {
            size = (uint32_t)req;
          }
        }
        lilv_nodes_free(ms);
      }
      size = (size + 7u) & ~7u;
      p->atom_capacity = size;
      p->atom = (uint64_t*)calloc((size + ATOM_SLACK) / 8, sizeof(uint64_t));
      if (p->atom == NULL) {
        fail_msg("out of memory");
        ports_ok = false;
      }
    } else if (lilv_port_has_property(plugin, lp, n_optional)) {
      p->kind = PORT_NONE;
    } else {
      fail_msg("port %u '%s' is of a type " PROG " does not support", i, p->symbol);
      ports_ok = false;
    }
  }
  free(mins);
  free(maxs);
  free(defs);
  if (!ports_ok) {
    goto done;
  }

  /* --control */
  for (uint32_t c = 0; c < a.n_controls; ++c) {
    const char* arg = a.controls[c];
    const char* eq = strchr(arg, '=');
    size_t      slen = (size_t)(eq - arg);
    bool        found = false;
    for (uint32_t i = 0; i < n_ports; ++i) {
      Port* p = &ports[i];
      if (strlen(p->symbol) != slen || strncmp(p->symbol, arg, slen) != 0) {
        continue;
      }
      found = true;
      if (p->kind != PORT_CONTROL || !p->is_input) {
        fail_msg("--control %s: port '%s' is not a control input", arg, p->symbol);
        goto done;
      }
      char* end = NULL;
      errno = 0;
      double v = strtod(eq + 1, &end);
      if (errno != 0 || end == eq + 1 || *end != '\0' || !isfinite(v)) {
        fail_msg("--control %s: '%s' is not a number", arg, eq + 1);
        goto done;
      }
      p->control = (float)v;
    }
    if (!found) {
      fail_msg("--control %s: the plugin has no port with symbol '%.*s'", arg, (int)slen, arg);
      goto done;
    }
  }

  /* channel mapping */
  if (n_audio_out == 0) {
    fail_msg("plugin <%s> has no audio output: nothing to write", a.uri);
    goto done;
  }
  if (n_audio_in > 0 && in_info.channels != 1 && (uint32_t)in_info.channels != n_audio_in) {
    fail_msg("input '%s' has %d channels; the plugin has %u audio inputs (give a file with %u "
             "channels, or a mono file, which is fed to every input)",
             a.in_path, in_info.channels, n_audio_in, n_audio_in);
    goto done;
  }

  /* features */
  required = lilv_plugin_get_required_features(plugin);
  bool need_fixed = false, need_pow2 = false;
  LILV_FOREACH (nodes, it, required) {
    const char* f = lilv_node_as_uri(lilv_nodes_get(required, it));
    if (strcmp(f, LV2_BUF_SIZE__fixedBlockLength) == 0) {
      need_fixed = true;
    } else if (strcmp(f, LV2_BUF_SIZE__powerOf2BlockLength) == 0) {
      need_pow2 = true;
    }
  }
  if (need_pow2 && !is_power_of_2(a.block)) {
    fail_msg("plugin requires %s; --block %u is not a power of 2",
             LV2_BUF_SIZE__powerOf2BlockLength, a.block);
    goto done;
  }
  const bool pad_last = need_fixed || need_pow2;
  const uint32_t block = a.block;

  int32_t min_block = pad_last ? (int32_t)block : 1;
  int32_t max_block = (int32_t)block;
  int32_t nominal_block = (int32_t)block;
  int32_t seq_size = (int32_t)a.atom_size;
  float   rate_f = (float)sample_rate;
  LV2_Options_Option options[] = {
    {LV2_OPTIONS_INSTANCE, 0, urid_map(&host.urids, LV2_BUF_SIZE__minBlockLength),
     sizeof(int32_t), host.atom_Int, &min_block},
    {LV2_OPTIONS_INSTANCE, 0, urid_map(&host.urids, LV2_BUF_SIZE__maxBlockLength),
     sizeof(int32_t), host.atom_Int, &max_block},
    {LV2_OPTIONS_INSTANCE, 0, urid_map(&host.urids, LV2_BUF_SIZE__nominalBlockLength),
     sizeof(int32_t), host.atom_Int, &nominal_block},
    {LV2_OPTIONS_INSTANCE, 0, urid_map(&host.urids, LV2_BUF_SIZE__sequenceSize),
     sizeof(int32_t), host.atom_Int, &seq_size},
    {LV2_OPTIONS_INSTANCE, 0, urid_map(&host.urids, LV2_PARAMETERS__sampleRate), sizeof(float),
     host.atom_Float, &rate_f},
    {LV2_OPTIONS_INSTANCE, 0, 0, 0, 0, NULL},
  };

  LV2_Worker_Schedule  schedule = {&host, worker_schedule};
  LV2_Log_Log          log = {&host, log_printf, log_vprintf};
  LV2_State_Map_Path   map_path = {&host, map_abstract_path, map_absolute_path};
  LV2_State_Free_Path  free_path_f = {&host, free_path};

  LV2_Feature f_map = {LV2_URID__map, &host.map};
  LV2_Feature f_unmap = {LV2_URID__unmap, &host.unmap};
  LV2_Feature f_sched = {LV2_WORKER__schedule, &schedule};
  LV2_Feature f_options = {LV2_OPTIONS__options, options};
  LV2_Feature f_bounded = {LV2_BUF_SIZE__boundedBlockLength, NULL};
  LV2_Feature f_fixed = {LV2_BUF_SIZE__fixedBlockLength, NULL};
  LV2_Feature f_pow2 = {LV2_BUF_SIZE__powerOf2BlockLength, NULL};
  LV2_Feature f_log = {LV2_LOG__log, &log};
  LV2_Feature f_free_path = {LV2_STATE__freePath, &free_path_f};
  LV2_Feature f_map_path = {LV2_STATE__mapPath, &map_path};
  /* lv2core "features" that only describe the plugin: satisfied by construction (separate
   * in/out buffers, an offline run) */
  LV2_Feature f_in_place = {LV2_CORE__inPlaceBroken, NULL};
  LV2_Feature f_live = {LV2_CORE__isLive, NULL};
  LV2_Feature f_hard_rt = {LV2_CORE__hardRTCapable, NULL};

  const LV2_Feature* features[16];
  size_t             nf = 0;
  features[nf++] = &f_map;
  features[nf++] = &f_unmap;
  features[nf++] = &f_sched;
  features[nf++] = &f_options;
  features[nf++] = &f_bounded;
  if (need_fixed) {
    features[nf++] = &f_fixed;
  }
  if (need_pow2 || (pad_last && is_power_of_2(block))) {
    features[nf++] = &f_pow2;
  }
  features[nf++] = &f_log;
  features[nf++] = &f_free_path;
  features[nf++] = &f_in_place;
  features[nf++] = &f_live;
  features[nf++] = &f_hard_rt;
  features[nf] = NULL;

  const LV2_Feature* restore_features[] = {&f_map_path, &f_free_path, &f_map, &f_unmap,
                                           &f_log, NULL};

  bool features_ok = true;
  LILV_FOREACH (nodes, it, required) {
    const char* f = lilv_node_as_uri(lilv_nodes_get(required, it));
    bool        have = false;
    for (size_t k = 0; k < nf; ++k) {
      if (strcmp(features[k]->URI, f) == 0) {
        have = true;
      }
    }
    if (!have) {
      fail_msg("plugin <%s> requires the feature <%s>, which " PROG " does not provide", a.uri,
               f);
      features_ok = false;
    }
  }
  if (!features_ok) {
    goto done;
  }

  info_msg("instantiating <%s> at %g Hz, %u-frame blocks, %u audio in, %u audio out", a.uri,
           sample_rate, block, n_audio_in, n_audio_out);
  host.instance = lilv_plugin_instantiate(plugin, sample_rate, features);
  if (host.instance == NULL) {
    fail_msg("plugin <%s>: instantiate failed (see any message above)", a.uri);
    goto done;
  }
  host.worker = (const LV2_Worker_Interface*)lilv_instance_get_extension_data(
    host.instance, LV2_WORKER__interface);

  /* buffers and connections */
  for (uint32_t i = 0; i < n_ports; ++i) {
    Port* p = &ports[i];
    switch (p->kind) {
    case PORT_AUDIO:
    case PORT_CV:
      p->audio = (float*)calloc(block, sizeof(float));
      if (p->audio == NULL) {
        fail_msg("out of memory");
        goto done;
      }
      lilv_instance_connect_port(host.instance, i, p->audio);
      break;
    case PORT_CONTROL:
      lilv_instance_connect_port(host.instance, i, &p->control);
      break;
    case PORT_ATOM:
      if (p->is_input) {
        atom_in_reset(&host, p);
      } else {
        atom_out_reset(&host, p);
      }
      lilv_instance_connect_port(host.instance, i, p->atom);
      break;
    case PORT_NONE:
      lilv_instance_connect_port(host.instance, i, NULL);
      break;
    }
  }

  /* state */
  uint32_t n_restore = 0, n_patch = 0;
  for (uint32_t i = 0; i < host.n_states; ++i) {
    if (host.states[i].via_patch) {
      n_patch++;
    } else {
      n_restore++;
    }
  }
  if (n_restore > 0) {
    const LV2_State_Interface* st = (const LV2_State_Interface*)lilv_instance_get_extension_data(
      host.instance, LV2_STATE__interface);
    if (st == NULL || st->restore == NULL) {
      fail_msg("plugin <%s> has no %s: cannot set a state", a.uri, LV2_STATE__interface);
      goto done;
    }
    LV2_State_Status status =
      st->restore(lilv_instance_get_handle(host.instance), state_retrieve, &host,
                  LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE, restore_features);
    if (status != LV2_STATE_SUCCESS) {
      fail_msg("plugin <%s>: state restore() failed with status %d", a.uri, (int)status);
      goto done;
    }
    bool all_requested = true;
    for (uint32_t i = 0; i < host.n_states; ++i) {
      if (!host.states[i].via_patch && !host.states[i].requested) {
        fail_msg("the plugin's restore() never asked for state key <%s>", host.states[i].key_uri);
        all_requested = false;
      }
    }
    if (!all_requested) {
      for (uint32_t i = 0; i < host.n_requested_keys; ++i) {
        const char* k = urid_unmap(&host.urids, host.requested_keys[i]);
        fprintf(stderr, PROG ": restore() asked for <%s>\n", k ? k : "?");
      }
      if (host.n_requested_keys == 0) {
        fprintf(stderr, PROG ": restore() asked for no key at all\n");
      }
      goto done;
    }
  }

  /* output file */
  SF_INFO out_info;
  memset(&out_info, 0, sizeof(out_info));
  out_info.samplerate = in_info.samplerate;
  out_info.channels = (int)n_audio_out;
  out_info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  if (!sf_format_check(&out_info)) {
    fail_msg("libsndfile cannot write a %u-channel float WAV at %d Hz", n_audio_out,
             in_info.samplerate);
    goto done;
  }
  out_file = sf_open(a.out_path, SFM_WRITE, &out_info);
  if (out_file == NULL) {
    fail_msg("cannot write output '%s': %s", a.out_path, sf_strerror(NULL));
    goto done;
  }
  out_abs = strdup(a.out_path);

  in_buf = (float*)malloc((size_t)block * (size_t)in_info.channels * sizeof(float));
  out_buf = (float*)malloc((size_t)block * n_audio_out * sizeof(float));
  if (in_buf == NULL || out_buf == NULL) {
    fail_msg("out of memory");
    goto done;
  }

  lilv_instance_activate(host.instance);
  activated = true;

  sf_count_t total = 0;
  for (;;) {
    sf_count_t got = sf_readf_float(in_file, in_buf, (sf_count_t)block);
    if (got <= 0) {
      break;
    }
    const uint32_t n = (uint32_t)got;
    const uint32_t run_len = pad_last ? block : n;

    for (uint32_t c = 0; c < n_audio_in; ++c) {
      float*   dst = ports[audio_in_idx[c]].audio;
      uint32_t src_ch = in_info.channels == 1 ? 0 : c;
      for (uint32_t f = 0; f < n; ++f) {
        dst[f] = in_buf[(size_t)f * (size_t)in_info.channels + src_ch];
      }
      for (uint32_t f = n; f < block; ++f) {
        dst[f] = 0.0f;
      }
    }
    for (uint32_t i = 0; i < n_ports; ++i) {
      if (ports[i].kind == PORT_ATOM) {
        if (ports[i].is_input) {
          atom_in_reset(&host, &ports[i]);
        } else {
          atom_out_reset(&host, &ports[i]);
        }
      }
    }

    if (n_patch > 0 && !send_patch_sets(&host, ports, n_ports, (uint64_t)total, n)) {
      goto done;
    }

    lilv_instance_run(host.instance, run_len);
    worker_deliver(&host);
    if (host.oom) {
      fail_msg("out of memory in the worker");
      goto done;
    }

    for (uint32_t c = 0; c < n_audio_out; ++c) {
      const float* src = ports[audio_out_idx[c]].audio;
      for (uint32_t f = 0; f < n; ++f) {
        out_buf[(size_t)f * n_audio_out + c] = src[f];
      }
    }
    if (sf_writef_float(out_file, out_buf, (sf_count_t)n) != (sf_count_t)n) {
      fail_msg("writing '%s' failed: %s", a.out_path, sf_strerror(out_file));
      goto done;
    }
    total += got;
    if (got < (sf_count_t)block) {
      break;
    }
  }
  if (sf_error(in_file) != SF_ERR_NO_ERROR) {
    fail_msg("reading '%s' failed: %s", a.in_path, sf_strerror(in_file));
    goto done;
  }
  if (in_info.frames > 0 && total != in_info.frames) {
    fail_msg("read %lld frames of '%s', its header says %lld", (long long)total, a.in_path,
             (long long)in_info.frames);
    goto done;
  }

  for (uint32_t i = 0; i < host.n_states; ++i) {
    if (host.states[i].via_patch && !host.states[i].sent) {
      fail_msg("--patch-set at frame %llu: the input has only %lld frames",
               (unsigned long long)host.states[i].frame, (long long)total);
      goto done;
    }
  }

  lilv_instance_deactivate(host.instance);
  activated = false;

  if (sf_close(out_file) != 0) {
    out_file = NULL;
    fail_msg("closing '%s' failed", a.out_path);
    goto done;
  }
  out_file = NULL;
  free(out_abs);
  out_abs = NULL; /* written completely: keep it */

  info_msg("processed %lld frames, %u worker call(s)", (long long)total, host.n_work_calls);
  for (uint32_t i = 0; i < n_ports; ++i) {
    if (ports[i].kind == PORT_CONTROL && !ports[i].is_input) {
      printf("%s=%.9g\n", ports[i].symbol, (double)ports[i].control);
    }
  }
  fflush(stdout);
  rc = 0;

done:
  if (out_file != NULL) {
    sf_close(out_file);
  }
  if (out_abs != NULL) {
    /* a failure after the output was opened: do not leave a half-written file behind */
    unlink(out_abs);
    free(out_abs);
  }
  if (host.instance != NULL) {
    if (activated) {
      lilv_instance_deactivate(host.instance);
    }
    lilv_instance_free(host.instance);
    host.instance = NULL;
  }
  worker_clear(&host);
  if (in_file != NULL) {
    sf_close(in_file);
  }
  free(in_buf);
  free(out_buf);
  if (ports != NULL) {
    for (uint32_t i = 0; i < n_ports; ++i) {
      free(ports[i].audio);
      free(ports[i].atom);
    }
    free(ports);
  }
  free(audio_in_idx);
  free(audio_out_idx);
  for (uint32_t i = 0; i < host.n_states; ++i) {
    free(host.states[i].key_uri);
    free(host.states[i].value);
  }
  free(host.states);
  free(host.requested_keys);
  lilv_nodes_free(required);
  lilv_node_free(n_input);
  lilv_node_free(n_output);
  lilv_node_free(n_audio);
  lilv_node_free(n_control);
  lilv_node_free(n_cv);
  lilv_node_free(n_atom);
  lilv_node_free(n_optional);
  lilv_node_free(n_min_size);
  lilv_node_free(uri_node);
  lilv_node_free(bundle_node);
  if (world != NULL) {
    lilv_world_free(world);
  }
  urid_table_free(&host.urids);
  free(bundle_dir);
  free(host.cwd);
  args_free(&a);
  return rc;
}
