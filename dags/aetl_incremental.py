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
import time
from datetime import datetime, timedelta, timezone

from airflow import DAG
from airflow.exceptions import AirflowException, AirflowFailException

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator

AETL = shlex.split(os.environ.get("AETL_BIN", "aetl"))
CONFIG = os.environ.get("AETL_CONFIG", "/etc/aetl/aetl.yaml")
# `ts` renders an instant as ISO 8601 with its offset, e.g. 2026-05-01T12:00:00+00:00.
INTERVAL = ["--from", "{{ data_interval_start | ts }}", "--to", "{{ data_interval_end | ts }}"]
# Load an interval only once its end is this far behind (keep it >= window.settle_delay, default 2m),
# so that aetl never clips --to and events still in flight at the interval's end are in.
SETTLE = {"not_before": "{{ (data_interval_end + macros.timedelta(minutes=3)) | ts }}"}

NOT_RETRIED = {
    2: "bad config or usage (exit 2): fix the config, then clear the task",
    3: "data-quality checks failed (exit 3): the data is kept; see `aetl status`",
}


def aetl(*args, not_before=None):
    """Runs aetl (after `not_before`, ISO); exit 1 raises a retryable error, 2 and 3 fail without retries."""
    if not_before:
        wait = (datetime.fromisoformat(not_before) - datetime.now(timezone.utc)).total_seconds()
        time.sleep(max(0.0, wait))
    command = [*AETL, *args, "--config", CONFIG]
    code = subprocess.run(command, check=False).returncode
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

with DAG(
    dag_id="aetl_incremental",
    description="AI-gateway decision events: load each 15-minute interval, then check it",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["aetl"],
) as dag:
    load = PythonOperator(
        task_id="load",
        python_callable=aetl,
        # --wait: queue behind a run the built-in scheduler or a person started, instead of failing.
        op_args=["run", *INTERVAL, "--wait", "10m"],
        op_kwargs=SETTLE,
        pool="aetl",
    )
    check = PythonOperator(
        task_id="check",
        python_callable=aetl,
        op_args=["check", *INTERVAL, "--wait", "10m"],
        pool="aetl",
    )
    load >> check

# Events later than the interval they belong to are caught by reconcile: per-day source
# counts against the warehouse over 7 days, short days pulled again.
with DAG(
    dag_id="aetl_reconcile",
    description="AI-gateway decision events: nightly reconcile of the last 7 days",
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["aetl"],
) as reconcile_dag:
    PythonOperator(
        task_id="reconcile",
        python_callable=aetl,
        op_args=["reconcile", "--days", "7", "--wait", "30m"],
        pool="aetl",
    )
