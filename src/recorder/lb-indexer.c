/* lookback — the footage indexer: segment files → index rows */
#include "recorder/lb-indexer.h"
#include "mp4/lb-mp4.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

GST_DEBUG_CATEGORY_STATIC (lb_indexer_debug);
#define GST_CAT_DEFAULT lb_indexer_debug

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_indexer_debug, "lookback-indexer",
      "lookback footage indexer");
}

/* ---- fragments → keyframe rows ---- */

typedef struct
{
  gint64 start_ns;
  gint64 media_base_ns;         /* LB_TIME_NONE until the first sample */
  GArray *rows;                 /* LbKeyframe not yet committed */
  gboolean have_row;            /* a committed row exists for this segment */
  gint64 extend_end;            /* new end offset of the last committed row */
  guint extend_frames;
  gint64 end_ns;
  guint fragments;
} Collector;

static void
collector_init (Collector * c, gint64 start_ns)
{
  memset (c, 0, sizeof (*c));
  c->start_ns = start_ns;
  c->media_base_ns = LB_TIME_NONE;
  c->end_ns = start_ns;
  c->rows = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
}

static void
collector_clear (Collector * c)
{
  g_clear_pointer (&c->rows, g_array_unref);
}

/* Committed: what is pending now belongs to the store. */
static void
collector_committed (Collector * c)
{
  if (c->rows->len > 0)
    c->have_row = TRUE;
  g_array_set_size (c->rows, 0);
  c->extend_end = 0;
  c->extend_frames = 0;
}

static gint64
wall (const Collector * c, gint64 pts_ns)
{
  return c->start_ns + (pts_ns - c->media_base_ns);
}

/* The last row's byte range now reaches @end (0: unchanged) and holds
 * @frames more frames. */
static void
grow_last (Collector * c, gint64 end, guint frames)
{
  if (c->rows->len > 0) {
    LbKeyframe *k = &g_array_index (c->rows, LbKeyframe, c->rows->len - 1);
    k->size = MAX (k->size, end - k->offset);
    k->frames += frames;
  } else if (c->have_row) {
    c->extend_end = MAX (c->extend_end, end);
    c->extend_frames += frames;
  }
  /* else: frames before the first keyframe cannot be decoded; dropped */
}

static void
collector_add (Collector * c, const LbMp4Fragment * f)
{
  const LbMp4Sample *s = (const LbMp4Sample *) f->samples->data;
  guint n = f->samples->len;
  c->fragments++;
  if (n == 0) {
    grow_last (c, f->offset + f->size, 0);
    return;
  }
  gint ks = -1;
  for (guint i = 0; i < n; i++)
    if (s[i].sync) {
      ks = i;
      break;
    }
  if (c->media_base_ns == LB_TIME_NONE) {
    if (ks < 0)
      return;                   /* nothing decodable yet */
    gint64 base = s[ks].pts_ns;
    for (guint i = ks; i < n; i++)
      base = MIN (base, s[i].pts_ns);
    c->media_base_ns = base;
  }
  for (guint i = MAX (ks, 0); i < n; i++)
    c->end_ns = MAX (c->end_ns, wall (c, s[i].pts_ns + s[i].duration_ns));
  if (ks < 0) {
    grow_last (c, f->offset + f->size, n);
    return;
  }
  if (ks > 0)
    grow_last (c, 0, ks);
  LbKeyframe k = {
    .time_ns = wall (c, s[ks].pts_ns),
    .offset = f->offset,
    .size = f->size,
    .sample_offset = s[ks].offset,
    .sample_size = s[ks].size,
    .frames = n - ks,
  };
  g_array_append_val (c->rows, k);
}

/* ---- syncing ---- */

static gboolean
sync_fd (gint fd, const gchar * what, GError ** error)
{
  if (fdatasync (fd) != 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "fdatasync %s: %s", what,
        g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* fsyncs the folders from @path's up to @stop_dir (their entries). */
static gboolean
sync_dirs (const gchar * path, const gchar * stop_dir, GError ** error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  while (TRUE) {
    gint dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      g_set_error (error, LB_ERROR, LB_ERROR_IO, "open %s: %s", dir,
          g_strerror (errno));
      return FALSE;
    }
    gboolean ok = fsync (dfd) == 0;
    gint err = errno;
    close (dfd);
    if (!ok) {
      g_set_error (error, LB_ERROR, LB_ERROR_IO, "fsync %s: %s", dir,
          g_strerror (err));
      return FALSE;
    }
    if (stop_dir == NULL || g_strcmp0 (dir, stop_dir) == 0
        || !g_str_has_prefix (dir, stop_dir))
      return TRUE;
    gchar *up = g_path_get_dirname (dir);
    if (g_str_equal (up, dir)) {
      g_free (up);
      return TRUE;
    }
    g_free (dir);
    dir = up;
  }
}

/* ---- scanning a file ---- */

typedef struct
{
  gint fd;
  LbMp4Init *init;
  gint64 cursor;                /* where the next fragment starts */
  gboolean ended;               /* finalised and read to its end */
} Scanner;

/* Reads every fragment complete now into @c.  TRUE unless the file is not
 * a segment (or I/O fails); NOT_YET conditions end the scan quietly. */
/* The moov now says the file is finalised: switch to its sample table.
 * FALSE when it is still fragmented (or unreadable). */
static gboolean
switch_to_final_init (Scanner * sc)
{
  LbMp4Init *fresh = NULL;
  if (!lb_mp4_read_init (sc->fd, &fresh, NULL))
    return FALSE;
  gboolean finalised = !fresh->fragmented;
  lb_mp4_init_free (sc->init);
  sc->init = fresh;
  return finalised;
}

/* With @last (the writer is done), an incomplete tail makes us look again at
 * the moov: mp4mux leaves the last mdat's size at 0 when it finalises. */
static gboolean
scan_more (Scanner * sc, Collector * c, gboolean last, GError ** error)
{
  if (sc->init == NULL) {
    GError *local = NULL;
    if (!lb_mp4_read_init (sc->fd, &sc->init, &local)) {
      if (local->code == LB_ERROR_NOT_YET) {
        g_clear_error (&local);
        return TRUE;
      }
      g_propagate_error (error, local);
      return FALSE;
    }
    sc->cursor = lb_mp4_first_offset (sc->init);
  }
  while (!sc->ended) {
    struct stat st;
    if (fstat (sc->fd, &st) != 0) {
      g_set_error (error, LB_ERROR, LB_ERROR_IO, "fstat: %s",
          g_strerror (errno));
      return FALSE;
    }
    LbMp4Fragment *f = NULL;
    GError *local = NULL;
    if (!lb_mp4_read_fragment (sc->fd, sc->init, sc->cursor, st.st_size, &f,
            &local)) {
      if (local->code == LB_ERROR_NOT_YET) {
        g_clear_error (&local);
        if (last && sc->init->fragmented && switch_to_final_init (sc))
          continue;
        return TRUE;
      }
      g_propagate_error (error, local);
      return FALSE;
    }
    if (f == NULL) {
      /* End of the fragments: the file may have been finalised since the
       * init was read; its new moov describes what follows the cursor. */
      if (!sc->init->fragmented) {
        sc->ended = TRUE;
        return TRUE;
      }
      if (!switch_to_final_init (sc))
        return TRUE;
      continue;
    }
    collector_add (c, f);
    sc->cursor = f->next_offset;
    lb_mp4_fragment_free (f);
  }
  return TRUE;
}

static void
scanner_clear (Scanner * sc)
{
  if (sc->fd >= 0)
    close (sc->fd);
  sc->fd = -1;
  g_clear_pointer (&sc->init, lb_mp4_init_free);
}

static LbSegment *
segment_from_init (const gchar * vehicle, const gchar * input,
    const gchar * path, gint64 start_ns, const LbMp4Init * init,
    const Collector * c)
{
  LbSegment *s = g_new0 (LbSegment, 1);
  s->vehicle = g_strdup (vehicle);
  s->input = g_strdup (input);
  s->path = g_strdup (path);
  s->start_ns = start_ns;
  s->end_ns = c->end_ns;
  s->media_base_ns = c->media_base_ns;
  s->codec = g_strdup (init->codec);
  s->caps = g_strdup (init->caps);
  if (init->audio) {
    s->audio = g_strdup (init->audio->codec);
    s->audio_caps = g_strdup (init->audio->caps);
  }
  s->width = init->width;
  s->height = init->height;
  s->fps_n = init->fps_n;
  s->fps_d = init->fps_d ? init->fps_d : 1;
  s->init_size = init->init_size;
  return s;
}

/* ---- LbIndexer ---- */

struct _LbIndexer
{
  LbStore *store;
  gchar *vehicle, *input, *path;
  gint64 start_ns;
  Scanner sc;
  Collector c;
  gint64 segment_id;
  gint64 clock_epoch;           /* of the segment row it begins */
  gboolean dirs_synced;
  gboolean finishing;           /* the writer is done with the file */
  gboolean finished;
};

LbIndexer *
lb_indexer_new (LbStore * store, const gchar * vehicle, const gchar * input,
    const gchar * path, gint64 start_ns, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (vehicle != NULL && input != NULL && path != NULL, NULL);
  debug_init ();

  LbIndexer *ix = g_new0 (LbIndexer, 1);
  ix->store = store;
  ix->vehicle = g_strdup (vehicle);
  ix->input = g_strdup (input);
  ix->path = g_canonicalize_filename (path, NULL);
  ix->start_ns = start_ns;
  ix->sc.fd = -1;
  collector_init (&ix->c, start_ns);
  return ix;
}

gint64
lb_indexer_get_segment_id (LbIndexer * indexer)
{
  g_return_val_if_fail (indexer != NULL, 0);
  return indexer->segment_id;
}

gint64
lb_indexer_get_end (LbIndexer * indexer)
{
  g_return_val_if_fail (indexer != NULL, 0);
  return indexer->c.end_ns;
}

void
lb_indexer_retime (LbIndexer * ix, gint64 delta_ns, gint64 clock_epoch)
{
  g_return_if_fail (ix != NULL);

  ix->start_ns += delta_ns;
  ix->c.start_ns += delta_ns;
  ix->c.end_ns += delta_ns;
  for (guint i = 0; i < ix->c.rows->len; i++)
    g_array_index (ix->c.rows, LbKeyframe, i).time_ns += delta_ns;
  ix->clock_epoch = clock_epoch;
}

/* The fragments completed since the last update, their bytes synced (and
 * the segment row begun): TRUE with @out filled when there are rows to
 * commit, TRUE with @out->segment_id 0 when nothing new is there. */
static gboolean
prepare (LbIndexer * ix, LbSegmentAppend * out, GError ** error)
{
  out->segment_id = 0;
  if (ix->sc.fd < 0) {
    ix->sc.fd = open (ix->path, O_RDONLY | O_CLOEXEC);
    if (ix->sc.fd < 0) {
      if (errno == ENOENT)
        return TRUE;            /* not created yet */
      g_set_error (error, LB_ERROR, LB_ERROR_IO, "open %s: %s", ix->path,
          g_strerror (errno));
      return FALSE;
    }
  }
  guint before = ix->c.fragments;
  if (!scan_more (&ix->sc, &ix->c, ix->finishing, error)) {
    g_prefix_error (error, "%s: ", ix->path);
    return FALSE;
  }
  if (ix->c.fragments == before || ix->c.media_base_ns == LB_TIME_NONE)
    return TRUE;

  /* The bytes first, then the rows that point at them. */
  if (!sync_fd (ix->sc.fd, ix->path, error))
    return FALSE;
  if (!ix->dirs_synced) {
    if (!sync_dirs (ix->path, lb_store_get_dir (ix->store), error))
      return FALSE;
    ix->dirs_synced = TRUE;
  }
  if (ix->segment_id == 0) {
    g_autoptr (LbSegment) seg =
        segment_from_init (ix->vehicle, ix->input, ix->path, ix->start_ns,
        ix->sc.init, &ix->c);
    seg->clock_epoch = ix->clock_epoch;
    if (!lb_store_segment_begin (ix->store, seg, error))
      return FALSE;
    ix->segment_id = seg->id;
  }
  out->segment_id = ix->segment_id;
  out->extend_end = ix->c.extend_end;
  out->extend_frames = ix->c.extend_frames;
  out->keyframes = ix->c.rows;
  out->end_ns = ix->c.end_ns;
  out->bytes = ix->sc.cursor;
  return TRUE;
}

static void
committed (LbIndexer * ix)
{
  GST_DEBUG ("%s: %u new keyframe rows, end %" G_GINT64_FORMAT ", %"
      G_GINT64_FORMAT " bytes", ix->path, ix->c.rows->len, ix->c.end_ns,
      ix->sc.cursor);
  collector_committed (&ix->c);
}

gboolean
lb_indexer_update (LbIndexer * ix, GError ** error)
{
  g_return_val_if_fail (ix != NULL, FALSE);
  g_return_val_if_fail (!ix->finished, FALSE);

  LbSegmentAppend a;
  if (!prepare (ix, &a, error))
    return FALSE;
  if (a.segment_id == 0)
    return TRUE;
  if (!lb_store_segment_append_all (ix->store, &a, 1, error))
    return FALSE;
  committed (ix);
  return TRUE;
}

void
lb_indexer_update_all (LbIndexer ** indexers, guint n, GError ** errors)
{
  g_return_if_fail (indexers != NULL || n == 0);
  g_return_if_fail (errors != NULL || n == 0);

  g_autoptr (GArray) appends =
      g_array_sized_new (FALSE, FALSE, sizeof (LbSegmentAppend), n);
  g_autofree guint *which = g_new (guint, n + 1);
  LbStore *store = NULL;
  for (guint i = 0; i < n; i++) {
    LbSegmentAppend a;
    g_return_if_fail (!indexers[i]->finished);
    g_return_if_fail (store == NULL || store == indexers[i]->store);
    store = indexers[i]->store;
    if (prepare (indexers[i], &a, &errors[i]) && a.segment_id != 0) {
      which[appends->len] = i;
      g_array_append_val (appends, a);
    }
  }
  if (appends->len == 0)
    return;
  /* one transaction for all: one sync of the store's log, not one a file */
  if (lb_store_segment_append_all (store,
          (LbSegmentAppend *) appends->data, appends->len, NULL)) {
    for (guint k = 0; k < appends->len; k++)
      committed (indexers[which[k]]);
    return;
  }
  /* one bad segment (its row removed) does not hold the others back */
  for (guint k = 0; k < appends->len; k++) {
    LbIndexer *ix = indexers[which[k]];
    if (lb_store_segment_append_all (store,
            &g_array_index (appends, LbSegmentAppend, k), 1, &errors[which[k]]))
      committed (ix);
  }
}

gboolean
lb_indexer_finish (LbIndexer * ix, GError ** error)
{
  g_return_val_if_fail (ix != NULL, FALSE);
  g_return_val_if_fail (!ix->finished, FALSE);

  /* Nothing is marked done before the store has it all: a failure (a full
   * disk) can be followed by another call. */
  ix->finishing = TRUE;
  if (!lb_indexer_update (ix, error))
    return FALSE;
  if (ix->segment_id == 0) {
    GST_WARNING ("%s: finished without a complete fragment; nothing indexed",
        ix->path);
    ix->finished = TRUE;
    return TRUE;
  }
  struct stat st;
  if (ix->sc.fd >= 0 && fstat (ix->sc.fd, &st) == 0
      && st.st_size > ix->sc.cursor) {
    /* the finalised moov (and anything after the last fragment) counts */
    if (!sync_fd (ix->sc.fd, ix->path, error) ||
        !lb_store_segment_append (ix->store, ix->segment_id, 0, 0, NULL,
            ix->c.end_ns, st.st_size, error))
      return FALSE;
  }
  if (!lb_store_segment_finish (ix->store, ix->segment_id, error))
    return FALSE;
  ix->finished = TRUE;
  return TRUE;
}

void
lb_indexer_free (LbIndexer * ix)
{
  if (ix == NULL)
    return;
  scanner_clear (&ix->sc);
  collector_clear (&ix->c);
  g_free (ix->vehicle);
  g_free (ix->input);
  g_free (ix->path);
  g_free (ix);
}

/* ---- complete files ---- */

LbSegment *
lb_footage_scan_file (const gchar * vehicle, const gchar * input,
    const gchar * path, gint64 start_ns, GArray ** rows, gint64 * file_size,
    GError ** error)
{
  g_return_val_if_fail (vehicle != NULL && input != NULL && path != NULL, NULL);
  g_return_val_if_fail (rows != NULL && file_size != NULL, NULL);

  Scanner sc = {.fd = open (path, O_RDONLY | O_CLOEXEC) };
  if (sc.fd < 0) {
    g_set_error (error, LB_ERROR,
        errno == ENOENT ? LB_ERROR_NOT_FOUND : LB_ERROR_IO, "open %s: %s", path,
        g_strerror (errno));
    return NULL;
  }
  Collector c;
  collector_init (&c, start_ns);
  LbSegment *seg = NULL;
  GError *local = NULL;
  if (!lb_mp4_read_init (sc.fd, &sc.init, &local)) {
    /* (reconcile gives a file killed before its first moov one first,
     * when it can: lb_mp4_recover_first) */
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "%s: %s", path,
        local->code ==
        LB_ERROR_NOT_YET ? "no complete fragment (no moov)" : local->message);
    g_clear_error (&local);
    goto out;
  }
  sc.cursor = lb_mp4_first_offset (sc.init);
  if (!scan_more (&sc, &c, TRUE, error)) {
    g_prefix_error (error, "%s: ", path);
    goto out;
  }
  if (c.rows->len == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "%s: no complete fragment with a keyframe", path);
    goto out;
  }
  struct stat st;
  fstat (sc.fd, &st);
  *file_size = st.st_size;
  if (!sync_fd (sc.fd, path, error))
    goto out;
  seg = segment_from_init (vehicle, input, path, start_ns, sc.init, &c);
  seg->bytes = sc.ended ? st.st_size : sc.cursor;
  seg->open = FALSE;
  *rows = g_steal_pointer (&c.rows);
out:
  scanner_clear (&sc);
  collector_clear (&c);
  return seg;
}

gboolean
lb_footage_index_file (LbStore * store, const gchar * vehicle,
    const gchar * input, const gchar * path, gint64 start_ns,
    gint64 * out_segment_id, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (vehicle != NULL && input != NULL
      && path != NULL, FALSE);
  debug_init ();

  g_autofree gchar *abs = g_canonicalize_filename (path, NULL);
  GError *local = NULL;
  if (lb_store_segment_find_path (store, abs, &local) != 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s is indexed already",
        abs);
    return FALSE;
  }
  if (local) {
    g_propagate_error (error, local);
    return FALSE;
  }
  GArray *rows = NULL;
  gint64 size = 0;
  g_autoptr (LbSegment) seg =
      lb_footage_scan_file (vehicle, input, abs, start_ns, &rows, &size, error);
  if (seg == NULL)
    return FALSE;
  if (!sync_dirs (abs, lb_store_get_dir (store), error)) {
    g_array_unref (rows);
    return FALSE;
  }
  g_autoptr (GPtrArray) segs = g_ptr_array_new ();
  g_autoptr (GPtrArray) kfs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_ptr_array_add (segs, seg);
  g_ptr_array_add (kfs, rows);
  if (!lb_store_segment_add (store, segs, kfs, error))
    return FALSE;
  GST_INFO ("indexed %s: %u keyframes, %" G_GINT64_FORMAT " ns", abs, rows->len,
      seg->end_ns - seg->start_ns);
  if (out_segment_id)
    *out_segment_id = seg->id;
  return TRUE;
}
