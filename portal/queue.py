"""The task queue's one door (Huey): declare plain task functions, enqueue them after the commit, run a consumer.

How a feature uses it:

    # portal/<feature>/tasks.py (or any module the app imports; list it in TASK_MODULES below)
    from portal import queue

    @queue.task("library.extract_text", retries=3, retry_delay=30)
    def extract_text(*, attachment_id: int) -> None:
        ...   # runs in the worker, inside an app context and one uow.unit_of_work()

    # a service, inside the request's (or command's) unit of work:
    queue.enqueue(extract_text, attachment_id=attachment.id)      # or queue.enqueue("library.extract_text", ...)

- `enqueue` takes keyword arguments only (ids and small values: they are pickled into the queue). The job is
  put on the queue *after the unit of work commits*, so nothing is queued for work that was rolled back and the
  worker always finds the rows it is given. Identical calls in one unit are queued once. Outside any unit of
  work (a bare app context) it is queued at once.
- A task function gets only its keyword arguments. It runs in a fresh app context and its own unit of work:
  it commits when it returns; when it raises, its changes are rolled back and Huey retries it (`retries`,
  `retry_delay` seconds, multiplied by `backoff` after each failure). `on_failure(**kwargs)` runs once the
  last attempt has failed (mail keeps the message in `outbox/failed/`).
- `@queue.periodic("name", minute="0")` declares a scheduled job (crontab fields: minute, hour, day, month,
  day_of_week); the consumer's scheduler runs it (`portal/library/tasks.py` has the library's).
  `in_unit_of_work=False` runs it without the surrounding unit, for a job that opens one unit per item.

Where jobs are kept: Redis when `REDIS_URL` is set, else SQLite at `<instance>/queue.db` (the embedded
default). `flask worker` runs a consumer (`make run` starts one). With `QUEUE_IMMEDIATE` (the test suite's
default app) a job runs in the same process right after the commit, with no retries, through the same
serialisation and execution path as in the worker; a test that wants a real consumer makes its app with
`QUEUE_IMMEDIATE=False` and uses `running_consumer(app)` from tests/conftest.py, whose `wait(name)` returns
once a task has finished.
"""
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab

from portal import uow

# Modules that declare tasks; imported by register_queue so the web and the worker know the same names.
TASK_MODULES = (
    "portal.mail",
    "portal.members.tasks",
    "portal.library.tasks",
    "portal.events.tasks",
    "portal.calls.tasks",
)
_EXTENSION = "portal.queue"


@dataclass
class TaskSpec:
    name: str
    function: Callable
    retries: int | str = 0           # a str names an app setting (MAIL_RETRIES)
    retry_delay: float | str = 0
    backoff: float = 1
    on_failure: Callable | None = None
    schedule: dict | None = None      # crontab fields for a periodic job
    in_unit_of_work: bool = True      # False: the function opens its own units (one per member, say)


_DECLARED: dict[str, TaskSpec] = {}


def task(name: str, *, retries: int | str = 0, retry_delay: float | str = 0, backoff: float = 1,
         on_failure: Callable | None = None, in_unit_of_work: bool = True):
    """Declare `function` as the task `name` (a stable "feature.verb_noun": it is what the queue stores).
    The function itself is returned unchanged, so it can still be called directly. `in_unit_of_work=False`
    for a job that commits in steps of its own (one that shows its progress while it runs)."""
    def declare(function: Callable) -> Callable:
        _declare(TaskSpec(name, function, retries, retry_delay, backoff, on_failure,
                          in_unit_of_work=in_unit_of_work))
        return function
    return declare


def periodic(name: str, *, in_unit_of_work: bool = True, **schedule):
    """Declare a job the worker runs on a schedule: crontab fields, e.g. `minute="0"` for hourly.
    `in_unit_of_work=False` for a job that opens its own units of work (one that must not join an outer one)."""
    def declare(function: Callable) -> Callable:
        _declare(TaskSpec(name, function, schedule=schedule, in_unit_of_work=in_unit_of_work))
        return function
    return declare


def _declare(spec: TaskSpec) -> None:
    existing = _DECLARED.get(spec.name)
    if existing is not None and existing.function.__qualname__ != spec.function.__qualname__:
        raise ValueError(f"task name {spec.name!r} is already used by {existing.function.__qualname__}")
    _DECLARED[spec.name] = spec


def _name_of(target) -> str:
    if isinstance(target, str):
        name = target
    else:
        name = next((spec.name for spec in _DECLARED.values() if spec.function is target), None)
        if name is None:
            raise LookupError(f"{target!r} is not declared with @queue.task")
    if name not in _DECLARED:
        raise LookupError(f"no task is declared as {name!r}")
    return name


class Queue:
    """The app's Huey instance and its registered tasks (kept in app.extensions["portal.queue"])."""

    def __init__(self, app: Flask):
        config = app.config
        self.immediate = bool(config.get("QUEUE_IMMEDIATE"))
        if self.immediate:
            self.huey = MemoryHuey("portal", results=False)
        elif config.get("REDIS_URL"):
            self.huey = RedisHuey("portal", results=False, url=config["REDIS_URL"])
        else:
            path = Path(config["QUEUE_SQLITE_PATH"])
            path.parent.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey("portal", results=False, filename=str(path))
        self.tasks = {}
        for spec in _DECLARED.values():
            self.tasks[spec.name] = self._register(app, spec)

    def _register(self, app: Flask, spec: TaskSpec):
        # A retry setting given as a string names a setting, so each deployment (and a test) can tune it.
        retries, retry_delay = (app.config[value] if isinstance(value, str) else value
                                for value in (spec.retries, spec.retry_delay))

        def run(task=None, **kwargs):
            with app.app_context():
                try:
                    if not spec.in_unit_of_work:
                        return spec.function(**kwargs)
                    with uow.unit_of_work():
                        return spec.function(**kwargs)
                except Exception:
                    last_attempt = task is None or not task.retries
                    if last_attempt and spec.on_failure is not None:
                        with uow.unit_of_work():
                            spec.on_failure(**kwargs)
                    raise

        # Huey stores the task as "portal.queue.<name>": stable while the function moves between modules.
        if spec.schedule is not None:
            return self.huey.periodic_task(crontab(**spec.schedule), name=spec.name, context=True)(run)
        return self.huey.task(name=spec.name, context=True, retries=retries, retry_delay=retry_delay,
                              retry_backoff=spec.backoff if spec.backoff != 1 else 0)(run)

    def push(self, name: str, kwargs: dict) -> None:
        """Put the job on the queue now (after the commit; `enqueue` is what services call)."""
        wrapper = self.tasks[name]
        if not self.immediate:
            wrapper(**kwargs)
            return
        # The same path as a consumer: serialised and read back (what cannot be pickled fails here too),
        # then executed once, without retries, so a failure reaches on_failure at once.
        signature = wrapper.s(**kwargs)
        signature.retries = 0
        self.huey.execute(self.huey.deserialize_task(self.huey.serialize_task(signature)))

    def create_consumer(self, *, workers: int = 1, periodic: bool = True, **options):
        return self.huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic, **options)


def register_queue(app: Flask) -> None:
    for module in TASK_MODULES:
        import_module(module)
    app.extensions[_EXTENSION] = Queue(app)


def current_queue() -> Queue:
    return current_app.extensions[_EXTENSION]


def when_committed(action: Callable[[], None], *, key=None) -> None:
    """Run `action` after the current unit of work commits (never if it rolls back); at once outside one."""
    if uow.in_unit():
        uow.after_commit(action, key=key)
    else:
        action()


def enqueue(target, **kwargs) -> None:
    """Queue the task `target` (its function or its name) with these keyword arguments, after the commit."""
    name = _name_of(target)
    key = ("portal.queue", name, repr(sorted(kwargs.items())))
    when_committed(lambda: current_queue().push(name, kwargs), key=key)
