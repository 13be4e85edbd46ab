class CronDataIntervalTimetable:
    def __init__(self, cron, timezone):
        self.cron = cron
        self.timezone = timezone

    def __str__(self):
        return f"CronDataIntervalTimetable({self.cron}, {self.timezone})"
