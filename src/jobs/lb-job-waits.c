/* lookback — retrieval rows waiting for footage (see lb-job-waits.h) */
#include "jobs/lb-job-waits.h"

/* One waiting row. */
typedef struct
{
  LbRetrieval *row;             /* a copy of what the store knows */
  gint64 backoff_ns;            /* the last back-off */
  gint64 due_ns;                /* checked again from then on */
  gboolean handed_out;          /* taken as due, not yet retried or removed */
} Wait;

struct _LbJobWaits
{
  GMutex lock;
  GHashTable *waits;            /* row id → Wait*; protected by lock */
  GHashTable *ends;             /* "vehicle/input" → gint64* end of its footage
                                 * as last told; protected by lock */
  gint64 next_due_ns;           /* no row is due before; protected by lock */
};

static void
wait_free (gpointer data)
{
  Wait *w = data;
  lb_retrieval_free (w->row);
  g_free (w);
}

/* What a check of the row needs: its id, input and range. */
static LbRetrieval *
row_copy (const LbRetrieval * row)
{
  LbRetrieval *c = lb_retrieval_new ();
  c->id = row->id;
  c->vehicle = g_strdup (row->vehicle);
  c->input = g_strdup (row->input);
  c->start_ns = row->start_ns;
  c->end_ns = row->end_ns;
  c->status = row->status;
  return c;
}

static gchar *
input_key (const gchar * vehicle, const gchar * input)
{
  return g_strconcat (vehicle, "/", input, NULL);
}

LbJobWaits *
lb_job_waits_new (void)
{
  LbJobWaits *waits = g_new0 (LbJobWaits, 1);
  g_mutex_init (&waits->lock);
  waits->waits = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      wait_free);
  waits->ends = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  waits->next_due_ns = G_MAXINT64;
  return waits;
}

void
lb_job_waits_free (LbJobWaits * waits)
{
  if (waits == NULL)
    return;
  g_hash_table_unref (waits->waits);
  g_hash_table_unref (waits->ends);
  g_mutex_clear (&waits->lock);
  g_free (waits);
}

/* The lock is held. */
static void
arm (LbJobWaits * waits, Wait * w, gint64 due_ns)
{
  w->due_ns = due_ns;
  w->handed_out = FALSE;
  waits->next_due_ns = MIN (waits->next_due_ns, due_ns);
}

void
lb_job_waits_add (LbJobWaits * waits, const LbRetrieval * row, gint64 now_ns,
    gboolean at_once)
{
  g_return_if_fail (waits != NULL && row != NULL);
  g_return_if_fail (row->vehicle != NULL && row->input != NULL);

  g_autofree gchar *key = input_key (row->vehicle, row->input);
  Wait *w = g_new0 (Wait, 1);
  w->row = row_copy (row);
  w->backoff_ns = LB_JOB_WAIT_MIN;

  g_mutex_lock (&waits->lock);
  /* footage told between the caller's look at the index and now */
  gint64 *end = g_hash_table_lookup (waits->ends, key);
  at_once |= end != NULL && *end >= row->end_ns;
  arm (waits, w, at_once ? now_ns : now_ns + w->backoff_ns);
  g_hash_table_replace (waits->waits, &w->row->id, w);
  g_mutex_unlock (&waits->lock);
}

void
lb_job_waits_retry (LbJobWaits * waits, gint64 id, gint64 now_ns)
{
  g_return_if_fail (waits != NULL);

  g_mutex_lock (&waits->lock);
  Wait *w = g_hash_table_lookup (waits->waits, &id);
  if (w) {
    w->backoff_ns = MIN (w->backoff_ns * 2, LB_JOB_WAIT_MAX);
    arm (waits, w, now_ns + w->backoff_ns);
  }
  g_mutex_unlock (&waits->lock);
}

gboolean
lb_job_waits_footage (LbJobWaits * waits, const gchar * vehicle,
    const gchar * input, gint64 end_ns)
{
  g_return_val_if_fail (waits != NULL, FALSE);
  g_return_val_if_fail (vehicle != NULL && input != NULL, FALSE);

  gchar *key = input_key (vehicle, input);
  gboolean any = FALSE;
  GHashTableIter iter;
  Wait *w;

  g_mutex_lock (&waits->lock);
  gint64 *end = g_hash_table_lookup (waits->ends, key);
  if (end == NULL) {
    end = g_new (gint64, 1);
    *end = end_ns;
    g_hash_table_insert (waits->ends, g_steal_pointer (&key), end);
  }
  *end = MAX (*end, end_ns);
  g_hash_table_iter_init (&iter, waits->waits);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & w)) {
    if (w->handed_out || w->row->end_ns > end_ns
        || !g_str_equal (w->row->vehicle, vehicle)
        || !g_str_equal (w->row->input, input))
      continue;
    arm (waits, w, G_MININT64);
    any = TRUE;
  }
  g_mutex_unlock (&waits->lock);
  g_free (key);
  return any;
}

GPtrArray *
lb_job_waits_take_due (LbJobWaits * waits, gint64 now_ns)
{
  g_return_val_if_fail (waits != NULL, NULL);

  GPtrArray *due = NULL;
  GHashTableIter iter;
  Wait *w;

  g_mutex_lock (&waits->lock);
  if (now_ns >= waits->next_due_ns) {
    waits->next_due_ns = G_MAXINT64;
    g_hash_table_iter_init (&iter, waits->waits);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & w)) {
      if (w->handed_out)
        continue;
      if (w->due_ns > now_ns) {
        waits->next_due_ns = MIN (waits->next_due_ns, w->due_ns);
        continue;
      }
      if (due == NULL)
        due = g_ptr_array_new_with_free_func ((GDestroyNotify)
            lb_retrieval_free);
      g_ptr_array_add (due, row_copy (w->row));
      w->handed_out = TRUE;
    }
  }
  g_mutex_unlock (&waits->lock);
  return due;
}

void
lb_job_waits_remove (LbJobWaits * waits, gint64 id)
{
  g_return_if_fail (waits != NULL);

  g_mutex_lock (&waits->lock);
  g_hash_table_remove (waits->waits, &id);
  g_mutex_unlock (&waits->lock);
}

gint64
lb_job_waits_next_due (LbJobWaits * waits)
{
  g_return_val_if_fail (waits != NULL, G_MAXINT64);

  g_mutex_lock (&waits->lock);
  gint64 due = waits->next_due_ns;
  g_mutex_unlock (&waits->lock);
  return due;
}

guint
lb_job_waits_count (LbJobWaits * waits)
{
  g_return_val_if_fail (waits != NULL, 0);

  g_mutex_lock (&waits->lock);
  guint n = g_hash_table_size (waits->waits);
  g_mutex_unlock (&waits->lock);
  return n;
}
