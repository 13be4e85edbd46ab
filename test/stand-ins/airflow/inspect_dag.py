"""Loads a DAG file against the Airflow stand-in and prints what it declares, as JSON.

  python3 inspect_dag.py DAG_FILE                      the DAGs, their settings and tasks
  python3 inspect_dag.py DAG_FILE run DAG TASK START END   renders the task's templates for the
      interval [START, END) and calls it; prints {"ok": true} or the exception it raised
"""

import importlib.util
import json
import os
import sys
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import airflow  # noqa: E402  (the stand-in)
from airflow.exceptions import AirflowFailException  # noqa: E402


def plain(value):
    if isinstance(value, timedelta):
        return {"seconds": value.total_seconds()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def render(text, start, end):
    """The only templates the DAG's callables may use, rendered as Airflow would for [start, end)."""
    if not isinstance(text, str):
        return text
    out = text.replace("{{ data_interval_start | ts }}", start).replace("{{ data_interval_end | ts }}", end)
    if "{{" in out:
        raise ValueError(f"a template this test cannot render: {text}")
    return out


spec = importlib.util.spec_from_file_location("dag_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

if len(sys.argv) == 2:
    print(json.dumps([
        {
            "dag_id": dag.dag_id,
            "kwargs": plain(dag.kwargs),
            "tasks": [
                {"task_id": t.task_id, "op_args": getattr(t, "op_args", None),
                 "op_kwargs": plain(getattr(t, "op_kwargs", None)), "kwargs": plain(t.kwargs),
                 "downstream": t.downstream}
                for t in dag.tasks
            ],
        }
        for dag in airflow.DAGS
    ]))
else:
    _, _, _, dag_id, task_id, start, end = sys.argv
    task = next(t for d in airflow.DAGS if d.dag_id == dag_id for t in d.tasks if t.task_id == task_id)
    args = [render(a, start, end) for a in task.op_args]
    kwargs = {k: render(v, start, end) for k, v in task.op_kwargs.items()}
    try:
        task.python_callable(*args, **kwargs)
        print(json.dumps({"ok": True}))
    except AirflowFailException as error:
        print(json.dumps({"ok": False, "retried": False, "error": str(error)}))
    except Exception as error:  # AirflowException: Airflow retries it
        print(json.dumps({"ok": False, "retried": True, "error": str(error)}))
