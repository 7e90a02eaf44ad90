"""Annotate's worker processes, forked with the model loaded.

spaCy grows its vocabulary with every new word it meets; its memory zones would free
that growth but also turn the tokenizer's cache off (tokenizing then costs ten times
as much). So the model runs in worker processes forked for one partition: each keeps
its cache while it works and takes its vocabulary with it when it exits. A local run
forks them from its model host (tasks/execution/model_host.py), a process that holds the model
and nothing else; given a loaded model instead (the tests), they fork from this
process. Where no worker can be forked (a Dask worker), the model annotates in its
own process and the process's `Resources` loads it afresh once its vocabulary has
grown past a bound.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor, wait
from typing import Any

from spacy.language import Language

from tasks.execution.processes import die_with_parent, leave_stopping_to_parent
from tasks.faults import fault_point
from tasks.nlp.rows import Row, Tables, annotate_stream
from tasks.progress import ProgressFn

CAN_FORK = "fork" in multiprocessing.get_all_start_methods()

# One partition's workers at a time in a process: they take the machine's cores
# (n_process of them), while the run's other partition in flight is read, written
# and gated beside them in the flow's process.
WORKERS_IN_USE = threading.Lock()

# What a forked worker holds for the shares it annotates: the parent's model and the
# shared count of articles done. Set by `_start_worker` in the worker only (a pool's
# initializer can hand its tasks nothing else without pickling the model).
_worker: dict[str, Any] = {}


def workers_can_fork() -> bool:
    """Whether this process may fork annotate's workers (a Dask worker, a daemon
    process, may have no children)."""
    return CAN_FORK and not multiprocessing.current_process().daemon


def annotate_in_workers(
    nlp: Language,
    articles: list[Row],
    batch_size: int,
    n_process: int,
    progress: ProgressFn | None,
) -> Tables:
    """Annotate in `n_process` workers forked with the model loaded, which return
    tables, not Docs. Worker k takes articles k, k + n, k + 2n…: shares of equal
    work whatever the order of long and short articles, each one stream."""
    n = min(n_process, len(articles))
    shares = [articles[k::n] for k in range(n)]
    context = multiprocessing.get_context("fork")
    done = context.Value("q", 0)
    pool = ProcessPoolExecutor(
        max_workers=n,
        mp_context=context,
        initializer=_start_worker,
        initargs=(nlp, os.getpid(), done),  # inherited by the fork, never pickled
    )
    try:
        futures = [pool.submit(_annotate_share, share, batch_size) for share in shares]
        _report_until_done(futures, done, len(articles), progress)
        tables = Tables.concat([future.result() for future in futures])
    except BaseException:
        # a failed share, or the run interrupted (Ctrl-C, SIGTERM): the other
        # shares are of no use now, and waiting for them would hold the run up
        _stop_workers(pool)
        raise
    pool.shutdown()
    if n == 1:
        return tables
    return tables.in_article_order([a["doc_id"] for a in articles])


def _report_until_done(
    futures: list[Future], done: Any, total: int, progress: ProgressFn | None
) -> None:
    """Tell `progress` of the articles done until every share is done or one failed."""
    reported = 0
    while reported < total:
        finished, _ = wait(futures, timeout=0.5)
        if progress is not None and done.value != reported:
            progress(done.value, total)
        reported = done.value
        if any(f.exception() is not None for f in finished) or len(finished) == len(futures):
            break


def _start_worker(nlp: Language, parent: int, done: Any) -> None:
    """Runs first in each forked worker: adopt the parent's loaded model and the
    shared count of articles done, and die with the parent (a killed run must not
    leave workers holding its lake lock). What the parent had built (Prefect, Great
    Expectations, the model) is moved out of the garbage collector's sight: its full
    collections would walk all of it, and copy every page they touch.

    Ctrl-C and SIGTERM are left to the parent, which stops its workers: forked from
    the process running the flow, a worker would otherwise inherit its handlers
    (Prefect's, the CLI's) and raise, or die before the parent heard why."""
    leave_stopping_to_parent()
    _worker.update(nlp=nlp, done=done)
    gc.freeze()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _count_done(n: int) -> None:
    with _worker["done"].get_lock():
        _worker["done"].value += n


def _annotate_share(articles: list[Row], batch_size: int) -> Tables:
    fault_point("annotate:worker")
    return annotate_stream(_worker["nlp"], articles, batch_size, _count_done)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers and shut it down without waiting for their shares."""
    workers = list((pool._processes or {}).values())  # no public way before Python 3.14
    for worker in workers:
        with contextlib.suppress(OSError, ValueError):
            worker.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:  # reaped: no zombie left while the run winds down
        with contextlib.suppress(OSError, ValueError, AssertionError):
            worker.join(timeout=5)
