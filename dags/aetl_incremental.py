"""Airflow DAG for ai-event-etl: one `aetl run` per data interval, then `aetl check` for it.

Each Airflow data interval maps to one explicit aetl window (`--from`/`--to`), so
Airflow's retries, clears and backfills re-run idempotent windows: the load is
insert-only and moves the incremental checkpoint only when the window is the next
one. Works on Airflow 2.4+ and 3.x with the standard PythonOperator; no custom
operator or provider is needed.

Settings (environment of the Airflow workers):
  AETL_BIN     the aetl command (default: aetl on PATH; e.g. "npx --prefix /opt/aetl aetl")
  AETL_CONFIG  the pipeline config (default: /etc/aetl/aetl.yaml)
Create the pool once: `airflow pools set aetl 1 "one aetl writer per warehouse"`.

Exit codes (aetl README): 0 ok; 1 the run failed (source down, lock held, ...): retried;
2 bad config or usage, 3 a data-quality check failed (the data is kept): not retried,
the task fails at once with the reason.
"""

import os
import shlex
import subprocess
from datetime import datetime, timedelta, timezone

from airflow import DAG
from airflow.exceptions import AirflowException, AirflowFailException
from airflow.timetables.interval import CronDataIntervalTimetable

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.providers.standard.sensors.date_time import DateTimeSensor
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator
    from airflow.sensors.date_time import DateTimeSensor

AETL = shlex.split(os.environ.get("AETL_BIN", "aetl"))
CONFIG = os.environ.get("AETL_CONFIG", "/etc/aetl/aetl.yaml")
# `ts` renders an instant as ISO 8601 with its offset, e.g. 2026-05-01T12:00:00+00:00.
INTERVAL = ["--from", "{{ data_interval_start | ts }}", "--to", "{{ data_interval_end | ts }}"]
# Load an interval only once its end is this far behind (keep it >= window.settle_delay, default 2m),
# so that aetl never clips --to and events still in flight at the interval's end are in.
SETTLED = "{{ data_interval_end + macros.timedelta(minutes=3) }}"

NOT_RETRIED = {
    2: "bad config or usage (exit 2): fix the config, then clear the task",
    3: "data-quality checks failed (exit 3): the data is kept; see `aetl status`",
}


def aetl(*args):
    """Runs aetl; exit 1 raises a retryable error, exits 2 and 3 fail the task without retries."""
    process = subprocess.Popen([*AETL, *args, "--config", CONFIG])
    try:
        code = process.wait()
    except BaseException:
        # The task is being killed (timeout, mark failed): SIGTERM lets aetl stop at its next
        # safe point and release its lock; subprocess.run would SIGKILL it instead.
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    if code == 0:
        return
    if code in NOT_RETRIED:
        raise AirflowFailException(f"aetl {args[0]}: {NOT_RETRIED[code]}")
    raise AirflowException(f"aetl {args[0]} exited {code}: the run failed; retrying")


default_args = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=1),
}
# Both DAGs: no backfill of the past on deploy (use `aetl backfill`), never two runs at once.
common = {
    "start_date": datetime(2026, 1, 1, tzinfo=timezone.utc),
    "catchup": False,
    "max_active_runs": 1,
    "default_args": default_args,
    "tags": ["aetl"],
}

with DAG(
    dag_id="aetl_incremental",
    description="AI-gateway decision events: load each 15-minute interval, then check it",
    # Data intervals of 15 minutes on Airflow 2 and 3 alike (a plain cron string or timedelta gets
    # zero-width intervals on Airflow 3 by default: --from would equal --to).
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    **common,
) as dag:
    # Rescheduling frees the worker slot (and takes no pool slot) while it waits.
    settled = DateTimeSensor(task_id="settled", target_time=SETTLED, mode="reschedule", poke_interval=30)
    load = PythonOperator(
        task_id="load",
        python_callable=aetl,
        # --wait: queue behind a run the built-in scheduler or a person started on this host.
        op_args=["run", *INTERVAL, "--wait", "10m"],
        pool="aetl",
    )
    check = PythonOperator(
        task_id="check",
        python_callable=aetl,
        op_args=["check", *INTERVAL, "--wait", "10m"],
        pool="aetl",
    )
    settled >> load >> check

# Events later than the interval they belong to are caught by reconcile: per-day source
# counts against the warehouse over 7 days, short days pulled again.
with DAG(
    dag_id="aetl_reconcile",
    description="AI-gateway decision events: nightly reconcile of the last 7 days",
    schedule="30 2 * * *",
    **common,
) as reconcile_dag:
    PythonOperator(
        task_id="reconcile",
        python_callable=aetl,
        op_args=["reconcile", "--days", "7", "--wait", "30m"],
        pool="aetl",
    )
