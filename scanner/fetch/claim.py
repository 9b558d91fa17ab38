"""What comes before a file's bytes are asked for: its blob, claimed from the other processes
sharing the cache (ours, `hf download`, a test's). The blob's lock is waited for while another
process writes the blob; a blob stored meanwhile is taken as it is; else the resumable
partial is opened, or resumed from what an earlier run recorded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import filelock

from ..cache import layout as hf_cache
from ..cache import locks as cache_locks
from ..hub.errors import Cancelled, classify
from .jobs import FileJob
from .partial import PartialFile, segment_size
from .reporting import FileProgress

if TYPE_CHECKING:
    from ..hub.client import HubClient

#: How often a wait for another process's lock on the same blob looks at Ctrl-C.
LOCK_POLL_S = 0.1


def claim_blob(job: FileJob, client: HubClient, cache: Path, connections: int,
               progress: FileProgress) -> tuple[filelock.BaseFileLock, PartialFile] | None:
    """The blob's lock, held, and the file's partial; None when there is nothing to fetch:
    another process stored the file while this one waited (the job says so), or the lock or
    the partial could not be had (the job says why). Ctrl-C during the wait: `Cancelled`."""
    try:
        lock = cache_locks.wait_for_blob_lock(
            cache, job.repo, job.file, poll=LOCK_POLL_S, stopped=lambda: client.cancelled,
            waiting=lambda held: progress.file_waiting(job.label, held))
    except OSError as error:  # `.locks/` not writable, no space for the lock file
        job.fail(str(classify(error, job.repo, job.file.path, cache=cache)))
        return None
    if lock is None:
        raise Cancelled("interrupted")  # Ctrl-C ended the wait
    try:
        if hf_cache.adopt_stored_blob(cache, job.repo, job.commit, job.file):
            job.resumed = 0
            job.stored(by_this_run=False)
            lock.release()
            return None
        partial = PartialFile.open(
            hf_cache.resumable_partial(cache, job.repo, job.file), job.file.size,
            job.file.blob_id, segment_size(job.file.size, connections))
    except OSError as error:
        job.fail(str(classify(error, job.repo, job.file.path, cache=cache)))
        lock.release()
        return None
    return lock, partial
