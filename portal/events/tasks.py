"""The webinar series' scheduled job, run by the worker's scheduler (`flask worker`)."""
from portal import queue
from portal.events.reminders import send_due_reminders


# Every minute: the hour reminder's window is an hour wide, and a run that finds nothing due is two small
# queries. Each reminder goes out once however many workers run the schedule (see reminders.py).
@queue.periodic("events.send_reminders", minute="*")
def send_reminders() -> None:
    """What `flask events remind` does: mail the reminders due 24 hours and 1 hour before each start."""
    send_due_reminders()
