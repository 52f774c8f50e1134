"""Independent tasks on any executor: restarts of the search, parts of a training batch.

:func:`run_all` submits tasks to a ``concurrent.futures.Executor`` (a Dask
``distributed.Client`` works too), hands each result over as soon as it is back, and on
Ctrl-C returns those that finished. By default it makes a process pool whose workers
run one BLAS thread each (:func:`single_threaded`); :class:`SerialExecutor` runs every
task in this process instead.
"""

import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed

__all__ = ["SerialExecutor", "single_threaded", "run_all"]


class SerialExecutor(Executor):
    """Runs each task at ``submit``, in this process: ``optimize(..., executor=SerialExecutor())``."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # noqa: BLE001  (re-raised by future.result())
            future.set_exception(err)
        return future


def single_threaded():
    """Limit this process's BLAS/OpenMP to one thread: the default pool's worker initializer.

    A restart multiplies small matrices, so threads do not help it, and one worker per core
    each starting a BLAS thread per core oversubscribes the machine: measured with the
    other core busy, the main job took 559 s, and 25 s with it. Call it in your own
    workers (e.g. ``ProcessPoolExecutor(initializer=refgc.parallel.single_threaded)``)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def run_all(fn, tasks, executor=None, finished=lambda result: None):
    """``fn(*task)`` for every task; ``finished(result)`` as each comes back, in the order
    they finish. Returns the results that finished, all of them unless interrupted by Ctrl-C.

    ``executor=None``: a process pool of one-thread workers (one per core, at most one per
    task) when there is more than one task and more than one core, else this process."""
    own = executor is None
    if hasattr(executor, "get_executor"):  # a Dask distributed.Client: its concurrent.futures face
        executor = executor.get_executor(pure=False)
    if own:
        cores = os.cpu_count() or 1
        executor = (ProcessPoolExecutor(min(len(tasks), cores), initializer=single_threaded)
                    if len(tasks) > 1 and cores > 1 else SerialExecutor())
    futures, results, reported = [], [], set()

    def harvest(done):
        for fut in done:
            if fut not in reported:
                reported.add(fut)
                results.append(fut.result())
                finished(results[-1])

    try:
        for task in tasks:
            futures.append(executor.submit(fn, *task))
            harvest([f for f in futures if f.done()])  # a serial executor reports as it goes
        harvest(as_completed(futures))
    except KeyboardInterrupt:
        for fut in futures:
            fut.cancel()
    finally:
        if own:
            executor.shutdown(wait=False, cancel_futures=True)
    return results
