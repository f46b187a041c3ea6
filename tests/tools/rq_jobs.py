"""Runs ~300 rq jobs against a Redis-compatible server: python3 rq_jobs.py PORT [JOBS].

A SimpleWorker starts first and blocks waiting for work (rq's BLMOVE dequeue)
while another thread enqueues the jobs one by one, each recording its number
in a set; it stops after half of them, and a burst worker drains the rest. Exits non-zero unless every job
finished. Jobs use result_ttl=0: rq 2 keeps results in Redis streams
(XADD), which reddish does not have yet.
"""
import sys
import threading
import time

import redis
from rq import Queue, SimpleWorker, get_current_job


def record(n):
    get_current_job().connection.sadd("rq-test:done", n)
    return n


def main():
    port = int(sys.argv[1])
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    conn = redis.Redis(port=port)
    conn.delete("rq-test:done")
    queue = Queue("rq-test", connection=conn)
    half = jobs // 2

    def enqueue_all():
        # Give the worker time to block in its dequeue first.
        time.sleep(0.3)
        for n in range(jobs):
            # By name: a worker cannot import functions of __main__.
            queue.enqueue("rq_jobs.record", n, result_ttl=0)

    producer = threading.Thread(target=enqueue_all)
    producer.start()
    # rq installs signal handlers, so workers run on the main thread. This
    # one blocks waiting for work and stops after `half` jobs.
    SimpleWorker([queue], connection=redis.Redis(port=port)).work(
        max_jobs=half, logging_level="WARNING"
    )
    producer.join()
    burst = SimpleWorker([queue], connection=redis.Redis(port=port))
    burst.work(burst=True, logging_level="WARNING")
    done = conn.scard("rq-test:done")
    print(f"done={done} queued={len(queue)} failed={queue.failed_job_registry.count}")
    if done != jobs or len(queue) != 0 or queue.failed_job_registry.count != 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
