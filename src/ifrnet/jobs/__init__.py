"""Long jobs: one video in chunks, resumable (:func:`run_video_job`), many videos
(:func:`~ifrnet.jobs.batch.run_batch`), on this machine or a Ray cluster
(:class:`~ifrnet.jobs.ray_cluster.RayExecutor`, imported only when asked for).

A job drives the video layer from above (reader -> time map and scene rules -> engine ->
writer) without reaching into it: it cuts the plan into chunks, keeps the work folder and joins.
"""

from .executors import Executor, LocalExecutor
from .run import DEFAULT_CHUNK_SECONDS, JobOptions, run_video_job

__all__ = ["DEFAULT_CHUNK_SECONDS", "Executor", "JobOptions", "LocalExecutor", "run_video_job"]
