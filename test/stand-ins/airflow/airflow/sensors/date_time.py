from airflow import Task


class DateTimeSensor(Task):
    pass
