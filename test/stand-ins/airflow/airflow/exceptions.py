class AirflowException(Exception):
    """Fails the task; Airflow retries it."""


class AirflowFailException(AirflowException):
    """Fails the task without retries."""
