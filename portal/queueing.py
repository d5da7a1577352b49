"""Is there a job queue, and hand it a job by name (the plumbing every layer may use).

``QUEUE_URL`` unset: no queue, the portal works in-process exactly as before (a webhook applied in
its request, emails sent after the answer). Set: the web processes enqueue by task name through
the Celery app ``portal.jobs`` wires into ``app.extensions["celery"]``, so nothing below the jobs
package imports it.
"""

from __future__ import annotations

from flask import current_app, g, has_request_context, request

#: Task names: the jobs package registers these (``portal.jobs.tasks``).
PROCESS_WEBHOOK_EVENT = "portal.jobs.process_webhook_event"
SEND_EMAILS = "portal.jobs.send_emails"


def queue_mode() -> bool:
    """True when ``QUEUE_URL`` names a broker: workers, not this process, do the work."""
    return bool(current_app.config.get("QUEUE_URL"))


def enqueue(task_name: str, *args: object) -> None:
    """Send one job to the broker (its workers run it), with this request's address for its links
    and its id for the job's log lines (the webhook a worker applies logs under the delivery's id)."""
    kwargs = {}
    if has_request_context():
        kwargs["base_url"] = request.url_root
        if g.get("request_id"):
            kwargs["request_id"] = g.request_id
    current_app.extensions["celery"].send_task(task_name, args=args, kwargs=kwargs)
