"""A stand-in for the few Airflow names our DAG file uses (Airflow is not installable here).

It records what the DAG file declares, so a test can assert it; it schedules nothing.
"""

DAGS = []
_current = []


class DAG:
    def __init__(self, dag_id, **kwargs):
        self.dag_id = dag_id
        self.kwargs = kwargs
        self.tasks = []
        DAGS.append(self)

    def __enter__(self):
        _current.append(self)
        return self

    def __exit__(self, *exc):
        _current.pop()
        return False


def current_dag():
    return _current[-1] if _current else None


class Task:
    """What every stand-in operator records: its id, its arguments and what runs after it."""

    def __init__(self, task_id, **kwargs):
        self.task_id = task_id
        self.kwargs = kwargs
        self.downstream = []
        current_dag().tasks.append(self)

    def __rshift__(self, other):
        self.downstream.append(other.task_id)
        return other
