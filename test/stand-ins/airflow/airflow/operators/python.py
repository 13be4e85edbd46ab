from airflow import current_dag


class PythonOperator:
    def __init__(self, task_id, python_callable, op_args=None, op_kwargs=None, **kwargs):
        self.task_id = task_id
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.kwargs = kwargs
        self.downstream = []
        current_dag().tasks.append(self)

    def __rshift__(self, other):
        self.downstream.append(other.task_id)
        return other
